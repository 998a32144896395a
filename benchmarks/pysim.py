"""How fast Amaranth's Python simulator runs the Sentron core, and where the time goes: ``python -m benchmarks.pysim``.

Why: the RTL engine and the lockstep checker (sim/engines/rtl.py, lockstep.py)
run only as fast as Amaranth's simulator runs hdl/core.py.  This script runs one
program (examples/reduction.vasm by default) on the default core with the RTL
engine, on the levelized simulator engine (sim/engines/levelized/) or on
Amaranth's own (``--amaranth``), and prints what explains the rate: simulated
cycles per second of wall and of CPU time, delta cycles per clock, and how often
each kind of process ran per clock; ``--profile N`` adds cProfile's N most
expensive functions.  (Amaranth's own view of the generated code:
``AMARANTH_pysim_dump=1`` leaves each compiled process in a temporary file.)
The figures depend on the machine and its load; nothing asserts them.
"""

import argparse
import os
import time

from benchmarks.environment import ROOT

__all__ = ["measure"]


def measure(path, sim_engine=None, profile=0):
    """Run ``path`` on a fresh default core; return a dict of the figures (and
    with ``profile`` the text of cProfile's top functions)."""
    from sim.asm.progfile import load_program_file
    from sim.engines.rtl import RtlEngine
    from sim.isa.encoding import CoreConfig
    words = load_program_file(path).words
    t0 = time.perf_counter()
    with RtlEngine(CoreConfig(), sim_engine=sim_engine) as rtl:
        rtl.load_program(words)
        setup = time.perf_counter() - t0
        engine = rtl._sim._engine           # pysim's engine: its delta cycles and processes
        runs = _count_runs(engine)
        deltas = engine._delta_cycles
        profiler = None
        if profile:
            import cProfile
            profiler = cProfile.Profile()
            profiler.enable()
        c0, t0 = time.process_time(), time.perf_counter()
        rtl.call(lambda ctx: rtl.driver.run(ctx))
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        if profiler is not None:
            profiler.disable()
        deltas = engine._delta_cycles - deltas
        counts = {kind: sum(c[0] for c in counters) for kind, counters in runs.items()}
        cycles = rtl.state().cycles
    out = {"engine": type(engine).__name__, "cycles": cycles, "setup": setup,
           "cycles_per_second": cycles / wall, "cpu_cycles_per_second": cycles / cpu,
           "deltas_per_clock": deltas / cycles,
           "runs_per_clock": {kind: n / cycles for kind, n in counts.items()},
           "processes": {kind: len(counters) for kind, counters in runs.items()}}
    if profiler is not None:
        import io
        import pstats
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(profile)
        out["profile"] = text.getvalue()
    return out


def _count_runs(engine):
    """Count each design process's runs: {"comb" or "clocked": [[runs], ...]}."""
    counters = {"comb": [], "clocked": []}
    for process in engine._processes:
        if not hasattr(process, "is_comb"):
            continue                        # the clock
        counter = [0]
        counters["comb" if process.is_comb else "clocked"].append(counter)
        run = process.run

        def counted(run=run, counter=counter):
            counter[0] += 1
            run()
        process.run = counted
    return counters


def _main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("program", nargs="?",
                        default=os.path.join(ROOT, "examples", "reduction.vasm"))
    parser.add_argument("--amaranth", action="store_true",
                        help="Amaranth's own simulator engine instead of the levelized one")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="also print cProfile's N most expensive functions")
    args = parser.parse_args(argv)
    sim_engine = None
    if args.amaranth:
        from amaranth.sim.pysim import PySimEngine
        sim_engine = PySimEngine
    r = measure(args.program, sim_engine, args.profile)
    print(f"{os.path.relpath(args.program, ROOT)} on {r['engine']}: {r['cycles']} cycles, "
          f"{r['cycles_per_second']:,.0f} cycles/s ({r['cpu_cycles_per_second']:,.0f} per CPU "
          f"second); setup {r['setup']:.1f} s")
    print(f"  {r['deltas_per_clock']:.1f} delta cycles per clock; process runs per clock: "
          + ", ".join(f"{kind} {n:.2f} ({r['processes'][kind]} processes)"
                      for kind, n in r["runs_per_clock"].items()))
    if "profile" in r:
        print(r["profile"])


if __name__ == "__main__":
    _main()
