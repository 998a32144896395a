"""The kernel compiler (sim/asm/compiler.py): packing, dependences, software pipelining."""

import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings

from boards.icebreaker import CONFIG as ICEBREAKER
from sim.asm.assembler import AsmError, assemble
from sim.asm.builder import SerialBuilder
from sim.asm.compiler import CompileError, compile_serial
from sim.asm.disasm import decode_siw
from sim.asm.progfile import load_program_file
from sim.cli.main import main
from sim.golden.machine import Machine
from sim.golden.memory import MemoryFullError
from sim.isa.encoding import FLOAT_DOPS, COp, CoreConfig, DOp, Fault, SOp, Timing

from support.serial_progs import serial_programs

MAX_CYCLES = 400_000


def machine(words, config, memory=()):
    m = Machine(config)
    m.load_program(words)
    m.write_memory(memory)
    return m


def final_state(words, config, memory=()):
    return machine(words, config, memory).run(MAX_CYCLES)


def traced_run(words, config, memory=(), retired=None):
    """``(state, [(pc, wait)])``: the run and how long each retired SIW waited;
    ``retired`` (a list) gets every retirement's ``(pc, cycle)``."""
    m = machine(words, config, memory)
    m.start()
    earliest = m.cycles + config.timing.first_retire
    waits = []
    while m.running and m.cycles < MAX_CYCLES:
        rec = m.retire()
        waits.append((rec.pc, rec.cycle - earliest))
        if retired is not None:
            retired.append((rec.pc, rec.cycle))
        earliest = rec.cycle + 1 + rec.penalty
    return m.state(), waits


def halt_line(text, pc):
    """The source line of the serial SIW at address ``pc - 1`` (the HALT that stopped it)."""
    for entry in assemble(text).listing:
        if entry.address <= pc - 1 < entry.address + len(entry.words):
            return entry.line
    raise AssertionError(pc)


def serial_run(text, config, memory=()):
    """The final state of ``text`` run one operation per SIW, or None if it faults (or
    its memory does not fit): faulting programs are outside the compiler's promise."""
    try:
        state = final_state(assemble(text).words, config, memory)
    except MemoryFullError:
        return None
    return state if state.halted and state.fault == Fault.NONE else None


def assert_equivalent(text, config, memory=(), compiled=None, serial=None):
    """The compiled ``text`` ends in the state of ``text`` run one operation per SIW,
    both starting with ``memory`` loaded; every SIW waits as long as predicted."""
    serial = serial or serial_run(text, config, memory)
    assert serial is not None, "the serial program faults"
    compiled = compiled or compile_serial(text, config)
    retired = []
    state, waits = traced_run(compiled.words, config, memory, retired)
    scratch = set(compiled.scratch)
    assert state.halted and state.fault == Fault.NONE, (state.fault, state.fault_pc)
    for r in range(32):
        if r not in scratch:
            assert state.regs[r] == serial.regs[r], f"r{r}"
    assert state.cregs == serial.cregs
    assert state.memory == serial.memory
    halt = compiled.slots[state.pc - 1]
    assert [s.op.line for s in halt if s.op.op == COp.HALT and s.op.lane == "C"] == \
        [halt_line(text, serial.pc)]
    for pc, wait in waits:
        low, high = compiled.waits[pc]
        assert low <= wait <= high, (pc, wait, compiled.waits[pc])
    branches = [s for slots in compiled.slots for s in slots
                if s.op.lane == "C" and s.op.op in (COp.LOOP, COp.JUMP)]
    if not branches:
        # One path: the prediction is exact, and inside each block the core keeps the
        # scheduler's cycles (it waits exactly where the schedule leaves cycles empty).
        assert all(w is None or w[0] == w[1] for w in compiled.waits)
        for (a, ta), (b, tb) in zip(retired, retired[1:]):
            (block_a, ca), (block_b, cb) = compiled.cycles[a], compiled.cycles[b]
            if block_a == block_b:
                assert tb - ta == cb - ca, (a, b)
    return serial, state, compiled


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.filter_too_much])
@given(serial_programs())
def test_compiled_program_ends_in_the_serial_state(case):
    text, config, memory = case
    serial = serial_run(text, config, memory)
    assume(serial is not None)
    assert_equivalent(text, config, memory, serial=serial)


# ---------------------------------------------------------------------------- helpers

def program(*lines):
    """Source text with one line per argument (line numbers from 1)."""
    return "".join(f"    {line}\n" if not line.endswith(":") else f"{line}\n" for line in lines)


def address_of(compiled, line):
    """The address of the SIW holding the operation from source ``line``."""
    found = [a for a, slots in enumerate(compiled.slots) if any(s.op.line == line for s in slots)]
    assert len(found) == 1, (line, found)
    return found[0]


def siw_lines(compiled):
    """Per SIW, the sorted source lines of its operations."""
    return [sorted(s.op.line for s in slots) for slots in compiled.slots]


# ---------------------------------------------------------------------------- packing

def test_independent_operations_share_an_siw():
    text = program("LI r1, 5", "GATHER r2, [c0]", "CSET c1.sc, 3", "HALT")
    compiled = compile_serial(text)
    # One lane each: all three in the first SIW; HALT needs the C lane again.
    assert siw_lines(compiled) == [[1, 2, 3], [4]]
    assert compiled.stats.ops == 4 and compiled.stats.serial_siws == 4 and compiled.stats.siws == 2
    assert_equivalent(text, CoreConfig())


def test_halt_shares_its_siw_with_earlier_operations():
    compiled = compile_serial(program("LI r1, 1", "HALT"))
    assert siw_lines(compiled) == [[1, 2]]


def test_output_is_ordinary_assembly():
    compiled = compile_serial(program("LI r1, 5", "GATHER r2, [c0]", "CSET c1.sc, 3", "HALT"))
    assert assemble(compiled.asm).words == compiled.words
    code = [line.split("#")[0].strip() for line in compiled.asm.splitlines()]
    assert [c for c in code if c] == ["LI r1, 5 | GATHER r2, [c0] | CSET c1.sc, 3", "HALT"]


# ---------------------------------------------------------------------------- dependences

def test_raw_on_a_data_register_waits_for_the_next_siw():
    compiled = compile_serial(program("LI r1, 5", "IADD r2, r1, r1", "HALT"))
    assert siw_lines(compiled) == [[1], [2, 3]]


@pytest.mark.parametrize("F", [2, 4, 7])
def test_raw_after_a_float_operation_is_filled_with_independent_work(F):
    # MUL r1 retires at 0 (relative), r1 ready at F; three LIs fill cycles 1..3.
    text = program("MUL r1, r2, r3", "MUL r4, r1, r1", "LI r5, 1", "LI r6, 2", "LI r7, 3", "HALT")
    config = CoreConfig(float_latency=F)
    compiled = compile_serial(text, config)
    # MUL r4 goes in the first cycle >= F (before an LI ready as early: serial order).
    expected = {2: [[1], [3], [2], [4], [5, 6]], 4: [[1], [3], [4], [5], [2, 6]],
                7: [[1], [3], [4], [5], [2, 6]]}[F]
    assert siw_lines(compiled) == expected
    wait = max(0, F - 4)
    assert compiled.waits[4] == (wait, wait)
    state = final_state(compiled.words, config)
    assert state.cycles == config.timing.first_retire + 4 + wait + 1


def test_a_block_works_around_a_value_still_in_flight_from_the_block_before():
    # MUL r1 retires in cycle 2, r1 is ready in 6.  After the label the block starts in
    # cycle 3: the LIs go first and ADD waits one cycle, in 6; HALT beside it.
    text = program("MUL r1, r2, r3", "next:", "ADD r4, r1, r1", "LI r5, 1", "LI r6, 2", "HALT")
    compiled = compile_serial(text)
    assert siw_lines(compiled) == [[1], [4], [5], [3, 6]]
    assert compiled.cycles[1:] == [(1, 0), (1, 1), (1, 3)]
    assert compiled.waits[3] == (1, 1)
    assert final_state(compiled.words, CoreConfig()).cycles == 7
    assert_equivalent(text, CoreConfig(), compiled=compiled)


def test_war_may_share_the_siw():
    # SCATTER reads r1 before the LI beside it writes it (parallel semantics).
    text = program("CLI c0, 1.0.0/0.0.0/0.0.0", "LI r1, 3", "SCATTER [c0], r1", "LI r1, 7", "HALT")
    compiled = compile_serial(text)
    assert address_of(compiled, 3) == address_of(compiled, 4)
    state = final_state(compiled.words, CoreConfig())
    assert state.regs[1] == 7 and list(state.entries().values()) == [3]


def test_waw_keeps_order_and_never_shares_an_siw():
    # Three lanes write r1; illegal-SIW rule 4 forbids two of them in one SIW.
    text = program("GATHER r1, [c0]", "CGET r1, c0.sc", "LI r1, 2", "HALT")
    compiled = compile_serial(text)
    assert address_of(compiled, 1) < address_of(compiled, 2) < address_of(compiled, 3)
    for word in compiled.words:
        decode_siw(word)                         # raises on an illegal SIW
    assert final_state(compiled.words, CoreConfig()).regs[1] == 2


def test_a_reader_never_joins_the_siw_of_its_writer():
    compiled = compile_serial(program("LI r1, 9", "SCATTER [c0], r1", "HALT"))
    assert address_of(compiled, 1) < address_of(compiled, 2)


def test_coordinate_register_raw_and_war():
    raw = compile_serial(program("CSET c0.sc, 1", "GATHER r1, [c0]", "HALT"))
    assert address_of(raw, 1) < address_of(raw, 2)
    war = compile_serial(program("GATHER r1, [c0]", "CADD c0.sc, 1", "HALT"))
    assert address_of(war, 1) == address_of(war, 2)


def test_memory_stays_in_order_unless_the_coordinates_differ():
    # c1's coordinate is ready before c0's, so the GATHER could go first -- if allowed.
    # Unknown coordinates (c0, c1 from the start state): it may read what SCATTER stores.
    unknown = program("CADD c1.sc, 1", "CADD c0.sc, 1", "CADD c0.sc, 1", "LI r1, 4",
                      "SCATTER [c0], r1", "GATHER r2, [c1]", "HALT")
    compiled = compile_serial(unknown)
    assert address_of(compiled, 5) < address_of(compiled, 6)
    # Known to differ (scroll 1 and 0): the GATHER goes first.
    known = program("CLI c1, 1.0.0/0.0.0/0.0.1", "CLI c0, 1.0.0/0.0.0/0.0.0", "LI r1, 4",
                    "SCATTER [c0], r1", "GATHER r2, [c1]", "HALT")
    compiled = compile_serial(known)
    assert address_of(compiled, 5) < address_of(compiled, 4)
    assert_equivalent(known, CoreConfig(), memory=((key(1, sc=1), 77),))
    # Known to be the same: the GATHER reads what the SCATTER stored.
    same = program("CLI c1, 1.0.0/0.0.0/0.0.0", "CLI c0, 1.0.0/0.0.0/0.0.0", "LI r1, 4",
                   "SCATTER [c0], r1", "GATHER r2, [c1]", "HALT")
    compiled = compile_serial(same)
    assert address_of(compiled, 4) < address_of(compiled, 5)
    assert final_state(compiled.words, CoreConfig()).regs[2] == 4


def test_memory_writes_keep_their_order():
    # Two new keys in the one set of a one-set memory: their ways follow their order.
    config = CoreConfig(set_bits=0, ways=4)
    text = program("CLI c0, 1.0.0/0.0.0/0.0.0", "CLI c1, 2.0.0/0.0.0/0.0.0", "LI r1, 1", "LI r2, 2",
                   "SCATTER [c1], r2", "SCATTER [c0], r1", "HALT")
    compiled = compile_serial(text, config)
    assert address_of(compiled, 5) < address_of(compiled, 6)
    assert final_state(compiled.words, config).memory[0][:2] == ((key(2), 2), (key(1), 1))


# ---------------------------------------------------------------------------- control

def test_a_label_starts_a_block():
    # LI and CSET would share an SIW; the label between them keeps them apart.
    compiled = compile_serial(program("LI r1, 1", "here:", "CSET c0.sc, 1", "HALT"))
    assert address_of(compiled, 1) < address_of(compiled, 3)


def test_jump_ends_a_block_and_skips_dead_code():
    text = program("LI r1, 1", "JUMP over", "LI r1, 9", "over:", "HALT")
    compiled = compile_serial(text)
    assert siw_lines(compiled) == [[1, 2], [3], [5]]
    assert final_state(compiled.words, CoreConfig()).regs[1] == 1


def test_branch_targets_without_a_label_get_one():
    text = program("LI r1, 1", "JUMP 3", "LI r1, 9", "HALT")
    compiled = compile_serial(text)
    assert "L0003:" in compiled.asm
    assert_equivalent(text, CoreConfig())


def key(lb=0, sf=0, sr=0, cn=0, vm=0, bk=0, ch=0, sn=0, sc=0):
    """The Morton key by its definition: bit i of dimension d is key bit 9*i + d."""
    dims = (lb, sf, sr, cn, vm, bk, ch, sn, sc)
    return sum(((v >> i) & 1) << (9 * i + d) for d, v in enumerate(dims) for i in range(11))


# ---------------------------------------------------------------------------- loops

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def f32(x):
    return struct.unpack("<I", struct.pack("<f", x))[0]


def loop_stats(compiled, label):
    return next(loop for loop in compiled.stats.loops if loop.label == label)


def kernel_periods(compiled, config, label, memory=()):
    """Cycles between successive retirements of the SIW at ``label`` (golden model)."""
    m = machine(compiled.words, config, memory)
    target = compiled.program.labels[label]
    m.start()
    cycles = []
    while m.running:
        rec = m.retire()
        if rec.pc == target:
            cycles.append(rec.cycle)
    return [b - a for a, b in zip(cycles, cycles[1:])]


def row_sum_loop(trips, accumulate="ADD r1, r1, r5"):
    """Sum a row of ``trips`` scrolls at 1.0.0/0.0.0/0.0.k into r1 (one accumulator)."""
    return program("CLI c1, 1.0.0/0.0.0/0.0.0", f"CLI c7, 0.0.0/0.0.0/0.0.{trips}", "LI r1, 0",
                   "loop:", "GATHER r5, [c1]", "CADD c1.sc, 1", accumulate,
                   "LOOP c1.sc < c7.sc, loop", "HALT")


def row_values(trips):
    return tuple((key(1, sc=k), f32(k + 1.0)) for k in range(trips))


def test_serial_reduction_pipelines_to_the_lane_bound():
    text = (EXAMPLES / "serial" / "reduction.vasm").read_text()
    config = CoreConfig()
    compiled = compile_serial(text, config, filename="reduction.vasm")
    kernel = loop_stats(compiled, "kernel")
    # 4 GATHERs, 4 ADDs, 3 CADDs + LOOP: four per lane; four accumulators, each a
    # recurrence of F = 4 at distance 1.
    assert (kernel.resource_bound, kernel.recurrence_bound) == (4, 4)
    assert kernel.pipelined and kernel.ii == 4 and kernel.trip_count == 128
    assert compiled.stats.as_dict()["loops"][1] == dict(vars(kernel), bound=4)
    start = compiled.program.labels["kernel"]
    assert [len(slots) for slots in compiled.slots[start:start + 4]] == [3, 3, 3, 3]
    assert set(kernel_periods(compiled, config, "kernel")) == {4}
    serial, state, _ = assert_equivalent(text, config, compiled=compiled)
    assert state.regs[1] == f32(131328.0) and state.entries()[key(2)] == f32(131328.0)
    assert len(state.entries()) == 513
    assert state.ops / state.cycles >= 2.9           # the hand-packed example: 2.95


@pytest.mark.parametrize("F", [2, 4, 7])
def test_accumulating_into_one_register_is_recurrence_bound(F):
    config = CoreConfig(float_latency=F)
    for accumulate in ("ADD r1, r1, r5", "MAC r1, r5, r5"):
        compiled = compile_serial(row_sum_loop(16, accumulate), config)
        loop = loop_stats(compiled, "loop")
        assert loop.recurrence_bound == F and loop.resource_bound == 2   # C: CADD, LOOP
        assert loop.cycles_per_iteration == max(F, 2)
        assert set(kernel_periods(compiled, config, "loop", row_values(16))[2:]) == {max(F, 2)}
        assert_equivalent(row_sum_loop(16, accumulate), config, row_values(16), compiled)


def lifetime_loop(scratch=""):
    """r1 is read 1 + F cycles after its GATHER: longer than the II the lanes allow."""
    return program(*([scratch] if scratch else []),
                   "CLI c0, 1.0.0/0.0.0/0.0.0", "CLI c1, 2.0.0/0.0.0/0.0.0",
                   "CLI c2, 0.0.0/0.0.0/0.0.0", "CLI c7, 0.0.0/0.0.0/0.0.12", "loop:",
                   "GATHER r1, [c0]", "MUL r2, r1, r1", "ADD r3, r2, r1", "SCATTER [c1], r3",
                   "CADD c0.sc, 1", "CADD c1.sc, 1", "LOOP c2.sc < c7.sc, loop", "HALT")


def test_a_value_living_longer_than_ii_needs_scratch_registers_or_a_larger_ii():
    config = CoreConfig()
    memory = tuple((key(1, sc=k), f32(k + 0.5)) for k in range(12))
    plain = compile_serial(lifetime_loop(), config)
    loop = loop_stats(plain, "loop")
    # C lane: two CADDs and the LOOP (resource bound 3).  The next GATHER may not
    # overwrite r1 before ADD has read it, 1 + F = 5 cycles after this GATHER.
    assert loop.resource_bound == 3 and loop.pipelined and loop.ii == 5
    assert loop.renaming == "none"
    assert_equivalent(lifetime_loop(), config, memory, plain)
    renamed = compile_serial(lifetime_loop(".scratch r20-r27"), config)
    loop = loop_stats(renamed, "loop")
    assert loop.pipelined and loop.ii == 3 and loop.renaming == "expand" and loop.unroll > 1
    written = {s.op.writes[1] for slots in renamed.slots for s in slots if s.op.writes}
    assert written - {1, 2, 3} <= set(range(20, 28)) and written & set(range(20, 28))
    assert_equivalent(lifetime_loop(".scratch r20-r27"), config, memory, renamed)
    # Without .scratch the compiled program writes only registers the program writes.
    assert {s.op.writes[1] for slots in plain.slots for s in slots if s.op.writes} == {1, 2, 3}


def unknown_trip_loop(mintrip=None):
    """The limit comes from a register (CPUT): unknown to the compiler."""
    return program("CLI c1, 1.0.0/0.0.0/0.0.0", "LI r9, 12", "CPUT c7.sc, r9",
                   *([f".mintrip {mintrip}"] if mintrip else []), "loop:",
                   "GATHER r5, [c1]", "CADD c1.sc, 1", "MUL r6, r5, r5", "SCATTER [c2], r6",
                   "CADD c2.sc, 1", "LOOP c1.sc < c7.sc, loop", "HALT")


def test_an_unknown_trip_count_is_pipelined_only_when_promised():
    config = CoreConfig()
    memory = row_values(12)
    plain = compile_serial(unknown_trip_loop(), config)
    loop = loop_stats(plain, "loop")
    assert not loop.pipelined and loop.trip_count is None and ".mintrip" in loop.reason
    assert_equivalent(unknown_trip_loop(), config, memory, plain)
    promised = compile_serial(unknown_trip_loop(4), config)
    loop = loop_stats(promised, "loop")
    assert loop.pipelined and loop.min_trip == 4 and loop.stages <= 4
    assert loop.ii < plain.stats.loops[0].cycles_per_iteration
    assert_equivalent(unknown_trip_loop(4), config, memory, promised)


def test_too_few_iterations_for_the_stages_are_not_pipelined():
    text = unknown_trip_loop(1)
    loop = loop_stats(compile_serial(text), "loop")
    assert not loop.pipelined and "iterations" in loop.reason


def test_counter_and_written_coordinate_registers_each_stay_in_one_stage():
    for name in ("reduction", "dot_product", "saxpy"):
        compiled = compile_serial((EXAMPLES / "serial" / f"{name}.vasm").read_text())
        stages = {}
        for slots in compiled.slots:
            for s in slots:
                if s.stage is None:
                    continue
                for k in s.op.coordinate_registers:
                    stages.setdefault(k, set()).add(s.stage)
                if s.op.lane == "C" and s.op.op == COp.LOOP:
                    assert s.stage == 0
        assert all(len(v) == 1 for v in stages.values()), (name, stages)


def test_one_stage_per_coordinate_register_even_where_dependences_allow_two():
    # The dependences would let CADD c0 run in stage 0 and its SCATTER [c0], which waits
    # for the MUL, in stage 1; the stage rule (docs/compiler.md) keeps them together.
    text = program("CLI c0, 1.0.0/0.0.0/0.0.0", "CLI c1, 2.0.0/0.0.0/0.0.0",
                   "CLI c6, 0.0.0/0.0.0/0.0.0", "CLI c7, 0.0.0/0.0.0/0.0.10", "loop:",
                   "GATHER r1, [c1]", "CADD c1.sc, 1", "MUL r2, r1, r1", "CADD c0.sc, 1",
                   "SCATTER [c0], r2", "LOOP c6.sc < c7.sc, loop", "HALT")
    compiled = compile_serial(text)
    assert loop_stats(compiled, "loop").stages == 2
    stages = {}
    for slots in compiled.slots:
        for s in slots:
            if s.stage is not None:
                for k in s.op.coordinate_registers:
                    stages.setdefault(k, set()).add(s.stage)
    assert stages == {0: {1}, 1: {0}, 6: {0}, 7: {0}}
    assert_equivalent(text, CoreConfig(), tuple((key(2, sc=k), f32(k)) for k in range(10)),
                      compiled)


def test_the_listing_marks_prologue_kernel_and_epilogue():
    compiled = compile_serial(lifetime_loop(), filename="k.vasm")
    listing = compiled.listing
    for part in ("prologue", "kernel", "epilogue"):
        assert f"loop 'loop' (line 12): {part}" in listing
    for line in [1, 2, 3, 4] + list(range(6, 14)):          # line 5 is the label
        assert f"k.vasm:{line}" in listing
    assert "[s0, 0]" in listing and "[s1, i-1]" in listing and "[s2, 11]" in listing
    assert "II 5" in listing


# ---------------------------------------------------------------------------- latencies

def test_the_schedule_follows_the_configurations_latencies():
    # GATHER latency 1: IADD goes right after it; latency 3: LI r4 fills the gap.
    text = program("GATHER r1, [c0]", "IADD r2, r1, r1", "LI r3, 1", "LI r4, 2", "HALT")
    fast = compile_serial(text, CoreConfig())
    assert siw_lines(fast) == [[1, 3], [2], [4, 5]]
    slow_config = CoreConfig(timing=Timing(float_op=4, gather=3))
    slow = compile_serial(text, slow_config)
    assert siw_lines(slow) == [[1, 3], [4], [2, 5]]
    assert slow.waits[2] == (1, 1)                 # ready at 3, could retire at 2
    assert_equivalent(text, slow_config, compiled=slow)


def test_a_loop_exit_penalty_is_predicted():
    config = CoreConfig(timing=Timing(float_op=4, loop_exit=3))
    text = program("CLI c1, 0.0.0/0.0.0/0.0.0", "CLI c7, 0.0.0/0.0.0/0.0.2", "again:",
                   "LOOP c1.sc < c7.sc, again", "HALT")
    compiled = compile_serial(text, config)
    # CCLR c7 (the longer chain first), CCLR c1, CSET c7.sc: one C lane, at 2, 3, 4; the
    # LOOP at 5 (taken) and 6 (falls through: 3 more cycles); HALT at 6 + 1 + 3 = 10,
    # so the counter reads 11.
    assert siw_lines(compiled) == [[2], [1], [2], [4], [5]]
    state, waits = traced_run(compiled.words, config)
    assert state.cycles == 11 and waits[-1] == (4, 0) and compiled.waits[4] == (0, 0)
    assert_equivalent(text, config, compiled=compiled)


def test_timing_table_defaults_and_checks():
    assert CoreConfig().timing == Timing(float_op=4, int_op=1, gather=1, coord_read=1,
                                         loop_exit=1, first_retire=2)
    assert CoreConfig(float_latency=7).timing.float_op == 7
    assert CoreConfig(float_latency=0).timing.float_op == 0
    assert repr(CoreConfig()) == ("CoreConfig(dim_bits=11, set_bits=8, ways=4, prog_depth=1024, "
                                  "float_latency=4)")
    other = CoreConfig(timing=Timing(float_op=4, gather=2))
    assert other != CoreConfig() and "gather=2" in repr(other)
    with pytest.raises(ValueError):
        CoreConfig(float_latency=4, timing=Timing(float_op=3))
    with pytest.raises(ValueError):
        Timing(float_op=4, gather=0)
    with pytest.raises(ValueError):
        Timing(float_op=-1)
    t = Timing(float_op=5, int_op=2, gather=3, coord_read=4)
    assert [t.latency(op) for op in (DOp.MAC, DOp.IADD, SOp.GATHER, COp.KEY, COp.CGET)] == \
        [5, 2, 3, 4, 4]
    with pytest.raises(ValueError):
        t.latency(SOp.SCATTER)
    with pytest.raises(ValueError):
        Timing(float_op=0).latency(DOp.ADD)


def test_the_float_operations_are_one_set_everywhere():
    from hdl.decoder import FLOAT_DOPS as HDL_FLOAT
    from sim.golden.decode import FLOAT_DOPS as GOLDEN_FLOAT
    expected = {DOp.ADD, DOp.SUB, DOp.MUL, DOp.MAC, DOp.MIN, DOp.MAX, DOp.ITOF, DOp.FTOI}
    assert FLOAT_DOPS == expected == set(GOLDEN_FLOAT) == set(HDL_FLOAT)


@pytest.mark.parametrize("field, value", [("gather", 2), ("coord_read", 3), ("int_op", 2),
                                          ("loop_exit", 3), ("first_retire", 5)])
def test_the_golden_model_reads_the_table(field, value):
    """Each entry moves the retire cycles the way docs/isa.md section 7 says."""
    config = CoreConfig(timing=Timing(float_op=4, **{field: value}))
    producer = {"gather": "GATHER r1, [c0]", "coord_read": "CGET r1, c0.sc",
                "int_op": "IADD r1, r2, r2", "loop_exit": "LOOP c1.sc < c7.sc, 0",
                "first_retire": "LI r9, 0"}[field]
    text = program(producer, "IADD r3, r1, r1", "HALT")
    m = machine(assemble(text).words, config)
    m.start()
    cycles = [m.retire().cycle for _ in range(3)]
    first = value if field == "first_retire" else 2
    assert cycles[0] == first
    gap = value if field in ("gather", "coord_read", "int_op") else 1
    gap += value if field == "loop_exit" else 0
    assert cycles[1] - cycles[0] == gap


# ---------------------------------------------------------------------------- errors

@pytest.mark.parametrize("text, where, message", [
    ("    LI r1, 1 | CSET c0.sc, 1\n", "1:5", "one operation per line"),
    ("    .scratch r5\n    LI r5, 1\n", "2:1", "r5 is declared scratch"),
    ("    .mintrip 4\n    HALT\n", "1:5", ".mintrip must come before the label of a loop"),
    ("    .mintrip 4\nx:\n    .mintrip 5\n    LOOP c0.sc < c1.sc, x\n", "3:5", "a second .mintrip"),
    ("    LI r1, 1 |\n", "1:", "empty slot"),
])
def test_errors_name_the_line(text, where, message):
    with pytest.raises(AsmError) as e:
        compile_serial(text, filename="k.vasm")
    assert str(e.value).startswith(f"k.vasm:{where}") and message in str(e.value)


def test_a_float_operation_on_a_core_without_a_float_unit_is_an_error():
    with pytest.raises(CompileError, match=r"k.vasm:2:5: error: ADD is a float operation"):
        compile_serial(program("LI r1, 1", "ADD r2, r1, r1", "HALT"), ICEBREAKER, "k.vasm")


def test_a_program_too_long_for_the_core_is_an_error():
    small = CoreConfig(prog_depth=2)
    with pytest.raises(CompileError, match="3 SIWs; program memory holds 2"):
        compile_serial(program("LI r1, 1", "LI r2, 2", "LI r3, 3", "HALT"), small)


def test_directives_make_no_siw():
    with_directives = (EXAMPLES / "serial" / "saxpy.vasm").read_text()
    without = with_directives.replace(".scratch r20-r31", "")
    assert ".scratch" in with_directives
    assert assemble(with_directives).words == assemble(without).words
    assert assemble(with_directives).directives[0].value == tuple(range(20, 32))


# ---------------------------------------------------------------------------- examples

@pytest.mark.parametrize("name", ["dot_product", "saxpy", "reduction"])
def test_serial_examples_give_their_documented_results_serial_and_compiled(name):
    text = (EXAMPLES / "serial" / f"{name}.vasm").read_text()
    head = text.split("\n\n", 1)[0]
    assert all(line.startswith("#") for line in head.splitlines()) and "result" in head.lower()
    serial, state, compiled = assert_equivalent(text, CoreConfig())
    entries = state.entries()
    if name == "dot_product":
        # sum of j * (65 - j), j = 1..64 = 65 * 2080 - 89440
        assert state.regs[10] == f32(65 * 2080 - 89440.0) == entries[key(3)]
        assert len(entries) == 129
    elif name == "saxpy":
        assert [entries[key(2, sc=k)] for k in range(64)] == [f32(66.5 + 1.5 * k) for k in range(64)]
        assert [entries[key(1, sc=k)] for k in range(64)] == [f32(k + 1.0) for k in range(64)]
        assert len(entries) == 128
    else:
        assert state.regs[1] == f32(512 * 513 / 2) == entries[key(2)] and len(entries) == 513
    assert state.cycles < serial.cycles


def test_speedup_table():
    from sim.asm.speedup import format_table, measure_examples
    rows = {r.name: r for r in measure_examples()}
    assert set(rows) == {"dot_product", "saxpy", "reduction"}
    for r in rows.values():
        assert r.compiled_cycles < r.serial_cycles and r.hand_cycles is not None
        assert r.compiled_ops_per_cycle >= r.hand_ops_per_cycle - 0.01
    assert rows["reduction"].compiled_ops_per_cycle >= 2.9
    table = format_table(rows.values())
    assert table.count("\n") == 5 and "| reduction | 3090 |" in table


def test_speedup_table_on_the_pipelined_core(capsys):
    """``python -m sim.asm.speedup --pipelined 12``: each serial example compiled for the
    pipelined table (docs/isa.md section 7) ends in its serial state there and runs
    faster than serially; the hand-packed reduction, written for it, beats its
    four-chain serial form compiled."""
    from sim.asm.speedup import main, measure_examples
    config = CoreConfig(float_latency=12, timing=Timing.pipelined(12))
    rows = {r.name: r for r in measure_examples(config=config)}
    for r in rows.values():
        assert r.compiled_cycles < r.serial_cycles
    assert rows["reduction"].hand_ops_per_cycle > rows["reduction"].compiled_ops_per_cycle
    assert main(["--pipelined", "12"]) == 0 and "| reduction | 3090 |" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--pipelined", "2"])


# ---------------------------------------------------------------------------- builder, CLI

def test_the_builder_writes_serial_text():
    k = SerialBuilder("k.py")
    k.scratch("r24-r31").CLI("c1", "1.0.0/0.0.0/0.0.0").CLI("c7", "0.0.0/0.0.0/0.0.4")
    k.label("loop").GATHER("r5", "[c1]").CADD("c1.sc", 1).ADD("r1", "r1", "r5")
    k.LOOP("c1.sc < c7.sc", "loop").HALT()
    assert k.text() == program(".scratch r24-r31", "CLI c1, 1.0.0/0.0.0/0.0.0",
                               "CLI c7, 0.0.0/0.0.0/0.0.4", "loop:", "GATHER r5, [c1]",
                               "CADD c1.sc, 1", "ADD r1, r1, r5", "LOOP c1.sc < c7.sc, loop",
                               "HALT")
    compiled = k.compile(CoreConfig())
    # c1.sc steps by 2 (CADD and LOOP) from 0 to 4: two iterations.
    assert compiled.stats.loops[0].trip_count == 2 and compiled.scratch == tuple(range(24, 32))
    with pytest.raises(ValueError):
        k.op("LI r1, 1 | LI r2, 2")
    with pytest.raises(AttributeError):
        k.FROB()


def test_vtpu_asm_schedule(tmp_path, capsys):
    src = EXAMPLES / "serial" / "reduction.vasm"
    assert main(["asm", "--schedule", str(src)]) == 0
    asm = capsys.readouterr().out
    assert "kernel:" in asm and assemble(asm).words == compile_serial(src.read_text()).words
    out = tmp_path / "r.vhex"
    assert main(["asm", "--schedule", str(src), "-o", str(out)]) == 0
    assert load_program_file(out).words == assemble(asm).words
    out = tmp_path / "r.vasm"
    assert main(["asm", "--schedule", str(src), "-o", str(out), "--listing"]) == 0
    assert out.read_text() == asm and "prologue" in capsys.readouterr().out
    assert main(["asm", "--schedule", "--board", "icebreaker", str(src)]) == 2
    assert "no float unit" in capsys.readouterr().err
    assert main(["asm", "--board", "icebreaker", str(src)]) == 2
    assert "--board needs --schedule" in capsys.readouterr().err


def test_a_serial_program_longer_than_the_program_memory_compiles_when_it_packs_into_it():
    """The serial input is packed before it runs, so it may hold more operations than
    the program memory has SIWs, with labels past address 1023 (found by the GPT
    program, whose serial form is longer than its 779 packed SIWs)."""
    lines = []
    for i in range(360):                       # three lanes' worth of independent work
        lines += [f"LI r{1 + i % 8}, {i}", "CADD c0.sc, 1", f"SCATTER [c0], r{1 + i % 8}"]
    lines += ["CSET c7.sc, 0", "CSET c6.sc, 5", "LI r9, 0", "LI r10, 3",
              "loop:", "IADD r9, r9, r10", "LOOP c7.sc < c6.sc, loop", "HALT"]
    text = "\n".join(lines) + "\n"
    with pytest.raises(AsmError, match="longer than 1024"):
        assemble(text)                         # not a program as it stands
    compiled = compile_serial(text)
    assert len(compiled.words) <= 1024
    state = final_state(compiled.words, CoreConfig())
    assert state.halted and state.fault == Fault.NONE
    assert state.regs[9] == 15                 # 5 trips of r9 += 3
    assert [state.regs[1 + r] for r in range(8)] == [352 + r for r in range(8)]
    assert state.entries() == {key(sc=k): k - 1 for k in range(1, 361)}
