"""Decoding an SIW into its three lane operations, and the rules that make one illegal.

Decoding never raises: an illegal word decodes to a :class:`Decoded` whose
``illegality`` says which rule of docs/isa.md section 3 it breaks and how (and
``illegal`` says it as a sentence), so the golden model can fault on it and the
disassembler can print why in its own words: this is the one legality checker of
the tools.  The field positions and the bits each operation may use come from
``sim/isa/encoding.py``; the rules are written here.
"""

from dataclasses import dataclass

from sim.isa.encoding import (C_FIELDS, C_OPERANDS, C_SLOT, D_FIELDS, D_OPERANDS, D_SLOT, DIM_SHORT,
                       NDIMS, S_FIELDS, S_OPERANDS, S_SLOT, COp, DOp, SOp, used_mask)

__all__ = ["Decoded", "Illegality", "decode", "FLOAT_DOPS", "D_READS_RD"]

#: D operations whose result comes from the float unit (latency F, docs/isa.md section 7).
FLOAT_DOPS = frozenset({DOp.ADD, DOp.SUB, DOp.MUL, DOp.MAC, DOp.MIN, DOp.MAX, DOp.ITOF, DOp.FTOI})
#: D operations that read their destination register as a source.
D_READS_RD = frozenset({DOp.MAC, DOp.LIH})

#: Each lane in slot order: (name, slot, fields, operand table, opcodes).
_LANES = (("D", D_SLOT, D_FIELDS, D_OPERANDS, DOp),
          ("S", S_SLOT, S_FIELDS, S_OPERANDS, SOp),
          ("C", C_SLOT, C_FIELDS, C_OPERANDS, COp))
_OPCODES = {lane: ops for lane, _, _, _, ops in _LANES}
_OPERANDS = {lane: operands for lane, _, _, operands, _ in _LANES}


@dataclass(frozen=True)
class Illegality:
    """Why an SIW is illegal: the rule of docs/isa.md section 3 it breaks, and the facts.

    ``lane`` and ``op`` name the slot at fault (``op`` an opcode member, or for rule 1
    the undefined opcode as an int).  Rule 2 gives the set ``bits`` (SIW bit numbers)
    that the operation does not use; rule 3 the ``field`` ("dim" or "dim2") and its
    ``value``; rule 4 the ``register`` and the ``first`` slot, ``(lane, op)``, writing
    it (``lane``/``op`` is the second).  ``str()`` is the golden model's sentence.
    """
    rule: int
    lane: str
    op: object
    bits: tuple = ()
    field: str | None = None
    value: int | None = None
    register: int | None = None
    first: tuple | None = None

    def __post_init__(self):
        if self.rule not in (1, 2, 3, 4, 5):
            raise ValueError(f"illegal-SIW rules are 1..5, not {self.rule!r}")
        if self.lane not in _OPCODES:
            raise ValueError(f"lanes are {', '.join(_OPCODES)}, not {self.lane!r}")

    def __str__(self):
        if self.rule == 1:
            return (f"{self.lane} opcode {self.op} is undefined "
                    f"(defined: 0..{max(_OPCODES[self.lane])})")
        if self.rule == 2:
            used = ", ".join(("op",) + _OPERANDS[self.lane][self.op])
            return (f"{self.lane} {self.op.name} uses only {used}, but SIW bit(s) "
                    f"{', '.join(map(str, self.bits))} are set")
        if self.rule == 3:
            return (f"{self.lane} {self.op.name}: {self.field} {self.value} is above "
                    f"{NDIMS - 1} ({DIM_SHORT[-1]})")
        if self.rule == 4:
            first_lane, first_op = self.first
            return (f"r{self.register} is written by two lanes ({first_lane} {first_op.name} "
                    f"and {self.lane} {self.op.name})")
        return f"{self.lane} {self.op.name} is a float operation and this core has no float unit"


@dataclass(frozen=True)
class Decoded:
    """One SIW split into its fields.

    Opcodes are ``DOp``/``SOp``/``COp`` members when defined, plain ints when not.
    Every field is extracted whether or not the operation uses it; ``illegality`` is
    None for a legal SIW, else the reason.  ``c_imm12`` is already sign-extended.
    """
    word: int
    d_op: object
    rd: int
    rs1: int
    rs2: int
    imm16: int
    s_op: SOp
    s_reg: int
    s_ck: int
    c_op: object
    c_ck: int
    c_dim: int
    c_imm11: int
    c_imm12: int
    c_cj: int
    c_reg: int
    c_dim2: int
    c_target: int
    illegality: Illegality | None

    @property
    def legal(self):
        return self.illegality is None

    @property
    def illegal(self):
        """None for a legal SIW, else the sentence saying which rule it breaks."""
        return None if self.illegality is None else str(self.illegality)

    def reads(self):
        """Data registers the SIW reads (docs/isa.md section 7); none if illegal."""
        if not self.legal:
            return ()
        regs = []
        ops = D_OPERANDS[self.d_op]
        if "rs1" in ops:
            regs.append(self.rs1)
        if "rs2" in ops:
            regs.append(self.rs2)
        if self.d_op in D_READS_RD:
            regs.append(self.rd)
        if self.s_op == SOp.SCATTER:
            regs.append(self.s_reg)
        if self.c_op == COp.CPUT:
            regs.append(self.c_reg)
        return tuple(regs)

    def writes(self):
        """``(register, is_float)`` for every data register written; none if illegal."""
        if not self.legal:
            return ()
        return tuple((reg, lane == "D" and op in FLOAT_DOPS)
                     for lane, op, reg in _writers(vars(self)))

    def ops(self):
        """Number of non-NOP slots (what the ``ops`` counter adds when it retires)."""
        return (self.d_op != DOp.NOP) + (self.s_op != SOp.NOP) + (self.c_op != COp.NOP)


def _writers(f):
    """``(lane, op, register)`` of each slot that writes a data register, in slot order
    (``f``: the fields of a :class:`Decoded`, by name)."""
    if f["d_op"] != DOp.NOP:
        yield "D", f["d_op"], f["rd"]
    if f["s_op"] == SOp.GATHER:
        yield "S", f["s_op"], f["s_reg"]
    if f["c_op"] in (COp.CGET, COp.KEY):
        yield "C", f["c_op"], f["c_reg"]


def decode(word, has_float=True):
    """Split a 64-bit SIW into fields and judge it against the illegal-SIW rules.

    ``has_float`` False judges it for a core without a float unit
    (``CoreConfig.has_float``), where a float D operation is illegal (rule 5).
    """
    if not 0 <= word < 1 << 64:
        raise ValueError(f"SIW {word} is not a 64-bit unsigned integer")
    d = D_SLOT.get(word)
    s = S_SLOT.get(word)
    c = C_SLOT.get(word)
    d_raw = D_FIELDS["op"].get(d)
    c_raw = C_FIELDS["op"].get(c)
    d_op = DOp(d_raw) if d_raw in DOp._value2member_map_ else d_raw
    s_op = SOp(S_FIELDS["op"].get(s))
    c_op = COp(c_raw) if c_raw in COp._value2member_map_ else c_raw
    imm12 = C_FIELDS["imm12"].get(c)
    if imm12 & 0x800:
        imm12 -= 0x1000
    fields = dict(
        word=word, d_op=d_op,
        rd=D_FIELDS["rd"].get(d), rs1=D_FIELDS["rs1"].get(d), rs2=D_FIELDS["rs2"].get(d),
        imm16=D_FIELDS["imm16"].get(d),
        s_op=s_op, s_reg=S_FIELDS["reg"].get(s), s_ck=S_FIELDS["ck"].get(s),
        c_op=c_op, c_ck=C_FIELDS["ck"].get(c), c_dim=C_FIELDS["dim"].get(c),
        c_imm11=C_FIELDS["imm11"].get(c), c_imm12=imm12, c_cj=C_FIELDS["cj"].get(c),
        c_reg=C_FIELDS["reg"].get(c), c_dim2=C_FIELDS["dim2"].get(c),
        c_target=C_FIELDS["target"].get(c),
    )
    return Decoded(**fields, illegality=_judge({"D": d, "S": s, "C": c}, fields, has_float))


def _judge(slots, f, has_float=True):
    """The first illegal-SIW rule (docs/isa.md section 3) the word breaks, as an
    :class:`Illegality`, or None; ``slots`` holds each lane's slot value, ``f`` the fields."""
    ops = {"D": f["d_op"], "S": f["s_op"], "C": f["c_op"]}
    # Rule 1: undefined opcodes.
    for lane, _, _, _, opcodes in _LANES:
        if not isinstance(ops[lane], opcodes):
            return Illegality(1, lane, ops[lane])
    # Rule 5: a float operation on a core without a float unit.
    if not has_float and ops["D"] in FLOAT_DOPS:
        return Illegality(5, "D", ops["D"])
    # Rule 2: every bit outside the fields the operation uses is zero.
    for lane, slot, fields, operands, _ in _LANES:
        stray = slots[lane] & ~used_mask(fields, operands, ops[lane])
        if stray:
            bits = tuple(slot.lsb + i for i in range(stray.bit_length()) if (stray >> i) & 1)
            return Illegality(2, lane, ops[lane], bits=bits)
    # Rule 3: dimension fields in range.
    for lane, _, fields, operands, _ in _LANES:
        for name in ("dim", "dim2"):
            if name in operands[ops[lane]] and fields[name].get(slots[lane]) >= NDIMS:
                return Illegality(3, lane, ops[lane], field=name, value=fields[name].get(slots[lane]))
    # Rule 4: two lanes writing one data register.
    first = {}
    for lane, op, reg in _writers(f):
        if reg in first:
            return Illegality(4, lane, op, register=reg, first=first[reg])
        first[reg] = (lane, op)
    return None
