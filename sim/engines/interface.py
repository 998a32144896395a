"""The interface every simulation engine offers to the ``vtpu`` command and to tests.

``vtpu sim --engine NAME`` picks an engine by name from :data:`ENGINES`; the golden
model registers itself here, the RTL engines (Amaranth's simulator, the fast
engine) and the host link to a board register theirs the same way.
"""

__all__ = ["Engine", "EngineUnavailableError", "ENGINES", "register_engine", "make_engine",
           "engine_names"]


class Engine:
    """A Sentron core that can be loaded, run and inspected.

    Methods an engine implements:

    ``load_program(words)``
        Write the SIWs (ints) to program memory from address 0, set the program
        length to ``len(words)``, set ``pc`` to 0.
    ``write_memory(entries)``
        SCATTER ``(key, value)`` pairs in order, as an image load does; raises
        ``MemoryFullError`` (``sim.golden.memory``) naming the entry that did not fit.
    ``run(max_cycles=None) -> ArchState``
        Run from ``pc`` until HALT or a fault; if ``max_cycles`` is given and the
        run has not ended when the cycle counter reaches it, stop there and return
        with ``halted`` False (the program did not finish).
    ``step() -> ArchState``
        Run exactly one SIW.
    ``state() -> ArchState``
        The current architectural state.
    """
    name = None

    def load_program(self, words):
        raise NotImplementedError

    def write_memory(self, entries):
        raise NotImplementedError

    def run(self, max_cycles=None):
        raise NotImplementedError

    def step(self):
        raise NotImplementedError

    def state(self):
        raise NotImplementedError


class EngineUnavailableError(RuntimeError):
    """An engine cannot be built on this machine: a tool it needs is not installed.

    Why a common base: the ``vtpu`` command reports it as a usage error (the
    message names what to install) without knowing any engine's own errors.
    """


#: name -> factory(config) returning an :class:`Engine`.
ENGINES = {}


def register_engine(name, factory):
    ENGINES[name] = factory


#: Modules that register engines when imported.
ENGINE_MODULES = ("sim.engines.golden", "sim.engines.rtl", "sim.engines.fast.engine")


def _import_engines():
    import importlib
    for module in ENGINE_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as error:
            if error.name != module:   # a real import error inside the engine
                raise


def engine_names():
    """Names of every engine that can be built here."""
    _import_engines()
    return sorted(ENGINES)


def make_engine(name, config):
    """Build the engine called ``name`` for a core configuration ``config``.

    Raises ValueError for an unknown name and :class:`EngineUnavailableError` if
    the engine needs a tool this machine lacks."""
    if name not in ENGINES:
        _import_engines()
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r}; known: {', '.join(sorted(ENGINES))}")
    return ENGINES[name](config)
