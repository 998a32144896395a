#!/usr/bin/env python3
"""Benchmarks of the Sentron: programs, simulation engines, hardware cost, boards.

    python benchmarks/run.py                          # everything but the board builds;
                                                      # rewrites docs/benchmarks.md
    python benchmarks/run.py --board-report ulx3s=DIR # + a board row from an existing
                                                      # `vtpu build` directory
    python benchmarks/run.py --boards                 # + run the full-core board builds
                                                      # (minutes each)
    python benchmarks/run.py --no-synth               # programs and engines only
    python benchmarks/run.py --no-write               # print, do not touch docs/benchmarks.md
    python benchmarks/run.py --only-gpt               # the GPT section only (printed)
    python benchmarks/run.py --pipelined 8 12 16      # the timing tables' section only: the
                                                      # examples, kernels and GPT on the
                                                      # golden model, default and pipelined

Sections of the output, every figure measured by this script, one module each:

1. **Programs** (``programs.py``): every ``examples/*.vasm`` runs on the RTL
   (Amaranth's simulator) in lockstep with the golden model (sim/engines/lockstep.py:
   every SIW and every cycle compared); cycles, SIWs, ops and ops/cycle are the
   hardware's counters.
2. **Engines** (``engines.py``): one program (default ``examples/reduction.vasm``)
   on every engine -- the golden model, the RTL on Amaranth's simulator (alone and
   in lockstep), the generated Verilog under Icarus Verilog, the fast (Verilator)
   engine -- as simulated cycles per second of the run itself (one-time setup
   reported apart), each final state compared with the golden model's.
3. **GPT** (``gpt.py``): the GPT's generation loop (sim/gpt/program.py) on the
   golden, fast and (a cycle-limited start) RTL engines: cycles/token, ops/cycle,
   tokens/s, projected at each board's clock, beside the float64 forward pass in
   plain Python as a ratio.
4. **Synthesis** (``synthesis.py``): Yosys cell counts of every unit after
   ``synth_ice40`` and ``synth_ecp5`` (boards/synth.py); the per-module iCE40 LUTs
   of the core at the iCEBreaker configuration (``synth_ice40 -noflatten -dsp``);
   the float unit alone placed and routed on both families (benchmarks/fmax.py);
   the iCEBreaker's budget for the whole machine (``ice40_budget.py``: its board top
   per module with and without the float unit, the register files and the SPRAM
   memory each way they could be built).
5. **Boards** (``board_builds.py``): the full-core builds' nextpnr reports
   (``--boards`` or ``--board-report BOARD=DIR``, read by boards/nextpnr_report.py):
   Fmax against the board clock, cells, BRAM, DSP, the critical path's ends; the
   iCEBreaker from its synthesis when not built.
6. **Targets** (``targets.py``): each target with its measured value, met or not,
   and what limits it.

``--pipelined F ...`` runs one section of its own instead (``timing.py``): every
example's ops/cycle, every kernel's ops/cycle compiled for the table and the GPT's
cycles/token, on the golden model for the default timing table and the pipelined
core's (docs/isa.md section 7) at each float latency F.

The text goes to standard output and into docs/benchmarks.md between its markers
(``page.py``), so the page is always the output of this script.  Wall-clock figures
depend on the machine and its load and are never asserted by a test.  This file is
the entry point only: it parses the options and puts the sections together.
"""

import argparse
import datetime
import glob
import os
import sys

# Run as a script (``python benchmarks/run.py``), the repository is not on the path.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from benchmarks.board_builds import (BOARD_PARTS, board_table, icebreaker_synth_row,  # noqa: E402
                                     read_board_dir, run_board_build)
from benchmarks.engines import ENGINE_PROGRAM, bench_engines, engine_table  # noqa: E402
from benchmarks.environment import environment, say  # noqa: E402
from benchmarks.gpt import bench_gpt, gpt_table  # noqa: E402
from benchmarks.ice40_budget import (bench_logic, bench_regfiles, budget_text,  # noqa: E402
                                     memory_rows)
from benchmarks.page import DOC, write_doc  # noqa: E402
from benchmarks.programs import bench_program, program_table  # noqa: E402
from benchmarks.synthesis import (bench_breakdown, bench_fp_fmax, bench_synth,  # noqa: E402
                                  bench_unit_fmax, breakdown_table, config_text, fp_table,
                                  synth_table, unit_table)
from benchmarks.targets import targets  # noqa: E402
from benchmarks.timing import bench_timing, ops_per_second_table, timing_table  # noqa: E402

__all__ = ["main"]


def _board_report_arg(text):
    board, sep, directory = text.partition("=")
    if not sep or board not in BOARD_PARTS or not directory:
        raise argparse.ArgumentTypeError(f"expected BOARD=DIR with BOARD one of "
                                         f"{', '.join(BOARD_PARTS)}")
    return board, directory


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-synth", action="store_true",
                        help="skip synthesis, the float unit's place and route and the "
                             "iCEBreaker row (minutes)")
    parser.add_argument("--no-engines", action="store_true", help="skip the engine speeds")
    parser.add_argument("--no-gpt", action="store_true",
                        help="skip the GPT section (names generated on each engine)")
    parser.add_argument("--only-gpt", action="store_true",
                        help="the GPT section only (prints it; docs/benchmarks.md left as it is)")
    parser.add_argument("--no-write", action="store_true", help="do not rewrite docs/benchmarks.md")
    parser.add_argument("--no-timing", action="store_true",
                        help="skip the Timing tables section (every example and kernel on "
                             "each core's table; also skipped for a run on chosen programs)")
    parser.add_argument("--engine-program", default=ENGINE_PROGRAM, metavar="FILE",
                        help="the program every engine runs (default: examples/reduction.vasm)")
    parser.add_argument("--boards", action="store_true",
                        help="build both boards' full cores (boards/build.py) into "
                             "build/bench/<board> and report them (minutes each)")
    parser.add_argument("--board-report", action="append", type=_board_report_arg, default=[],
                        metavar="BOARD=DIR", help="take BOARD's row from an existing `vtpu "
                        "build` directory (its report.json, or build.log if it did not fit)")
    parser.add_argument("--pipelined", type=int, nargs="+", metavar="F",
                        help="only the timing tables' section (printed): the golden model's "
                             "figures for the default table and the pipelined core's at float "
                             "latency F (docs/isa.md section 7)")
    parser.add_argument("examples", nargs="*", help="programs (default: examples/*.vasm)")
    args = parser.parse_args(argv)
    if args.only_gpt:
        print(gpt_table(bench_gpt()))
        return 0
    if args.pipelined:
        from sim.isa.encoding import Timing
        for latency in args.pipelined:
            try:
                Timing.pipelined(latency)
            except ValueError as e:
                parser.error(str(e))
        print(timing_table(bench_timing(args.pipelined)))
        return 0
    paths = args.examples or sorted(glob.glob(os.path.join(ROOT, "examples", "*.vasm")))
    env = environment()
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    # Existing build directories are read first: a wrong one fails before the long runs.
    read = {}                       # board -> its rows (one per build directory: e.g. per seed)
    for board, directory in args.board_report:
        read.setdefault(board, []).append(read_board_dir(board, directory))

    programs = []
    for path in paths:
        say(f"running {os.path.basename(path)} in lockstep ...")
        programs.append(bench_program(path))
    parts = [f"Measured by `python benchmarks/run.py` on {env}; started {started}.", "",
             "### Programs (default configuration; RTL in lockstep with the golden model)",
             "", program_table(programs)]

    engines = None
    if not args.no_engines:
        say(f"engines on {os.path.basename(args.engine_program)} ...")
        same = next((p for p in programs
                     if os.path.abspath(p["path"]) == os.path.abspath(args.engine_program)), None)
        engines = bench_engines(args.engine_program, same)
        parts += ["", "### Engines (simulated cycles per second, same program)", "",
                  engine_table(engines, args.engine_program)]

    if not args.no_gpt:
        parts += ["", "### GPT (sim/gpt/program.py: the generation loop on the core)", "",
                  gpt_table(bench_gpt())]

    # Every program on each core's table, and what the ULX3S's core makes of it.
    timing = None
    if not (args.no_timing or args.examples):
        from boards.ulx3s import CONFIG as ULX3S, DEFAULT_FREQ as ULX3S_FREQ
        ulx3s_f = ULX3S.float_latency
        timing = bench_timing([ulx3s_f, 12])
        routed = [r for r in read.get("ulx3s", []) if r["status"] == "routed"]
        fmax = min((min(a for a, _ in r["clocks"].values()) for r in routed), default=None)
        parts += ["", "### Timing tables (golden model; the hardware equals it cycle for cycle)", "",
                  timing_table(timing), "",
                  f"On the ULX3S (its core: pipelined, F = {ulx3s_f}; its clock "
                  f"{ULX3S_FREQ / 1e6:g} MHz" + (f"; the lowest Fmax of its builds here "
                                                f"{fmax:.1f} MHz" if fmax else "") + "):", "",
                  ops_per_second_table(timing, f"pipelined F={ulx3s_f}", ULX3S_FREQ / 1e6, fmax)]
    boards, breakdown, fp_rows, unit_rows = [], None, None, None
    if not args.no_synth:
        from sim.isa.encoding import CoreConfig
        from boards.icebreaker import CONFIG as ICE, REGFILE as ICE_REGFILE
        say("synthesising ...")
        synth_rows = bench_synth()
        parts += ["", "### Synthesis (Yosys `synth_ice40` / `synth_ecp5`, before placement)", "",
                  synth_table(synth_rows)]
        say("per-module iCE40 breakdown ...")
        breakdown = bench_breakdown(ICE, ICE_REGFILE)
        parts += ["", f"### Sentron per module on iCE40 (iCEBreaker: {config_text(ICE)}, "
                  f"register files: {ICE_REGFILE}; "
                  "`synth_ice40 -noflatten -dsp`, then `stat`)", "",
                  "Each submodule's own cells, its children summed in; without flattening "
                  "Yosys cannot optimise across module boundaries, so the total differs a "
                  "little from the flat figure above.", "", breakdown_table(breakdown)]
        say("float unit place and route ...")
        latency = CoreConfig().float_latency
        fp_rows = bench_fp_fmax(latency)
        parts += ["", "### Float unit alone, placed and routed", "", fp_table(fp_rows, latency)]
        say("the ULX3S core's units, each placed and routed alone ...")
        unit_rows = bench_unit_fmax()
        parts += ["", "### The ULX3S core's units alone, placed and routed", "",
                  "Each unit of the pipelined core as the ULX3S builds it, between registers "
                  "(every input from a register, every output into one), on the LFE5U-85F, "
                  "placed for 100 MHz, nextpnr seed 1 (`python -m benchmarks.fmax --units`): "
                  "the clock its own paths allow, before any wiring between units. Register "
                  "counts include the wrapper's.", "", unit_table(unit_rows)]
        boards.append(icebreaker_synth_row(synth_rows))
        say("the iCEBreaker's budget for the whole machine ...")
        ice_builds = [r for r in read.get("icebreaker", []) if r["status"] == "routed"]
        parts += ["", "### The whole machine on the iCEBreaker: the budget "
                  "(`python -m benchmarks.ice40_budget`)", "",
                  budget_text(bench_logic(), bench_regfiles(), memory_rows(),
                              ice_builds[0] if ice_builds else None)]

    if args.boards:
        for board in BOARD_PARTS:
            if board not in read:
                read[board] = [run_board_build(board, os.path.join(ROOT, "build", "bench"))]
    for board, rows in read.items():
        boards = [b for b in boards if b["board"] != board] + rows
    if boards:
        boards.sort(key=lambda b: list(BOARD_PARTS).index(b["board"]))
        parts += ["", "### Boards (full core)", "", board_table(boards)]

    parts += ["", "### Targets", "", targets(programs, engines, boards, breakdown, fp_rows,
                                             timing=timing, units=unit_rows)]
    text = "\n".join(parts)
    print(text)
    if not args.no_write:
        if (args.no_synth or args.no_engines or args.no_gpt or args.no_timing or args.examples) \
                and os.path.exists(DOC):
            print("(a partial run: docs/benchmarks.md left as it is)", file=sys.stderr)
        else:
            write_doc(text)
            print(f"wrote {os.path.relpath(DOC, ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
