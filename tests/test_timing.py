"""The timing model of docs/isa.md section 7, case by case, cycles computed by hand.

Notation in comments: t = retire cycle.  A run starting at counter s retires its
first SIW at s + 2; t_next = max(t + 1 + p, ready(r) for r read or written);
ready(r) = t + latency; cycles = t_last + 1.
"""

import pytest

from support.golden_siw import C, COp, D, DOp, S, SOp, siw
from sim.isa.encoding import CoreConfig, Fault
from sim.golden.machine import Machine, RegWrite

HALT = C(COp.HALT)
SC = 8


def retire_all(words, config=None, regs=None):
    m = Machine(config)
    for r, v in (regs or {}).items():
        m.regs[r] = v
    m.load_program(words)
    m.start()
    recs = []
    while m.running:
        recs.append(m.retire())
    return m, recs


def cycles_of(recs):
    return [r.cycle for r in recs]


def test_halt_alone():
    m, recs = retire_all([HALT])
    assert cycles_of(recs) == [2]
    st = m.state()
    assert st.cycles == 3 and st.siws == 1 and st.ops == 1 and st.pc == 1 and st.halted


def test_one_per_cycle():
    m, recs = retire_all([0, 0, 0, HALT])
    assert cycles_of(recs) == [2, 3, 4, 5] and m.cycles == 6


@pytest.mark.parametrize("F", [1, 2, 4, 7])
def test_float_then_dependent(F):
    # ADD r1 at 2: ready(r1) = 2 + F; the reader waits for it (gap of F)
    m, recs = retire_all([D(DOp.ADD, rd=1, rs1=2, rs2=3), D(DOp.ADD, rd=4, rs1=1, rs2=1), HALT],
                         config=CoreConfig(float_latency=F))
    assert cycles_of(recs) == [2, 2 + F, 3 + F]
    assert m.cycles == 4 + F


def test_float_then_independent_no_stall():
    m, recs = retire_all([D(DOp.MUL, rd=1, rs1=2, rs2=3), D(DOp.IADD, rd=4, rs1=2, rs2=3), HALT])
    assert cycles_of(recs) == [2, 3, 4]


@pytest.mark.parametrize("reader", [
    D(DOp.IADD, rd=9, rs1=1, rs2=0),          # rs1
    D(DOp.IADD, rd=9, rs1=0, rs2=1),          # rs2
    D(DOp.MAC, rd=1, rs1=2, rs2=3),           # MAC reads rd
    D(DOp.LIH, rd=1, imm16=5),                # LIH reads rd
    D(DOp.LI, rd=1, imm16=5),                 # WAW: LI writes r1
    D(DOp.MOV, rd=9, rs1=1),
    S(SOp.SCATTER, ck=0, reg=1),              # SCATTER's rs
    S(SOp.GATHER, reg=1, ck=0),               # WAW through GATHER
    C(COp.CPUT, ck=0, dim=0, reg=1),          # CPUT's rs (value 0 after ITOF of 0)
    C(COp.CGET, reg=1, ck=0, dim=0),          # WAW through CGET
    C(COp.KEY, reg=1, ck=0),                  # WAW through KEY
])
def test_every_kind_of_register_use_waits_for_a_float(reader):
    # ITOF r1 at 2 (F = 4): ready(r1) = 6
    m, recs = retire_all([D(DOp.ITOF, rd=1, rs1=0), reader, HALT])
    assert cycles_of(recs) == [2, 6, 7]


@pytest.mark.parametrize("other", [
    D(DOp.IADD, rd=9, rs1=2, rs2=3),
    D(DOp.MAC, rd=9, rs1=2, rs2=3),
    D(DOp.LI, rd=2, imm16=1),
    D(DOp.NOP),
    S(SOp.GATHER, reg=2, ck=0),
    C(COp.CPUT, ck=0, dim=0, reg=2),
])
def test_unrelated_registers_do_not_wait(other):
    m, recs = retire_all([D(DOp.ITOF, rd=1, rs1=0), other, HALT])
    assert cycles_of(recs) == [2, 3, 4]


def test_integer_chain_no_stall():
    # latency 1: ready = t + 1 = the next retire slot
    m, recs = retire_all([D(DOp.LI, rd=1, imm16=3), D(DOp.IADD, rd=2, rs1=1, rs2=1),
                          S(SOp.SCATTER, ck=0, reg=2), S(SOp.GATHER, reg=3, ck=0),
                          D(DOp.IADD, rd=4, rs1=3, rs2=3), HALT])
    assert cycles_of(recs) == [2, 3, 4, 5, 6, 7]
    assert m.regs[4] == 12


def test_gather_right_after_scatter_sees_it_without_stall():
    m, recs = retire_all([S(SOp.SCATTER, ck=0, reg=1), S(SOp.GATHER, reg=2, ck=0), HALT],
                         regs={1: 1234})
    assert cycles_of(recs) == [2, 3, 4]
    assert m.regs[2] == 1234


def test_waw_on_float_destination():
    # two float writes to r1: the second waits for the first to land (2 + 4 = 6)
    m, recs = retire_all([D(DOp.ADD, rd=1, rs1=2, rs2=3), D(DOp.MUL, rd=1, rs1=2, rs2=3), HALT])
    assert cycles_of(recs) == [2, 6, 7]


def test_float_latency_chain_through_two_ops():
    # ADD r1 @2 (ready 6), ADD r2 <- r1 @6 (ready 10), IADD r3 <- r2 @10
    m, recs = retire_all([D(DOp.ADD, rd=1, rs1=0, rs2=0), D(DOp.ADD, rd=2, rs1=1, rs2=1),
                          D(DOp.IADD, rd=3, rs1=2, rs2=2), HALT])
    assert cycles_of(recs) == [2, 6, 10, 11]
    assert m.cycles == 12


def test_stall_then_independent_keeps_order():
    # In order: an independent SIW after a stalled one still retires after it
    m, recs = retire_all([D(DOp.ADD, rd=1, rs1=0, rs2=0), D(DOp.IADD, rd=2, rs1=1, rs2=1),
                          D(DOp.IADD, rd=3, rs1=4, rs2=4), HALT])
    assert cycles_of(recs) == [2, 6, 7, 8]


def test_loop_taken_free_not_taken_costs_one():
    prog = [C(COp.CSET, ck=1, dim=SC, imm11=3),
            siw(D(DOp.IADD, rd=1, rs1=1, rs2=2), C(COp.LOOP, ck=0, dim=SC, cj=1, dim2=SC, target=1)),
            HALT]
    m, recs = retire_all(prog, regs={2: 1})
    # CSET @2, LOOP taken @3, taken @4, not taken @5 (p = 1), HALT @7
    assert cycles_of(recs) == [2, 3, 4, 5, 7]
    assert [r.penalty for r in recs] == [0, 0, 0, 1, 0]
    assert [r.branch_taken for r in recs] == [False, True, True, False, False]
    assert m.cycles == 8


def test_jump_costs_nothing():
    m, recs = retire_all([C(COp.JUMP, target=2), 0, HALT])
    assert cycles_of(recs) == [2, 3]
    assert m.cycles == 4


def test_faults_occupy_a_slot():
    # PC_RANGE after a float op: retires at t + 1, waiting for nothing
    m, recs = retire_all([D(DOp.ADD, rd=1, rs1=0, rs2=0), C(COp.JUMP, target=9)])
    assert cycles_of(recs) == [2, 3, 4]
    assert recs[-1].fault == Fault.PC_RANGE and recs[-1].word is None
    assert m.cycles == 5 and m.siws == 2
    # an illegal SIW reads nothing, even if its fields name a pending register
    m, recs = retire_all([D(DOp.ADD, rd=1, rs1=0, rs2=0), siw(D(DOp.IADD, rd=1, rs1=1, rs2=1),
                                                              S(SOp.GATHER, reg=1, ck=0))])
    assert cycles_of(recs) == [2, 3] and recs[-1].fault == Fault.ILLEGAL_SIW
    assert m.cycles == 4


def test_legal_faulting_siw_waits_for_its_registers():
    # CPUT of a float-pending register: the value that decides the fault is ready at 6
    m, recs = retire_all([D(DOp.ITOF, rd=1, rs1=2), C(COp.CPUT, ck=0, dim=0, reg=1), HALT],
                         regs={2: 5000})
    assert cycles_of(recs) == [2, 6] and recs[-1].fault == Fault.COORD_RANGE
    assert m.cycles == 7


def test_second_run_and_steps_start_two_after_the_counter():
    m = Machine()
    m.load_program([0, HALT, HALT])
    assert m.run().cycles == 4            # NOP @2, HALT @3
    st = m.run()                          # starts at 4: HALT @6
    assert st.cycles == 7 and st.pc == 3 and st.siws == 3
    m = Machine()
    m.load_program([0, 0, HALT])
    assert [m.step().cycles for _ in range(3)] == [3, 6, 9]


def test_new_run_starts_with_every_register_ready():
    m = Machine()
    m.load_program([D(DOp.ADD, rd=1, rs1=0, rs2=0), D(DOp.IADD, rd=4, rs1=1, rs2=1), HALT])
    m.step()                              # ADD @2, cycles 3
    m.start()
    rec = m.retire()                      # a new run: no wait for r1, retires at 3 + 2
    assert rec.cycle == 5


def test_max_cycles_stops_before_the_slot():
    m = Machine()
    m.load_program([0] * 10 + [HALT])
    st = m.run(max_cycles=5)              # retires @2, @3, @4; @5 would be >= 5
    assert st.siws == 3 and st.pc == 3 and not st.halted and st.cycles == 5
    assert st.fault == Fault.NONE
    st = m.run()                          # resumes: @7 ... HALT (pc 10) @14
    assert st.halted and st.siws == 11 and st.cycles == 15
    m = Machine()
    m.load_program([HALT])
    st = m.run(max_cycles=3)              # HALT @2 < 3 retires
    assert st.halted and st.cycles == 3
    m = Machine()
    m.load_program([HALT])
    st = m.run(max_cycles=2)
    assert not st.halted and st.siws == 0 and st.cycles == 2


def test_retire_records_writes_and_visibility():
    m, recs = retire_all([siw(D(DOp.ITOF, rd=1, rs1=2), S(SOp.GATHER, reg=3, ck=0),
                              C(COp.KEY, reg=4, ck=0)), HALT], regs={2: 1})
    rec = recs[0]
    assert rec.cycle == 2 and rec.fault == Fault.NONE and rec.ops == 3
    assert sorted(rec.reg_writes) == [RegWrite(1, 0x3F800000, 6, 6), RegWrite(3, 0, 3, 3),
                                    RegWrite(4, 0, 3, 3)]
    assert rec.mem_op == (SOp.GATHER, 0, 0)
    # the register file during the run: r1 shows its old value until cycle 6
    assert m.regs_at(5)[1] == 0 and m.regs_at(6)[1] == 0x3F800000
