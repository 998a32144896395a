"""The benchmarks (benchmarks/): their readers of build results and a quick run on one example.

Only behaviour is checked (what the benchmarks read from a nextpnr report, a build
log, a Yosys ``stat``, through boards/nextpnr_report.py and benchmarks/board_builds.py;
that a program row shows the golden model's counters); no wall-clock figure is
asserted.  The quick run goes through the entry point, ``benchmarks/run.py``, loaded
by its path as ``python benchmarks/run.py`` runs it.
"""

import importlib.util
import json
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)   # the benchmarks/ folder is not installed

from benchmarks import board_builds, synthesis            # noqa: E402
from benchmarks.page import DOC                            # noqa: E402
from benchmarks.targets import targets                     # noqa: E402
from boards.nextpnr_report import critical_path, log_fmax  # noqa: E402


@pytest.fixture(scope="module")
def run():
    spec = importlib.util.spec_from_file_location("bench_run",
                                                  os.path.join(ROOT, "benchmarks", "run.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _step(kind, frm, to, delay, sources=()):
    step = {"type": kind, "delay": delay, "from": {"cell": frm, "port": "Q"},
            "to": {"cell": to, "port": "D"}}
    if sources:
        step["sources"] = list(sources)
    return step


#: A nextpnr --report in the shape nextpnr 0.x writes: two clocks, their critical paths.
REPORT = {
    "fmax": {"$glbnet$clk": {"achieved": 22.5, "constraint": 20.0},
             "$glbnet$other": {"achieved": 150.0, "constraint": 20.0}},
    "utilization": {"TRELLIS_COMB": {"used": 19622, "available": 83640},
                    "TRELLIS_FF": {"used": 3300, "available": 83640},
                    "DP16KD": {"used": 20, "available": 208},
                    "MULT18X18D": {"used": 4, "available": 156}},
    "critical_paths": [
        {"from": "posedge $glbnet$other", "to": "posedge $glbnet$other",
         "path": [_step("clk-to-q", "x", "x", 0.5), _step("setup", "y", "y", 0.1)]},
        {"from": "<async>", "to": "posedge $glbnet$clk",
         "path": [_step("routing", "pin", "z", 3.0)]},
        {"from": "posedge $glbnet$clk", "to": "posedge $glbnet$clk",
         "path": [_step("clk-to-q", "top.core.regs.r1_FF", "top.core.regs.r1_FF", 0.5),
                  _step("routing", "top.core.regs.r1_FF", "top.core.fpu.a_LUT4", 2.0,
                        [os.path.join(ROOT, "hdl", "regfile.py") + ":40",
                         "/share/lattice/cells_map_trellis.v:108.23-108.24"]),
                  _step("logic", "top.core.fpu.a_LUT4", "top.core.fpu.a_LUT4", 0.4),
                  _step("routing", "top.core.fpu.a_LUT4", "top.core.issue.s_FF", 1.5,
                        [os.path.join(ROOT, "hdl", "float_unit.py") + ":99",
                         os.path.join(ROOT, "hdl", "regfile.py") + ":40"]),
                  _step("setup", "top.core.issue.s_FF", "top.core.issue.s_FF", 0.1)]},
    ],
}

TOP_IL = """module \\top
end
module \\top.top.core
  memory width 64 size 1024 \\prog
end
module \\top.top.core.d_lane.float_unit
end
module \\top.top.core.cregs
  wire width 99 \\reg0
end
module \\top.top.core.coord_memory
  memory width 124 size 256 \\way0
  memory width 124 size 256 \\way1
  memory width 124 size 256 \\way2
  memory width 124 size 256 \\way3
end
"""


def test_critical_path_of_the_slowest_clock():
    c = critical_path(REPORT)
    assert c["clock"] == "$glbnet$clk" and c["fmax"] == 22.5
    assert c["from"] == "top.core.regs.r1_FF" and c["to"] == "top.core.issue.s_FF"
    assert c["delay"] == pytest.approx(4.5)
    assert c["logic"] == 1
    assert c["by_module"] == {"top.core.fpu": 1}
    # The design's own sources, relative to the repository, once each, in path order.
    assert c["sources"] == [os.path.join("hdl", "regfile.py") + ":40",
                            os.path.join("hdl", "float_unit.py") + ":99"]
    assert critical_path({"fmax": {}}) is None


def test_fmax_lines_of_a_nextpnr_log():
    log = ("Info: Max frequency for clock 'clk': 48.30 MHz (PASS at 12.00 MHz)\n"
           "Info: Routing..\n"
           "Info: Max frequency for clock 'clk': 56.12 MHz (PASS at 12.00 MHz)\n")
    assert log_fmax(log) == [48.3, 56.12]
    assert log_fmax("Info: Program finished normally.\n") == []


def test_board_row_from_a_routed_build(tmp_path):
    (tmp_path / "report.json").write_text(json.dumps(REPORT))
    (tmp_path / "top.il").write_text(TOP_IL)
    row = board_builds.read_board_dir("ulx3s", tmp_path)
    assert row["status"] == "routed"
    assert row["design"] == ("Sentron core (B = 11, 256 sets x 4 ways, 1024 SIWs, "
                             "data registers in flip-flops)")   # the float unit's module is there
    assert row["util"]["LUT4s"] == (19622, 83640)
    assert row["clocks"]["$glbnet$clk"] == (22.5, 20.0)
    table = board_builds.board_table([row])
    assert "**22.5 MHz**" in table and "19622 / 83640" in table and "20 / 208" in table
    assert "`top.core.regs.r1_FF`" in table and "`top.core.fpu` 1" in table
    text = targets([], None, [row], None, None)
    line = next(l for l in text.splitlines() if "LFE5U-85F" in l)
    assert "22.5 MHz" in line and "NOT met" in line and "top.core.issue.s_FF" in line


def test_board_row_from_a_build_that_does_not_fit(tmp_path):
    (tmp_path / "top.il").write_text(TOP_IL.replace("size 256", "size 64"))
    (tmp_path / "build.log").write_text(
        "Info: Device utilisation:\n"
        "Info: \t         ICESTORM_LC:   22140/   5280   419%\n"
        "Info: \t        ICESTORM_RAM:      20/     30    66%\n"
        "Info: \t        ICESTORM_DSP:       0/      8     0%\n"
        "ERROR: Unable to place cell 'x', no BELs remaining to implement cell type "
        "'ICESTORM_LC'\n")
    row = board_builds.read_board_dir("icebreaker", tmp_path)
    assert row["design"] == ("Sentron core (B = 11, 64 sets x 4 ways, 1024 SIWs, "
                             "data registers in flip-flops)")
    assert row["status"] == "does not fit"
    assert row["over"] == {"ICESTORM_LC": (22140, 5280)}
    table = board_builds.board_table([row])
    assert "**does not fit**: ICESTORM_LC 22140 / 5280" in table and "| 20 / 30 |" in table
    text = targets([], None, [row], None, None)
    assert "does not fit: ICESTORM_LC 22140 / 5280" in text


def test_board_row_of_a_core_with_several_clocks_per_cycle(tmp_path):
    """The iCEBreaker's kind of core: no float unit, its units under .core.arch, block
    RAM register files; the target row gives the clock and the core cycle rate."""
    (tmp_path / "top.il").write_text(
        "module \\top.top.core\nend\n"
        "module \\top.top.core.arch\n  memory width 64 size 256 \\prog\nend\n"
        "module \\top.top.core.arch.coord_memory\n"
        "  memory width 81 size 64 \\way0\n  memory width 81 size 64 \\way1\nend\n"
        "module \\top.top.core.regs\n  memory width 32 size 32 \\copy0\nend\n"
        "module \\top.top.core.cregs\n  memory width 54 size 8 \\copy0\nend\n")
    report = json.loads(json.dumps(REPORT))
    report["fmax"] = {"clk": {"achieved": 15.0, "constraint": 12.0}}
    report["utilization"] = {"ICESTORM_LC": {"used": 5101, "available": 5280}}
    (tmp_path / "report.json").write_text(json.dumps(report))
    row = board_builds.read_board_dir("icebreaker", tmp_path)
    assert row["design"] == ("Sentron core (B = 6, 64 sets x 2 ways, 256 SIWs, no float unit, "
                             "register files in block RAM, 5 clocks per cycle)")
    text = targets([], None, [row], None, None)
    line = next(l for l in text.splitlines() if "iCE40UP5K" in l)
    assert "15.0 MHz clock, 5 clocks per core cycle: 3.0 M core cycles/s" in line
    assert "NOT met" in line


def test_board_dir_must_hold_the_core(tmp_path):
    (tmp_path / "report.json").write_text(json.dumps(REPORT))
    (tmp_path / "top.il").write_text("module \\top\nend\nmodule \\top.link\nend\n")
    with pytest.raises(SystemExit, match="not a build of the Sentron core"):
        board_builds.read_board_dir("ulx3s", tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "top.il").write_text(TOP_IL)
    with pytest.raises(SystemExit, match="is the build finished"):
        board_builds.read_board_dir("ulx3s", empty)


def test_module_breakdown_sums_children():
    stat = {"modules": {
        "\\top": {"num_cells_by_type": {"SB_LUT4": 10, "SB_DFF": 2, "SB_RAM40_4K": 4,
                                        "top.fpu": 1}},
        "\\top.fpu": {"num_cells_by_type": {"SB_LUT4": 100, "SB_CARRY": 7}},
        "\\top.fpu.product": {"num_cells_by_type": {"SB_LUT4": 50, "SB_MAC16": 1,
                                                    "SB_DFFE": 3}},
        "\\top.regs": {"num_cells_by_type": {"SB_LUT4": 300, "SB_DFFESR": 64}},
    }}
    groups = synthesis.module_breakdown(stat)
    assert groups["top glue"]["luts"] == 10 and groups["top glue"]["brams"] == 4
    assert groups["fpu"] == {"luts": 150, "ffs": 3, "carries": 7, "brams": 0, "dsps": 1,
                             "modules": 2}
    assert groups["regs"]["ffs"] == 64
    table = synthesis.breakdown_table(groups)
    assert table.splitlines()[2].startswith("| regs | 300 |")     # largest first
    assert "| **total** | **460** |" in table


def test_ice40_budget_groups_the_board_top_by_unit():
    from benchmarks import ice40_budget
    stat = {"modules": {
        "\\top": {"num_cells_by_type": {"SB_LUT4": 2}},
        "\\top.link": {"num_cells_by_type": {"SB_LUT4": 900, "SB_DFFESR": 400}},
        "\\top.uart_rx": {"num_cells_by_type": {"SB_LUT4": 20}},
        "\\top.uart_rx.sync": {"num_cells_by_type": {"SB_LUT4": 2}},
        "\\top.uart_tx": {"num_cells_by_type": {"SB_LUT4": 25}},
        "\\top.core": {"num_cells_by_type": {"SB_LUT4": 7}},
        "\\top.core.arch": {"num_cells_by_type": {"SB_LUT4": 300}},
        "\\top.core.arch.d_lane": {"num_cells_by_type": {"top.core.arch.d_lane.int_alu": 1}},
        "\\top.core.arch.d_lane.int_alu": {"num_cells_by_type": {"SB_LUT4": 480}},
        "\\top.core.arch.d_lane.float_unit.sum": {"num_cells_by_type": {"SB_LUT4": 50}},
        "\\top.core.arch.d_lane.float_unit.product": {"num_cells_by_type": {"SB_LUT4": 200,
                                                                            "SB_MAC16": 4}},
        "\\top.core.regs": {"num_cells_by_type": {"SB_LUT4": 440, "SB_RAM40_4K": 4}},
    }}
    groups = ice40_budget.logic_groups(stat)
    assert groups["glue"]["luts"] == 2 + 7 + 300        # the top, core and arch levels
    assert groups["float_unit"] == {"luts": 250, "ffs": 0, "carries": 0, "brams": 0, "dsps": 4}
    assert groups["d_lane"]["luts"] == 480              # the integer ALU, not the float unit
    assert groups["uart"]["luts"] == 47 and groups["link"]["ffs"] == 400
    assert groups["regs"]["brams"] == 4


def test_ice40_budget_memory_and_register_file_arithmetic():
    from benchmarks import ice40_budget
    rows = {r["dim_bits"]: r for r in ice40_budget.memory_rows((5, 6, 11))}
    # An entry: 32 value bits, a valid bit, the 9B-bit key less 14 set bits.
    assert rows[5]["entry_bits"] == 64 and rows[5]["fits"]           # exactly 2**20 bits
    assert rows[6]["entry_bits"] == 73 and not rows[6]["fits"]
    assert rows[6]["bits"] == 16384 * 73
    # At B = 11: 8192 entries of 32 + 1 + 99 - 13 = 119 bits fit 2**20, 16384 of 118 do not.
    assert rows[11]["most_entries"] == 8192 and rows[5]["most_entries"] == 16384
    assert [r["rate"] for r in ice40_budget.clock_rows(15.0, (1, 5))] == [15e6, 3e6]


def test_ice40_budget_table_totals_against_the_part():
    from benchmarks import ice40_budget
    logic = {"a": {"link": {"luts": 1000}, "core": {"luts": 4280}},
             "b": {"link": {"luts": 1000}, "core": {"luts": 4280}, "float_unit": {"luts": 2640}}}
    regfiles = {"ff": {"luts": 8000, "ffs": 1024},
                "ebr": [{"clocks": 1, "data": 40, "cregs": 12, "prog": 16, "total": 68}]}
    text = ice40_budget.budget_text(logic, regfiles, ice40_budget.memory_rows((6,)))
    assert "| **total** | **5,280** (100 % of the part) | **7,920** (150 % of the part) |" in text
    assert "| float_unit | — | 2640 |" in text
    assert "| 1 | 40 | 12 | 16 | **68** | 30 |" in text
    assert "| 6 | 54 | 73 | 1,196,032 | no | 8,192 |" in text


def test_units_table_puts_the_slowest_first_and_the_target_names_those_below_it():
    rows = [{"unit": "decoder", "fmax": 151.7, "luts": 209, "ffs": 78, "brams": 0, "dsps": 0},
            {"unit": "coordinate memory", "fmax": 72.3, "luts": 5335, "ffs": 2448,
             "brams": 56, "dsps": 0},
            {"unit": "C lane", "fmax": 93.0, "luts": 707, "ffs": 434, "brams": 0, "dsps": 0}]
    lines = synthesis.unit_table(rows).splitlines()
    assert lines[2] == "| coordinate memory | 5335 | 2448 | 56 | 0 | 72.3 MHz |"
    assert [l.split("|")[1].strip() for l in lines[2:]] == ["coordinate memory", "C lane", "decoder"]
    line = next(l for l in targets([], None, [], None, None, units=rows).splitlines()
                if "LFE5U-85F" in l)
    assert "below it: coordinate memory 72.3 MHz, C lane 93.0 MHz |" in line
    assert "decoder" not in line


def test_the_units_measured_alone_are_the_ulx3s_cores():
    """`python -m benchmarks.fmax --units` builds each unit as the ULX3S's core does."""
    import gc
    import warnings
    from amaranth.hdl import UnusedElaboratable
    from amaranth.lib import wiring
    from benchmarks.fmax import UNITS
    from boards.ulx3s import CONFIG
    # The units are made to be looked at, never elaborated: collect them here, so
    # Amaranth's "created but never used" warning does not land on a later test.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)
        made = {name: make() for name, make in UNITS().items()}
        assert all(isinstance(unit, wiring.Component) for unit in made.values())
        assert made["issue"].float_latency == CONFIG.float_latency == 7
        memory = made["coordinate memory"]
        assert (memory.set_bits, memory.ways) == (CONFIG.set_bits, CONFIG.ways) == (11, 4)
        assert type(memory).__module__ == "hdl.pipeline.coord_memory"
        del made, memory
        gc.collect()


def test_quick_run_on_one_example(run, capsys):
    from sim.isa.encoding import CoreConfig
    from sim.golden.machine import Machine
    from sim.asm.progfile import load_program_file
    path = os.path.join(ROOT, "examples", "micro_vtpu.vasm")
    m = Machine(CoreConfig())
    m.load_program(load_program_file(path).words)
    g = m.run(100_000)
    before = open(DOC).read()
    # The GPT section is left out: its runs are the full benchmark's, its RTL run the
    # one tests/test_gpt_core.py checks, and its table is checked on its own below.
    assert run.main(["--no-synth", "--no-engines", "--no-gpt", "--no-write", path]) == 0
    out = capsys.readouterr().out
    row = next(l for l in out.splitlines() if l.startswith("| micro_vtpu.vasm |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1:5] == [str(g.cycles), str(g.siws), str(g.ops), f"{g.ops / g.cycles:.2f}"]
    assert cells[6].startswith("equal")
    assert "### Targets" in out and "### GPT" not in out
    assert open(DOC).read() == before


def test_gpt_table_from_its_measurements():
    """Per token from golden's cycles; each engine's tokens/s against plain Python; the
    boards' projections at their cycle rates."""
    from benchmarks.gpt import gpt_table
    result = {"rows": [
        {"engine": "golden", "names": ["ann", "bo"], "tokens": 10, "cycles": 100_000,
         "ops": 170_000, "seconds": 2.0, "same": True},
        {"engine": "fast", "names": ["ann", "bo"], "tokens": 10, "cycles": 100_000,
         "ops": 170_000, "seconds": 0.5, "same": True},
        {"engine": "rtl", "cycles_run": 400, "seconds": 4.0, "same": False}],
        "python_tokens_per_second": 50.0, "boards": {"ulx3s": 40e6, "icebreaker": 2.4e6},
        "siws": 819, "samples": 2, "seed": 1}
    lines = gpt_table(result).splitlines()
    assert lines[0] == "2 names sampled (seed 1, temperature 0.5) by the 819-SIW program: ann, bo; 10 tokens."
    assert "| golden | 10,000 | 1.70 | 5.0 | 0.1x | yes |" in lines
    assert "| fast | 10,000 | 1.70 | 20.0 | 0.4x | yes |" in lines
    # 400 cycles in 4 s at 10,000 cycles a token: 0.01 tokens/s; its state differed.
    assert "| rtl (first 400 cycles) | 10,000 | | 0.010 | 0.0002x | NO |" in lines
    assert "| ulx3s, 40 M | 4,000 | 80x |" in lines
    assert lines[-1] == "Plain Python (sim/gpt/reference.py, float64, the same tokens): 50 tokens/s."


def test_entry_point_runs_as_a_script():
    """``python benchmarks/run.py``: run as a script (its folder first on the path, no
    package), it finds its section modules and keeps its options."""
    import subprocess
    out = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "run.py"), "--help"],
                         capture_output=True, text=True, cwd=os.path.join(ROOT, "docs"), check=True)
    for option in ("--no-synth", "--no-engines", "--no-write", "--engine-program", "--boards",
                   "--board-report", "--pipelined"):
        assert option in out.stdout


def test_pysim_measures_the_default_core_on_both_simulator_engines():
    """benchmarks/pysim.py: the whole program on either engine (the golden model's
    cycle count), and the figures that explain the rate: the levelized engine
    evaluates the comb logic once per clock, Amaranth's several times."""
    from amaranth.sim.pysim import PySimEngine
    from benchmarks import pysim
    from sim.asm.progfile import load_program_file
    from sim.golden.machine import Machine
    from sim.isa.encoding import CoreConfig
    path = os.path.join(ROOT, "examples", "micro_vtpu.vasm")
    m = Machine(CoreConfig())
    m.load_program(load_program_file(path).words)
    cycles = m.run(10_000).cycles
    ours, amaranths = pysim.measure(path), pysim.measure(path, PySimEngine)
    assert ours["engine"] == "LevelizedEngine" and amaranths["engine"] == "PySimEngine"
    assert ours["cycles"] == amaranths["cycles"] == cycles
    assert ours["processes"] == {"comb": 1, "clocked": 1}
    assert ours["runs_per_clock"]["comb"] < 1.5 < amaranths["runs_per_clock"]["comb"]
    assert ours["deltas_per_clock"] < amaranths["deltas_per_clock"]


def test_timing_section_columns_and_option(run, capsys):
    from sim.isa.encoding import CoreConfig, Timing
    from benchmarks.timing import timing_configs
    columns = timing_configs(CoreConfig(set_bits=11), [8, 12])
    assert [t for t, _ in columns] == ["three-stage F=4", "pipelined F=8", "pipelined F=12"]
    assert columns[2][1] == CoreConfig(set_bits=11, float_latency=12, timing=Timing.pipelined(12))
    # A pipelined base (the GPT's core) still starts from the three-stage core's table.
    base = CoreConfig(set_bits=11).with_timing(Timing.pipelined(8))
    assert timing_configs(base, [])[0][1] == CoreConfig(set_bits=11)
    with pytest.raises(SystemExit):
        run.main(["--pipelined", "3"])
    assert "commit_depth" in capsys.readouterr().err


def test_every_unit_of_the_synthesis_table_can_be_built():
    """Each row's factory makes its unit (a board's core is the core its timing table
    names: the ULX3S's the pipelined one), so `benchmarks/run.py` does not stop
    half-way through the synthesis section."""
    import gc
    import warnings
    from amaranth.hdl import UnusedElaboratable
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)     # built, not synthesised here
        units = synthesis.components()
        made = {unit[0]: unit[1]() for unit in units}          # (label, factory[, families])
        ulx3s = next(label for label in made if label.startswith("Sentron core (ULX3S"))
        module = type(made[ulx3s]).__module__
        del made, units
        gc.collect()
    assert module == "hdl.pipeline.core"
    assert "float latency 7" in ulx3s


def test_targets_take_the_slowest_seed_and_the_ulx3s_table(tmp_path):
    """Several builds of one board (seeds): the Fmax target is judged on the slowest,
    each listed; the reduction target also on the ULX3S's core's table."""
    rows = []
    for seed, fmax in ((1, 48.4), (2, 42.7)):
        d = tmp_path / f"s{seed}"
        d.mkdir()
        report = json.loads(json.dumps(REPORT))
        report["fmax"] = {"$glbnet$clk": {"achieved": fmax, "constraint": 40.0}}
        (d / "report.json").write_text(json.dumps(report))
        (d / "top.il").write_text(TOP_IL)
        (d / "build_top.sh").write_text(f'"$NEXTPNR_ECP5" --seed {seed} --85k\n')
        rows.append(board_builds.read_board_dir("ulx3s", d))
    timing = {"titles": ["three-stage F=4", "pipelined F=7"],
              "examples": {"reduction.vasm": [2.90, 2.84]}, "kernels": {}}
    text = targets([], None, rows, None, None, timing=timing)
    line = next(l for l in text.splitlines() if "LFE5U-85F" in l)
    assert "42.7 MHz (the lowest of 48.4 MHz at seed 1, 42.7 MHz at seed 2)" in line
    assert "NOT met" in line
    red = next(l for l in text.splitlines() if "ULX3S's core (pipelined F=7)" in l)
    assert "| 2.84 | NOT met | no bound worked out for this table |" in red
    # At F = 8 the reason is the bound on the work (benchmarks/targets.py).
    from benchmarks import targets as targets_module
    assert "1,063 cycles" in targets_module._REDUCTION_BOUNDS[8]
    assert "seed 2" in board_builds.board_table(rows)
