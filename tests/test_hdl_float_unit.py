"""The hardware float unit (hdl/d_lane/float_unit.py) against the golden model sim/golden/fp32.py.

Every vector is streamed through the pipeline one op per cycle (with bubbles and
non-float ops mixed in); each result must appear with its tag at exactly cycle
``t + latency - 1`` and nowhere else.  Directed cases carry hand-computed IEEE
results, so they check the golden model too; random operands are biased towards
the exponents and fractions where float units go wrong.
"""

import gc
import random
import warnings

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from amaranth.hdl import UnusedElaboratable
from amaranth.sim import Simulator

from hdl.d_lane.float_unit import FLOAT_OPS, STEP_NAMES, FloatUnit, choose_cuts
from sim.golden import fp32
from sim.isa.encoding import DOp

GOLDEN = {
    DOp.ADD: lambda a, b, c: fp32.fadd(a, b),
    DOp.SUB: lambda a, b, c: fp32.fsub(a, b),
    DOp.MUL: lambda a, b, c: fp32.fmul(a, b),
    DOp.MAC: lambda a, b, c: fp32.fmac(c, a, b),
    DOp.MIN: lambda a, b, c: fp32.fmin(a, b),
    DOp.MAX: lambda a, b, c: fp32.fmax(a, b),
    DOp.ITOF: lambda a, b, c: fp32.itof(a),
    DOp.FTOI: lambda a, b, c: fp32.ftoi(a),
}
NAN = 0x7FC0_0000
INF, NINF = 0x7F80_0000, 0xFF80_0000
ONE, NEG_ONE, TWO, HALF = 0x3F80_0000, 0xBF80_0000, 0x4000_0000, 0x3F00_0000
MAX_F, MIN_SUB, MAX_SUB, MIN_NORM = 0x7F7F_FFFF, 0x0000_0001, 0x007F_FFFF, 0x0080_0000


def stream(latency, vectors, seed=0):
    """Issue ``vectors`` ((op, a, b, c) tuples) one per cycle through a FloatUnit.

    A third of the cycles between them are bubbles (``x_valid`` low) or non-float
    ops with ``x_valid`` high, which must produce nothing.  Returns the list of
    ``(result, issue_index)`` in issue order, after checking that each result came
    with its tag in exactly cycle ``issue + latency - 1`` and ``w_valid`` was low in
    every other cycle.
    """
    rng = random.Random(seed)
    schedule = []           # per cycle: None (idle) or (index, op, a, b, c)
    for i, vec in enumerate(vectors):
        while rng.random() < 0.25:
            schedule.append(("other", rng.choice([DOp.NOP, DOp.IADD, DOp.LIH, 20, 31])))
        schedule.append((i,) + tuple(vec))
    dut = FloatUnit(latency)
    results = {}
    errors = []

    async def bench(ctx):
        issued_at = {}
        for t in range(len(schedule) + latency):
            item = schedule[t] if t < len(schedule) else None
            if item is None:
                ctx.set(dut.x_valid, 0)
            elif item[0] == "other":
                ctx.set(dut.x_valid, 1)
                ctx.set(dut.x_op, item[1])
                ctx.set(dut.x_tag, 31)
            else:
                i, op, a, b, c = item
                issued_at[t] = i
                ctx.set(dut.x_valid, 1)
                ctx.set(dut.x_op, op)
                ctx.set(dut.x_a, a)
                ctx.set(dut.x_b, b)
                ctx.set(dut.x_c, c)
                ctx.set(dut.x_tag, i % 32)
            expect = issued_at.get(t - (latency - 1))
            if ctx.get(dut.w_valid):
                if expect is None:
                    errors.append(f"cycle {t}: w_valid without an op issued at {t - latency + 1}")
                else:
                    if ctx.get(dut.w_tag) != expect % 32:
                        errors.append(f"cycle {t}: tag {ctx.get(dut.w_tag)}, expected {expect % 32}")
                    results[expect] = ctx.get(dut.w_result)
            elif expect is not None:
                errors.append(f"cycle {t}: no result for op {expect} issued at {t - latency + 1}")
            if latency > 1:
                await ctx.tick()
            else:
                await ctx.delay(1e-6)

    sim = Simulator(dut)
    if latency > 1:
        sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert not errors, errors[:10]
    assert sorted(results) == list(range(len(vectors)))
    return [results[i] for i in range(len(vectors))]


def check_against_golden(latency, vectors, seed=0):
    got = stream(latency, vectors, seed)
    bad = []
    for (op, a, b, c), r in zip(vectors, got):
        want = GOLDEN[op](a, b, c)
        if r != want:
            bad.append(f"{op.name} a={a:#010x} b={b:#010x} c={c:#010x}: "
                       f"hdl {r:#010x}, golden {want:#010x}")
    assert not bad, f"{len(bad)} of {len(vectors)} differ:\n" + "\n".join(bad[:20])


# --- hand-computed IEEE facts: (op, a, b, c, expected) --------------------------------

HAND = [
    # signed zeros, x - x = +0
    (DOp.ADD, 0x0000_0000, 0x8000_0000, 0, 0x0000_0000),
    (DOp.ADD, 0x8000_0000, 0x8000_0000, 0, 0x8000_0000),
    (DOp.SUB, 0x8000_0000, 0x0000_0000, 0, 0x8000_0000),
    (DOp.SUB, ONE, ONE, 0, 0x0000_0000),
    (DOp.ADD, NEG_ONE, ONE, 0, 0x0000_0000),
    (DOp.SUB, 0x8123_4567, 0x8123_4567, 0, 0x0000_0000),
    (DOp.MUL, 0x8000_0000, ONE, 0, 0x8000_0000),
    (DOp.MUL, 0x8000_0000, NEG_ONE, 0, 0x0000_0000),
    (DOp.MAC, 0x8000_0000, ONE, 0x8000_0000, 0x8000_0000),       # -0 + (-0*1) = -0
    (DOp.MAC, 0x8000_0000, ONE, 0x0000_0000, 0x0000_0000),       # +0 + (-0) = +0
    # ties to even at the last bit; carries out of rounding into the exponent
    (DOp.ADD, ONE, 0x3380_0000, 0, ONE),                         # 1 + 2**-24 -> 1
    (DOp.ADD, 0x3F80_0001, 0x3380_0000, 0, 0x3F80_0002),         # odd + half ulp -> up
    (DOp.ADD, 0x3FFF_FFFF, 0x3380_0000, 0, TWO),                 # 2 - 2**-23 + 2**-24 -> 2
    (DOp.MUL, 0x3F80_0001, 0x3F80_0001, 0, 0x3F80_0002),         # (1+u)**2 = 1+2u+u*u -> 1+2u
    # subnormals: smallest and largest, subnormal results from normal inputs
    (DOp.ADD, MAX_SUB, MIN_SUB, 0, MIN_NORM),
    (DOp.SUB, MIN_NORM, MIN_SUB, 0, MAX_SUB),
    (DOp.SUB, 0x00C0_0000, MIN_NORM, 0, 0x0040_0000),            # 1.5*2**-126 - 2**-126
    (DOp.MUL, 0x2000_0000, 0x1F80_0000, 0, 0x0040_0000),         # 2**-63 * 2**-64 = 2**-127
    (DOp.MUL, MIN_SUB, HALF, 0, 0x0000_0000),                    # 2**-150: tie -> 0 (even)
    (DOp.MUL, 0x0000_0003, HALF, 0, 0x0000_0002),                # 1.5 * 2**-149: tie -> 2
    (DOp.MUL, MIN_SUB, 0x3F40_0000, 0, MIN_SUB),                 # 0.75 * 2**-149 -> 2**-149
    (DOp.MUL, MAX_SUB, 0x4B00_0000, 0, 0x0BFF_FFFE),             # (2**23-1)*2**-149 * 2**23
    (DOp.MUL, MIN_SUB, MIN_SUB, 0, 0x0000_0000),
    (DOp.MUL, 0x8000_0001, MIN_SUB, 0, 0x8000_0000),
    # overflow to signed infinity, inf - inf, 0 * inf, NaNs canonical
    (DOp.ADD, MAX_F, MAX_F, 0, INF),
    (DOp.MUL, MAX_F, 0xC000_0000, 0, NINF),
    (DOp.ADD, MAX_F, 0x7300_0000, 0, INF),                       # + half ulp: tie, odd -> up
    (DOp.ADD, MAX_F, 0x7280_0000, 0, MAX_F),                     # + quarter ulp -> down
    (DOp.ADD, INF, NINF, 0, NAN),
    (DOp.SUB, INF, INF, 0, NAN),
    (DOp.ADD, INF, MAX_F, 0, INF),
    (DOp.MUL, 0x0000_0000, NINF, 0, NAN),
    (DOp.MUL, NINF, 0x8000_0000, 0, NAN),
    (DOp.MUL, NINF, NEG_ONE, 0, INF),
    (DOp.ADD, 0x7F80_0001, ONE, 0, NAN),                         # signalling NaN in
    (DOp.MUL, 0xFFC0_0000, TWO, 0, NAN),                         # negative quiet NaN in
    (DOp.SUB, ONE, 0xFFFF_FFFF, 0, NAN),
    (DOp.MAC, ONE, ONE, 0x7F80_0001, NAN),
    (DOp.MAC, INF, ONE, NINF, NAN),                              # -inf + inf
    (DOp.MAC, MAX_F, MAX_F, NINF, NAN),                          # product rounds to +inf
    # MAC rounds twice: (1+2**-12)**2 = 1 + 2**-11 + 2**-24 rounds (tie, even) to
    # 1 + 2**-11, so with c = -1 the result is 2**-11, not the fused 2**-11 + 2**-24.
    (DOp.MAC, 0x3F80_0800, 0x3F80_0800, NEG_ONE, 0x3A00_0000),
    (DOp.MAC, TWO, 0x4040_0000, ONE, 0x40E0_0000),               # 1 + 2*3 = 7
    # MIN / MAX
    (DOp.MIN, 0x0000_0000, 0x8000_0000, 0, 0x8000_0000),
    (DOp.MIN, 0x8000_0000, 0x0000_0000, 0, 0x8000_0000),
    (DOp.MAX, 0x8000_0000, 0x0000_0000, 0, 0x0000_0000),
    (DOp.MAX, 0x0000_0000, 0x8000_0000, 0, 0x0000_0000),
    (DOp.MIN, NINF, MAX_F, 0, NINF),
    (DOp.MAX, NEG_ONE, 0xC000_0000, 0, NEG_ONE),
    (DOp.MIN, 0x7FC0_0000, ONE, 0, NAN),
    (DOp.MAX, ONE, 0x7F80_0001, 0, NAN),
    (DOp.MIN, MIN_SUB, 0x8000_0001, 0, 0x8000_0001),
    # ITOF
    (DOp.ITOF, 0, 0, 0, 0x0000_0000),
    (DOp.ITOF, 0xFFFF_FFFF, 0, 0, NEG_ONE),
    (DOp.ITOF, (1 << 24) + 1, 0, 0, 0x4B80_0000),                # tie -> 2**24 (even)
    (DOp.ITOF, (1 << 24) + 3, 0, 0, 0x4B80_0002),                # tie -> 2**24 + 4 (even)
    (DOp.ITOF, 0x8000_0000, 0, 0, 0xCF00_0000),                  # -2**31
    (DOp.ITOF, 0x7FFF_FFFF, 0, 0, 0x4F00_0000),                  # rounds up to 2**31
    (DOp.ITOF, 1, 0, 0, ONE),
    # FTOI
    (DOp.FTOI, 0x4F00_0000, 0, 0, 0x7FFF_FFFF),                  # 2**31 saturates
    (DOp.FTOI, 0xCF00_0000, 0, 0, 0x8000_0000),                  # -2**31 exactly
    (DOp.FTOI, 0xBF00_0000, 0, 0, 0x0000_0000),                  # -0.5 -> 0
    (DOp.FTOI, 0x5015_02F9, 0, 0, 0x7FFF_FFFF),                  # 1e10
    (DOp.FTOI, 0xD015_02F9, 0, 0, 0x8000_0000),                  # -1e10
    (DOp.FTOI, NAN, 0, 0, 0),
    (DOp.FTOI, 0xFF80_0001, 0, 0, 0),
    (DOp.FTOI, INF, 0, 0, 0x7FFF_FFFF),
    (DOp.FTOI, NINF, 0, 0, 0x8000_0000),
    (DOp.FTOI, 0x4039_9999, 0, 0, 2),                            # 2.9
    (DOp.FTOI, 0xC039_9999, 0, 0, 0xFFFF_FFFE),                  # -2.9
    (DOp.FTOI, 0x4EFF_FFFF, 0, 0, 0x7FFF_FF80),                  # largest below 2**31
    (DOp.FTOI, MIN_SUB, 0, 0, 0),
]


def test_hand_values_are_ieee_facts_for_the_golden_model():
    """The hand table is right (or the golden model is wrong): checked before the HDL."""
    bad = [(op.name, hex(a), hex(b), hex(c), hex(want), hex(GOLDEN[op](a, b, c)))
           for op, a, b, c, want in HAND if GOLDEN[op](a, b, c) != want]
    assert not bad


@pytest.mark.parametrize("latency", [4, 1, 2])
def test_hand_values(latency):
    got = stream(latency, [v[:4] for v in HAND])
    bad = [(op.name, hex(a), hex(b), hex(c), hex(want), hex(r))
           for (op, a, b, c, want), r in zip(HAND, got) if r != want]
    assert not bad


SPECIALS = [
    0x0000_0000, 0x8000_0000, MIN_SUB, 0x8000_0001, MAX_SUB, MIN_NORM, 0x8080_0000,
    ONE, NEG_ONE, 0x3F80_0001, 0x3FFF_FFFF, 0x3380_0000, MAX_F, 0xFF7F_FFFF,
    INF, NINF, NAN, 0x7F80_0001, 0xFFFF_FFFF, 0x4B80_0001, 0xCF00_0000,
]


def test_special_operand_grid():
    """Every binary op on every pair of special values; MAC with special accumulators."""
    vectors = [(op, a, b, 0) for op in (DOp.ADD, DOp.SUB, DOp.MUL, DOp.MIN, DOp.MAX)
               for a in SPECIALS for b in SPECIALS]
    accs = [0x0000_0000, 0x8000_0000, NEG_ONE, INF, NINF, MIN_SUB, 0xFF7F_FFFF]
    vectors += [(DOp.MAC, a, b, c) for a in SPECIALS[::2] for b in SPECIALS[1::2] for c in accs]
    vectors += [(op, a, 0, 0) for op in (DOp.ITOF, DOp.FTOI) for a in SPECIALS]
    check_against_golden(4, vectors)


# --- random operands biased towards the hard cases ------------------------------------

def random_float(rng):
    sign = rng.getrandbits(1) << 31
    exp = rng.choice([0, 0, 1, 2, 23, 24, 25, 103, 126, 127, 128, 150, 151, 157, 158, 159,
                      252, 253, 254, 255, rng.randrange(256), rng.randrange(256)])
    frac = rng.choice([0, 1, 2, (1 << 23) - 1, (1 << 23) - 2, 1 << 22, (1 << 22) + 1,
                       rng.getrandbits(23), rng.getrandbits(23), rng.getrandbits(23),
                       rng.getrandbits(23) & rng.getrandbits(23), (1 << rng.randrange(23))])
    return sign | exp << 23 | frac


def nearby(rng, x):
    """A value close to ``x`` (same or neighbouring exponent, few ulps away), any sign:
    the cancellations that need long normalizing shifts."""
    x = (x + rng.randrange(-3, 4)) & 0x7FFF_FFFF
    if rng.random() < 0.3:
        x = (x + rng.choice([-1, 1]) * (1 << 23)) & 0x7FFF_FFFF
    return x | rng.getrandbits(1) << 31


def random_int(rng):
    kind = rng.randrange(5)
    if kind == 0:
        return rng.getrandbits(32)
    if kind == 1:
        return rng.randrange(-300, 300) & 0xFFFF_FFFF
    if kind == 2:       # near a power of two: rounding ties at 2**24 and above
        return ((1 << rng.randrange(32)) + rng.randrange(-3, 4)) & 0xFFFF_FFFF
    if kind == 3:
        return rng.choice([0x7FFF_FFFF, 0x8000_0000, 0x8000_0001, 0x7FFF_FFC0, 0x7FFF_FF80])
    return rng.getrandbits(rng.randrange(1, 33)) | 1 << 31 * rng.getrandbits(1)


def random_vector(rng):
    op = rng.choice(FLOAT_OPS)
    a, b, c = random_float(rng), random_float(rng), random_float(rng)
    if op in (DOp.ADD, DOp.SUB) and rng.random() < 0.4:
        b = nearby(rng, a)
    if op == DOp.MAC and rng.random() < 0.5:
        c = nearby(rng, fp32.fmul(a, b) ^ (1 << 31))
    if op == DOp.MUL and rng.random() < 0.3:     # products near the subnormal boundary
        b = (b & 0x807F_FFFF) | ((253 - ((a >> 23) & 0xFF) + rng.randrange(-30, 4)) % 256) << 23
    if op == DOp.ITOF:
        a = random_int(rng)
    return (op, a, b, c)


@pytest.mark.parametrize("latency,count,seed", [(4, 2000, 1), (3, 400, 2), (6, 400, 3),
                                                (1, 150, 4), (17, 250, 5)])
def test_random_stream(latency, count, seed):
    rng = random.Random(seed)
    check_against_golden(latency, [random_vector(rng) for _ in range(count)], seed)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(FLOAT_OPS),
                          st.one_of(st.integers(0, 2**32 - 1), st.sampled_from(SPECIALS)),
                          st.one_of(st.integers(0, 2**32 - 1), st.sampled_from(SPECIALS)),
                          st.one_of(st.integers(0, 2**32 - 1), st.sampled_from(SPECIALS))),
                min_size=1, max_size=60))
def test_hypothesis_stream(vectors):
    check_against_golden(4, vectors)


# --- parameters -----------------------------------------------------------------------

@pytest.mark.parametrize("bad", [0, -1, 2.0, None])
def test_latency_below_minimum_is_refused(bad):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)   # the refused object is never used
        with pytest.raises(ValueError, match="latency"):
            FloatUnit(bad)
        gc.collect()


@pytest.mark.parametrize("latency", range(1, 20))
def test_register_stages_equal_latency_minus_one(latency):
    cuts = choose_cuts(latency)
    assert len(cuts) == latency - 1
    assert all(0 <= c <= len(STEP_NAMES) for c in cuts)
    assert list(cuts) == sorted(cuts)
    if latency - 1 <= len(STEP_NAMES) + 1:
        assert len(set(cuts)) == len(cuts), "a boundary registered twice while others are free"
    else:   # more stages than boundaries: every boundary, the rest delay the output
        assert set(cuts) == set(range(len(STEP_NAMES) + 1))
        assert cuts.count(len(STEP_NAMES)) == latency - 1 - len(STEP_NAMES)
