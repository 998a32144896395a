"""Encoding tables of the Sentron ISA: the only module shared by the golden model and the HDL.

It holds numbers, never behaviour: opcode values, field positions and widths,
fault codes, coordinate dimension names, the latencies of the timing model, and the
numbers derived from them (:func:`used_mask`: the bits an operation may set).  What an
opcode *does* is written in
``docs/isa.md`` and implemented twice, independently: by the golden model in
``sim/`` and by the hardware in ``hdl/``.
"""

import enum
from dataclasses import dataclass

__all__ = [
    "DIM_NAMES", "DIM_SHORT", "NDIMS", "DEFAULT_DIM_BITS",
    "SIW_BITS", "Field", "D_FIELDS", "S_FIELDS", "C_FIELDS",
    "D_SLOT", "S_SLOT", "C_SLOT", "DOp", "SOp", "COp", "Fault",
    "PC_BITS", "CANONICAL_NAN", "D_SPARE", "CoreConfig", "D_OPERANDS", "S_OPERANDS", "C_OPERANDS",
    "used_mask", "FLOAT_DOPS", "Timing",
]

#: Dimension names in order (dimension index 0..8), long and short (phext) form.
DIM_NAMES = ("library", "shelf", "series", "collection", "volume",
             "book", "chapter", "section", "scroll")
DIM_SHORT = ("lb", "sf", "sr", "cn", "vm", "bk", "ch", "sn", "sc")
NDIMS = 9
#: Bits per coordinate dimension unless a configuration says otherwise.
DEFAULT_DIM_BITS = 11

#: Width of one SIW (three-lane instruction word).
SIW_BITS = 64
#: Width of a branch target: program memory holds at most 2**PC_BITS SIWs.
PC_BITS = 10
#: The one NaN that any float operation produces.
CANONICAL_NAN = 0x7FC0_0000


class Field:
    """A bit field ``[lsb, lsb+width)`` of a lane slot."""

    def __init__(self, lsb, width):
        self.lsb = lsb
        self.width = width

    @property
    def mask(self):
        return (1 << self.width) - 1

    def get(self, word):
        return (word >> self.lsb) & self.mask

    def put(self, value):
        if not 0 <= value <= self.mask:
            raise ValueError(f"{value} does not fit in a {self.width}-bit field")
        return value << self.lsb

    def __repr__(self):
        return f"Field(lsb={self.lsb}, width={self.width})"


#: Slot positions inside the 64-bit SIW: (lsb, width).
D_SLOT = Field(0, 26)
S_SLOT = Field(26, 10)
C_SLOT = Field(36, 28)

#: D-slot fields, relative to the D slot.
D_FIELDS = {
    "op":    Field(0, 5),
    "rd":    Field(5, 5),
    "rs1":   Field(10, 5),
    "rs2":   Field(15, 5),
    "imm16": Field(10, 16),   # LI / LIH only; overlaps rs1, rs2 and the spare bits
}
#: Bits of the D slot that no non-immediate D operation uses (must be zero).
D_SPARE = Field(20, 6)

#: S-slot fields, relative to the S slot.
S_FIELDS = {
    "op":  Field(0, 2),
    "reg": Field(2, 5),       # rd of GATHER, rs of SCATTER; zero for ERASE
    "ck":  Field(7, 3),
}

#: C-slot fields, relative to the C slot.
C_FIELDS = {
    "op":     Field(0, 4),
    "ck":     Field(4, 3),
    "dim":    Field(7, 4),
    "imm11":  Field(11, 11),  # CSET: unsigned value
    "imm12":  Field(11, 12),  # CADD: two's-complement signed delta
    "cj":     Field(11, 3),   # CMOV source, LOOP limit register
    "reg":    Field(11, 5),   # CGET / KEY destination, CPUT source
    "dim2":   Field(14, 4),   # LOOP limit dimension
    "target": Field(18, 10),  # LOOP / JUMP absolute SIW address
}


class DOp(enum.IntEnum):
    """D-lane (dense ALU) opcodes."""
    NOP = 0
    ADD = 1
    SUB = 2
    MUL = 3
    MAC = 4
    MIN = 5
    MAX = 6
    IADD = 7
    ISUB = 8
    AND = 9
    OR = 10
    XOR = 11
    SHL = 12
    SHR = 13
    SRA = 14
    MOV = 15
    LI = 16
    LIH = 17
    ITOF = 18
    FTOI = 19
    # 20..31 are undefined: an SIW holding one is illegal.


#: D operations computed by the float unit: latency ``Timing.float_op`` (docs/isa.md
#: section 7), illegal on a core without a float unit (section 3, rule 5).
FLOAT_DOPS = frozenset({DOp.ADD, DOp.SUB, DOp.MUL, DOp.MAC, DOp.MIN, DOp.MAX, DOp.ITOF, DOp.FTOI})


class SOp(enum.IntEnum):
    """S-lane (sparse memory) opcodes; all four values are defined."""
    NOP = 0
    GATHER = 1
    SCATTER = 2
    ERASE = 3


class COp(enum.IntEnum):
    """C-lane (coordinates and control) opcodes."""
    NOP = 0
    CSET = 1
    CADD = 2
    CMOV = 3
    CCLR = 4
    CGET = 5
    CPUT = 6
    KEY = 7
    LOOP = 8
    JUMP = 9
    HALT = 10
    # 11..15 are undefined: an SIW holding one is illegal.


class Fault(enum.IntEnum):
    """Fault codes held in the status register (0 = no fault).

    When one SIW meets several faults, the lowest nonzero code wins:
    PC_RANGE, then ILLEGAL_SIW, then COORD_RANGE, then MEM_FULL.
    """
    NONE = 0
    PC_RANGE = 1
    ILLEGAL_SIW = 2
    COORD_RANGE = 3
    MEM_FULL = 4


#: Which fields each operation uses, in assembly operand order.  Every bit of a
#: slot outside the fields its operation uses must be zero, otherwise the SIW is
#: illegal; so an encoding is unique and disassembly round-trips exactly.
D_OPERANDS = {
    DOp.NOP: (),
    **{op: ("rd", "rs1", "rs2") for op in (
        DOp.ADD, DOp.SUB, DOp.MUL, DOp.MAC, DOp.MIN, DOp.MAX, DOp.IADD, DOp.ISUB,
        DOp.AND, DOp.OR, DOp.XOR, DOp.SHL, DOp.SHR, DOp.SRA)},
    DOp.MOV: ("rd", "rs1"),
    DOp.ITOF: ("rd", "rs1"),
    DOp.FTOI: ("rd", "rs1"),
    DOp.LI: ("rd", "imm16"),
    DOp.LIH: ("rd", "imm16"),
}
S_OPERANDS = {
    SOp.NOP: (),
    SOp.GATHER: ("reg", "ck"),     # GATHER rd, [ck]
    SOp.SCATTER: ("ck", "reg"),    # SCATTER [ck], rs
    SOp.ERASE: ("ck",),            # ERASE [ck]
}
C_OPERANDS = {
    COp.NOP: (),
    COp.CSET: ("ck", "dim", "imm11"),            # CSET ck.dim, imm
    COp.CADD: ("ck", "dim", "imm12"),            # CADD ck.dim, simm
    COp.CMOV: ("ck", "cj"),                      # CMOV ck, cj
    COp.CCLR: ("ck",),                           # CCLR ck
    COp.CGET: ("reg", "ck", "dim"),              # CGET rd, ck.dim
    COp.CPUT: ("ck", "dim", "reg"),              # CPUT ck.dim, rs
    COp.KEY: ("reg", "ck"),                      # KEY rd, ck
    COp.LOOP: ("ck", "dim", "cj", "dim2", "target"),  # LOOP ck.dim < cj.dim2, label
    COp.JUMP: ("target",),                       # JUMP label
    COp.HALT: (),
}


def used_mask(fields, operands, op):
    """Bits of a slot that operation ``op`` may set: its opcode field and the fields
    ``operands[op]`` lists (``fields``, ``operands``: one lane's tables, e.g. ``D_FIELDS``,
    ``D_OPERANDS``); an undefined opcode has only the opcode field.  Every other bit
    must be zero (docs/isa.md section 3, rule 2)."""
    mask = fields["op"].mask << fields["op"].lsb
    for name in operands.get(op, ()):
        mask |= fields[name].mask << fields[name].lsb
    return mask


@dataclass(frozen=True)
class Timing:
    """The numbers of the timing model (docs/isa.md section 7) of one core configuration.

    Why one table: the golden model predicts every retire cycle from it and the kernel
    compiler (``sim/asm/compiler.py``) schedules by it, so a deeper pipeline changes
    these numbers here and both follow.  ``CoreConfig.timing`` derives today's table
    from ``float_latency``; the hardware (``hdl/``) implements exactly that default.
    :meth:`pipelined` is the table of the eight-stage pipeline the hardware is moving to.

    ``float_op``: latency of the float D operations (:data:`FLOAT_DOPS`), the core's F,
    0 for a core without a float unit.  ``int_op``: latency of every other D operation.
    ``gather``: latency of GATHER's ``rd``.  ``coord_read``: latency of CGET's and KEY's
    ``rd``.  ``loop_exit``: the extra cycles ``p_k`` after a LOOP that does not branch.
    ``first_retire``: a run starting when the counter reads ``s`` retires its first SIW
    in cycle ``s + first_retire``.  ``commit_depth``: cycles from the stage where a
    float operation enters the float unit to its SIW's retirement; it moves only the
    cycle from which a float result is *visible* in the register file
    (:meth:`visible_after`), never when it is *ready* (:meth:`latency`), so a float
    unit needs ``float_op > commit_depth``: a result cannot land before its SIW
    retires.
    """
    float_op: int
    int_op: int = 1
    gather: int = 1
    coord_read: int = 1
    loop_exit: int = 1
    first_retire: int = 2
    commit_depth: int = 0

    def __post_init__(self):
        minimum = {"float_op": 0, "int_op": 1, "gather": 1, "coord_read": 1, "loop_exit": 0,
                   "first_retire": 1, "commit_depth": 0}
        for name, low in minimum.items():
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"Timing.{name} must be an integer >= {low}, not {value!r}")
        if self.float_op and self.float_op <= self.commit_depth:
            raise ValueError(
                f"Timing.float_op must be at least commit_depth + 1 = {self.commit_depth + 1} "
                f"(or 0: no float unit), not {self.float_op}: a float operation enters the "
                f"float unit {self.commit_depth} cycles before its SIW retires, and its result "
                f"may land no earlier than that retirement")

    @classmethod
    def pipelined(cls, float_op):
        """The table of the pipelined core (docs/isa.md section 7), stages F D R X M N T W
        (fetch, decode, register read, execute, memory address, memory read, tag compare,
        write/commit), whose float operations have latency ``float_op`` (0: no float
        unit; else at least 5).

        Where the numbers come from: an SIW fetched in cycle ``s`` retires in W in
        ``s + 7``; an operand is used in X, 4 cycles before its reader retires, so an
        integer or coordinate result (made in X) is ready for the next SIW, GATHER's
        (out of T, the cycle before its SIW retires) 4 cycles after that retirement;
        a LOOP is resolved in X, so the fall-through, fetched next, retires 3 cycles
        late; the float unit is entered in X, 4 cycles before W.
        """
        return cls(float_op=float_op, int_op=1, gather=4, coord_read=1, loop_exit=3,
                   first_retire=7, commit_depth=4)

    def latency(self, op):
        """Cycles from the retirement of ``op`` (a DOp, SOp or COp member) until the data
        register it writes is *ready*: an SIW reading or writing it retires no earlier.
        ValueError for an operation that writes none."""
        if isinstance(op, DOp) and op != DOp.NOP:
            if op not in FLOAT_DOPS:
                return self.int_op
            if self.float_op == 0:
                raise ValueError(f"{op.name} is a float operation and this core has no float unit")
            return self.float_op
        if isinstance(op, SOp) and op == SOp.GATHER:
            return self.gather
        if isinstance(op, COp) and op in (COp.CGET, COp.KEY):
            return self.coord_read
        raise ValueError(f"{op!r} writes no data register")

    def visible_after(self, op):
        """Cycles from the retirement of ``op`` until the value it writes is *visible*
        in the register file (what an observer of the register file sees): ``float_op
        - commit_depth`` for a float operation, which lands from the float unit; 1 for
        every other write, committed with its SIW.  ValueError for an operation that
        writes no data register."""
        latency = self.latency(op)
        if isinstance(op, DOp) and op in FLOAT_DOPS:
            return latency - self.commit_depth
        return 1


class CoreConfig:
    """Parameters of one Sentron core, shared by the golden model and the HDL.

    ``dim_bits`` bits per dimension, ``2**set_bits`` sets of ``ways`` ways in the
    coordinate memory, ``prog_depth`` SIWs of program memory (at most 2**PC_BITS),
    ``float_latency`` the latency F of float operations (docs/isa.md section 7), or 0
    for a core without a float unit, on which the float operations are illegal SIWs
    (docs/isa.md section 3, rule 5): how a small part (iCE40UP5K) carries the rest of
    the ISA.  ``timing`` the :class:`Timing` table of the timing model; by default
    today's, derived from ``float_latency`` (what the HDL implements).  Another table
    (its ``float_op`` equal to ``float_latency``), e.g. ``Timing.pipelined(F)``, gives
    the golden model and the kernel compiler a pipeline the HDL does not have yet.
    """

    def __init__(self, dim_bits=DEFAULT_DIM_BITS, set_bits=8, ways=4, prog_depth=1 << PC_BITS,
                 float_latency=4, timing=None):
        if not 1 <= dim_bits <= 16:
            raise ValueError(f"dim_bits must be 1..16, not {dim_bits}")
        if not 0 <= set_bits <= NDIMS * dim_bits:
            raise ValueError(f"set_bits must be 0..{NDIMS * dim_bits}, not {set_bits}")
        if ways < 1:
            raise ValueError(f"ways must be at least 1, not {ways}")
        if not 1 <= prog_depth <= 1 << PC_BITS:
            raise ValueError(f"prog_depth must be 1..{1 << PC_BITS}, not {prog_depth}")
        if float_latency < 0:
            raise ValueError(f"float_latency must be at least 1, or 0 for no float unit, "
                             f"not {float_latency}")
        if timing is not None:
            if not isinstance(timing, Timing):
                raise ValueError(f"timing must be a Timing, not {timing!r}")
            if timing.float_op != float_latency:
                raise ValueError(f"timing.float_op ({timing.float_op}) must equal float_latency "
                                 f"({float_latency})")
        self.dim_bits = dim_bits
        self.set_bits = set_bits
        self.ways = ways
        self.prog_depth = prog_depth
        self.float_latency = float_latency
        self._timing = timing if timing is not None else Timing(float_op=float_latency)

    @property
    def key_bits(self):
        return NDIMS * self.dim_bits

    @property
    def has_float(self):
        """The core has a float unit (``float_latency`` > 0)."""
        return self.float_latency > 0

    @property
    def sets(self):
        return 1 << self.set_bits

    @property
    def timing(self):
        """The :class:`Timing` table of this core (docs/isa.md section 7)."""
        return self._timing

    def with_timing(self, timing):
        """This configuration with the :class:`Timing` table ``timing`` (and its float
        latency): e.g. ``config.with_timing(Timing.pipelined(12))``."""
        return CoreConfig(self.dim_bits, self.set_bits, self.ways, self.prog_depth,
                          float_latency=timing.float_op, timing=timing)

    def as_dict(self):
        """The parameters; ``timing`` only when it is not the default derived from
        ``float_latency``."""
        out = dict(dim_bits=self.dim_bits, set_bits=self.set_bits, ways=self.ways,
                   prog_depth=self.prog_depth, float_latency=self.float_latency)
        if self._timing != Timing(float_op=self.float_latency):
            out["timing"] = self._timing
        return out

    def __eq__(self, other):
        return isinstance(other, CoreConfig) and self.as_dict() == other.as_dict()

    def __hash__(self):
        return hash(tuple(self.as_dict().items()))

    def __repr__(self):
        return "CoreConfig(" + ", ".join(f"{k}={v}" for k, v in self.as_dict().items()) + ")"
