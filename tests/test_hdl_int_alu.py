"""The hardware integer ALU (hdl/d_lane/int_alu.py) against docs/isa.md section 3, D lane.

Expected values are Python integer expressions written from the ISA table (not
from the HDL): wrap modulo 2**32, shift by ``b & 31``, SRA sign-filling, LI
sign-extending, LIH keeping rd's low half.
"""

import random

import pytest
from hypothesis import given, settings, strategies as st
from amaranth.sim import Simulator

from hdl.d_lane.int_alu import INT_OPS, IntAlu
from sim.isa.encoding import DOp

M32 = 0xFFFF_FFFF


def signed32(x):
    return x - (1 << 32) if x >> 31 else x


def reference(op, a, b, c, imm):
    """docs/isa.md section 3, D lane, for the integer operations."""
    sh = b & 31
    return {
        DOp.IADD: (a + b) & M32,
        DOp.ISUB: (a - b) & M32,
        DOp.AND: a & b,
        DOp.OR: a | b,
        DOp.XOR: a ^ b,
        DOp.SHL: (a << sh) & M32,
        DOp.SHR: a >> sh,
        DOp.SRA: (signed32(a) >> sh) & M32,
        DOp.MOV: a,
        DOp.LI: (imm - (1 << 16) if imm >> 15 else imm) & M32,
        DOp.LIH: (imm << 16) | (c & 0xFFFF),
    }[op]


def run(vectors):
    """Apply (op, a, b, c, imm16) vectors to the combinational ALU; return the results."""
    dut = IntAlu()
    out = []

    async def bench(ctx):
        for op, a, b, c, imm in vectors:
            ctx.set(dut.x_op, op)
            ctx.set(dut.x_a, a)
            ctx.set(dut.x_b, b)
            ctx.set(dut.x_c, c)
            ctx.set(dut.x_imm16, imm)
            out.append(ctx.get(dut.x_result))

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    return out


def check(vectors):
    got = run(vectors)
    bad = [(DOp(op).name, hex(a), hex(b), hex(c), hex(imm), hex(r), hex(reference(op, a, b, c, imm)))
           for (op, a, b, c, imm), r in zip(vectors, got) if r != reference(op, a, b, c, imm)]
    assert not bad, bad[:10]


# Hand-computed facts, independent of the reference function above.
HAND = [
    (DOp.IADD, 0xFFFF_FFFF, 1, 0, 0, 0),                      # wraps
    (DOp.IADD, 0x7FFF_FFFF, 1, 0, 0, 0x8000_0000),
    (DOp.ISUB, 0, 1, 0, 0, 0xFFFF_FFFF),
    (DOp.ISUB, 0x8000_0000, 1, 0, 0, 0x7FFF_FFFF),
    (DOp.AND, 0xF0F0_1234, 0xFF00_FF00, 0, 0, 0xF000_1200),
    (DOp.OR, 0xF0F0_0000, 0x0F00_000F, 0, 0, 0xFFF0_000F),
    (DOp.XOR, 0xFFFF_0000, 0xF0F0_F0F0, 0, 0, 0x0F0F_F0F0),
    (DOp.SHL, 1, 31, 0, 0, 0x8000_0000),
    (DOp.SHL, 1, 32, 0, 0, 1),                                # 32 & 31 = 0
    (DOp.SHL, 0x8000_0001, 1, 0, 0, 2),
    (DOp.SHR, 0x8000_0000, 31, 0, 0, 1),
    (DOp.SHR, 0x8000_0000, 0xFFFF_FFE4, 0, 0, 0x0800_0000),   # -28 & 31 = 4
    (DOp.SRA, 0x8000_0000, 31, 0, 0, 0xFFFF_FFFF),
    (DOp.SRA, 0x8000_0000, 4, 0, 0, 0xF800_0000),
    (DOp.SRA, 0x4000_0000, 30, 0, 0, 1),
    (DOp.MOV, 0xDEAD_BEEF, 0x1234, 0x5678, 0x9ABC, 0xDEAD_BEEF),
    (DOp.LI, 0x1111, 0x2222, 0x3333, 0x7FFF, 0x0000_7FFF),
    (DOp.LI, 0x1111, 0x2222, 0x3333, 0x8000, 0xFFFF_8000),
    (DOp.LI, 0, 0, 0, 0xFFFF, 0xFFFF_FFFF),
    (DOp.LIH, 0x1111, 0x2222, 0xAAAA_5555, 0x1234, 0x1234_5555),
    (DOp.LIH, 0, 0, 0xFFFF_FFFF, 0, 0x0000_FFFF),
]


def test_hand_values():
    got = run([v[:5] for v in HAND])
    assert [hex(r) for r in got] == [hex(v[5]) for v in HAND]
    assert all(reference(*v[:5]) == v[5] for v in HAND)


def edge_word(rng):
    return rng.choice([0, 1, 2, 31, 32, 33, 0x7FFF_FFFF, 0x8000_0000, 0x8000_0001, M32,
                       0xFFFF, 0x1_0000, rng.getrandbits(32), rng.getrandbits(32),
                       rng.getrandbits(rng.randrange(1, 33))])


def test_random_vectors():
    rng = random.Random(7)
    vectors = [(rng.choice(INT_OPS), edge_word(rng), edge_word(rng), edge_word(rng),
                rng.getrandbits(16)) for _ in range(5000)]
    check(vectors)


@pytest.mark.parametrize("op", INT_OPS, ids=lambda op: op.name)
def test_every_shift_amount_and_op(op):
    rng = random.Random(int(op))
    check([(op, rng.getrandbits(32) | (1 << 31) * (s & 1), s, rng.getrandbits(32), rng.getrandbits(16))
           for s in list(range(64)) + [0xFFFF_FFE0 + s for s in range(32)]])


word = st.integers(0, M32)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(INT_OPS), word, word, word, st.integers(0, 0xFFFF)),
                min_size=1, max_size=50))
def test_hypothesis(vectors):
    check(vectors)
