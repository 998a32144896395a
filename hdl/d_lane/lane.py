"""The D lane of the Sentron core: the integer ALU and the float unit behind one set of X-stage operands.

Why it looks like this
----------------------
* **One lane, two units.**  Every D operation reads the same operands in X
  (``rs1``, ``rs2``, the old ``rd``), so both units get them from the same
  ports; which one's result counts is the operation's: an integer result is
  computed in X (``x_result``), a float result comes out ``F - 2`` cycles after
  issue (``w_*``; the core writes it one cycle later, docs/isa.md section 7).  The core sees one D lane and does not
  know how it is built.
* **The float unit cannot cancel.**  An op issued in X may belong to an SIW
  that a fault squashes before it retires; the issue unit keeps its own record
  of the ops in flight and suppresses the write-back of a cancelled one, so the
  float pipeline itself needs no flush.
* **No float unit at all** with ``float_latency`` 0 (the iCEBreaker's core): the
  decoder makes the float operations illegal SIWs, and ``w_valid`` stays low.
"""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .float_unit import FloatUnit
from .int_alu import IntAlu

__all__ = ["DLane"]


class DLane(wiring.Component):
    """The D lane: :class:`~hdl.d_lane.int_alu.IntAlu` and, unless ``float_latency``
    is 0, :class:`~hdl.d_lane.float_unit.FloatUnit`.

    Parameters
    ----------
    float_latency : int
        ``F`` of docs/isa.md section 7 (at least 2); 0 builds no float unit.

    Attributes
    ----------
    x_op : In(5)
        The :class:`sim.isa.encoding.DOp` number of the SIW in X.
    x_a, x_b : In(32)
        rs1 and rs2.
    x_c : In(32)
        rd's old value (MAC's accumulator, LIH's low half).
    x_imm16 : In(16)
        The immediate of LI and LIH.
    x_float : In(1)
        Issue the operation to the float unit this cycle (a float op the issue
        unit lets through; it may still be cancelled before it lands).
    x_rd : In(5)
        The destination register, returned with the float result on ``w_rd``.
    x_result : Out(32)
        The integer result (0 for an operation that is not an integer one).
    w_valid : Out(1)
        A float result comes out this cycle: ``x_float`` of ``F - 2`` cycles ago
        (the core registers it and writes it in the next cycle).
    w_rd, w_result : Out
        Its destination register and its bits.
    int_alu : IntAlu
    float_unit : FloatUnit or None
        The units (``None``: no float unit).
    """

    def __init__(self, float_latency=4):
        if not isinstance(float_latency, int) or float_latency < 0 or float_latency == 1:
            raise ValueError(f"float_latency must be 0 (no float unit) or an integer >= 2, "
                             f"not {float_latency!r}")
        self.float_latency = float_latency
        self.int_alu = IntAlu()
        # The unit's result comes out F-2 cycles after issue; the core registers it
        # and writes it F-1 cycles after issue (hdl/core.py), ready for X at F.
        self.float_unit = FloatUnit(float_latency - 1) if float_latency else None
        super().__init__({
            "x_op": In(5), "x_a": In(32), "x_b": In(32), "x_c": In(32), "x_imm16": In(16),
            "x_float": In(1), "x_rd": In(5),
            "x_result": Out(32),
            "w_valid": Out(1), "w_rd": Out(5), "w_result": Out(32),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.int_alu = alu = self.int_alu
        m.d.comb += [
            alu.x_op.eq(self.x_op),
            alu.x_a.eq(self.x_a),
            alu.x_b.eq(self.x_b),
            alu.x_c.eq(self.x_c),
            alu.x_imm16.eq(self.x_imm16),
            self.x_result.eq(alu.x_result),
        ]
        fpu = self.float_unit
        if fpu is not None:
            m.submodules.float_unit = fpu
            m.d.comb += [
                fpu.x_valid.eq(self.x_float),
                fpu.x_op.eq(self.x_op),
                fpu.x_a.eq(self.x_a),
                fpu.x_b.eq(self.x_b),
                fpu.x_c.eq(self.x_c),
                fpu.x_tag.eq(self.x_rd),
                self.w_valid.eq(fpu.w_valid),
                self.w_rd.eq(fpu.w_tag),
                self.w_result.eq(fpu.w_result),
            ]
        return m
