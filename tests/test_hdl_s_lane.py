"""The S lane (hdl/s_lane.py) cycle by cycle: the key it looks up in D, with ck forwarded from X.

Expected keys come from the golden Morton key (sim/isa/coord.py) of the
coordinate the SIW in X leaves behind (docs/isa.md section 3: every lane reads
the state before its own SIW, so the SIW after a ``ck`` write sees the new value).
"""

import random

from amaranth.sim import Simulator

from hdl.s_lane import SLane
from sim.isa.coord import morton_key
from sim.isa.encoding import NDIMS, SOp

BITS = 4


def pack(dims):
    return sum(v << (d * BITS) for d, v in enumerate(dims))


def random_coord(rng):
    return tuple(rng.randrange(1 << BITS) for _ in range(NDIMS))


def test_key_forwarding_and_x_stage():
    rng = random.Random(3)
    dut = SLane(BITS)
    cases = []
    for _ in range(200):
        cases.append(dict(
            d_addr=rng.randrange(8), d_ck=random_coord(rng),
            x_valid=rng.random() < 0.8, x_we=rng.random() < 0.6,
            x_addr=rng.randrange(8), x_new=random_coord(rng),
            x_op=rng.choice(list(SOp)), wdata=rng.getrandbits(32), commit=rng.random() < 0.5,
            rdata=rng.getrandbits(32), full=rng.random() < 0.5))
        if rng.random() < 0.5:
            cases[-1]["x_addr"] = cases[-1]["d_addr"]        # X writes the register D reads
    failures = []

    async def bench(ctx):
        previous_key = None
        for c in cases:
            ctx.set(dut.d_ck_addr, c["d_addr"])
            ctx.set(dut.d_ck, pack(c["d_ck"]))
            ctx.set(dut.x_valid, c["x_valid"])
            ctx.set(dut.x_ck_we, c["x_we"])
            ctx.set(dut.x_ck_addr, c["x_addr"])
            ctx.set(dut.x_ck_new, pack(c["x_new"]))
            ctx.set(dut.x_op, c["x_op"])
            ctx.set(dut.x_wdata, c["wdata"])
            ctx.set(dut.x_commit, c["commit"])
            ctx.set(dut.mem.x_rdata, c["rdata"])
            ctx.set(dut.mem.x_full, c["full"])
            forwarded = c["x_valid"] and c["x_we"] and c["x_addr"] == c["d_addr"]
            want_key = morton_key(c["x_new"] if forwarded else c["d_ck"], BITS)
            got = {name: ctx.get(getattr(dut.mem, name))
                   for name in ("d_key", "x_key", "x_op", "x_wdata", "x_commit")}
            want = {"d_key": want_key, "x_op": c["x_op"] if c["x_valid"] else SOp.NOP,
                    "x_wdata": c["wdata"], "x_commit": c["commit"]}
            if previous_key is not None:
                want["x_key"] = previous_key        # the key D looked up a cycle ago
            else:
                del got["x_key"]
            if got != want:
                failures.append((c, got, want))
            if (ctx.get(dut.x_rdata), ctx.get(dut.x_mem_full)) != (c["rdata"], c["full"]):
                failures.append((c, "memory answer not passed on"))
            previous_key = want_key
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert not failures, failures[:3]
