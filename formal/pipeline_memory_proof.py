"""Proof harness: the pipelined core's coordinate memory never loses, changes or invents an entry.

The memory of ``hdl.pipeline.coord_memory`` (four stages, A to W), by the
shadow-of-K method of formal/memory_proof.py (the three-stage core's memory),
whose ``spec_set`` and ``probed`` it shares.

The property is stated for one tracked key ``K``, an ``AnyConst``: the solver may
choose any key, so a proof for "some fixed K" is a proof for every key.  Beside
the memory the harness keeps a *shadow* of K: whether K is stored (``sh_valid``),
its value (``sh_value``) and the way that holds it (``sh_way``).  The shadow is
written from the specification alone (docs/isa.md section 5): it changes only on
a committed SCATTER or ERASE *of K*, and a new K goes to the lowest free way of
its set or, if there is none, nowhere.  Every cycle the harness asserts:

* ``memory``: the rows of K's set, as stored right now, hold K in exactly the
  way ``sh_way`` with ``sh_value`` if ``sh_valid``, and in no way otherwise (so no
  entry is lost, changed, duplicated or invented);
* ``patched``: the rows an op is answered with in W (read in M, patched in T
  with the writes of the ops ahead of it) are the rows stored when it is in W;
* ``observe``: when the op in W is at K, ``w_hit`` is ``sh_valid`` and
  ``w_rdata`` is ``sh_value`` or 0;
* ``full``: ``w_full`` is SCATTER and K not stored and every way of the set
  valid (the set's real contents, by the properties above).

The key, the op, the data (stage A) and the commit (stage W) are free inputs
every cycle: the op in W is the one that entered MEMORY_STAGES cycles before,
and it is the only one a commit can write, as in the core.  The shadow follows the
commits of the ops in W.  To state ``memory`` the
harness reads the RAMs through extra asynchronous read ports (``probed``):
they exist only in the proof and let k-induction see the stored rows.
"""

from amaranth.asserts import AnyConst
from amaranth.hdl import Assert, Assume, Cat, Module, ResetSignal, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from hdl.pipeline.coord_memory import MEMORY_STAGES, CoordinateMemory
from sim.isa.encoding import SOp

from .memory_proof import probed, spec_set

__all__ = ["PipelinedMemoryShadowProof", "MEMORY_PROOF_DEPTH"]

#: k of the k-induction: an op's answer in W depends on the trace's last
#: MEMORY_STAGES + 1 cycles, and the writes it was patched with.
MEMORY_PROOF_DEPTH = MEMORY_STAGES + 3


class PipelinedMemoryShadowProof(wiring.Component):
    """The shadow-of-K harness around the probed pipelined memory (see the module docstring)."""

    def __init__(self, dim_bits=2, set_bits=1, ways=2, memory_class=CoordinateMemory):
        self.dut = probed(memory_class)(dim_bits, set_bits, ways)
        kb = self.dut.key_bits
        super().__init__({"a_key": In(kb), "a_op": In(2), "a_wdata": In(32), "w_commit": In(1)})

    def elaborate(self, platform):
        m = Module()
        # The sync domain comes from the top level (clk and rst ports).  The shadow
        # must never be reset while the RAM keeps its contents: rst stays low.
        m.d.comb += Assume(~ResetSignal("sync"))
        m.submodules.dut = dut = self.dut
        sb, ways = dut.set_bits, dut.ways

        k = Signal(dut.key_bits)
        m.d.comb += k.eq(AnyConst(dut.key_bits))
        m.d.comb += [dut.a_key.eq(self.a_key), dut.a_op.eq(self.a_op),
                     dut.a_wdata.eq(self.a_wdata), dut.w_commit.eq(self.w_commit)]

        # The op in W: the inputs of MEMORY_STAGES cycles ago; the memory's answer.
        past = Cat(self.a_key, self.a_op, self.a_wdata)
        for _ in range(MEMORY_STAGES):
            delayed = Signal(len(past))
            m.d.sync += delayed.eq(past)
            past = delayed
        w_key, w_op, w_wdata = past[:dut.key_bits], past[dut.key_bits:][:2], past[-32:]
        w_hit, w_rdata, w_full, w_slots = dut.w_hit, dut.w_rdata, dut.w_full, dut.w_slots
        w_set = spec_set(w_key, sb)
        m.d.comb += [dut.probe_addr[0].eq(spec_set(k, sb)), dut.probe_addr[1].eq(w_set)]
        k_rows, w_rows = dut.probe_rows
        # The ops in flight at the start (and the RAMs' read registers) are not
        # ones the trace made: the answers count from the first op that is.
        filled = Signal(range(MEMORY_STAGES + 2))
        with m.If(filled <= MEMORY_STAGES):
            m.d.sync += filled.eq(filled + 1)
        answered = filled == MEMORY_STAGES + 1
        # An op is answered as if the write of the op ahead of it were done even if
        # that write is then dropped (the core never uses such an op: it squashes
        # everything behind an SIW that faults): its answer is not checked.
        behind_drop = Signal()
        m.d.sync += behind_drop.eq(((w_op == SOp.SCATTER) | (w_op == SOp.ERASE)) & ~self.w_commit)
        answered = answered & ~behind_drop
        m.d.comb += Assume(~(behind_drop & self.w_commit))   # ... and never commits it

        sh_valid = Signal()
        sh_value = Signal(32)
        sh_way = Signal(range(ways))

        # memory: K is held by way sh_way with sh_value iff sh_valid, by no other way.
        m.d.comb += Assert(~sh_valid | (sh_way < ways), "memory: K placed beyond the last way")
        for w, row in enumerate(k_rows):
            holds_k = row.valid & (row.tag == k[sb:])
            m.d.comb += Assert(~holds_k | (sh_valid & (sh_way == w)),
                               f"memory: way {w} holds K but the shadow does not place it there")
            m.d.comb += Assert(~(sh_valid & (sh_way == w)) | (holds_k & (row.value == sh_value)),
                               f"memory: K lost or changed in way {w}")

        # patched: the set an op is answered with is the set as stored when it is
        # in W (every write of the ops ahead of it done, its own not yet).
        for w, row in enumerate(w_rows):
            slot = w_slots[w]
            same = ((slot.valid == row.valid) & (slot.value == row.value) &
                    (slot.key[sb:] == row.tag) &
                    (slot.key[:sb] == w_set ^ spec_set(row.tag, sb, sb)))
            m.d.comb += Assert(~answered | same,
                               f"patched: W's row of way {w} differs from the stored row")

        all_valid = Cat(row.valid for row in w_rows).all()
        lowest_free = Signal(range(ways))
        for w in reversed(range(ways)):          # the last assignment (lowest free way) wins
            with m.If(~w_rows[w].valid):
                m.d.comb += lowest_free.eq(w)
        scatter = w_op == SOp.SCATTER
        erase = w_op == SOp.ERASE
        at_k = w_key == k

        with m.If(at_k & answered):
            m.d.comb += [
                Assert(w_hit == sh_valid, "observe: w_hit differs from the shadow"),
                Assert(w_rdata == (sh_value & sh_valid.replicate(32)),
                       "observe: w_rdata differs from the shadow"),
                Assert(w_full == (scatter & ~sh_valid & all_valid),
                       "full: w_full is not exactly 'new key, full set'"),
            ]
        with m.If(at_k):
            with m.If(self.w_commit):
                with m.If(scatter & (sh_valid | ~all_valid)):
                    m.d.sync += [sh_valid.eq(1), sh_value.eq(w_wdata)]
                    with m.If(~sh_valid):
                        m.d.sync += sh_way.eq(lowest_free)
                with m.If(erase):
                    m.d.sync += sh_valid.eq(0)
        return m
