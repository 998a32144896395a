"""The timing model of docs/isa.md section 7, case by case, cycles computed by hand.

Notation in comments: t = retire cycle.  A run starting at counter s retires its
first SIW at s + 2; t_next = max(t + 1 + p, ready(r) for r read or written);
ready(r) = t + latency; cycles = t_last + 1.  The last part does the same for the
pipelined table (Timing.pipelined), where a write's visible cycle and its ready
cycle differ.
"""

import pytest
from hypothesis import HealthCheck, given, settings

from support.golden_siw import C, COp, D, DOp, S, SOp, f32, siw
from support.progs import programs
from sim.asm.stalls import siw_ops
from sim.isa.encoding import FLOAT_DOPS, CoreConfig, Fault, Timing
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


# ----------------------------------------------------------------------------- the pipelined table
#
# Timing.pipelined(F) (docs/isa.md section 7): first retire s + 7; int_op, coord_read 1;
# gather 4; loop_exit 3; a float result is ready F after its SIW retires and visible
# in the register file F - commit_depth = F - 4 after; every other write is visible 1
# after, whatever its latency.

PIPE_F = 12


def pipelined(F=PIPE_F, **kw):
    return CoreConfig(float_latency=F, timing=Timing.pipelined(F), **kw)


def test_the_pipelined_table():
    t = Timing.pipelined(12)
    assert (t.float_op, t.int_op, t.gather, t.coord_read, t.loop_exit, t.first_retire,
            t.commit_depth) == (12, 1, 4, 1, 3, 7, 4)
    assert Timing.pipelined(0).float_op == 0                     # no float unit: allowed
    assert Timing(float_op=4).commit_depth == 0                  # today's table
    cfg = CoreConfig(float_latency=12, timing=Timing.pipelined(12))
    assert cfg.timing == t and CoreConfig(set_bits=11).with_timing(t) == \
        CoreConfig(set_bits=11, float_latency=12, timing=t)
    assert "commit_depth=4" in repr(cfg)


@pytest.mark.parametrize("F", [1, 2, 3, 4])
def test_the_pipelined_table_needs_a_float_latency_above_its_commit_depth(F):
    # the float unit is entered 4 cycles before retirement: a result lands no earlier
    with pytest.raises(ValueError, match="commit_depth"):
        Timing.pipelined(F)
    with pytest.raises(ValueError, match="commit_depth"):
        Timing(float_op=F, commit_depth=F)


def test_commit_depth_is_validated():
    with pytest.raises(ValueError, match="commit_depth"):
        Timing(float_op=4, commit_depth=-1)
    assert Timing(float_op=5, commit_depth=4).visible_after(DOp.ADD) == 1


@pytest.mark.parametrize("op, ready, visible", [
    (DOp.ADD, 12, 8), (DOp.MAC, 12, 8), (DOp.ITOF, 12, 8), (DOp.FTOI, 12, 8),
    (DOp.IADD, 1, 1), (DOp.LI, 1, 1), (DOp.MOV, 1, 1),
    (SOp.GATHER, 4, 1), (COp.CGET, 1, 1), (COp.KEY, 1, 1),
])
def test_ready_and_visible_by_operation(op, ready, visible):
    t = Timing.pipelined(12)
    assert (t.latency(op), t.visible_after(op)) == (ready, visible)
    old = Timing(float_op=4)
    assert old.visible_after(op) == old.latency(op) == (4 if ready == 12 else 1)


def test_operations_that_write_no_register_have_no_visibility():
    with pytest.raises(ValueError):
        Timing.pipelined(12).visible_after(SOp.SCATTER)
    with pytest.raises(ValueError):
        Timing.pipelined(0).visible_after(DOp.ADD)


def test_pipelined_first_retire_and_one_per_cycle():
    m, recs = retire_all([0, 0, HALT], config=pipelined())
    assert cycles_of(recs) == [7, 8, 9] and m.cycles == 10


def test_pipelined_gather_then_its_consumer():
    # GATHER r1 @7: r1 holds the value from 8 on, but is ready only at 7 + 4 = 11;
    # the IADD reading it retires at 11, the HALT at 12.
    cfg = pipelined()
    m = Machine(cfg)
    m.write_memory([(0, 1234)])
    m.load_program([S(SOp.GATHER, reg=1, ck=0), D(DOp.IADD, rd=2, rs1=1, rs2=1), HALT])
    m.start()
    g = m.retire()
    assert g.cycle == 7 and g.reg_writes == (RegWrite(1, 1234, 8, 11),)
    assert m.regs_at(7)[1] == 0 and m.regs_at(8)[1] == 1234
    assert m.next_retire_cycle() == 11
    i = m.retire()
    assert i.cycle == 11 and i.reg_writes == (RegWrite(2, 2468, 12, 12),)
    assert m.retire().cycle == 12 and m.cycles == 13 and m.regs[2] == 2468


def test_pipelined_gather_waw_and_independent_siws():
    # an independent SIW does not wait; a second GATHER of r1 waits for ready(r1) = 11
    m, recs = retire_all([S(SOp.GATHER, reg=1, ck=0), D(DOp.IADD, rd=3, rs1=4, rs2=4),
                          S(SOp.GATHER, reg=1, ck=0), HALT], config=pipelined())
    assert cycles_of(recs) == [7, 8, 11, 12]


@pytest.mark.parametrize("F", [5, 8, 12, 16])
def test_pipelined_float_visible_before_it_is_ready(F):
    # ITOF r1 @7: visible from 7 + F - 4, ready at 7 + F; its reader retires at 7 + F
    cfg = pipelined(F)
    m = Machine(cfg)
    m.regs[2] = 3
    m.load_program([D(DOp.ITOF, rd=1, rs1=2), D(DOp.IADD, rd=4, rs1=1, rs2=0), HALT])
    m.start()
    rec = m.retire()
    assert rec.cycle == 7 and rec.reg_writes == (RegWrite(1, f32(3.0), 7 + F - 4, 7 + F),)
    assert m.regs_at(7 + F - 5)[1] == 0 and m.regs_at(7 + F - 4)[1] == f32(3.0)
    assert m.next_retire_cycle() == 7 + F
    assert m.retire().cycle == 7 + F and m.retire().cycle == 8 + F
    assert m.cycles == 9 + F


def test_pipelined_float_chain_and_waw():
    # ADD r1 @7 (ready 19), ADD r2 <- r1 @19 (ready 31), MUL r1 (WAW on r1) @31 would
    # not wait (19 <= 20); here MUL r2 writes r2 again: waits for 31
    m, recs = retire_all([D(DOp.ADD, rd=1, rs1=0, rs2=0), D(DOp.ADD, rd=2, rs1=1, rs2=1),
                          D(DOp.MUL, rd=1, rs1=3, rs2=3), D(DOp.MUL, rd=2, rs1=3, rs2=3), HALT],
                         config=pipelined())
    assert cycles_of(recs) == [7, 19, 20, 31, 32]


def test_pipelined_loop_exit_costs_three():
    prog = [C(COp.CSET, ck=1, dim=SC, imm11=3),
            siw(D(DOp.IADD, rd=1, rs1=1, rs2=2), C(COp.LOOP, ck=0, dim=SC, cj=1, dim2=SC, target=1)),
            HALT]
    m, recs = retire_all(prog, config=pipelined(), regs={2: 1})
    # CSET @7, LOOP taken @8, @9, falls through @10 (p = 3), HALT @14
    assert cycles_of(recs) == [7, 8, 9, 10, 14]
    assert [r.penalty for r in recs] == [0, 0, 0, 3, 0] and m.cycles == 15


def test_pipelined_coordinate_reads_are_ready_next_cycle():
    m, recs = retire_all([siw(C(COp.KEY, reg=1, ck=0)), D(DOp.IADD, rd=2, rs1=1, rs2=1),
                          C(COp.CGET, reg=3, ck=0, dim=0), D(DOp.IADD, rd=4, rs1=3, rs2=3), HALT],
                         config=pipelined())
    assert cycles_of(recs) == [7, 8, 9, 10, 11]


def test_pipelined_runs_and_steps_start_seven_after_the_counter():
    m = Machine(pipelined())
    m.load_program([0, HALT, HALT])
    assert m.run().cycles == 9             # NOP @7, HALT @8
    st = m.run()                           # starts at 9: HALT @16
    assert st.cycles == 17 and st.pc == 3
    m = Machine(pipelined())
    m.load_program([0, 0, HALT])
    assert [m.step().cycles for _ in range(3)] == [8, 16, 24]


def test_regs_at_has_one_write_in_flight_per_register():
    # ITOF r1 @7 (visible 15, ready 19); LI r1 (WAW) waits for 19 and is visible at 20:
    # in 19 the register file shows the ITOF's value, the LI's from 20 on.
    cfg = pipelined()
    m = Machine(cfg)
    m.regs[2] = 5
    m.load_program([D(DOp.ITOF, rd=1, rs1=2), D(DOp.LI, rd=1, imm16=7), HALT])
    m.start()
    m.retire()
    assert [m.regs_at(c)[1] for c in (7, 14, 15, 18)] == [0, 0, f32(5.0), f32(5.0)]
    rec = m.retire()
    assert rec.cycle == 19 and rec.reg_writes == (RegWrite(1, 7, 20, 20),)
    assert m.regs_at(19)[1] == f32(5.0) and m.regs_at(20)[1] == 7


def _lat(op, F):
    """The pipelined table's latencies, written out here (docs/isa.md section 7)."""
    if op.lane == "D":
        return F if op.op in FLOAT_DOPS else 1
    return 4 if op.lane == "S" else 1


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(config=CoreConfig(float_latency=PIPE_F, timing=Timing.pipelined(PIPE_F)),
                max_size=30))
def test_pipelined_retire_cycles_follow_the_rule(program):
    """Random programs on the pipelined table: every retire cycle is the section 7 rule
    applied here to the SIWs' operations (sim/asm/ops.py's reading of them), every
    write is ready and visible when the table says, and the register file seen at the
    end (regs_at) is the writes folded by their visible cycles."""
    F = PIPE_F
    m = Machine(program.config)
    m.load_program(program.words)
    m.write_memory(program.memory)
    initial = list(m.regs)
    m.start()
    start = m.cycles
    ready, history, earliest, last = {}, [], start + 7, None
    while m.running:
        rec = m.retire()
        ops = siw_ops(rec.word) if rec.word is not None and rec.decoded.legal else []
        regs = {reg for op in ops for _, reg in op.reads} | \
            {op.writes[1] for op in ops if op.writes}
        assert rec.cycle == max([earliest] + [ready.get(r, 0) for r in regs]), rec
        if rec.fault == Fault.NONE:
            writes = {op.writes[1]: op for op in ops if op.writes}
            assert {w.reg for w in rec.reg_writes} == set(writes)
            for w in rec.reg_writes:
                op = writes[w.reg]
                assert w.ready == rec.cycle + _lat(op, F)
                float_op = op.lane == "D" and op.op in FLOAT_DOPS
                assert w.visible == rec.cycle + (F - 4 if float_op else 1)
                ready[w.reg] = w.ready
                history.append(w)
        earliest = rec.cycle + 1 + (3 if rec.penalty else 0)
        last = rec.cycle
    assert m.cycles <= program.max_cycles          # the generator's bound reads the table too
    for cycle in range(last, last + F + 2):
        seen = list(initial)
        for w in history:                         # writes in retire order
            if w.visible <= cycle:
                seen[w.reg] = w.value
        latest = {w.reg: w for w in history}
        for reg, w in latest.items():             # at most one write in flight: its previous
            if w.visible > cycle:                 # write (or the start) shows
                earlier = [v for v in history if v.reg == reg and v is not w]
                seen[reg] = earlier[-1].value if earlier else initial[reg]
        assert m.regs_at(cycle) == seen, cycle
