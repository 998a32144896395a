"""The D lane's integer ALU: the single-cycle (latency 1) operations of docs/isa.md.

Combinational, so the core writes its result at the end of the X stage like any
other latency-1 operation.  Integer arithmetic wraps modulo 2**32; shift amounts
are ``b & 31``.  LIH reads the old ``rd`` (``c``) to keep its low half.
"""

from amaranth.hdl import Cat, Module, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from sim.isa.encoding import DOp

__all__ = ["IntAlu", "INT_OPS"]

#: The D-lane operations this unit executes.
INT_OPS = (DOp.IADD, DOp.ISUB, DOp.AND, DOp.OR, DOp.XOR, DOp.SHL, DOp.SHR, DOp.SRA,
           DOp.MOV, DOp.LI, DOp.LIH)


class IntAlu(wiring.Component):
    """Integer ALU of the D lane (combinational).

    Every port belongs to the X stage (``x_``), where the SIW reads its registers
    and the result is written at the end of the cycle.

    Attributes
    ----------
    x_op : In(5)
        The :class:`sim.isa.encoding.DOp` number.  For an op not in :data:`INT_OPS`
        ``x_result`` is 0.
    x_a, x_b : In(32)
        rs1 and rs2.
    x_c : In(32)
        rd's old value (LIH keeps its low 16 bits).
    x_imm16 : In(16)
        The immediate of LI and LIH.
    x_result : Out(32)
        IADD ``a + b``, ISUB ``a - b`` (both mod 2**32), AND/OR/XOR bitwise,
        SHL ``a << (b & 31)``, SHR logical and SRA arithmetic ``a >> (b & 31)``,
        MOV ``a``, LI sign-extended ``imm16``, LIH ``imm16 << 16 | c & 0xFFFF``.
    """

    def __init__(self):
        super().__init__({
            "x_op": In(5), "x_a": In(32), "x_b": In(32), "x_c": In(32), "x_imm16": In(16),
            "x_result": Out(32),
        })

    def elaborate(self, platform):
        m = Module()
        a, b = self.x_a, self.x_b
        # One right shifter serves all three shifts: SHL shifts the bit-reversed
        # operand right and reverses back; SRA fills with the sign, SHR with zeros.
        is_shl = self.x_op == DOp.SHL
        source = Mux(is_shl, a[::-1], a)
        fill = (self.x_op == DOp.SRA) & a[31]
        shifted = (Cat(source, fill.replicate(32)) >> b[0:5])[0:32]
        shift = Mux(is_shl, shifted[::-1], shifted)
        # One adder for both: a - b = a + ~b + 1.
        is_sub = self.x_op == DOp.ISUB
        total = (a + (b ^ is_sub.replicate(32)) + is_sub)[0:32]
        with m.Switch(self.x_op):
            with m.Case(DOp.IADD, DOp.ISUB):
                m.d.comb += self.x_result.eq(total)
            with m.Case(DOp.AND):
                m.d.comb += self.x_result.eq(a & b)
            with m.Case(DOp.OR):
                m.d.comb += self.x_result.eq(a | b)
            with m.Case(DOp.XOR):
                m.d.comb += self.x_result.eq(a ^ b)
            with m.Case(DOp.SHL, DOp.SHR, DOp.SRA):
                m.d.comb += self.x_result.eq(shift)
            with m.Case(DOp.MOV):
                m.d.comb += self.x_result.eq(a)
            with m.Case(DOp.LI):
                m.d.comb += self.x_result.eq(self.x_imm16.as_signed())
            with m.Case(DOp.LIH):
                m.d.comb += self.x_result.eq(Cat(self.x_c[0:16], self.x_imm16))
        return m
