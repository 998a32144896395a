"""The Engines section: one program on every simulation engine, its speed and its final state.

Why: the engines (golden model, the RTL on Amaranth's simulator alone and in
lockstep, the generated Verilog under Icarus Verilog, the fast Verilator engine)
trade speed for closeness to the hardware; each row gives the rate of the run
itself, its one-time setup apart, and is only written once its final state equals
the golden model's.
"""

import os
import resource
import time
import warnings

from benchmarks.environment import ROOT, say
from benchmarks.programs import REGFILE_TEXT, bench_program, regfile_text

__all__ = ["ENGINE_PROGRAM", "bench_engines", "engine_table"]

#: The program every engine runs (the scheduled kernel of the ops/cycle target).
ENGINE_PROGRAM = os.path.join(ROOT, "examples", "reduction.vasm")


def _children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _verdict(state, golden):
    diff = state.diff(golden)
    if diff:
        raise SystemExit(f"final state differs from the golden model's in {diff}")
    return "equal"


def bench_engines(path, lockstep_row=None, min_time=0.5):
    """Every engine on the program at ``path``: list of row dicts (see engine_table)."""
    from sim.isa.encoding import CoreConfig
    from sim.golden.machine import Machine
    from sim.asm.progfile import load_program_file
    config = CoreConfig()
    words = load_program_file(path).words
    rows = []

    # Golden model: repeated until min_time, each call a fresh machine.
    def golden():
        m = Machine(config)
        m.load_program(words)
        c0 = time.process_time()
        t0 = time.perf_counter()
        st = m.run(10_000_000)
        return st, time.perf_counter() - t0, time.process_time() - c0
    runs, start = [], time.perf_counter()
    while not runs or time.perf_counter() - start < min_time:
        runs.append(golden())
    g = runs[-1][0]
    wall, cpu = sum(r[1] for r in runs), sum(r[2] for r in runs)
    rows.append({"engine": "golden", "what": "`sim/golden/machine.py` (Python)", "runs": len(runs),
                 "regfile": "—",
                 "cycles": g.cycles, "wall": wall / len(runs), "cpu": cpu / len(runs),
                 "setup": None, "check": "is the reference"})
    say(f"  golden: {g.cycles / rows[-1]['wall']:,.0f} cycles/s")

    # The RTL on Amaranth's simulator, alone (timed: the RUN itself, not the state dump).
    from sim.engines.rtl import RtlEngine
    t0 = time.perf_counter()
    with RtlEngine(config) as rtl:
        rtl.load_program(words)
        setup = time.perf_counter() - t0
        c0, t0 = time.process_time(), time.perf_counter()
        rtl.call(lambda ctx: rtl.driver.run(ctx))
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        st = rtl.state()
        regfile = regfile_text(rtl.core)
    rows.append({"engine": "pysim", "what": "`hdl/core.py` on Amaranth's Python simulator "
                 "(levelized engine, `sim/engines/levelized/`)",
                 "regfile": regfile,
                 "runs": 1, "cycles": st.cycles, "wall": wall, "cpu": cpu, "setup": setup,
                 "setup_what": "elaboration, simulator start, program load",
                 "check": _verdict(st, g)})
    say(f"  pysim: {st.cycles / wall:,.0f} cycles/s")
    if lockstep_row is None:
        lockstep_row = bench_program(path)
    rows.append({"engine": "pysim + lockstep", "what": "the same, checked SIW by SIW and "
                 "cycle by cycle against the golden model (`sim/engines/lockstep.py`)", "runs": 1,
                 "cycles": lockstep_row["cycles"], "wall": lockstep_row["lockstep_seconds"],
                 "regfile": lockstep_row["regfile"],
                 "cpu": None, "setup": None, "check": "equal (lockstep)"})

    rows.append(_bench_icarus(config, words, g))
    rows.append(_bench_fast(config, words, g, min_time))
    return rows


def _bench_icarus(config, words, g):
    """The generated Verilog under Icarus Verilog, through sim/engines/verilog.py's bench.

    The bench loads the program over the debug port, runs it and dumps the whole
    state (every memory slot); so it also runs the same program with its first SIW
    replaced by HALT, which costs the same load, dump and start-up, and the run's
    time is the difference of the two."""
    from sim.asm.assembler import assemble
    from sim.golden.machine import Machine
    from sim.engines.verilog import VerilogSim, VerilogSimError, find_simulator, generate_verilog
    row = {"engine": "icarus", "what": "generated Verilog (`vtpu verilog`) under Icarus "
           "Verilog (`iverilog` + `vvp`), debug-port test bench of `sim/engines/verilog.py`"}
    if find_simulator("iverilog") is None:
        return {**row, "missing": "iverilog is not installed"}
    halt = assemble("HALT\n", "<halt>").words[0]
    base_words = [halt] + list(words[1:])
    m = Machine(config)
    m.load_program(base_words)
    g_base = m.run(100)
    t0 = time.perf_counter()
    try:
        sim = VerilogSim("iverilog", config, verilog_text=generate_verilog(config, regfile="ff"))
    except VerilogSimError as e:
        return {**row, "missing": f"compilation failed: {str(e).splitlines()[0]}"}
    setup = time.perf_counter() - t0
    times = {"prog": [], "base": []}
    with sim:
        for _ in range(2):
            for key, prog, ref in (("prog", words, g), ("base", base_words, g_base)):
                c0, t0 = _children_cpu(), time.perf_counter()
                st = sim.run(prog)
                times[key].append((time.perf_counter() - t0, _children_cpu() - c0))
                _verdict(st, ref)
    wall = min(t for t, _ in times["prog"]) - min(t for t, _ in times["base"])
    cpu = min(c for _, c in times["prog"]) - min(c for _, c in times["base"])
    cycles = g.cycles - g_base.cycles
    say(f"  icarus: {cycles / wall:,.0f} cycles/s")
    return {**row, "runs": 2, "regfile": REGFILE_TEXT["ff"], "cycles": cycles, "wall": wall, "cpu": cpu, "setup": setup,
            "setup_what": "Verilog generation (Yosys), `iverilog` compilation",
            "note": f"{g.cycles} - {g_base.cycles} cycles: the program's run minus the same "
                    f"bench with a HALT first (load, dump, start-up: "
                    f"{min(t for t, _ in times['base']):.1f} s)",
            "check": "equal"}


def _bench_fast(config, words, g, min_time):
    from sim.engines.fast.build import cache_dir
    from sim.engines.fast.engine import FastEngine, FastEngineError, default_design
    row = {"engine": "fast", "what": "`vtpu sim --engine fast`: the Amaranth core as that "
           "engine builds it, compiled to C++ (`sim/engines/fast/engine.py`, Verilator backend)"}
    def libraries():
        return set(cache_dir().glob("*.so")) if cache_dir().is_dir() else set()
    before = libraries()
    t0 = time.perf_counter()
    try:
        first = FastEngine(config, log=say)
    except FastEngineError as e:
        return {**row, "missing": str(e).splitlines()[0]}
    setup = time.perf_counter() - t0
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    runs, start = [], time.perf_counter()
    while len(runs) < 3 or time.perf_counter() - start < min_time:
        eng = FastEngine(config, library=first.library_path)   # a fresh core per run
        eng.load_program(words)
        st = eng.run()
        _verdict(st, g)
        runs.append(eng.last_run)
        del eng
    cycles = sum(r[0] for r in runs)
    wall, cpu = sum(r[1] for r in runs), sum(r[2] for r in runs)
    say(f"  fast: {cycles / wall:,.0f} cycles/s")
    from amaranth.hdl import UnusedElaboratable
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)    # only inspected
        regfile = regfile_text(default_design(config))
    return {**row, "runs": len(runs), "regfile": regfile, "cycles": cycles // len(runs), "wall": wall / len(runs),
            "cpu": cpu / len(runs), "setup": setup, "backend": first.backend, "load": load,
            "setup_what": "elaboration and C++ library "
                          + ("built (Yosys, Verilator, C++ compiler)"
                             if first.library_path in libraries() - before
                             else "found in the cache (`~/.cache/micro-vtpu/fast-engine`)"),
            "check": "equal"}


def engine_table(rows, program):
    out = [f"Program: `{os.path.relpath(program, ROOT)}`, default configuration, from reset. "
           "*cycles/s* = simulated cycles / wall time of the run itself (mean over *runs*); "
           "*CPU cycles/s* the same per CPU second of the simulating process (less "
           "sensitive to the machine's load); *setup* = one-time cost, not in the rate.", "",
           "| engine | what runs | data registers | runs | cycles | cycles/s | CPU cycles/s | "
           "setup | final state vs golden |",
           "|---|---|---|---:|---:|---:|---:|---|---|"]
    notes = []
    for r in rows:
        if "missing" in r:
            out.append(f"| {r['engine']} | {r['what']} | — | — | — | — | — | — | "
                       f"not run: {r['missing']} |")
            continue
        cps = r["cycles"] / r["wall"] if r["wall"] > 0 else float("nan")
        cpu = f"{r['cycles'] / r['cpu']:,.0f}" if r.get("cpu") else "—"
        setup = f"{r['setup']:.1f} s: {r['setup_what']}" if r.get("setup") is not None else "—"
        mark = ""
        if r.get("note"):
            notes.append(r["note"])
            mark = f" [{len(notes)}]"
        out.append(f"| {r['engine']} | {r['what']} | {r['regfile']} | {r['runs']} | "
                   f"{r['cycles']}{mark} | "
                   f"{cps:,.0f} | {cpu} | {setup} | {r['check']} |")
    for i, n in enumerate(notes, 1):
        out += ["", f"[{i}] Icarus: {n}."]
    return "\n".join(out)
