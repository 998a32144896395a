"""Decoding an SIW into its three lane operations, and the rules that make one illegal.

Decoding never raises: an illegal word decodes to a :class:`Decoded` whose
``illegal`` is a sentence saying which rule of docs/isa.md section 3 it breaks,
so the golden model can fault on it and the disassembler can print why.  The
field positions come from ``sim/isa/encoding.py``; the rules are written here.
"""

from dataclasses import dataclass

from sim.isa.encoding import (C_FIELDS, C_OPERANDS, C_SLOT, D_FIELDS, D_OPERANDS, D_SLOT, DIM_SHORT,
                       NDIMS, S_FIELDS, S_OPERANDS, S_SLOT, COp, DOp, SOp)

__all__ = ["Decoded", "decode", "FLOAT_DOPS", "D_READS_RD"]

#: D operations whose result comes from the float unit (latency F, docs/isa.md section 7).
FLOAT_DOPS = frozenset({DOp.ADD, DOp.SUB, DOp.MUL, DOp.MAC, DOp.MIN, DOp.MAX, DOp.ITOF, DOp.FTOI})
#: D operations that read their destination register as a source.
D_READS_RD = frozenset({DOp.MAC, DOp.LIH})


def _used_mask(fields, operands):
    mask = fields["op"].mask << fields["op"].lsb
    for name in operands:
        mask |= fields[name].mask << fields[name].lsb
    return mask


def _bit_list(bits, base):
    return ", ".join(str(base + i) for i in range(bits.bit_length()) if (bits >> i) & 1)


@dataclass(frozen=True)
class Decoded:
    """One SIW split into its fields.

    Opcodes are ``DOp``/``SOp``/``COp`` members when defined, plain ints when not.
    Every field is extracted whether or not the operation uses it; ``illegal`` is
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
    illegal: str | None

    @property
    def legal(self):
        return self.illegal is None

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
        return tuple(_writes(self.d_op, self.rd, self.s_op, self.s_reg, self.c_op, self.c_reg))

    def ops(self):
        """Number of non-NOP slots (what the ``ops`` counter adds when it retires)."""
        return (self.d_op != DOp.NOP) + (self.s_op != SOp.NOP) + (self.c_op != COp.NOP)


def _writes(d_op, rd, s_op, s_reg, c_op, c_reg):
    out = []
    if d_op != DOp.NOP:
        out.append((rd, d_op in FLOAT_DOPS))
    if s_op == SOp.GATHER:
        out.append((s_reg, False))
    if c_op in (COp.CGET, COp.KEY):
        out.append((c_reg, False))
    return out


def _lane_name(lane, op):
    return f"{lane} {op.name}" if hasattr(op, "name") else f"{lane} opcode {op}"


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
    return Decoded(**fields, illegal=_judge(d, s, c, fields, has_float))


def _judge(d, s, c, f, has_float=True):
    """The first illegal-SIW rule (docs/isa.md section 3) the word breaks, or None."""
    d_op, s_op, c_op = f["d_op"], f["s_op"], f["c_op"]
    # Rule 1: undefined opcodes.
    if not isinstance(d_op, DOp):
        return f"D opcode {d_op} is undefined (defined: 0..{max(DOp)})"
    if not isinstance(c_op, COp):
        return f"C opcode {c_op} is undefined (defined: 0..{max(COp)})"
    # Rule 5: a float operation on a core without a float unit.
    if not has_float and d_op in FLOAT_DOPS:
        return f"D {d_op.name} is a float operation and this core has no float unit"
    # Rule 2: every bit outside the fields the operation uses is zero.
    for lane, slot, value, fields, operands, op in (
            ("D", D_SLOT, d, D_FIELDS, D_OPERANDS, d_op),
            ("S", S_SLOT, s, S_FIELDS, S_OPERANDS, s_op),
            ("C", C_SLOT, c, C_FIELDS, C_OPERANDS, c_op)):
        stray = value & ~_used_mask(fields, operands[op])
        if stray:
            used = ", ".join(("op",) + operands[op])
            return (f"{_lane_name(lane, op)} uses only {used}, but SIW bit(s) "
                    f"{_bit_list(stray, slot.lsb)} are set")
    # Rule 3: dimension fields in range.
    ops = C_OPERANDS[c_op]
    for name, key in (("dim", "c_dim"), ("dim2", "c_dim2")):
        if name in ops and f[key] >= NDIMS:
            return f"C {c_op.name}: {name} {f[key]} is above {NDIMS - 1} ({DIM_SHORT[-1]})"
    # Rule 4: two lanes writing one data register.
    seen = {}
    lanes = []
    if d_op != DOp.NOP:
        lanes.append((f["rd"], f"D {d_op.name}"))
    if s_op == SOp.GATHER:
        lanes.append((f["s_reg"], "S GATHER"))
    if c_op in (COp.CGET, COp.KEY):
        lanes.append((f["c_reg"], f"C {c_op.name}"))
    for reg, who in lanes:
        if reg in seen:
            return f"r{reg} is written by two lanes ({seen[reg]} and {who})"
        seen[reg] = who
    return None
