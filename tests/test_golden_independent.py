"""The golden model never depends on the hardware: no import of hdl or amaranth.

Checked twice: statically, on the syntax tree of every golden-model module (any
import statement, even one inside a function), with the set of sim modules they
import required to stay inside the golden model; and dynamically, by importing
the golden engine in a fresh interpreter and looking at what got loaded.
"""

import ast
import pathlib
import subprocess
import sys

import pytest

SIM = pathlib.Path(__file__).resolve().parent.parent / "sim"
GOLDEN = ("coord", "fp32", "memory", "machine", "decode", "golden_engine", "state",
          "encoding", "engine")
FORBIDDEN = ("hdl", "amaranth")


def imported_modules(path):
    """Absolute names of every module a file imports (relative ones resolved in sim)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                names.append(node.module)
            elif node.level == 1:
                if node.module:
                    names.append(f"sim.{node.module}")
                else:
                    names += [f"sim.{alias.name}" for alias in node.names]
            else:
                names.append("<outside sim: level %d>" % node.level)
    return names


@pytest.mark.parametrize("module", GOLDEN)
def test_no_hardware_imports(module):
    for name in imported_modules(SIM / f"{module}.py"):
        root = name.split(".")[0]
        assert root not in FORBIDDEN, f"sim/{module}.py imports {name}"
        assert not name.startswith("<outside"), f"sim/{module}.py: {name}"
        if root == "sim":
            sub = name.split(".")[1] if "." in name else None
            assert sub is None or sub in GOLDEN, f"sim/{module}.py imports {name}, outside the golden model"


def test_detector_sees_hidden_imports(tmp_path):
    # the checker itself must catch imports nested in functions and relative ones
    f = tmp_path / "x.py"
    f.write_text("def g():\n    import amaranth.hdl\nfrom . import rtl_engine\nfrom hdl.core import Core\n")
    assert sorted(imported_modules(f)) == ["amaranth.hdl", "hdl.core", "sim.rtl_engine"]


def test_golden_engine_loads_no_hardware_module():
    code = ("import sys, sim.golden_engine, sim.machine\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('hdl', 'amaranth')]\n"
            "print(','.join(bad))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=SIM.parent, check=True)
    assert out.stdout.strip() == ""
