"""sim/golden/machine.py and sim/golden/decode.py: every lane operation, faults, illegal SIWs, counters.

Expected values are worked out by hand from docs/isa.md (bit patterns of exact
floats, Morton keys from the bit-interleaving rule), never read back from the model.
"""

import pytest
from hypothesis import given, settings, strategies as st

from support.golden_siw import C, COp, D, DOp, S, SOp, f32, siw
from support.placement import key_in_set, keys_in_set, spec_set
from sim.isa.coord import morton_coord, morton_key
from sim.golden.decode import decode
from sim.isa.encoding import C_SLOT, D_SLOT, S_SLOT, CoreConfig, Fault
from sim.engines.interface import make_engine
from sim.golden.machine import Machine
from sim.golden.memory import MemoryFullError

HALT = C(COp.HALT)
SC = 8          # scroll dimension index


def run(words, regs=None, config=None, cregs=None, memory=None):
    m = Machine(config)
    for r, v in (regs or {}).items():
        m.regs[r] = v
    for i, dims in (cregs or {}).items():
        m.cregs[i] = dims
    if memory:
        m.write_memory(memory)
    m.load_program(words)
    return m, m.run()


# ------------------------------------------------------------------ D lane

@pytest.mark.parametrize("op, a, b, expect", [
    (DOp.ADD, f32(1.5), f32(2.25), 0x40700000),          # 3.75
    (DOp.SUB, f32(1.0), f32(3.0), 0xC0000000),           # -2
    (DOp.MUL, f32(1.5), f32(-2.0), 0xC0400000),          # -3
    (DOp.MIN, f32(2.0), f32(-3.0), f32(-3.0)),
    (DOp.MIN, 0x00000000, 0x80000000, 0x80000000),       # -0 < +0
    (DOp.MAX, f32(2.0), f32(-3.0), f32(2.0)),
    (DOp.MAX, 0x80000000, 0x00000000, 0x00000000),
    (DOp.ADD, 0x7F800000, 0xFF800000, 0x7FC00000),       # inf - inf: canonical NaN
    (DOp.IADD, 0xFFFFFFFF, 2, 1),                        # wraps
    (DOp.ISUB, 0, 1, 0xFFFFFFFF),
    (DOp.AND, 0xF0F0FFFF, 0x0FF0F00F, 0x00F0F00F),
    (DOp.OR, 0xF0000000, 0x0000000F, 0xF000000F),
    (DOp.XOR, 0xFFFF0000, 0xFF00FF00, 0x00FFFF00),
    (DOp.SHL, 0x80000001, 1, 0x00000002),
    (DOp.SHL, 0x00000001, 33, 0x00000002),               # amount & 31
    (DOp.SHR, 0x80000000, 31, 0x00000001),               # logical
    (DOp.SRA, 0x80000000, 31, 0xFFFFFFFF),               # sign-filling
    (DOp.SRA, 0x40000000, 30, 0x00000001),
])
def test_dense_two_source(op, a, b, expect):
    m, st = run([D(op, rd=3, rs1=1, rs2=2), HALT], regs={1: a, 2: b})
    assert st.regs[3] == expect
    assert st.regs[1] == a and st.regs[2] == b


def test_mac_reads_rd():
    m, st = run([D(DOp.MAC, rd=1, rs1=2, rs2=3), HALT],
                regs={1: f32(1.0), 2: f32(2.0), 3: f32(3.0)})
    assert st.regs[1] == f32(7.0)


@pytest.mark.parametrize("op, a, expect", [
    (DOp.MOV, 0xDEADBEEF, 0xDEADBEEF),
    (DOp.ITOF, 0xFFFFFFFD, 0xC0400000),                  # -3 -> -3.0
    (DOp.FTOI, f32(-3.5), 0xFFFFFFFD),                   # toward zero: -3
    (DOp.FTOI, 0x7F800000, 0x7FFFFFFF),
])
def test_dense_one_source(op, a, expect):
    m, st = run([D(op, rd=4, rs1=1), HALT], regs={1: a})
    assert st.regs[4] == expect


def test_li_lih():
    m, st = run([D(DOp.LI, rd=1, imm16=0x8000), D(DOp.LI, rd=2, imm16=0x7FFF),
                 D(DOp.LIH, rd=1, imm16=0x1234), D(DOp.LIH, rd=3, imm16=0xABCD), HALT],
                regs={3: 0x5555AAAA})
    assert st.regs[1] == 0x12348000          # LI sign-extends to 0xFFFF8000, LIH keeps low half
    assert st.regs[2] == 0x00007FFF
    assert st.regs[3] == 0xABCDAAAA


def test_parallel_semantics_reads_before_writes():
    # D writes r1 while S scatters the old r1 and C puts old r1 into c0.sc
    word = siw(D(DOp.LI, rd=1, imm16=99), S(SOp.SCATTER, ck=0, reg=1), C(COp.CPUT, ck=0, dim=SC, reg=1))
    m, st = run([word, S(SOp.GATHER, reg=2, ck=1), HALT], regs={1: 7})
    assert st.regs[1] == 99
    assert st.cregs[0] == (0,) * 8 + (7,)
    assert st.entries() == {0: 7}            # key of c0 before the SIW (all zero) = 0
    assert st.regs[2] == 7                   # c1 is still 0.0.0/..., key 0


# ------------------------------------------------------------------ S lane

def test_scatter_gather_erase():
    c0 = (1, 0, 0, 0, 0, 0, 0, 0, 1)          # key 257 by hand: bit 0 (lb) and bit 8 (sc)
    prog = [S(SOp.SCATTER, ck=0, reg=1),
            S(SOp.GATHER, reg=2, ck=0),
            S(SOp.GATHER, reg=3, ck=1),       # c1 = all zero: nothing stored -> 0
            S(SOp.ERASE, ck=0),
            S(SOp.GATHER, reg=4, ck=0),
            HALT]
    m, st = run(prog, regs={1: 0xCAFE, 3: 5, 4: 6}, cregs={0: c0})
    assert st.regs[2] == 0xCAFE and st.regs[3] == 0 and st.regs[4] == 0
    assert st.entries() == {}
    assert st.memory[spec_set(257, 8, 99)][0] is None      # key 257's set is empty again


SET1_TAG1 = key_in_set(1, 1, 8, 99)


def test_scatter_placement_in_slots():
    m, st = run([S(SOp.SCATTER, ck=0, reg=1), S(SOp.SCATTER, ck=1, reg=2), HALT],
                regs={1: 11, 2: 22},
                cregs={0: (1, 0, 0, 0, 0, 0, 0, 0, 0), 1: morton_coord(SET1_TAG1)})
    # key 1 (lb bit 0) and the key of tag 1 in set 1: both set 1, in store order
    assert SET1_TAG1 >> 8 == 1
    assert st.memory[1] == ((1, 11), (SET1_TAG1, 22), None, None)


# ------------------------------------------------------------------ C lane

def test_cset_cadd_cmov_cclr_cget_key():
    prog = [C(COp.CSET, ck=0, dim=0, imm11=2047),
            C(COp.CADD, ck=0, dim=0, imm12=-47),
            C(COp.CSET, ck=0, dim=SC, imm11=1),
            C(COp.CMOV, ck=1, cj=0),
            C(COp.CCLR, ck=0),
            C(COp.CGET, reg=1, ck=1, dim=0),
            C(COp.KEY, reg=2, ck=1),
            C(COp.CADD, ck=1, dim=SC, imm12=2046),
            C(COp.KEY, reg=3, ck=1),
            HALT]
    m, st = run(prog)
    assert st.cregs[0] == (0,) * 9
    assert st.cregs[1] == (2000, 0, 0, 0, 0, 0, 0, 0, 2047)
    assert st.regs[1] == 2000
    # key of 2000.0.0/.../0.0.1: 2000 = 0b11111010000 puts lb bits 4,6..10 at key bits
    # 36, 54, ..., all above bit 31; sc bit 0 is key bit 8
    assert st.regs[2] == 1 << 8
    # sc = 2047 puts key bits 8, 17, 26 below bit 32 (35 and up are cut off)
    assert st.regs[3] == (1 << 8) | (1 << 17) | (1 << 26)


def test_cput():
    m, st = run([C(COp.CPUT, ck=2, dim=4, reg=5), HALT], regs={5: 2047})
    assert st.cregs[2] == (0, 0, 0, 0, 2047, 0, 0, 0, 0)


def test_loop_counts_and_branches():
    prog = [C(COp.CSET, ck=1, dim=SC, imm11=3),
            siw(D(DOp.IADD, rd=1, rs1=1, rs2=2), C(COp.LOOP, ck=0, dim=SC, cj=1, dim2=SC, target=1)),
            HALT]
    m, st = run(prog, regs={2: 1})
    assert st.regs[1] == 3                  # body ran for c0.sc = 0, 1, 2
    assert st.cregs[0][SC] == 3
    assert st.siws == 5 and st.ops == 1 + 2 * 3 + 1
    assert st.pc == 3 and st.halted and st.fault == Fault.NONE


def test_loop_uses_old_limit_when_same_register():
    # LOOP c0.sc < c0.sc: n = old + 1 is never below the old value -> not taken
    m, st = run([C(COp.LOOP, ck=0, dim=SC, cj=0, dim2=SC, target=0), HALT])
    assert st.cregs[0][SC] == 1 and st.pc == 2 and st.siws == 2


def test_jump_and_halt_pc():
    m, st = run([C(COp.JUMP, target=2), C(COp.HALT), siw(D(DOp.LI, rd=1, imm16=5), HALT)])
    assert st.regs[1] == 5 and st.pc == 3 and st.halted
    assert st.siws == 2 and st.ops == 3


# ------------------------------------------------------------------ faults

def _unchanged(before, after, **expect):
    for name in ("regs", "cregs", "memory", "siws", "ops"):
        assert getattr(before, name) == getattr(after, name), name
    for name, value in expect.items():
        assert getattr(after, name) == value, name


def test_pc_range_off_the_end_and_empty():
    m, st = run([])
    assert st.fault == Fault.PC_RANGE and st.fault_pc == 0 and st.pc == 0 and st.halted
    assert st.siws == 0 and st.cycles == 3
    m, st = run([D(DOp.LI, rd=1, imm16=1)])
    assert st.fault == Fault.PC_RANGE and st.fault_pc == 1 and st.pc == 1 and st.regs[1] == 1
    m, st = run([C(COp.JUMP, target=700), HALT])
    assert st.fault == Fault.PC_RANGE and st.fault_pc == 700 and st.siws == 1


def _faulting(word, regs=None, cregs=None, memory=None, config=None):
    """Run [LI r9, 1; word; HALT]; the fault must leave the state as after the LI."""
    m = Machine(config)
    for r, v in (regs or {}).items():
        m.regs[r] = v
    for i, dims in (cregs or {}).items():
        m.cregs[i] = dims
    if memory:
        m.write_memory(memory)
    m.load_program([D(DOp.LI, rd=9, imm16=1), word, HALT])
    m.start()
    m.retire()
    before = m.state()
    rec = m.retire()
    after = m.state()
    assert not m.running and after.halted
    assert rec.fault == after.fault and after.fault_pc == 1 and after.pc == 1
    _unchanged(before, after)
    return after.fault


SET0 = keys_in_set(0, 5, 8, 99, first_tag=1)     # keys of set 0 with tags 1..5


def _full_set_memory():
    # c0 = all zero -> key 0 -> set 0; fill set 0's four ways with keys of tags 1..4
    return [(key, j) for j, key in enumerate(SET0[:4], start=1)]


def test_each_fault_commits_nothing():
    assert _faulting(siw(D(20, rd=1), HALT)) == Fault.ILLEGAL_SIW
    assert _faulting(siw(D(DOp.IADD, rd=1, rs1=2, rs2=3),
                         C(COp.CADD, ck=0, dim=0, imm12=-1))) == Fault.COORD_RANGE
    assert _faulting(siw(D(DOp.IADD, rd=1, rs1=2, rs2=3), C(COp.CSET, ck=1, dim=1, imm11=5),
                         S(SOp.SCATTER, ck=0, reg=4)),
                     regs={2: 5, 4: 7}, memory=_full_set_memory()) == Fault.MEM_FULL


@pytest.mark.parametrize("word, kwargs", [
    (C(COp.CADD, ck=0, dim=SC, imm12=2047), dict(cregs={0: (0,) * 8 + (1,)})),   # 2048
    (C(COp.CADD, ck=0, dim=SC, imm12=-2), dict(cregs={0: (0,) * 8 + (1,)})),     # -1
    (C(COp.CPUT, ck=0, dim=3, reg=1), dict(regs={1: 2048})),
    (C(COp.CPUT, ck=0, dim=3, reg=1), dict(regs={1: 0xFFFFFFFF})),               # unsigned
    (C(COp.LOOP, ck=0, dim=2, cj=1, dim2=2, target=0), dict(cregs={0: (0, 0, 2047) + (0,) * 6})),
    (C(COp.CSET, ck=0, dim=0, imm11=8), dict(config=CoreConfig(dim_bits=3, set_bits=2))),
])
def test_coord_range(word, kwargs):
    assert _faulting(word, **kwargs) == Fault.COORD_RANGE


def test_fault_priority():
    # ILLEGAL_SIW (2) beats COORD_RANGE (3) and MEM_FULL (4)
    assert _faulting(siw(D(25), C(COp.CADD, ck=0, dim=0, imm12=-1), S(SOp.SCATTER, ck=0, reg=1)),
                     memory=_full_set_memory()) == Fault.ILLEGAL_SIW
    # COORD_RANGE (3) beats MEM_FULL (4)
    assert _faulting(siw(C(COp.CADD, ck=0, dim=0, imm12=-1), S(SOp.SCATTER, ck=0, reg=1)),
                     memory=_full_set_memory()) == Fault.COORD_RANGE
    # PC_RANGE (1) at a jump target beyond L: nothing else to fetch
    m, st = run([C(COp.JUMP, target=3)])
    assert st.fault == Fault.PC_RANGE


def test_scatter_update_into_full_set_is_no_fault():
    m, st = run([S(SOp.SCATTER, ck=1, reg=1), HALT], regs={1: 9},
                cregs={1: (0, 0, 0, 0, 0, 0, 0, 0, 0)}, memory=_full_set_memory()[:3] + [(0, 5)])
    assert st.fault == Fault.NONE and st.entries()[0] == 9


def test_resume_after_mem_full_reexecutes():
    m = Machine()
    m.write_memory(_full_set_memory())
    m.regs[1] = 42
    m.load_program([D(DOp.LI, rd=2, imm16=1), siw(D(DOp.IADD, rd=2, rs1=2, rs2=2), S(SOp.SCATTER, ck=0, reg=1)), HALT])
    st = m.run()
    assert st.fault == Fault.MEM_FULL and st.pc == 1 and st.regs[2] == 1 and st.siws == 1
    m.memory.erase(SET0[1])                  # host frees way 1
    st = m.run()
    assert st.fault == Fault.NONE and st.halted and st.pc == 3
    assert st.regs[2] == 2                   # the D lane of the re-executed SIW ran once
    assert st.memory[0][1] == (0, 42)        # lowest free way
    assert st.siws == 3


def test_resume_after_illegal_with_rewritten_program():
    m = Machine()
    m.load_program([D(DOp.LI, rd=1, imm16=3), D(31, rd=1), HALT])
    st = m.run()
    assert st.fault == Fault.ILLEGAL_SIW and st.fault_pc == 1 and st.pc == 1
    m.program[1] = D(DOp.IADD, rd=1, rs1=1, rs2=1)
    st = m.run()
    assert st.fault == Fault.NONE and st.regs[1] == 6


def test_run_start_clears_fault():
    m = Machine()
    m.load_program([HALT])
    m.pc = 5
    assert m.run().fault == Fault.PC_RANGE
    m.pc = 0
    st = m.run()
    assert st.fault == Fault.NONE and st.halted


def test_no_float_unit_makes_float_operations_illegal():
    """float_latency 0: a float D operation is an illegal SIW (docs/isa.md rule 5) that
    commits nothing; integer operations and the other lanes still work; with a float
    unit the same word is legal."""
    cfg = CoreConfig(float_latency=0)
    assert not cfg.has_float and CoreConfig().has_float
    for op in (DOp.ADD, DOp.SUB, DOp.MUL, DOp.MAC, DOp.MIN, DOp.MAX, DOp.ITOF, DOp.FTOI):
        word = D(op, rd=2, rs1=1) if op in (DOp.ITOF, DOp.FTOI) else D(op, rd=2, rs1=1, rs2=1)
        assert decode(word).legal
        assert "no float unit" in decode(word, has_float=False).illegal
        m = Machine(cfg)
        m.load_program([D(DOp.LI, rd=1, imm16=3), siw(word, C(COp.CSET, ck=0, dim=0, imm11=1)), HALT])
        st = m.run()
        assert (st.fault, st.fault_pc, st.siws) == (Fault.ILLEGAL_SIW, 1, 1)
        assert st.regs[2] == 0 and m.cregs[0][0] == 0
    m = Machine(cfg)
    m.load_program([D(DOp.LI, rd=1, imm16=3), D(DOp.IADD, rd=2, rs1=1, rs2=1), HALT])
    st = m.run()
    assert st.fault == Fault.NONE and st.regs[2] == 6
    with pytest.raises(ValueError, match="0 for no float unit"):
        CoreConfig(float_latency=-1)


# ------------------------------------------------------------------ illegal SIWs

def _illegal(word):
    return decode(word).illegal is not None


def test_rule1_undefined_opcodes():
    for op in range(20, 32):
        assert _illegal(D(op))
    for op in range(11, 16):
        assert _illegal(C(op))
    for op in range(20):
        assert decode(D(op)).d_op == op
    assert not _illegal(0)


# Bits (relative to the slot) each operation may use, written from the table in
# docs/isa.md section 3, not from sim/isa/encoding.py.
_R = lambda a, b: set(range(a, b + 1))  # noqa: E731
D_USED = {**{op: _R(0, 19) for op in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14)},
          0: _R(0, 4), 15: _R(0, 14), 18: _R(0, 14), 19: _R(0, 14), 16: _R(0, 25), 17: _R(0, 25)}
S_USED = {0: _R(0, 1), 1: _R(0, 9), 2: _R(0, 9), 3: _R(0, 1) | _R(7, 9)}
C_USED = {0: _R(0, 3), 1: _R(0, 21), 2: _R(0, 22), 3: _R(0, 6) | _R(11, 13), 4: _R(0, 6),
          5: _R(0, 15), 6: _R(0, 15), 7: _R(0, 6) | _R(11, 15), 8: _R(0, 27),
          9: _R(0, 3) | _R(18, 27), 10: _R(0, 3)}


@pytest.mark.parametrize("lane, base, width, used", [
    ("D", 0, 26, D_USED), ("S", 26, 10, S_USED), ("C", 36, 28, C_USED)])
def test_rule2_unused_bits(lane, base, width, used):
    op_width = {"D": 5, "S": 2, "C": 4}[lane]
    for op, bits in used.items():
        for bit in range(op_width, width):
            word = (op << base) | (1 << (base + bit))
            assert _illegal(word) == (bit not in bits), (lane, op, bit)


def test_rule3_dimensions():
    for op in (COp.CSET, COp.CADD, COp.CGET, COp.CPUT):
        assert not _illegal(C(op, dim=8))
        for dim in range(9, 16):
            assert _illegal(C(op, dim=dim))
    for dim in range(9, 16):
        assert _illegal(C(COp.LOOP, dim=dim))
        assert _illegal(C(COp.LOOP, dim2=dim))
    assert not _illegal(C(COp.LOOP, dim=8, dim2=8))


def test_rule4_two_writers():
    d = D(DOp.IADD, rd=5, rs1=1, rs2=2)
    g = S(SOp.GATHER, reg=5, ck=0)
    cg = C(COp.CGET, reg=5, ck=0, dim=0)
    k = C(COp.KEY, reg=5, ck=0)
    for pair in ((d, g), (d, cg), (d, k), (g, cg), (g, k)):
        assert _illegal(siw(*pair))
    assert _illegal(siw(D(DOp.LI, rd=5, imm16=1), g))
    assert not _illegal(siw(D(DOp.IADD, rd=6, rs1=1, rs2=2), g, C(COp.KEY, reg=7, ck=0)))
    # reading the register another lane writes is fine
    assert not _illegal(siw(d, S(SOp.SCATTER, ck=0, reg=5), C(COp.CPUT, ck=0, dim=0, reg=5)))


def test_decode_gives_reasons():
    assert "undefined" in decode(D(21)).illegal
    assert "bit" in decode(D(DOp.MOV) | (1 << 20)).illegal
    assert "9" in decode(C(COp.CSET, dim=9)).illegal
    assert "r5" in decode(siw(D(DOp.MOV, rd=5), S(SOp.GATHER, reg=5))).illegal


# ------------------------------------------------------------------ counters, API

def test_counters_ops_include_halt_and_all_lanes():
    word = siw(D(DOp.IADD, rd=1, rs1=1, rs2=1), S(SOp.GATHER, reg=2, ck=0), C(COp.CCLR, ck=0))
    m, st = run([0, word, HALT])
    assert st.siws == 3 and st.ops == 3 + 1


def test_load_program_limits():
    m = Machine(CoreConfig(prog_depth=4))
    with pytest.raises(ValueError):
        m.load_program([0] * 5)
    with pytest.raises(ValueError, match="SIW 1"):
        m.load_program([0, 1 << 64])
    m.load_program([0] * 4)
    assert m.length == 4 and m.pc == 0


def test_reset_state():
    st = Machine().state()
    assert st.regs == (0,) * 32 and st.cregs == ((0,) * 9,) * 8
    assert st.halted and st.fault == Fault.NONE and st.cycles == st.siws == st.ops == 0
    assert len(st.memory) == 256 and all(ways == (None,) * 4 for ways in st.memory)


def test_golden_engine_registered():
    e = make_engine("golden", CoreConfig())
    e.write_memory([(morton_key((1, 0, 0, 0, 0, 0, 0, 0, 1)), 77)])
    e.load_program([S(SOp.GATHER, reg=3, ck=0) | C(COp.CSET, ck=0, dim=0, imm11=1),
                    siw(S(SOp.GATHER, reg=4, ck=0), C(COp.CSET, ck=0, dim=SC, imm11=1)),
                    S(SOp.GATHER, reg=5, ck=0), HALT])
    st = e.step()
    assert st.pc == 1 and st.halted and st.siws == 1
    st = e.run()
    assert st.regs[3:6] == (0, 0, 77) and st.halted and st.fault == Fault.NONE
    assert e.state() == st
    with pytest.raises(MemoryFullError):
        e.write_memory([(key, k) for k, key in enumerate(SET0, start=1)])   # five keys of set 0


# ------------------------------------------------------------------ random programs

_slot_words = st.builds(
    lambda d, s, c: D_SLOT.put(d) | S_SLOT.put(s) | C_SLOT.put(c),
    st.one_of(st.builds(lambda op, rd, a, b: op | rd << 5 | a << 10 | b << 15,
                        st.integers(0, 19), st.integers(0, 7), st.integers(0, 7), st.integers(0, 7)),
              st.integers(0, 2 ** 26 - 1)),
    st.builds(lambda op, r, ck: op | r << 2 | ck << 7, st.integers(0, 3), st.integers(0, 7),
              st.integers(0, 3)),
    st.one_of(st.builds(lambda op, ck, dim, rest: op | ck << 4 | dim << 7 | rest << 11,
                        st.sampled_from([0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), st.integers(0, 3),
                        st.sampled_from([0, 8]), st.integers(0, 2 ** 17 - 1)),
              st.integers(0, 2 ** 28 - 1)))
programs = st.lists(st.one_of(_slot_words, st.integers(0, 2 ** 64 - 1)), min_size=1, max_size=8)


def _small():
    return CoreConfig(dim_bits=3, set_bits=1, ways=2, float_latency=3)


@settings(max_examples=200, deadline=None)
@given(programs, st.lists(st.integers(0, 2 ** 32 - 1), min_size=8, max_size=8))
def test_random_programs_keep_invariants_and_step_equals_run(words, init):
    m = Machine(_small())
    m.regs[:8] = init
    m.load_program(words)
    m.start()
    recs = []
    while m.running and len(recs) < 200:
        recs.append(m.retire())
    full = m.state()
    assert all(0 <= r < 2 ** 32 for r in full.regs)
    assert all(0 <= d <= 7 for c in full.cregs for d in c)
    assert [r.cycle for r in recs] == sorted(set(r.cycle for r in recs))     # strictly rising
    assert full.siws == sum(1 for r in recs if r.fault == Fault.NONE)
    assert full.ops == sum(r.ops for r in recs if r.fault == Fault.NONE)
    if full.fault != Fault.NONE:
        assert recs[-1].fault == full.fault and full.fault_pc == full.pc == recs[-1].pc
    # the same SIWs one step at a time reach the same architectural state
    s = Machine(_small())
    s.regs[:8] = init
    s.load_program(words)
    for _ in recs:
        st_ = s.step()
    for name in ("regs", "cregs", "pc", "fault", "fault_pc", "siws", "ops", "memory"):
        assert getattr(st_, name) == getattr(full, name), name
