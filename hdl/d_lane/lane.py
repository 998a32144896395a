"""The D lane of the Sentron core: the integer ALU and the float unit behind one set of X-stage operands.

Why it looks like this
----------------------
* **One lane, two units.**  Every D operation reads the same operands in X
  (``rs1``, ``rs2``, the old ``rd``), so both units get them from the same
  ports; which one's result counts is the operation's: an integer result is
  written at the end of X (``x_result``), a float result ``F`` cycles after
  issue (``w_*``, docs/isa.md section 7).  The core sees one D lane and does not
  know how it is built.
* **The float unit only gets what commits.**  ``x_float`` is the issue unit's
  decision (the SIW commits and its operation is a float one), so a faulting or
  squashed SIW never enters the float pipeline, which has no way to cancel an
  operation once issued.
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
        ``F`` of docs/isa.md section 7; 0 builds no float unit.
    writeback_delay : int
        Clocks the core adds between ``w_result`` and the register write (the
        pipelined core registers the result once, so that the write leaves a
        flip-flop): the float unit is built that much shorter, and ``w_valid``
        comes that much earlier, so the result still lands as the timing table
        says.  0 for the three-stage core.

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
        Issue the operation to the float unit this cycle (the SIW commits and
        its operation is a float one).
    x_rd : In(5)
        The destination register, returned with the float result on ``w_rd``.
    x_result : Out(32)
        The integer result (0 for an operation that is not an integer one).
    w_valid : Out(1)
        A float result lands this cycle: ``x_float`` of ``F - 1 - writeback_delay``
        cycles ago.
    w_rd, w_result : Out
        Its destination register and its bits.
    int_alu : IntAlu
    float_unit : FloatUnit or None
        The units (``None``: no float unit).
    """

    def __init__(self, float_latency=4, writeback_delay=0):
        if not isinstance(float_latency, int) or float_latency < 0:
            raise ValueError(f"float_latency must be an integer >= 0 (0 = no float unit), "
                             f"not {float_latency!r}")
        if not isinstance(writeback_delay, int) or not (
                0 <= writeback_delay < max(float_latency, 1)):
            raise ValueError(f"writeback_delay must be an integer 0 .. float_latency - 1 = "
                             f"{float_latency - 1}, not {writeback_delay!r}")
        self.float_latency = float_latency
        self.writeback_delay = writeback_delay
        self.int_alu = IntAlu()
        self.float_unit = (FloatUnit(float_latency - writeback_delay) if float_latency
                           else None)
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
