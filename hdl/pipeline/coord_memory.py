"""The coordinate memory of the pipelined Sentron core: a set-associative store in block RAM, over four stages.

Why this structure
------------------
* **The set is the key times a matrix over GF(2).**  Column ``k`` of the ISA's
  set-index matrix (:func:`sim.isa.placement.set_index_columns`) says which set
  bits key bit ``k`` flips; it is chosen so that every aligned box over any two
  dimensions (a tile of rows x columns) spreads evenly over the sets, up to the
  memory's capacity.  Key bits ``0..set_bits-1`` map to themselves, so the key
  above them is the tag and the low bits come back as ``set ^ (M_high . tag)``:
  (set, tag) still names exactly one key.  Each set bit is an XOR tree over the
  key bits of its row of the matrix (docs/isa.md section 5).
* **One block RAM per way.**  Each way is an :class:`amaranth.lib.memory.Memory`
  of ``2**set_bits`` rows, one row per set, all read at the same set address, so
  one read yields the whole set.
* **Four stages, each a few logic levels** (the core's X, M, N, T and W,
  docs/isa.md section 7).  A block RAM's output without its register is slow
  (5.8 ns clock-to-out on the ECP5), and the address of sixty block RAMs is a net
  with a large fan-out, so nothing but a register drives the address and nothing
  but a register takes the rows:

  ====  ==============================================================
  A     the key arrives (the core's X); its set is computed, registered
  M     the registered set addresses every way's block RAM
  N     the rows come out of the block RAMs into registers
  T     the rows are patched (below), the tags compared; the answer and
        the write this op would make are registered
  W     the answer: ``w_rdata``, ``w_hit``, ``w_full``, ``w_slots``;
        ``w_commit``: the registered write is done (or not)
  ====  ==============================================================

* **Writes still in flight are patched in, not waited for.**  An op reads its
  set at the end of M; the three ops ahead of it write in W, in the three cycles
  after that read, so their writes are missing from its rows.  The unit keeps
  those writes (this cycle's W, and the two before it) and in T replaces each
  way's row by the newest of them to the same set and way.  So back-to-back
  SCATTER/GATHER on one set need no stall: the memory behaves as if every op
  read the set as the ops before it left it.

Placement (the same rule as the golden model, exact): a SCATTER of a key present
in its set updates that way; a new key takes the lowest-numbered free way; with
no free way nothing is written and ``w_full`` is raised.  ERASE clears the
matching way; ERASE of an absent key writes nothing.  Nothing is ever evicted.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from sim.isa.encoding import DEFAULT_DIM_BITS, SOp

from ..coord_memory import SetAssociative, set_index, slot_layout

__all__ = ["CoordinateMemory", "coord_memory_signature", "MEMORY_STAGES"]

#: Cycles from an op's key (``a_key``, stage A) to its answer (``w_*``, stage W),
#: in the cycle its write is committed or dropped (``w_commit``).
MEMORY_STAGES = 4


def coord_memory_signature(key_bits, ways):
    """The ports of :class:`CoordinateMemory` (see there), from the memory's side.
    (A user of the memory, such as the core's debug unit, holds it flipped.)"""
    return wiring.Signature({
        "a_key": In(key_bits),
        "a_op": In(2),
        "a_wdata": In(32),
        "w_rdata": Out(32),
        "w_hit": Out(1),
        "w_full": Out(1),
        "w_slots": Out(data.ArrayLayout(slot_layout(key_bits), ways)),
        "w_commit": In(1),
        "flush": In(1),
    })


class CoordinateMemory(SetAssociative, wiring.Component):
    """Set-associative coordinate memory: an op's key in A, its answer and its write in W.

    Parameters
    ----------
    dim_bits : int
        Bits per coordinate dimension; the key has ``9*dim_bits`` bits.
    set_bits : int
        Set-index bits: ``2**set_bits`` sets, selected by the ISA's set-index
        matrix (:func:`set_index`).
    ways : int
        Ways per set (one block RAM each).
    init : sequence of (key, value)
        Initial contents, placed in order by the placement rule when the
        component is constructed and baked into the RAMs' initial contents
        (e.g. a memory image in a bitstream).  A repeated key updates its entry.

    Attributes
    ----------
    a_key, a_op, a_wdata : In
        Stage A: an op's key, its S-lane operation (numbered as
        :class:`sim.isa.encoding.SOp`: NOP 0, GATHER 1, SCATTER 2, ERASE 3) and
        the value a SCATTER stores.  One op enters every cycle (NOP for none).
    w_rdata : Out(32)
        Stage W (:data:`MEMORY_STAGES` cycles after A): the value stored at the
        op's key, as every op before it left the memory; 0 if absent.
    w_hit : Out(1)
        The key is stored.
    w_full : Out(1)
        The op is SCATTER, its key is not stored and every way of its set is
        valid: a MEM_FULL fault.  Nothing is written then, even with ``w_commit``.
    w_slots : Out(ArrayLayout(slot_layout(key_bits), ways))
        Every way of the op's set (as the ops before it left it), with the key
        rebuilt from the tag and the set index; for the debug dump.
    w_commit : In(1)
        Stage W: do the op's write (SCATTER or ERASE), or, low, drop it.  Only an
        op that commits writes.
    flush : In(1)
        Every op behind W (in A, M, N and T) is dropped at the end of this cycle:
        the core's squash.  So no op is ever answered with the write of an op that
        was squashed.

    Observation points (plain attributes): ``w_key`` and ``w_op``, the key and
    operation of the op in W (for the lockstep checker; no logic reads them, so
    synthesis removes them).  The placed initial contents
    are :attr:`image`: ``image[set][way]`` is ``(key, value)`` or ``None``.
    """

    def __init__(self, dim_bits=DEFAULT_DIM_BITS, set_bits=8, ways=4, init=()):
        SetAssociative.__init__(self, dim_bits, set_bits, ways, init)
        wiring.Component.__init__(self, coord_memory_signature(self.key_bits, ways))
        self.w_key = Signal(self.key_bits, name="w_key")
        self.w_op = Signal(SOp, name="w_op")

    def elaborate(self, platform):
        m = Module()
        sb, ways = self.set_bits, self.ways
        op_layout = data.StructLayout({"key": self.key_bits, "set": max(sb, 1), "op": 2,
                                       "wdata": 32})
        write_layout = data.StructLayout({"en": 1, "set": max(sb, 1), "ways": ways,
                                          "row": self.row_layout})

        # A: the op's set; M: it addresses the RAMs; N: the rows; T: the answer.
        a = Signal(op_layout)
        m.d.comb += [a.key.eq(self.a_key), a.set.eq(set_index(self.a_key, self.columns, sb)),
                     a.op.eq(self.a_op), a.wdata.eq(self.a_wdata)]
        mm, nn, tt = (Signal(op_layout, name=f"{s}_op") for s in ("m", "n", "t"))
        m.d.sync += [mm.eq(a), nn.eq(mm), tt.eq(nn)]
        with m.If(self.flush):                          # the ops behind W are gone
            m.d.sync += [mm.op.eq(SOp.NOP), nn.op.eq(SOp.NOP), tt.op.eq(SOp.NOP)]

        rows, write_ports = [], []
        for w in range(ways):
            init = [{"valid": 0, "tag": 0, "value": 0} if row[w] is None else
                    {"valid": 1, "tag": row[w][0] >> sb, "value": row[w][1]}
                    for row in self.image]
            mem = Memory(shape=self.row_layout, depth=1 << sb, init=init)
            m.submodules[f"way{w}"] = mem
            wp = mem.write_port()
            rp = mem.read_port()
            row = Signal(self.row_layout, name=f"t_row{w}")
            m.d.comb += rp.addr.eq(mm.set[:sb] if sb else 0)
            m.d.sync += row.eq(rp.data)        # N -> T: the rows in registers
            rows.append(row)
            write_ports.append(wp)

        # The writes the op in T has not seen: this cycle's W and the two before it.
        w_write = Signal(write_layout)                  # registered in T, done in W
        done = Signal(write_layout)                     # w_write as it was done
        m.d.comb += [done.eq(w_write), done.en.eq(w_write.en & self.w_commit)]
        h1, h2 = Signal(write_layout, name="h1"), Signal(write_layout, name="h2")
        m.d.sync += [h1.eq(done), h2.eq(h1)]
        # Which of them write the op's set, compared a cycle early (in N, from
        # registers: the op now in T is the one in W then, its write the one done).
        same_set = Signal(3, name="t_same_set")         # (h2, h1, done) in T
        if sb:
            m.d.sync += same_set.eq(Cat(h1.set[:sb] == nn.set[:sb],
                                        w_write.set[:sb] == nn.set[:sb],
                                        tt.set[:sb] == nn.set[:sb]))
        else:
            m.d.comb += same_set.eq(0b111)
        t_set = tt.set[:sb] if sb else Const(0, 1)
        # This cycle's W write is laid over whether or not it commits: an op in T
        # behind a write that is dropped is never used (the core squashes it when
        # the SIW in W faults; the debug unit has one op at a time), and leaving
        # the commit out keeps the run state off this stage's paths.
        patched = []
        for w, row in enumerate(rows):
            value = row
            for i, past in enumerate((h2, h1, w_write)):   # oldest first: the newest wins
                hits = past.en & past.ways[w] & same_set[i]
                value = Mux(hits, past.row, value)
            p = Signal(self.row_layout, name=f"t_patched{w}")
            m.d.comb += p.eq(value)
            patched.append(p)

        t_tag = tt.key[sb:]
        valid = Cat(row.valid for row in patched)
        match = Cat(row.valid & (row.tag == t_tag) for row in patched)
        hit = match.any()
        # first_free[w]: way w is free and every lower way is valid.
        first_free = Cat(~valid[w] & valid[:w].all() if w else ~valid[0] for w in range(ways))
        scatter = tt.op == SOp.SCATTER
        erase = tt.op == SOp.ERASE
        # At most one way matches (placement never stores a key twice), so an OR
        # of the masked values is the selected value.
        rdata = Const(0, 32)
        for w, row in enumerate(patched):
            rdata = rdata | (row.value & match[w].replicate(32))
        m.d.sync += [
            self.w_rdata.eq(rdata),
            self.w_hit.eq(hit),
            self.w_full.eq(scatter & ~hit & valid.all()),
        ]
        for w, row in enumerate(patched):
            m.d.sync += [
                self.w_slots[w].valid.eq(row.valid),
                self.w_slots[w].key.eq(Cat(t_set ^ set_index(row.tag, self.columns[sb:], sb),
                                           row.tag) if sb else row.tag),
                self.w_slots[w].value.eq(row.value),
            ]
        # T -> W: the write this op makes if it commits.
        target = Mux(hit, match, first_free)
        m.d.sync += [
            w_write.en.eq(((scatter & (hit | ~valid.all())) | (erase & hit)) & ~self.flush),
            w_write.set.eq(tt.set),
            w_write.ways.eq(target),
            # SCATTER stores valid+tag+value; ERASE clears the whole row.
            w_write.row.valid.eq(scatter),
            w_write.row.tag.eq(Mux(scatter, t_tag, 0)),
            w_write.row.value.eq(Mux(scatter, tt.wdata, 0)),
            self.w_key.eq(tt.key),
            self.w_op.eq(tt.op),
        ]
        for w, wp in enumerate(write_ports):
            m.d.comb += [
                wp.addr.eq(w_write.set[:sb] if sb else 0),
                wp.en.eq(done.en & w_write.ways[w]),
                wp.data.eq(w_write.row),
            ]
        return m
