"""The RTL against the golden model in lockstep: every SIW, every cycle.

Examples, hand-made corner programs and random valid programs (tests/support/progs.py) run
on the golden model and on the hardware (Amaranth's simulator) side by side;
sim/engines/lockstep.py raises at the first difference.  The last tests make sure the
checker itself can fail: a golden model made wrong on purpose must be caught,
with the SIW named.
"""

import glob
import os

import pytest
from hypothesis import HealthCheck, given, settings

from sim.asm.assembler import assemble
from sim.engines.interface import make_engine
from sim.isa.encoding import COp, CoreConfig, DOp, Fault, Timing
from sim.engines.lockstep import Lockstep, LockstepMismatch
from sim.golden.machine import Machine
from sim.asm.progfile import load_program_file
from support.progs import CONFIGS, SMALL_MEMORY, encode_siw, encode_slot, generate, programs

EXAMPLES = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "examples", "*.vasm")))

#: Random programs run by the default (not slow) tests, per configuration, and
#: the SIWs they must add up to at least (so the figure cannot quietly shrink).
SEEDED_PROGRAMS = 30
HYPOTHESIS_PROGRAMS = 25
MIN_RANDOM_SIWS = 3000


class Sessions:
    """Lockstep sessions shared by the tests of this module, one per configuration
    (building the simulated core takes seconds); one that saw a failure is replaced,
    so a failing test does not make the next ones fail too."""

    def __init__(self):
        self._open = {}

    def __call__(self, config):
        ls = self._open.get(config)
        if ls is None or ls.broken:
            if ls is not None:
                ls.close()
            ls = self._open[config] = Lockstep(config)
        return ls

    def close(self):
        for ls in self._open.values():
            ls.close()


@pytest.fixture(scope="module")
def sessions():
    s = Sessions()
    yield s
    s.close()


def golden_cycles(words, config=None):
    m = Machine(config or CoreConfig())
    m.load_program(words)
    return m.run(10_000_000).cycles


def test_there_are_examples():
    assert EXAMPLES, "examples/*.vasm: no example programs found"


@pytest.mark.parametrize("path", EXAMPLES, ids=[os.path.basename(p) for p in EXAMPLES])
def test_example_in_lockstep(path, sessions):
    words = load_program_file(path).words
    records = sessions(CoreConfig()).run_program(words, max_cycles=golden_cycles(words) + 100)
    assert records[-1].ended


CORNERS = {
    # Float RAW at every distance 1..F+1, MAC and LIH reading a pending rd, WAW.
    "hazards": """
        FLI r1, 1.5
        FLI r2, -2.25
        ADD r3, r1, r2
        MUL r4, r3, r3
        ADD r5, r1, r1
        NOP
        SUB r6, r5, r1
        ADD r7, r1, r2
        NOP
        NOP
        MAC r7, r1, r2
        ITOF r8, r1
        LIH r8, 7
        FTOI r9, r2
        NOP
        NOP
        NOP
        MOV r10, r9
        ADD r11, r1, r2
        LI r11, 3
        HALT
    """,
    # A LOOP that falls through costs a cycle; nested loops; JUMP over an illegal word.
    "loops": """
        CLI c7, 0.0.0/0.0.0/0.3.4
        LI r1, 0
    outer:
        CSET c6.sc, 0
    inner:
        IADD r1, r1, r1 | CADD c0.lb, 1 | SCATTER [c0], r1
        LOOP c6.sc < c7.sc, inner
        CADD c0.sn, 1 | ADD r5, r1, r1
        LOOP c6.sn < c7.sn, outer
        JUMP done
        HALT
    done:
        GATHER r2, [c0] | KEY r3, c0 | ADD r4, r1, r1
        HALT
    """,
    "coord_range": """
        CSET c0.lb, 2047
        CADD c0.lb, 1
        HALT
    """,
    "off_the_end": """
        LI r1, 5
        ADD r2, r1, r1
    """,
}


#: How each corner program ends (docs/isa.md section 6), known by construction.
CORNER_ENDS = {"hazards": Fault.NONE, "loops": Fault.NONE, "coord_range": Fault.COORD_RANGE,
               "off_the_end": Fault.PC_RANGE}


@pytest.mark.parametrize("name", sorted(CORNERS))
def test_corner_program_in_lockstep(name, sessions):
    words = assemble(CORNERS[name], f"<{name}>").words
    records = sessions(CoreConfig()).run_program(words, max_cycles=golden_cycles(words) + 100)
    assert records[-1].ended and records[-1].fault == CORNER_ENDS[name]


def test_illegal_siws_in_lockstep(sessions):
    """Words no assembler writes: an undefined D opcode, and two lanes writing r3."""
    li = encode_slot("D", DOp.LI, rd=3, imm16=5)
    undefined = encode_siw(d=20 | (3 << 5))
    double = encode_siw(d=li, c=encode_slot("C", COp.KEY, reg=3, ck=0))
    for bad in (undefined, double):
        words = [encode_siw(d=encode_slot("D", DOp.LI, rd=1, imm16=1)), bad]
        records = sessions(CoreConfig()).run_program(words, max_cycles=100)
        assert records[-1].fault == Fault.ILLEGAL_SIW and records[-1].pc == 1


@pytest.mark.parametrize("config", CONFIGS, ids=["default", "small_memory"])
def test_seeded_random_programs_in_lockstep(config, sessions):
    ls = sessions(config)
    for seed in range(SEEDED_PROGRAMS):
        ls.check_program(generate(seed, config))
    ls.compare_full_state()          # every memory slot, through the debug port


_hypothesis_siws = {}


@settings(max_examples=HYPOTHESIS_PROGRAMS, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                 HealthCheck.data_too_large])
@given(data_default=programs(CONFIGS[0]), data_small=programs(SMALL_MEMORY))
def test_hypothesis_programs_in_lockstep(sessions, data_default, data_small):
    for program in (data_default, data_small):
        n = len(sessions(program.config).check_program(program))
        _hypothesis_siws[program.config] = _hypothesis_siws.get(program.config, 0) + n


def test_random_siw_total():
    """The random lockstep tests above checked at least MIN_RANDOM_SIWS SIWs in all
    (it runs after them: pytest keeps the order of a file)."""
    seeded = 0
    for config in CONFIGS:
        for seed in range(SEEDED_PROGRAMS):
            p = generate(seed, config)
            m = Machine(config)
            m.load_program(p.words)
            m.write_memory(p.memory)
            seeded += m.run(p.max_cycles).siws
    total = seeded + sum(_hypothesis_siws.values())
    print(f"random SIWs checked in lockstep: {seeded} seeded + "
          f"{sum(_hypothesis_siws.values())} from Hypothesis")
    assert total >= MIN_RANDOM_SIWS, f"only {total} random SIWs were checked in lockstep"


#: Other cores the HDL can be built as: float latency 1, 2 and 6; one way; 6-bit
#: dimensions (so CSET itself can leave the range); a short program memory; no
#: float unit (float operations are illegal SIWs).
OTHER_CONFIGS = [CoreConfig(float_latency=1, prog_depth=64),
                 CoreConfig(float_latency=2, set_bits=3, ways=1, prog_depth=64),
                 CoreConfig(dim_bits=6, float_latency=6, set_bits=5, ways=3),
                 CoreConfig(dim_bits=6, float_latency=0, set_bits=2, ways=2, prog_depth=128)]


@pytest.mark.parametrize("config", OTHER_CONFIGS, ids=["F1", "F2_one_way", "B6_F6", "no_float"])
def test_other_configurations_in_lockstep(config):
    with Lockstep(config) as ls:
        for seed in range(4):
            ls.check_program(generate(seed, config))
        ls.compare_full_state()


def test_no_float_unit_faults_float_operations_in_lockstep():
    """Without a float unit every float D operation is an illegal SIW (rule 5), on the
    golden model and on the hardware alike, and the integer operations still run."""
    config = CoreConfig(float_latency=0, set_bits=2, ways=2, prog_depth=64)
    li = encode_siw(d=encode_slot("D", DOp.LI, rd=1, imm16=7))
    with Lockstep(config) as ls:
        for op in (DOp.ADD, DOp.SUB, DOp.MUL, DOp.MAC, DOp.MIN, DOp.MAX, DOp.ITOF, DOp.FTOI):
            fields = {"rd": 2, "rs1": 1} if op in (DOp.ITOF, DOp.FTOI) else {"rd": 2, "rs1": 1, "rs2": 1}
            words = [li, encode_siw(d=encode_slot("D", op, **fields))]
            records = ls.run_program(words, max_cycles=50)
            assert [(r.pc, r.fault) for r in records] == [(0, Fault.NONE), (1, Fault.ILLEGAL_SIW)], op
        for seed in range(6):
            ls.check_program(generate(seed, config))


def test_lutram_register_file_core_in_lockstep():
    """The core with the LUT RAM data register file (hdl/regfile.py, the ULX3S build's):
    every example and random programs in lockstep, with the registers also read back
    through the debug port (its read ports, not the observation shadow) after each run."""
    with Lockstep(CoreConfig(), regfile="lutram") as ls:
        ls.read_back = True
        for path in EXAMPLES:
            words = load_program_file(path).words
            assert ls.run_program(words, max_cycles=golden_cycles(words) + 100)[-1].ended
        for seed in range(8):
            ls.check_program(generate(seed, CoreConfig()))
        ls.compare_full_state()


@pytest.mark.parametrize("config", [CoreConfig(), CoreConfig(dim_bits=6, float_latency=0, set_bits=2,
                                                           ways=2, prog_depth=128)],
                         ids=["default", "no_float"])
def test_block_ram_register_file_core_in_lockstep(config):
    """The core with block RAM register files, five clocks per cycle (hdl/core.py
    ``regfile="bram"``, the iCEBreaker build's): every example (where it has floats)
    and random programs in lockstep, cycle for cycle of the architecture, with the
    registers read back through the debug port after each run."""
    with Lockstep(config, regfile="bram") as ls:
        assert ls.core.micro_cycles == 5
        ls.read_back = True
        if config.has_float:
            for path in EXAMPLES:
                words = load_program_file(path).words
                assert ls.run_program(words, max_cycles=golden_cycles(words) + 100)[-1].ended
        for seed in range(8):
            ls.check_program(generate(seed, config))
        ls.compare_full_state()


# ---------------------------------------------------------------- the pipelined core

#: The pipelined core (hdl/pipeline/) as the ULX3S builds it, float latency 7, and
#: others: the shortest float latencies it allows, one way, 6-bit dimensions with
#: a deeper float unit, no float unit.
PIPELINED = CoreConfig().with_timing(Timing.pipelined(7))
PIPELINED_OTHERS = [CoreConfig(float_latency=5, prog_depth=64),
                    CoreConfig(float_latency=6, set_bits=3, ways=1, prog_depth=64),
                    CoreConfig(dim_bits=6, float_latency=8, set_bits=5, ways=3),
                    CoreConfig(dim_bits=6, float_latency=0, set_bits=2, ways=2, prog_depth=128)]
PIPELINED_OTHERS = [c.with_timing(Timing.pipelined(c.float_latency)) for c in PIPELINED_OTHERS]


@pytest.mark.parametrize("path", EXAMPLES, ids=[os.path.basename(p) for p in EXAMPLES])
def test_example_in_lockstep_on_the_pipelined_core(path, sessions):
    words = load_program_file(path).words
    records = sessions(PIPELINED).run_program(
        words, max_cycles=golden_cycles(words, PIPELINED) + 100)
    assert records and records[-1].ended


@pytest.mark.parametrize("name", sorted(CORNERS))
def test_corner_program_in_lockstep_on_the_pipelined_core(name, sessions):
    words = assemble(CORNERS[name], f"<{name}>").words
    records = sessions(PIPELINED).run_program(
        words, max_cycles=golden_cycles(words, PIPELINED) + 100)
    assert records[-1].ended and records[-1].fault == CORNER_ENDS[name]


def test_seeded_random_programs_in_lockstep_on_the_pipelined_core(sessions):
    ls = sessions(PIPELINED)
    for seed in range(SEEDED_PROGRAMS // 2):
        ls.check_program(generate(seed, PIPELINED))
    ls.compare_full_state()


@pytest.mark.slow
def test_the_other_seeded_random_programs_in_lockstep_on_the_pipelined_core(sessions):
    ls = sessions(PIPELINED)
    for seed in range(SEEDED_PROGRAMS // 2, SEEDED_PROGRAMS):
        ls.check_program(generate(seed, PIPELINED))


@settings(max_examples=HYPOTHESIS_PROGRAMS, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                 HealthCheck.data_too_large])
@given(program=programs(PIPELINED))
def test_hypothesis_programs_in_lockstep_on_the_pipelined_core(sessions, program):
    sessions(program.config).check_program(program)


@pytest.mark.parametrize("config", PIPELINED_OTHERS, ids=["F5", "F6_one_way", "B6_F8", "no_float"])
def test_other_configurations_of_the_pipelined_core_in_lockstep(config):
    with Lockstep(config) as ls:
        for seed in range(4):
            ls.check_program(generate(seed, config))
        ls.compare_full_state()


def test_lutram_register_file_pipelined_core_in_lockstep():
    """The ULX3S's core exactly: pipelined, LUT RAM data register file; every example
    and random programs, the registers read back through the debug port."""
    with Lockstep(PIPELINED, regfile="lutram") as ls:
        assert ls.core.micro_cycles == 1
        ls.read_back = True
        for path in EXAMPLES:
            words = load_program_file(path).words
            assert ls.run_program(words, max_cycles=golden_cycles(words, PIPELINED) + 100)[-1].ended
        for seed in range(8):
            ls.check_program(generate(seed, PIPELINED))
        ls.compare_full_state()


def test_running_off_a_full_program_memory():
    """A program that fills program memory and has no HALT faults PC_RANGE at its end."""
    config = CoreConfig(prog_depth=16)
    words = [encode_siw(d=encode_slot("D", DOp.LI, rd=i, imm16=i)) for i in range(16)]
    with Lockstep(config) as ls:
        records = ls.run_program(words, max_cycles=100)
    assert records[-1].fault == Fault.PC_RANGE and records[-1].pc == 16


@pytest.mark.slow
@pytest.mark.parametrize("config", CONFIGS, ids=["default", "small_memory"])
def test_long_random_lockstep(config):
    """Many more seeded programs (run with ``-m slow``)."""
    with Lockstep(config) as ls:
        for seed in range(1000, 1600):
            ls.check_program(generate(seed, config))
        ls.compare_full_state()
        assert ls.siws > 20_000


# ---------------------------------------------------------------- the checker can fail

FLOAT_PROGRAM = """
    FLI r1, 1.5
    FLI r2, 2.0
    ADD r3, r1, r2
    MOV r4, r1
    HALT
"""


def test_checker_catches_a_wrong_result(monkeypatch):
    """A golden ADD that returns the wrong sum: the mismatch names the ADD."""
    from sim.golden import fp32
    words = assemble(FLOAT_PROGRAM, "<float>").words
    add_at = 4                                   # FLI takes two SIWs each
    real_add = fp32.fadd
    monkeypatch.setattr(fp32, "fadd", lambda a, b: real_add(a, b) ^ 1)
    with Lockstep(CoreConfig()) as ls, pytest.raises(LockstepMismatch) as info:
        ls.run_program(words, max_cycles=100)
    e = info.value
    assert e.index == add_at and e.pc == add_at, str(e)
    assert "ADD r3, r1, r2" in str(e) and "r3" in e.fields


def test_checker_catches_a_wrong_cycle():
    """A golden model that believes floats take one cycle longer: the SIW that waits
    for the ADD's result retires one cycle earlier on the RTL than predicted."""
    words = assemble("""
        FLI r1, 1.5
        ADD r3, r1, r1
        MOV r4, r3
        HALT
    """, "<cycle>").words
    with Lockstep(CoreConfig()) as ls:
        ls.machine.config = CoreConfig(float_latency=5)
        with pytest.raises(LockstepMismatch) as info:
            ls.run_program(words, max_cycles=100)
    e = info.value
    assert "retire" in " ".join(e.fields), str(e)
    assert e.pc == 3 and "MOV r4, r3" in str(e), str(e)


def test_checker_catches_wrong_placement(monkeypatch):
    """A golden memory that fills the *highest* free way: caught at the next look at the set."""
    from sim.golden.memory import CoordinateMemory
    real = CoordinateMemory.scatter

    def scatter_high(self, key, value):
        real(self, key, value)
        s = self._sets[self.set_of(key)]
        ways = [i for i, slot in enumerate(s) if slot is not None and slot[0] == key]
        free = [i for i, slot in enumerate(s) if slot is None]
        if ways and free and free[-1] > ways[0]:
            s[free[-1]], s[ways[0]] = s[ways[0]], None
    monkeypatch.setattr(CoordinateMemory, "scatter", scatter_high)
    words = assemble("""
        LI r1, 9
        SCATTER [c0], r1
        GATHER r2, [c0]
        HALT
    """, "<placement>").words
    with Lockstep(CoreConfig()) as ls, pytest.raises(LockstepMismatch) as info:
        ls.run_program(words, max_cycles=100)
    e = info.value
    assert e.pc == 2 and "GATHER" in str(e) and any("memory set" in f for f in e.fields), str(e)


# ---------------------------------------------------------------- the engine

def test_rtl_engine_matches_golden_engine(tmp_path):
    path = EXAMPLES[0] if EXAMPLES else None
    words = load_program_file(path).words if path else assemble(CORNERS["loops"], "<loops>").words
    golden = make_engine("golden", CoreConfig())
    golden.load_program(words)
    g = golden.run(1_000_000)
    from sim.engines.rtl import RtlEngine
    vcd = tmp_path / "run.vcd"
    with RtlEngine(CoreConfig(), vcd=str(vcd)) as rtl:
        rtl.load_program(words)
        r = rtl.run(1_000_000)
    assert r.diff(g) == [], r.diff(g)
    dump = vcd.read_bytes()
    assert b"$enddefinitions" in dump and dump.count(b"\n#") > g.cycles, "VCD without the run"


def test_rtl_engine_step_and_max_cycles():
    words = assemble(CORNERS["hazards"], "<hazards>").words
    golden, rtl = make_engine("golden", SMALL_MEMORY), make_engine("rtl", SMALL_MEMORY)
    for e in (golden, rtl):
        e.load_program(words)
        e.write_memory([(5, 7), (9, 11)])
    for _ in range(6):
        g, r = golden.step(), rtl.step()
        assert r.diff(g) == [], r.diff(g)
    # Stopped by the host: not halted.  Where exactly it stops differs (the golden
    # model stops before the cycle, the core at the next SIW boundary), so after
    # the rest of the run everything but the cycle count must agree.
    g, r = golden.run(max_cycles=g.cycles + 5), rtl.run(max_cycles=r.cycles + 5)
    assert not g.halted and not r.halted
    g, r = golden.run(), rtl.run()
    assert g.halted and set(r.diff(g)) <= {"cycles"}, r.diff(g)


def test_vtpu_sim_engine_rtl_with_vcd(tmp_path, capsys):
    """``vtpu sim --engine rtl --vcd FILE`` prints what the golden engine prints."""
    import json
    from sim.cli.main import main
    src = tmp_path / "p.vasm"
    src.write_text(CORNERS["hazards"])
    vcd = tmp_path / "wave.vcd"
    outputs = {}
    for engine in ("golden", "rtl"):
        argv = ["sim", str(src), "--json", "--engine", engine]
        if engine == "rtl":
            argv += ["--vcd", str(vcd)]
        assert main(argv) == 0
        outputs[engine] = json.loads(capsys.readouterr().out)
        del outputs[engine]["engine"]
    assert outputs["rtl"] == outputs["golden"]
    assert b"$enddefinitions" in vcd.read_bytes()
    assert main(["sim", str(src), "--vcd", str(vcd)]) == 2        # golden has no waveform
