"""The random program generator: valid, terminating, and covering what it claims.

Coverage is measured on what the golden model actually did (its retire records),
not on what the generator meant to emit.
"""

import collections

import pytest
from hypothesis import given, settings, HealthCheck

from sim.asm.disasm import DisasmError, decode_siw
from sim.isa.encoding import C_OPERANDS, D_OPERANDS, S_OPERANDS, COp, DOp, SOp, Fault
from support.progs import (CONFIGS, SMALL_MEMORY, encode_siw, encode_slot, generate, golden_trace,
                       observed_features, programs)

SEEDS = range(300)


def check_words(program):
    """Every word decodes, except the ones made illegal on purpose, which do not."""
    for address, word in enumerate(program.words):
        try:
            decode_siw(word)
        except DisasmError as e:
            assert address in program.illegal, f"word {address} is illegal by accident: {e}"
        else:
            assert address not in program.illegal, f"word {address} was meant to be illegal"


def test_encoder_agrees_with_the_disassembler():
    """encode_slot puts every field where the (independently written) decoder finds it."""
    values = {"rd": 31, "rs1": 17, "rs2": 9, "imm16": 0xBEEF, "reg": 22, "ck": 5, "dim": 8,
              "imm11": 2047, "imm12": 0xABC, "cj": 6, "dim2": 7, "target": 1000}
    for lane, table in (("D", D_OPERANDS), ("S", S_OPERANDS), ("C", C_OPERANDS)):
        for op, names in table.items():
            if op == 0:
                continue
            fields = {n: values[n] for n in names}
            if lane == "S" and op == SOp.GATHER:
                fields["reg"] = 3                     # not the D lane's rd below
            bits = encode_slot(lane, op, **fields)
            word = encode_siw(**{lane.lower(): bits})
            slots = decode_siw(word)
            assert slots[lane] == (op, fields), (lane, op)
    with pytest.raises(ValueError):
        encode_slot("D", DOp.ADD, rd=1, rs1=2)        # rs2 missing
    with pytest.raises(ValueError):
        encode_slot("C", COp.HALT, ck=1)             # HALT uses no ck


def test_seed_determines_program():
    assert generate(7) == generate(7)
    assert generate(7).words != generate(8).words


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_every_config_gets_valid_programs(seed):
    for config in CONFIGS:
        p = generate(seed, config)
        assert p.config == config
        check_words(p)


def test_seeded_programs_are_valid_and_terminate():
    """Golden runs end (HALT or fault) before the bound the generator computed."""
    for seed in SEEDS:
        p = generate(seed)
        check_words(p)
        records = golden_trace(p)
        assert records and records[-1].ended, seed
        assert records[-1].cycle < p.max_cycles


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_hypothesis_programs_are_valid_and_terminate(program):
    check_words(program)
    records = golden_trace(program)
    assert records[-1].ended


def _coverage(config):
    counts = collections.Counter()
    for seed in SEEDS:
        p = generate(seed, config)
        counts.update(observed_features(p, golden_trace(p)))
    return {k: v / len(SEEDS) for k, v in counts.items()}


# Minimal fractions of programs that must show each feature (measured values are
# about twice these, so the test is stable yet fails if a feature disappears).
DEFAULT_FLOORS = {
    "three_lanes": 0.5, "stall": 0.5, "loop": 0.3, "nested_loop": 0.05, "loop_exit": 0.3,
    "jump": 0.2, "forward_loop": 0.03, "float_waw": 0.4, "mac_rd": 0.1, "lih_rd": 0.1,
    "gather_hit": 0.3, "erase_reuse": 0.3, "halt": 0.2,
    "fault_PC_RANGE": 0.05, "fault_ILLEGAL_SIW": 0.05, "fault_COORD_RANGE": 0.08,
    "fault_MEM_FULL": 0.08, "coord_range_CADD": 0.03, "coord_range_CPUT": 0.03,
    "coord_range_LOOP": 0.005,
    "illegal_rule_1": 0.02, "illegal_rule_2": 0.008, "illegal_rule_3": 0.008, "illegal_rule_4": 0.008,
}


def test_coverage_default_config():
    cov = _coverage(CONFIGS[0])
    F = CONFIGS[0].float_latency
    floors = dict(DEFAULT_FLOORS, **{f"float_distance_{k}": 0.3 for k in range(1, F + 2)})
    low = {k: round(cov.get(k, 0.0), 3) for k, floor in floors.items() if cov.get(k, 0.0) < floor}
    assert not low, f"features seen too rarely (fraction of programs): {low}"


def test_coverage_small_memory():
    """In a 4-set, 2-way memory, sets fill up: MEM_FULL is common, and so is reuse."""
    cov = _coverage(SMALL_MEMORY)
    assert cov.get("fault_MEM_FULL", 0) > 0.3
    assert cov.get("erase_reuse", 0) > 0.2
    assert cov.get("halt", 0) > 0.05
    assert cov.get("loop", 0) > 0.15


def test_faults_end_the_trace():
    """The last record of every trace is the one that ended the run, and only it faults."""
    for seed in range(50):
        records = golden_trace(generate(seed))
        assert all(r.fault == Fault.NONE and not r.ended for r in records[:-1])
