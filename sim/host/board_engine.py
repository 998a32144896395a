"""A board behind the host link as an engine: :class:`BoardEngine`; engines "board", "board-sim".

Why: ``vtpu run --port DEV`` (engine ``board``) and ``--sim`` (engine ``board-sim``,
the simulated board of ``sim/host/serial_sim.py``) then report the same
:class:`~sim.golden.state.ArchState` as ``vtpu sim``, and compare with any other
engine.  Importing this module registers both engines
(:func:`sim.engines.interface.register_engine`).
"""

import os

from sim.engines.interface import Engine, register_engine
from sim.golden.memory import MemoryFullError, set_index
from sim.golden.state import ArchState
from sim.isa.protocol import Status

from .errors import BoardMemoryFull, BusyError, LinkError
from .link import HostLink
from .transport import DEFAULT_BAUD, SerialTransport

__all__ = ["BoardEngine", "open_board"]


class BoardEngine(Engine):
    """A board (or the simulated one) as an :class:`~sim.engines.interface.Engine`.

    ``config``: the configuration the caller expects; the board's own is read with
    CONFIG and a mismatch is an error naming both (None: take the board's).
    """
    name = "board"

    def __init__(self, link, config=None):
        self.link = link
        board = link.config()
        if config is not None and board != config:
            raise LinkError(f"the board's core is {board!r}, expected {config!r}")
        self.config = board

    def load_program(self, words):
        self.link.load_program(words)

    def write_memory(self, entries):
        for index, (key, value) in enumerate(entries):
            try:
                self.link.mem_write(key, value)
            except BoardMemoryFull:
                raise MemoryFullError(key, set_index(key, self.config.set_bits), index,
                                      self.config.dim_bits) from None

    def run(self, max_cycles=None):
        self.link.run(max_cycles=max_cycles)
        return self.state()

    def step(self):
        self.link.step()
        return self.state()

    def state(self):
        link = self.link
        st = link.status()
        if st.running:
            raise BusyError("the core is running: halt it before reading its state", Status.BUSY)
        return ArchState(
            regs=tuple(link.read_regs()),
            cregs=tuple(tuple(c) for c in link.read_cregs()),
            pc=st.pc, halted=not st.running, fault=st.fault, fault_pc=st.fault_pc,
            cycles=st.cycles, siws=st.siws, ops=st.ops,
            memory=link.memory_slots())


def open_board(port, baud=DEFAULT_BAUD, config=None):
    """A :class:`BoardEngine` on a serial port."""
    return BoardEngine(HostLink(SerialTransport(port, baud)), config)


def _board_factory(config):
    port = os.environ.get("VTPU_PORT")
    if not port:
        raise ValueError("engine 'board' needs a serial port: use `vtpu run --port DEV FILE` "
                         "or set VTPU_PORT")
    if "VTPU_BAUD" in os.environ:
        return open_board(port, int(os.environ["VTPU_BAUD"]), config)
    from boards.build import BuildError, recorded_baud
    try:
        baud = recorded_baud()
    except BuildError as e:
        raise ValueError(f"engine 'board': {e} (set VTPU_BAUD)") from None
    return open_board(port, DEFAULT_BAUD if baud is None else baud, config)


def _board_sim_factory(config):
    from .serial_sim import SimSerial
    return BoardEngine(HostLink(SimSerial(config)), config)


register_engine("board", _board_factory)
register_engine("board-sim", _board_sim_factory)
