"""The pipelined core's S lane (hdl/pipeline/s_lane.py): the key it hands the memory in X, and the memory's answer it passes on in W.

Expected keys come from the golden Morton key (sim/isa/coord.py) of the SIW's
``[ck]`` as the operand network delivers it (docs/isa.md section 3: the value
before the SIW).
"""

import random

from amaranth.sim import Simulator

from hdl.pipeline.s_lane import SLane
from sim.isa.coord import morton_key
from sim.isa.encoding import NDIMS, SOp

BITS = 4


def pack(dims):
    return sum(v << (d * BITS) for d, v in enumerate(dims))


def random_coord(rng):
    return tuple(rng.randrange(1 << BITS) for _ in range(NDIMS))


def test_key_in_x_and_answer_in_w():
    rng = random.Random(3)
    dut = SLane(BITS, ways=2)
    cases = [dict(ck=random_coord(rng), x_valid=rng.random() < 0.8, x_op=rng.choice(list(SOp)),
                  wdata=rng.getrandbits(32), commit=rng.random() < 0.5,
                  rdata=rng.getrandbits(32), full=rng.random() < 0.5) for _ in range(200)]
    failures = []

    async def bench(ctx):
        for c in cases:
            ctx.set(dut.x_ck, pack(c["ck"]))
            ctx.set(dut.x_valid, c["x_valid"])
            ctx.set(dut.x_op, c["x_op"])
            ctx.set(dut.x_wdata, c["wdata"])
            ctx.set(dut.w_commit, c["commit"])
            ctx.set(dut.mem.w_rdata, c["rdata"])
            ctx.set(dut.mem.w_full, c["full"])
            got = {name: ctx.get(getattr(dut.mem, name))
                   for name in ("a_key", "a_op", "a_wdata", "w_commit")}
            want = {"a_key": morton_key(c["ck"], BITS),
                    "a_op": c["x_op"] if c["x_valid"] else SOp.NOP,
                    "a_wdata": c["wdata"], "w_commit": c["commit"]}
            if got != want:
                failures.append((c, got, want))
            if (ctx.get(dut.w_rdata), ctx.get(dut.w_mem_full)) != (c["rdata"], c["full"]):
                failures.append((c, "memory answer not passed on"))
            await ctx.delay(1e-6)

    sim = Simulator(dut)                      # combinational: no clock
    sim.add_testbench(bench)
    sim.run()
    assert not failures, failures[:3]
