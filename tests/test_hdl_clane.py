"""The hardware C lane against the golden model (sim/golden/machine.py), one SIW at a time.

Each case sets up the golden machine with coordinate registers, the CPUT source
register and a pc, retires one C-lane SIW, and compares what it committed (or
that it faulted COORD_RANGE) with the combinational C lane's outputs for the same
inputs.  Values are drawn near the edges of ``0..max`` so every range check is
exercised from both sides, for the default ``B`` = 11 and a narrow ``B`` = 4
(where even CSET's 11-bit immediate can be out of range).
"""

import random

import pytest
from amaranth.sim import Simulator
from hypothesis import given, settings, strategies as st

from hdl.c_lane import CLane
from sim.isa.coord import Coord, morton_key
from sim.isa.encoding import C_FIELDS, C_OPERANDS, C_SLOT, NDIMS, PC_BITS, COp, CoreConfig, Fault
from sim.golden.machine import Machine


def pack(dims, bits):
    return sum(v << (d * bits) for d, v in enumerate(dims))


def random_case(rng, bits):
    """One C-lane SIW and its inputs, with values biased towards the range edges."""
    top = (1 << bits) - 1

    def edge(low, high, edges):
        return rng.choice(edges) if rng.random() < 0.4 else rng.randint(low, high)

    op = rng.choice(list(COp))
    fields = {}
    for name in C_OPERANDS[op]:
        f = C_FIELDS[name]
        if name in ("dim", "dim2"):
            fields[name] = rng.randrange(NDIMS)
        elif name == "imm12":
            fields[name] = edge(0, f.mask, [0, 1, 0xFFF, 0x800, 0x7FF])
        elif name in ("ck", "cj") and rng.random() < 0.2:
            fields[name] = fields.get("ck", 0)          # CMOV c, c / LOOP c.d < c.e
        else:
            fields[name] = rng.randint(0, f.mask)
    bits_c = C_FIELDS["op"].put(int(op))
    for name, value in fields.items():
        bits_c |= C_FIELDS[name].put(value)
    cregs = [tuple(edge(0, top, [0, 1, top - 1, top]) for _ in range(NDIMS)) for _ in range(8)]
    rs = edge(0, 0xFFFFFFFF, [0, top, top + 1, 0xFFFFFFFF, 0x80000000])
    pc = edge(0, (1 << PC_BITS) - 1, [0, (1 << PC_BITS) - 1])
    return C_SLOT.put(bits_c), fields, cregs, rs, pc


def golden(bits, word, cregs, rs, pc):
    m = Machine(CoreConfig(dim_bits=bits))
    m.program = [0] * pc + [word]
    m.pc = pc
    m.cregs = [Coord(c, bits) for c in cregs]
    reg = C_FIELDS["reg"].get(C_SLOT.get(word))
    m.regs[reg] = rs
    m.start()
    return m.retire()


def run_hw(bits, cases):
    dut = CLane(bits)
    out = []

    async def bench(ctx):
        for word, fields, cregs, rs, pc in cases:
            c = C_SLOT.get(word)
            ctx.set(dut.x_op, C_FIELDS["op"].get(c))
            ctx.set(dut.x_ck, pack(cregs[C_FIELDS["ck"].get(c)], bits))
            ctx.set(dut.x_cj, pack(cregs[C_FIELDS["cj"].get(c)], bits))
            ctx.set(dut.x_dim, C_FIELDS["dim"].get(c))
            ctx.set(dut.x_dim2, C_FIELDS["dim2"].get(c))
            ctx.set(dut.x_imm11, C_FIELDS["imm11"].get(c))
            imm12 = C_FIELDS["imm12"].get(c)
            ctx.set(dut.x_imm12, imm12 - 4096 if imm12 & 0x800 else imm12)
            ctx.set(dut.x_rs, rs)
            ctx.set(dut.x_pc, pc)
            ctx.set(dut.x_target, C_FIELDS["target"].get(c))
            out.append({name: ctx.get(getattr(dut, f"x_{name}")) for name in (
                "ck_we", "ck_new", "range_fault", "reg_we", "reg_data", "halt",
                "loop_not_taken", "next_pc")})

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    return out


def check(bits, cases):
    for (word, fields, cregs, rs, pc), hw in zip(cases, run_hw(bits, cases)):
        rec = golden(bits, word, cregs, rs, pc)
        where = f"B={bits} word {word:#018x} fields {fields} pc {pc} rs {rs:#x}"
        assert hw["range_fault"] == (rec.fault == Fault.COORD_RANGE), where
        assert rec.fault in (Fault.NONE, Fault.COORD_RANGE), where
        if rec.fault != Fault.NONE:
            continue
        if rec.creg_writes:
            (index, coord), = rec.creg_writes
            assert hw["ck_we"] == 1 and hw["ck_new"] == pack(coord, bits), where
        else:
            assert hw["ck_we"] == 0, where
        if rec.reg_writes:
            (reg, value, visible, _ready), = rec.reg_writes
            assert hw["reg_we"] == 1 and hw["reg_data"] == value and visible == rec.cycle + 1, where
        else:
            assert hw["reg_we"] == 0, where
        assert hw["next_pc"] == rec.next_pc, where
        assert hw["loop_not_taken"] == rec.penalty, where
        assert hw["halt"] == rec.ended, where


@pytest.mark.parametrize("bits", [11, 4])
# One simulator start-up per example, so few examples of many cases each.
@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_clane_matches_golden(bits, seed):
    rng = random.Random(seed)
    check(bits, [random_case(rng, bits) for _ in range(300)])


def test_directed():
    """Hand-computed cases: range edges, LOOP both ways, KEY of the ISA's examples."""
    bits = 11
    zero = (0,) * NDIMS

    def c(op, **f):
        v = C_FIELDS["op"].put(int(op))
        for k, x in f.items():
            v |= C_FIELDS[k].put(x)
        return C_SLOT.put(v)

    top = (2047,) + (0,) * 8
    cases = [
        (c(COp.CADD, ck=0, dim=0, imm12=1), {}, [top] + [zero] * 7, 0, 5),      # 2047+1: fault
        (c(COp.CADD, ck=0, dim=0, imm12=0xFFF), {}, [zero] * 8, 0, 5),          # 0-1: fault
        (c(COp.CPUT, ck=0, dim=8, reg=1), {}, [zero] * 8, 2048, 5),             # fault
        (c(COp.CPUT, ck=0, dim=8, reg=1), {}, [zero] * 8, 2047, 5),             # ok
        (c(COp.LOOP, ck=0, dim=0, cj=1, dim2=0, target=3), {},
         [(1,) + (0,) * 8, (3,) + (0,) * 8] + [zero] * 6, 0, 9),                # 2 < 3: taken
        (c(COp.LOOP, ck=0, dim=0, cj=1, dim2=0, target=3), {},
         [(2,) + (0,) * 8, (3,) + (0,) * 8] + [zero] * 6, 0, 9),                # 3 < 3: falls through
        (c(COp.KEY, ck=2, reg=4), {}, [zero, zero, (1,) + (0,) * 7 + (1,)] + [zero] * 5, 0, 0),
        (c(COp.HALT), {}, [zero] * 8, 0, 7),
    ]
    check(bits, cases)
    hw = run_hw(bits, cases)
    assert [h["range_fault"] for h in hw[:4]] == [1, 1, 1, 0]
    assert (hw[4]["loop_not_taken"], hw[4]["next_pc"]) == (0, 3)
    assert (hw[5]["loop_not_taken"], hw[5]["next_pc"]) == (1, 10)
    assert hw[6]["reg_data"] == 257 == morton_key((1,) + (0,) * 7 + (1,))
    assert hw[7]["halt"] == 1 and hw[7]["next_pc"] == 8
