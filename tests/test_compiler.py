"""The kernel compiler (sim/asm/compiler.py): packing, dependences, software pipelining."""

import pytest
from hypothesis import HealthCheck, assume, given, settings

from sim.asm.assembler import assemble
from sim.asm.compiler import compile_serial
from sim.golden.machine import Machine
from sim.golden.memory import MemoryFullError
from sim.isa.encoding import COp, Fault

from support.serial_progs import serial_programs

MAX_CYCLES = 400_000


def machine(words, config, memory=()):
    m = Machine(config)
    m.load_program(words)
    m.write_memory(memory)
    return m


def final_state(words, config, memory=()):
    return machine(words, config, memory).run(MAX_CYCLES)


def traced_run(words, config, memory=()):
    """``(state, [(pc, wait)])``: the run and how long each retired SIW waited."""
    m = machine(words, config, memory)
    m.start()
    earliest = m.cycles + config.timing.first_retire
    waits = []
    while m.running and m.cycles < MAX_CYCLES:
        rec = m.retire()
        waits.append((rec.pc, rec.cycle - earliest))
        earliest = rec.cycle + 1 + rec.penalty
    return m.state(), waits


def halt_line(text, pc):
    """The source line of the serial SIW at address ``pc - 1`` (the HALT that stopped it)."""
    for entry in assemble(text).listing:
        if entry.address <= pc - 1 < entry.address + len(entry.words):
            return entry.line
    raise AssertionError(pc)


def assert_equivalent(text, config, memory=(), compiled=None):
    """The compiled ``text`` ends in the state of ``text`` run one operation per SIW,
    both starting with ``memory`` loaded; every SIW waits as long as predicted."""
    try:
        serial = final_state(assemble(text).words, config, memory)
    except MemoryFullError:
        assume(False)
    assume(serial.halted and serial.fault == Fault.NONE)
    compiled = compiled or compile_serial(text, config)
    state, waits = traced_run(compiled.words, config, memory)
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
    return serial, state, compiled


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.filter_too_much])
@given(serial_programs())
def test_compiled_program_ends_in_the_serial_state(case):
    assert_equivalent(*case)
