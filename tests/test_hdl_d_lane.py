"""The D lane (hdl/d_lane/lane.py): integer results in X, float results F - 1 cycles after issue.

The units themselves are checked against docs/isa.md in tests/test_hdl_int_alu.py
and tests/test_hdl_float_unit.py; here, that the lane routes the X-stage
operands to both, returns a float result with its destination exactly
``F - 1`` cycles after ``x_float`` (docs/isa.md section 7) and never without
it, and has no float unit at ``float_latency`` 0.  Values are hand-computed:
1.0 + 2.0 = 3.0 is 0x3F800000 + 0x40000000 = 0x40400000.
"""

import gc
import warnings

import pytest
from amaranth.hdl import UnusedElaboratable
from amaranth.sim import Simulator

from hdl.d_lane.lane import DLane
from sim.isa.encoding import DOp

ONE, TWO, THREE = 0x3F80_0000, 0x4000_0000, 0x4040_0000


def run(lane, program, cycles):
    """Drive ``program`` ({cycle: {port: value}}, ports held until changed) for
    ``cycles`` cycles; return per cycle (x_result, w_valid, w_rd, w_result)."""
    seen = []
    # A lane without pipeline registers (no float unit, or a unit of latency 1) has
    # no clock.
    clocked = lane.float_latency - lane.writeback_delay > 1

    async def bench(ctx):
        for t in range(cycles):
            for name, value in program.get(t, {}).items():
                ctx.set(getattr(lane, name), value)
            seen.append(tuple(ctx.get(getattr(lane, name))
                              for name in ("x_result", "w_valid", "w_rd", "w_result")))
            await (ctx.tick() if clocked else ctx.delay(1e-6))

    sim = Simulator(lane)
    if clocked:
        sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return seen


@pytest.mark.parametrize("latency, delay", [(1, 0), (3, 0), (4, 0), (3, 1), (5, 1), (8, 1)])
def test_float_result_lands_latency_minus_one_cycles_after_issue(latency, delay):
    """With ``writeback_delay`` (the pipelined core registers the result once before
    writing it) the result comes out that many cycles earlier, F - 1 - delay."""
    lane = DLane(latency, writeback_delay=delay)
    program = {
        0: dict(x_op=DOp.ADD, x_a=ONE, x_b=TWO, x_c=0, x_rd=7, x_float=1),
        1: dict(x_op=DOp.IADD, x_a=5, x_b=7, x_rd=3, x_float=0),
        # A float op that does not issue (a faulting or squashed SIW) gives no result.
        2: dict(x_op=DOp.ADD, x_a=TWO, x_b=TWO, x_rd=9, x_float=0),
    }
    seen = run(lane, program, latency + 4)
    landed = [t for t, (_, valid, _, _) in enumerate(seen) if valid]
    assert landed == [latency - 1 - delay]
    _, _, rd, result = seen[latency - 1 - delay]
    assert (rd, result) == (7, THREE)
    assert seen[1][0] == 12                      # IADD 5 + 7, in the same cycle
    assert seen[0][0] == 0                       # a float op has no integer result


def test_no_float_unit_at_latency_0():
    lane = DLane(0)
    assert lane.float_unit is None
    program = {0: dict(x_op=DOp.ADD, x_a=ONE, x_b=TWO, x_rd=7, x_float=1),
               1: dict(x_op=DOp.XOR, x_a=0xF0F0, x_b=0x0FF0, x_float=0)}
    seen = run(lane, program, 5)
    assert not any(valid for _, valid, _, _ in seen)
    assert seen[1][0] == 0xFF00


@pytest.mark.parametrize("bad", [-1, 1.5, "4"])
def test_rejects_a_bad_latency(bad):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)   # the refused object is never used
        with pytest.raises(ValueError, match="float_latency"):
            DLane(bad)
        gc.collect()


@pytest.mark.parametrize("latency, delay", [(4, -1), (4, 4), (1, 1), (0, 1), (4, 1.0)])
def test_rejects_a_bad_writeback_delay(latency, delay):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)
        with pytest.raises(ValueError, match="writeback_delay"):
            DLane(latency, writeback_delay=delay)
        gc.collect()
