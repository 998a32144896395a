"""The layout's import rules: each role in its own room, and the rooms in one direction.

* The golden model (``sim/golden/``) imports only the standard library, the ISA
  tables (``sim/isa/``) and itself: never ``hdl`` nor amaranth.  Checked on the
  syntax tree of every module (any import statement, even one inside a function)
  and by importing the golden engine in a fresh interpreter.
* ``hdl/`` imports from ``sim/`` only the ISA tables.
* ``boards/`` imports no private name of ``sim/``.
* No import cycle between packages (``sim.isa``, ``sim.golden``, ..., ``hdl``,
  ``boards``, ``formal``, ``benchmarks``).

Imports are read from every statement in a file, nested ones included, and from
``importlib.import_module("literal")`` calls, so a lazy import counts too.
"""

import ast
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGES = ("sim", "hdl", "boards", "formal", "benchmarks")
FORBIDDEN_IN_GOLDEN = ("hdl", "amaranth", "boards")


def module_name(path):
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path, module=None):
    """Absolute names of every module a file imports (relative imports resolved
    against ``module``, the file's own dotted name)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                base = node.module
            else:
                if module is None:
                    names.append(f"<relative, level {node.level}>")
                    continue
                parts = module.split(".")
                if not is_package:
                    parts = parts[:-1]
                parts = parts[:len(parts) - (node.level - 1)]
                base = ".".join(parts + ([node.module] if node.module else []))
            if node.module is None:          # from . import x: x is a module
                names += [f"{base}.{alias.name}" for alias in node.names]
            else:
                names.append(base)
                names += [f"{base}.{alias.name}" for alias in node.names
                          if (ROOT / (base + "." + alias.name).replace(".", "/")).with_suffix(".py").exists()]
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "import_module" and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            names.append(node.args[0].value)
    return names


def imported_names(path):
    """``(module, name)`` for every ``from module import name``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return [(node.module, alias.name) for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.level == 0 for alias in node.names]


def python_files(folder):
    return sorted((ROOT / folder).rglob("*.py"))


def package_of(module):
    """The room a module lives in: ``sim.<sub>`` for sim, the top folder otherwise."""
    parts = module.split(".")
    if parts[0] == "sim" and len(parts) > 1:
        return ".".join(parts[:2])
    return parts[0]


GOLDEN = python_files("sim/golden")


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.name)
def test_golden_model_imports_only_isa_tables(path):
    for name in imported_modules(path, module_name(path)):
        root = name.split(".")[0]
        assert root not in FORBIDDEN_IN_GOLDEN, f"{path.relative_to(ROOT)} imports {name}"
        if root == "sim":
            assert package_of(name) in ("sim.isa", "sim.golden"), (
                f"{path.relative_to(ROOT)} imports {name}, outside the golden model and the ISA tables")


def test_golden_model_is_found():
    assert {p.name for p in GOLDEN} >= {"machine.py", "decode.py", "memory.py", "fp32.py",
                                        "state.py"}


@pytest.mark.parametrize("path", python_files("hdl"), ids=lambda p: str(p.relative_to(ROOT)))
def test_hdl_imports_only_isa_tables_from_sim(path):
    for name in imported_modules(path, module_name(path)):
        if name.split(".")[0] == "sim":
            assert package_of(name) == "sim.isa", f"{path.relative_to(ROOT)} imports {name}"


@pytest.mark.parametrize("path", python_files("boards"), ids=lambda p: p.name)
def test_boards_import_no_private_name_of_sim(path):
    for module, name in imported_names(path):
        if module and module.split(".")[0] == "sim":
            assert not name.startswith("_"), f"{path.relative_to(ROOT)} imports {module}.{name}"
            assert not any(part.startswith("_") for part in module.split(".")), (
                f"{path.relative_to(ROOT)} imports the private module {module}")


def package_graph():
    graph = {}
    for top in PACKAGES:
        for path in python_files(top):
            here = package_of(module_name(path))
            for name in imported_modules(path, module_name(path)):
                if name.split(".")[0] not in PACKAGES:
                    continue
                there = package_of(name)
                if there != here and there != "sim":
                    graph.setdefault(here, set()).add(there)
    return graph


def find_cycle(graph):
    """A list of packages forming a cycle, or None."""
    state = {}

    def visit(node, stack):
        state[node] = "open"
        stack.append(node)
        for succ in sorted(graph.get(node, ())):
            if state.get(succ) == "open":
                return stack[stack.index(succ):] + [succ]
            if succ not in state:
                found = visit(succ, stack)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node, [])
            if found:
                return found
    return None


def test_no_import_cycle_between_packages():
    cycle = find_cycle(package_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_every_sim_module_is_in_a_room():
    loose = [p.name for p in (ROOT / "sim").glob("*.py") if p.name != "__init__.py"]
    assert loose == [], f"modules directly in sim/: {loose}"


# ----------------------------------------------------------------------- the checker itself

def test_checker_sees_nested_relative_and_dynamic_imports(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    (tmp_path / "sim" / "engines").mkdir(parents=True)
    (tmp_path / "sim" / "golden").mkdir()
    (tmp_path / "sim" / "golden" / "machine.py").write_text("")
    f = tmp_path / "sim" / "engines" / "x.py"
    f.write_text("import importlib\n"
                 "def g():\n    import amaranth.hdl\n"
                 "from ..golden import machine\n"
                 "from hdl.core import Core\n"
                 "importlib.import_module('boards.ulx3s')\n")
    assert sorted(imported_modules(f, "sim.engines.x")) == [
        "amaranth.hdl", "boards.ulx3s", "hdl.core", "importlib", "sim.golden", "sim.golden.machine"]


def test_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}}) is None


def test_golden_engine_loads_no_hardware_module():
    code = ("import sys, sim.engines.golden, sim.golden.machine\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('hdl', 'amaranth', 'boards')]\n"
            "print(','.join(bad))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    assert out.stdout.strip() == ""
