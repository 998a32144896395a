"""The coordinate memory of the Sentron core: a set-associative store in block RAM.

Why this structure
------------------
* **The set is the key times a matrix over GF(2).**  Column ``k`` of the ISA's
  set-index matrix (:func:`sim.isa.placement.set_index_columns`) says which set
  bits key bit ``k`` flips; it is chosen so that every aligned box over any two
  dimensions (a tile of rows x columns) spreads evenly over the sets, up to the
  memory's capacity, instead of piling into a few, as it would if the set were
  only the key's low bits (bit 0 of eight dimensions).  Key bits
  ``0..set_bits-1`` map to themselves, so the key above them is the tag and the
  low bits come back as ``set ^ (M_high . tag)``: (set, tag) still names exactly
  one key.  Each set bit is an XOR tree over the key bits of its row of the
  matrix (docs/isa.md section 5).
* **One block RAM per way.**  Each way is an :class:`amaranth.lib.memory.Memory`
  of ``2**set_bits`` rows, one row per set.  All ways are read in parallel at the
  same set address, so one cycle yields the whole set; the tag comparators, the
  hit/free logic and the data select then sit between the RAM outputs and the
  core.  A narrow RAM per way maps directly onto iCE40/ECP5 block RAMs (a single
  wide RAM holding the whole set would need byte-like write enables per way).
* **Transparent synchronous read.**  The core presents the key of the SIW in
  decode (``d_key``) and uses the rows in execute (``x_*``) in the next cycle.
  Each way's read port is transparent for that way's write port, so a SCATTER or
  ERASE committing in X in cycle *t* is already visible in the rows that the SIW
  decoded in cycle *t* sees in cycle *t+1*.  Back-to-back SCATTER/GATHER (or two
  SCATTERs that fill a set) therefore need no stall and no bypass logic in the core.

Placement (the same rule as the golden model, exact): a SCATTER of a key present
in its set updates that way; a new key takes the lowest-numbered free way; with
no free way nothing is written and ``x_full`` is raised.  ERASE clears the
matching way; ERASE of an absent key writes nothing.  Nothing is ever evicted.
"""

from amaranth.hdl import Cat, Const, Module, Mux
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from sim.isa.encoding import DEFAULT_DIM_BITS, NDIMS, SOp
from sim.isa.placement import set_index_columns

__all__ = ["CoordinateMemory", "SetAssociative", "coord_memory_signature", "slot_layout",
           "set_index"]


def set_index(value, columns, set_bits):
    """``M . value`` over GF(2): set bit ``j`` is the XOR of the bits ``value[k]`` whose
    column ``columns[k]`` has bit ``j``, one XOR tree per set bit (``set_bits`` wide)."""
    return Cat(Cat(value[k] for k, column in enumerate(columns) if column >> j & 1).xor()
               for j in range(set_bits))


def slot_layout(key_bits):
    """One way of one set as the debug dump sees it: valid, full key, value."""
    return data.StructLayout({"valid": 1, "key": key_bits, "value": 32})


def coord_memory_signature(key_bits, ways):
    """The ports of :class:`CoordinateMemory` (see there), from the memory's side.
    (A user of the memory, such as the core's debug unit, holds it flipped.)"""
    return wiring.Signature({
        "d_key": In(key_bits),
        "x_key": In(key_bits),
        "x_op": In(2),
        "x_wdata": In(32),
        "x_commit": In(1),
        "x_rdata": Out(32),
        "x_hit": Out(1),
        "x_full": Out(1),
        "x_slots": Out(data.ArrayLayout(slot_layout(key_bits), ways)),
    })


class SetAssociative:
    """What a coordinate memory is whatever its datapath: its parameters (checked),
    its set-index function and its placed initial contents, :attr:`image`
    (``image[set][way]`` is ``(key, value)`` or ``None``), placed by the rule of
    docs/isa.md section 5.  Both cores' memories are one (this module's and
    ``hdl.pipeline.coord_memory``'s), so a memory image is placed the same way
    into either bitstream."""

    def __init__(self, dim_bits, set_bits, ways, init):
        if not isinstance(dim_bits, int) or dim_bits < 1:
            raise ValueError(f"dim_bits must be a positive integer, not {dim_bits!r}")
        key_bits = NDIMS * dim_bits
        if not isinstance(set_bits, int) or not 0 <= set_bits <= key_bits:
            raise ValueError(f"set_bits must be an integer in 0..{key_bits}, not {set_bits!r}")
        if not isinstance(ways, int) or ways < 1:
            raise ValueError(f"ways must be a positive integer, not {ways!r}")
        self.dim_bits = dim_bits
        self.set_bits = set_bits
        self.ways = ways
        self.key_bits = key_bits
        self.tag_bits = key_bits - set_bits
        self.columns = set_index_columns(set_bits, key_bits)
        self.row_layout = data.StructLayout({"valid": 1, "tag": self.tag_bits, "value": 32})
        self.image = self._place(init)

    def set_of(self, key):
        """The set of an integer key: :func:`set_index` computed in Python, for placing ``init``."""
        result = 0
        for k, column in enumerate(self.columns):
            if key >> k & 1:
                result ^= column
        return result

    def _place(self, init):
        """Place ``init`` entries by the hardware's rule; raise ValueError on overflow."""
        sets = 1 << self.set_bits
        image = [[None] * self.ways for _ in range(sets)]
        for index, entry in enumerate(init):
            try:
                key, value = entry
                key, value = int(key), int(value)
            except (TypeError, ValueError):
                raise ValueError(f"init entry {index} is {entry!r}, not a (key, value) pair "
                                 f"of integers") from None
            if not 0 <= key < (1 << self.key_bits):
                raise ValueError(f"init entry {index}: key {key:#x} does not fit in "
                                 f"{self.key_bits} bits")
            if not 0 <= value < (1 << 32):
                raise ValueError(f"init entry {index} (key {key:#x}): value {value} is "
                                 f"outside 0..2**32-1")
            row = image[self.set_of(key)]
            ways_with_key = [w for w, slot in enumerate(row) if slot is not None and slot[0] == key]
            free = [w for w, slot in enumerate(row) if slot is None]
            if ways_with_key:
                row[ways_with_key[0]] = (key, value)
            elif free:
                row[free[0]] = (key, value)
            else:
                raise ValueError(f"init entry {index} (key {key:#x}): set {self.set_of(key)} "
                                 f"is full ({self.ways} ways)")
        return image


class CoordinateMemory(SetAssociative, wiring.Component):
    """Set-associative coordinate memory with a D-stage read and an X-stage update.

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
    d_key : In(key_bits)
        Decode stage.  Every cycle the set ``set_index(d_key)`` of every way is
        read; the rows appear in the next cycle, including any write committed
        in the same cycle as the read (transparent read).
    x_key : In(key_bits)
        Execute stage: the key whose set was read in the previous cycle.  The core
        guarantees it equals the previous cycle's ``d_key``.
    x_op : In(2)
        The S-lane operation, numbered as :class:`sim.isa.encoding.SOp`
        (NOP 0, GATHER 1, SCATTER 2, ERASE 3).
    x_wdata : In(32)
        The value a SCATTER stores.
    x_commit : In(1)
        Perform this cycle's write (SCATTER or ERASE).  Without it nothing is written.
    x_rdata : Out(32)
        Value stored at ``x_key`` as of before this cycle's write; 0 if absent.
    x_hit : Out(1)
        ``x_key`` is stored (a valid way holds its tag).
    x_full : Out(1)
        ``x_op`` is SCATTER, ``x_key`` is not stored and every way of its set is
        valid: the SCATTER would be a MEM_FULL fault.  Nothing is written then,
        even with ``x_commit``.
    x_slots : Out(ArrayLayout(slot_layout(key_bits), ways))
        Every way of the set read (before this cycle's write), with the key rebuilt
        from the tag and the set index; for the debug dump.

    The placed initial contents are available as :attr:`image`:
    ``image[set][way]`` is ``(key, value)`` or ``None``.
    """

    def __init__(self, dim_bits=DEFAULT_DIM_BITS, set_bits=8, ways=4, init=()):
        SetAssociative.__init__(self, dim_bits, set_bits, ways, init)
        wiring.Component.__init__(self, coord_memory_signature(self.key_bits, ways))

    def elaborate(self, platform):
        m = Module()
        sb = self.set_bits
        x_set = set_index(self.x_key, self.columns, sb)
        x_tag = self.x_key[sb:]
        d_set = set_index(self.d_key, self.columns, sb)

        rows = []
        write_ports = []
        for w in range(self.ways):
            init = [{"valid": 0, "tag": 0, "value": 0} if row[w] is None else
                    {"valid": 1, "tag": row[w][0] >> sb, "value": row[w][1]}
                    for row in self.image]
            mem = Memory(shape=self.row_layout, depth=1 << sb, init=init)
            m.submodules[f"way{w}"] = mem
            wp = mem.write_port()
            rp = mem.read_port(transparent_for=(wp,))
            m.d.comb += rp.addr.eq(d_set)
            rows.append(rp.data)
            write_ports.append(wp)

        valid = Cat(row.valid for row in rows)
        match = Cat(row.valid & (row.tag == x_tag) for row in rows)
        hit = match.any()
        # first_free[w]: way w is free and every lower way is valid.
        first_free = Cat(~valid[w] & valid[:w].all() if w else ~valid[0]
                         for w in range(self.ways))
        scatter = self.x_op == SOp.SCATTER
        erase = self.x_op == SOp.ERASE

        # At most one way matches (placement never stores a key twice), so an OR
        # of the masked values is the selected value.
        rdata = Const(0, 32)
        for w, row in enumerate(rows):
            rdata = rdata | (row.value & match[w].replicate(32))
        m.d.comb += [
            self.x_rdata.eq(rdata),
            self.x_hit.eq(hit),
            self.x_full.eq(scatter & ~hit & valid.all()),
        ]

        for w, (row, wp) in enumerate(zip(rows, write_ports)):
            m.d.comb += [
                self.x_slots[w].valid.eq(row.valid),
                self.x_slots[w].key.eq(Cat(x_set ^ set_index(row.tag, self.columns[sb:], sb),
                                           row.tag)),
                self.x_slots[w].value.eq(row.value),
                wp.addr.eq(x_set),
                wp.en.eq(self.x_commit & (
                    (scatter & (match[w] | (~hit & first_free[w]))) |
                    (erase & match[w]))),
                # SCATTER stores valid+tag+value; ERASE clears the whole row.
                wp.data.valid.eq(scatter),
                wp.data.tag.eq(Mux(scatter, x_tag, 0)),
                wp.data.value.eq(Mux(scatter, self.x_wdata, 0)),
            ]
        return m
