"""Section "Timing tables": the examples, the compiled kernels and the GPT on the golden model, one column per timing table.

Why: the two cores (docs/isa.md section 7: the three-stage core's table, and
``Timing.pipelined(F)``, the pipelined core's, the ULX3S's at F = 7) give every
program other cycle counts; these figures are the golden model's, predicted from
each table (the hardware equals them cycle for cycle: the lockstep tests), side
by side, with the ops per second each makes at the ULX3S's clock.  Each example
runs as it is; each kernel is built for the table and compiled for it
(``sim/kernels/measure.py``); the GPT's program is compiled for the table and
generates the same names on every one.
"""

import glob
import os

from benchmarks.environment import ROOT, say
from benchmarks.gpt import GPT_SAMPLES, GPT_SEED

__all__ = ["timing_configs", "bench_timing", "timing_table", "ops_per_second_table"]


def timing_configs(base, latencies):
    """``[(column title, config)]``: ``base``'s capacities on the three-stage core's
    table (the default float latency), then on the pipelined core's table of each
    float latency in ``latencies``."""
    from sim.isa.encoding import CoreConfig, Timing
    three_stage = CoreConfig(base.dim_bits, base.set_bits, base.ways, base.prog_depth)
    columns = [(f"three-stage F={three_stage.float_latency}", three_stage)]
    columns += [(f"pipelined F={f}", three_stage.with_timing(Timing.pipelined(f)))
                for f in latencies]
    return columns


def _example(path, config):
    from sim.asm.progfile import load_program_file
    from sim.golden.machine import Machine
    m = Machine(config)
    m.load_program(load_program_file(path).words)
    return m.run(10_000_000)


def _gpt(config):
    from sim.engines.interface import make_engine
    from sim.gpt.host import control_entries, generate_on
    from sim.gpt.program import build_program
    compiled = build_program(config)
    control = control_entries(samples=GPT_SAMPLES, seed=GPT_SEED, temperature=0.5)
    result = generate_on(make_engine("golden", config), compiled.words, control,
                         samples=GPT_SAMPLES)
    return {"names": result.names, "cycles_per_token": result.cycles_per_token,
            "ops_per_cycle": result.ops_per_cycle, "siws": len(compiled.words)}


def bench_timing(latencies):
    """Measure every example, kernel and the GPT for the default table and the pipelined
    tables of ``latencies``: a dict for :func:`timing_table`."""
    from sim.gpt.model import core_config
    from sim.isa.encoding import CoreConfig
    from sim.kernels.measure import CASES, measure
    columns = timing_configs(CoreConfig(), latencies)
    gpt_columns = timing_configs(core_config(), latencies)
    paths = sorted(glob.glob(os.path.join(ROOT, "examples", "*.vasm")))
    examples, kernels, gpt = {}, {}, []
    for title, config in columns:
        say(f"timing: examples and kernels, {title} ...")
        for path in paths:
            state = _example(path, config)
            examples.setdefault(os.path.basename(path), []).append(
                state.ops_per_cycle() if state.halted else None)
        for case in CASES:
            m = measure(case, config)
            if not m.same:
                raise SystemExit(f"{case.name}: the compiled kernel ends in another state "
                                 f"({title})")
            kernels.setdefault(case.name, []).append((m.ops_per_cycle, m.mac_rate))
    for title, config in gpt_columns:
        say(f"timing: the GPT, {title} ...")
        gpt.append(_gpt(config))
    return {"titles": [t for t, _ in columns], "examples": examples, "kernels": kernels,
            "gpt": gpt}


def timing_table(result):
    """The section's markdown: ops/cycle of the examples and kernels, the GPT's
    cycles/token, a column per table."""
    titles = result["titles"]
    head = "| " + " | ".join(titles) + " |"
    rule = "|---|" + "---:|" * len(titles)
    lines = ["Ops/cycle of each example as it is, on the golden model:", "",
             "| example " + head, rule]
    for name, rates in result["examples"].items():
        cells = ["(faults)" if r is None else f"{r:.2f}" for r in rates]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "Each kernel built and compiled for the table (`python -m sim.kernels.measure "
              "[--pipelined F]`): ops/cycle (MAC/cycle):", "", "| kernel " + head, rule]
    for name, rows in result["kernels"].items():
        cells = [f"{opc:.2f}" + ("" if mac is None else f" ({mac:.3f})") for opc, mac in rows]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    gpt = result["gpt"]
    same = all(g["names"] == gpt[0]["names"] for g in gpt)
    lines += ["", f"The GPT ({GPT_SAMPLES} names, seed {GPT_SEED}, its own memory; the program "
              f"compiled for each table): {', '.join(gpt[0]['names'])}"
              f"{'' if same else ' (NOT the same names on every table)'}.", "",
              "| GPT " + head, rule,
              "| cycles/token | " + " | ".join(f"{g['cycles_per_token']:,.0f}" for g in gpt) + " |",
              "| ops/cycle | " + " | ".join(f"{g['ops_per_cycle']:.2f}" for g in gpt) + " |",
              "| program SIWs | " + " | ".join(str(g["siws"]) for g in gpt) + " |"]
    return "\n".join(lines)


def ops_per_second_table(result, title, clock_mhz, fmax_mhz=None):
    """Ops per second of each example and kernel on the core of column ``title``
    (ops/cycle x the board's clock, and x the lowest Fmax its builds reached):
    what the ULX3S does with them."""
    column = result["titles"].index(title)
    head = f"| program | ops/cycle | M ops/s at {clock_mhz:g} MHz |"
    rule = "|---|---:|---:|"
    if fmax_mhz:
        head += f" M ops/s at {fmax_mhz:.1f} MHz (Fmax) |"
        rule += "---:|"
    lines = [head, rule]
    rows = [(name, rates[column]) for name, rates in result["examples"].items()]
    rows += [(f"kernel: {name}", cells[column][0]) for name, cells in result["kernels"].items()]
    for name, opc in rows:
        if opc is None:
            continue
        line = f"| {name} | {opc:.2f} | {opc * clock_mhz:.0f} |"
        if fmax_mhz:
            line += f" {opc * fmax_mhz:.0f} |"
        lines.append(line)
    return "\n".join(lines)
