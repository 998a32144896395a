"""Proof harness: the coordinate memory never loses, changes or invents an entry.

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
* ``transparent``: the rows seen in X (read in D the cycle before) are the rows
  stored right now, including the write of the previous cycle;
* ``observe``: when X holds K, ``x_hit`` = ``sh_valid`` and ``x_rdata`` is
  ``sh_value`` or 0;
* ``full``: when X holds K, ``x_full`` = SCATTER and K not stored and every way of
  the set valid (the set's real contents, by the two properties above).

The op, the data, the commit and D's key are free inputs every cycle; X's key is
D's key of the cycle before, as the core guarantees.  To state ``memory`` the
harness reads the RAMs through extra asynchronous read ports (``ProbedMemory``):
they exist only in the proof and let k-induction see the stored rows.
"""

from amaranth.asserts import AnyConst
from amaranth.hdl import Assert, Assume, Cat, Const, Module, ResetSignal, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from hdl.coord_memory import CoordinateMemory
from sim.isa.encoding import SOp
from sim.isa.placement import set_index_columns

__all__ = ["spec_set", "probed", "ProbedMemory", "MemoryShadowProof"]


def spec_set(key, set_bits, first_bit=0):
    """The set of ``key`` by docs/isa.md section 5, written here from the text.

    ``M . key`` over GF(2), with ``M``'s columns from the ISA's table
    (:func:`sim.isa.placement.set_index_columns`): set bit ``j`` is the parity of
    the key bits whose column has bit ``j``; one set (a zero-width index) when
    ``set_bits`` is 0.  The tag is ``key >> set_bits``.  With ``first_bit``, ``key``
    holds only the key bits from that one on: ``spec_set(tag, S, S)`` is the part
    of the set that the tag contributes, so ``key[0:S] = set ^ spec_set(tag, S, S)``.
    """
    columns = set_index_columns(set_bits, first_bit + len(key))[first_bit:]
    result = Const(0, set_bits)
    for k, column in enumerate(columns):
        if column:
            result = result ^ (key[k].replicate(set_bits) & Const(column, set_bits))
    return result


def probed(memory_class):
    """``memory_class`` (a :class:`CoordinateMemory`) plus asynchronous probe ports.

    Per way and per probe ``p``: ``probe_addr[p]`` (``set_bits`` wide) selects a
    set, and ``probe_rows[p][w]`` is way ``w``'s row of that set as stored now
    (before this cycle's write).  A factory rather than one subclass, so the
    proof's own tests can run the same harness on deliberately broken memories.
    """

    class Probed(memory_class):
        def __init__(self, *args, probes=2, **kwargs):
            super().__init__(*args, **kwargs)
            self.probe_addr = [Signal(self.set_bits, name=f"probe{p}_addr")
                               for p in range(probes)]
            self.probe_rows = [[Signal(self.row_layout, name=f"probe{p}_way{w}")
                                for w in range(self.ways)] for p in range(probes)]

        def elaborate(self, platform):
            m = super().elaborate(platform)
            for w in range(self.ways):
                mem = m.submodules[f"way{w}"]
                for addr, rows in zip(self.probe_addr, self.probe_rows):
                    port = mem.read_port(domain="comb")
                    m.d.comb += [port.addr.eq(addr), rows[w].eq(port.data)]
            return m

    Probed.__name__ = Probed.__qualname__ = f"Probed{memory_class.__name__}"
    return Probed


ProbedMemory = probed(CoordinateMemory)


class MemoryShadowProof(wiring.Component):
    """The shadow-of-K harness around a :class:`ProbedMemory` (see the module docstring)."""

    def __init__(self, dim_bits=2, set_bits=1, ways=2, memory_class=CoordinateMemory):
        self.dut = probed(memory_class)(dim_bits, set_bits, ways)
        kb = self.dut.key_bits
        super().__init__({"d_key": In(kb), "x_op": In(2), "x_wdata": In(32), "x_commit": In(1)})

    def elaborate(self, platform):
        m = Module()
        # The sync domain comes from the top level (clk and rst ports).  The shadow
        # must never be reset while the RAM keeps its contents: rst stays low.
        m.d.comb += Assume(~ResetSignal("sync"))
        m.submodules.dut = dut = self.dut
        sb, ways = dut.set_bits, dut.ways

        k = Signal(dut.key_bits)
        m.d.comb += k.eq(AnyConst(dut.key_bits))
        x_key = Signal(dut.key_bits)
        m.d.sync += x_key.eq(self.d_key)          # the core's guarantee: X = previous D
        x_set = spec_set(x_key, sb)
        m.d.comb += [
            dut.d_key.eq(self.d_key), dut.x_key.eq(x_key), dut.x_op.eq(self.x_op),
            dut.x_wdata.eq(self.x_wdata), dut.x_commit.eq(self.x_commit),
            dut.probe_addr[0].eq(spec_set(k, sb)), dut.probe_addr[1].eq(x_set),
        ]
        k_rows, x_rows = dut.probe_rows

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

        # transparent: what X sees is what is stored now.
        for w, row in enumerate(x_rows):
            slot = dut.x_slots[w]
            m.d.comb += Assert((slot.valid == row.valid) & (slot.value == row.value) &
                               (slot.key[sb:] == row.tag) &
                               (slot.key[:sb] == x_set ^ spec_set(row.tag, sb, sb)),
                               f"transparent: X's row of way {w} differs from the stored row")

        all_valid = Cat(dut.x_slots[w].valid for w in range(ways)).all()
        lowest_free = Signal(range(ways))
        for w in reversed(range(ways)):          # the last assignment (lowest free way) wins
            with m.If(~dut.x_slots[w].valid):
                m.d.comb += lowest_free.eq(w)
        scatter = self.x_op == SOp.SCATTER
        erase = self.x_op == SOp.ERASE
        at_k = x_key == k

        with m.If(at_k):
            m.d.comb += [
                Assert(dut.x_hit == sh_valid, "observe: x_hit differs from the shadow"),
                Assert(dut.x_rdata == (sh_value & sh_valid.replicate(32)),
                       "observe: x_rdata differs from the shadow"),
                Assert(dut.x_full == (scatter & ~sh_valid & all_valid),
                       "full: x_full is not exactly 'new key, full set'"),
            ]
            with m.If(self.x_commit):
                with m.If(scatter & (sh_valid | ~all_valid)):
                    m.d.sync += [sh_valid.eq(1), sh_value.eq(self.x_wdata)]
                    with m.If(~sh_valid):
                        m.d.sync += sh_way.eq(lowest_free)
                with m.If(erase):
                    m.d.sync += sh_valid.eq(0)
        return m
