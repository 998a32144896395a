"""The SIW decoder of the Sentron core: fields, legality and register use of one 64-bit word.

Why it looks like this
----------------------
* **Decode is wiring plus a few comparators.**  Every field sits at a fixed
  position (``sim.isa.encoding``), so the fields are slices.  The only logic is the
  legality check of docs/isa.md section 3 and the register-use flags.
* **Legality is derived from the shared operand tables.**  For each opcode the
  set of bits it may use is the union of the fields ``D_OPERANDS`` /
  ``S_OPERANDS`` / ``C_OPERANDS`` list for it; any other set bit makes the SIW
  illegal.  The tables are numbers shared with the golden model, not behaviour,
  so a new operand layout needs no edit here.
* **Register use is decoded once, in D.**  The issue unit needs, for the
  interlock of section 7, which data registers the SIW reads and writes; the X
  stage needs the same flags to enable the register-file writes.  Carrying the
  flags in :data:`decoded_layout` keeps the two consistent by construction.
  An illegal SIW reads and writes nothing (all use flags are zero), because it
  will fault and commit nothing, and section 7 gives a fault no register use.
"""

from amaranth.hdl import Cat, Module, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from sim.isa.encoding import (C_FIELDS, C_OPERANDS, C_SLOT, D_FIELDS, D_OPERANDS, D_SLOT, NDIMS,
                          PC_BITS, S_FIELDS, S_OPERANDS, S_SLOT, SIW_BITS, COp, DOp, SOp, used_mask)

__all__ = ["decoded_layout", "Decoder", "FLOAT_DOPS"]

#: D-lane operations executed by the float unit (latency F, docs/isa.md section 7).
FLOAT_DOPS = (DOp.ADD, DOp.SUB, DOp.MUL, DOp.MAC, DOp.MIN, DOp.MAX, DOp.ITOF, DOp.FTOI)

#: Everything later stages need to know about one SIW.  Field names carry the
#: lane (``d_``, ``s_``, ``c_``) because the three lanes share a word; the use
#: flags name the register field they refer to.
decoded_layout = data.StructLayout({
    # D lane
    "d_op": DOp,
    "d_rd": 5,
    "d_rs1": 5,
    "d_rs2": 5,
    "d_imm16": 16,
    # S lane
    "s_op": SOp,
    "s_reg": 5,          # GATHER rd / SCATTER rs
    "s_ck": 3,
    # C lane
    "c_op": COp,
    "c_ck": 3,
    "c_dim": 4,
    "c_imm11": 11,
    "c_imm12": signed(12),
    "c_cj": 3,
    "c_reg": 5,          # CGET / KEY rd, CPUT rs
    "c_dim2": 4,
    "c_target": PC_BITS,
    # The SIW breaks a rule of docs/isa.md section 3.
    "illegal": 1,
    # Data registers read (section 7): D rs1, D rs2, D rd (MAC, LIH), S rs (SCATTER), C rs (CPUT).
    "rd_rs1": 1,
    "rd_rs2": 1,
    "rd_drd": 1,
    "rd_sreg": 1,
    "rd_creg": 1,
    # Data registers written: D rd (every op but NOP), S rd (GATHER), C rd (CGET, KEY).
    "wr_drd": 1,
    "wr_sreg": 1,
    "wr_creg": 1,
    # The D operation goes to the float unit (latency F) rather than the integer ALU.
    "d_float": 1,
    # Number of non-NOP slots (the ``ops`` counter's increment).
    "ops": 2,
})


def _field(slot_value, field):
    return slot_value[field.lsb:field.lsb + field.width]


class Decoder(wiring.Component):
    """Combinational decoder of one SIW.

    Attributes
    ----------
    siw : In(64)
        The instruction word.
    out : Out(decoded_layout)
        Its fields, ``illegal`` (any rule of docs/isa.md section 3: undefined
        opcode, a set bit outside the operation's fields, a used ``dim``/``dim2``
        above 8, two lanes writing one data register), the register-use flags
        (all zero when ``illegal``), ``d_float`` and the non-NOP slot count.

    Parameters
    ----------
    has_float : bool
        False for a core without a float unit: a float D operation is then
        illegal (rule 5), so it never reaches a float unit that is not there.
    """

    def __init__(self, has_float=True):
        self.has_float = has_float
        super().__init__({"siw": In(SIW_BITS), "out": Out(decoded_layout)})

    def elaborate(self, platform):
        m = Module()
        o = self.out
        d_slot = _field(self.siw, D_SLOT)
        s_slot = _field(self.siw, S_SLOT)
        c_slot = _field(self.siw, C_SLOT)

        m.d.comb += [
            o.d_op.eq(_field(d_slot, D_FIELDS["op"])),
            o.d_rd.eq(_field(d_slot, D_FIELDS["rd"])),
            o.d_rs1.eq(_field(d_slot, D_FIELDS["rs1"])),
            o.d_rs2.eq(_field(d_slot, D_FIELDS["rs2"])),
            o.d_imm16.eq(_field(d_slot, D_FIELDS["imm16"])),
            o.s_op.eq(_field(s_slot, S_FIELDS["op"])),
            o.s_reg.eq(_field(s_slot, S_FIELDS["reg"])),
            o.s_ck.eq(_field(s_slot, S_FIELDS["ck"])),
            o.c_op.eq(_field(c_slot, C_FIELDS["op"])),
            o.c_ck.eq(_field(c_slot, C_FIELDS["ck"])),
            o.c_dim.eq(_field(c_slot, C_FIELDS["dim"])),
            o.c_imm11.eq(_field(c_slot, C_FIELDS["imm11"])),
            o.c_imm12.eq(_field(c_slot, C_FIELDS["imm12"])),
            o.c_cj.eq(_field(c_slot, C_FIELDS["cj"])),
            o.c_reg.eq(_field(c_slot, C_FIELDS["reg"])),
            o.c_dim2.eq(_field(c_slot, C_FIELDS["dim2"])),
            o.c_target.eq(_field(c_slot, C_FIELDS["target"])),
        ]
        d_op = _field(d_slot, D_FIELDS["op"])
        s_op = _field(s_slot, S_FIELDS["op"])
        c_op = _field(c_slot, C_FIELDS["op"])

        # Rules 1 and 2: an undefined opcode has no allowed bits, so it is caught by
        # the same "set bit outside the allowed mask" test as a stray operand bit.
        def stray_bits(slot, op, fields, operands, width):
            defined = Cat(op == code for code in operands)  # one bit per defined opcode
            stray = 0
            for i, code in enumerate(operands):
                stray = stray | (defined[i] & (slot & ~used_mask(fields, operands, code)
                                               & ((1 << width) - 1)).any())
            return ~defined.any() | stray

        d_bad = stray_bits(d_slot, d_op, D_FIELDS, D_OPERANDS, D_SLOT.width)
        s_bad = stray_bits(s_slot, s_op, S_FIELDS, S_OPERANDS, S_SLOT.width)
        c_bad = stray_bits(c_slot, c_op, C_FIELDS, C_OPERANDS, C_SLOT.width)

        # Rule 3: a used dim / dim2 above 8.
        uses_dim = Cat(c_op == code for code, ops in C_OPERANDS.items() if "dim" in ops).any()
        uses_dim2 = Cat(c_op == code for code, ops in C_OPERANDS.items() if "dim2" in ops).any()
        dim_bad = (uses_dim & (o.c_dim >= NDIMS)) | (uses_dim2 & (o.c_dim2 >= NDIMS))

        # Register use, before legality masks it.
        raw_rd_rs1 = Cat(d_op == code for code, ops in D_OPERANDS.items() if "rs1" in ops).any()
        raw_rd_rs2 = Cat(d_op == code for code, ops in D_OPERANDS.items() if "rs2" in ops).any()
        raw_rd_drd = (d_op == DOp.MAC) | (d_op == DOp.LIH)
        raw_rd_sreg = s_op == SOp.SCATTER
        raw_rd_creg = c_op == COp.CPUT
        raw_wr_drd = d_op != DOp.NOP
        raw_wr_sreg = s_op == SOp.GATHER
        raw_wr_creg = (c_op == COp.CGET) | (c_op == COp.KEY)

        # Rule 4: two lanes write the same data register.
        d_rd, s_reg, c_reg = o.d_rd, o.s_reg, o.c_reg
        clash = ((raw_wr_drd & raw_wr_sreg & (d_rd == s_reg)) |
                 (raw_wr_drd & raw_wr_creg & (d_rd == c_reg)) |
                 (raw_wr_sreg & raw_wr_creg & (s_reg == c_reg)))

        is_float = Cat(d_op == code for code in FLOAT_DOPS).any()
        # Rule 5: a float operation on a core without a float unit.
        no_fpu = is_float if not self.has_float else 0

        illegal = d_bad | s_bad | c_bad | dim_bad | clash | no_fpu
        legal = ~illegal
        m.d.comb += [
            o.illegal.eq(illegal),
            o.rd_rs1.eq(legal & raw_rd_rs1),
            o.rd_rs2.eq(legal & raw_rd_rs2),
            o.rd_drd.eq(legal & raw_rd_drd),
            o.rd_sreg.eq(legal & raw_rd_sreg),
            o.rd_creg.eq(legal & raw_rd_creg),
            o.wr_drd.eq(legal & raw_wr_drd),
            o.wr_sreg.eq(legal & raw_wr_sreg),
            o.wr_creg.eq(legal & raw_wr_creg),
            o.d_float.eq(legal & is_float),
            o.ops.eq((d_op != 0) + (s_op != 0) + (c_op != 0)),
        ]
        return m
