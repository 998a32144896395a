"""Benchmark section "GPT": the generation loop on each engine, at each board's clock, beside plain Python.

Why one section: issue 11 item 7 asks for the GPT's cycles/token, ops/cycle and
tokens/s on every engine, projected at every board's clock, and the same forward
pass in plain Python (sim/gpt/reference.py) beside them as a ratio, all measured
in one run on one machine.  Cycles/token and ops/cycle are the core's counters
(the same on every engine); tokens/s on an engine is its wall-clock speed over
the run itself (program and image already loaded).  The RTL on Amaranth's
simulator runs a few hundred cycles a second, so it runs a cycle-limited start
(compared with golden's state there) and its tokens/s is its cycles/s over the
golden cycles/token.
"""

import time

from benchmarks.environment import say

__all__ = ["GPT_SAMPLES", "GPT_SEED", "RTL_CYCLES", "bench_gpt", "gpt_table"]

#: The measured run: this many sampled names (seed, microgpt's temperature 0.5).
GPT_SAMPLES = 5
GPT_SEED = 1
#: Cycles the RTL runs (from the program's start).
RTL_CYCLES = 400


def _load(engine, words, control):
    from sim.gpt.host import gpt_image_entries
    engine.load_program(words)
    engine.write_memory(gpt_image_entries(control))


def _timed_run(engine, max_cycles):
    start = time.perf_counter()
    state = engine.run(max_cycles)
    return state, time.perf_counter() - start


def _python_tokens_per_second(weights, names):
    """The float64 forward pass over the same tokens as the names (and their BOS)."""
    from sim.gpt.model import BOS, encode
    from sim.gpt.reference import KVCache, forward
    tokens = 0
    start = time.perf_counter()
    for name in names:
        cache = KVCache()
        inputs = [BOS] + encode(name)
        for pos, token in enumerate(inputs[:16]):
            forward(weights, token, pos, cache)
            tokens += 1
    return tokens / (time.perf_counter() - start)


def bench_gpt():
    """Measure the rows (a dict) of the GPT section."""
    from sim.cli.gpt import board_cycles_per_second
    from sim.engines.interface import EngineUnavailableError, make_engine
    from sim.gpt.host import control_entries, read_names, read_tokens
    from sim.gpt.model import core_config, read_weights
    from sim.gpt.program import build_program
    config = core_config()
    compiled = build_program(config)
    control = control_entries(samples=GPT_SAMPLES, seed=GPT_SEED, temperature=0.5)
    rows, reference_state = [], None
    for name in ("golden", "fast"):
        say(f"gpt on {name} ...")
        try:
            engine = make_engine(name, config)
        except EngineUnavailableError as e:
            rows.append({"engine": name, "missing": str(e)})
            continue
        _load(engine, compiled.words, control)
        state, seconds = _timed_run(engine, None)
        entries = state.entries()
        names = read_names(entries, GPT_SAMPLES)
        tokens = sum(min(len(t) + 1, 16) for t in read_tokens(entries, GPT_SAMPLES))
        if reference_state is None:
            reference_state = state
        rows.append({"engine": name, "names": names, "tokens": tokens, "cycles": state.cycles,
                     "ops": state.ops, "seconds": seconds,
                     "same": state.diff(reference_state) == []})
    golden = rows[0]
    say(f"gpt on rtl ({RTL_CYCLES} cycles) ...")
    rtl = make_engine("rtl", config)
    _load(rtl, compiled.words, control)
    state, seconds = _timed_run(rtl, RTL_CYCLES)
    check = make_engine("golden", config)
    _load(check, compiled.words, control)
    rows.append({"engine": "rtl", "cycles_run": state.cycles, "seconds": seconds,
                 "same": state.diff(check.run(state.cycles)) == []})
    say("gpt forward pass in plain Python ...")
    python = _python_tokens_per_second(read_weights(), golden["names"])
    boards = {board: board_cycles_per_second(board) for board in ("ulx3s", "icebreaker")}
    return {"rows": rows, "python_tokens_per_second": python, "boards": boards,
            "siws": len(compiled.words), "samples": GPT_SAMPLES, "seed": GPT_SEED}


def gpt_table(result):
    """The section's markdown: engines, then boards, then the plain-Python line."""
    golden = result["rows"][0]
    per_token = golden["cycles"] / golden["tokens"]
    python = result["python_tokens_per_second"]
    lines = [f"{result['samples']} names sampled (seed {result['seed']}, temperature 0.5) by "
             f"the {result['siws']}-SIW program: {', '.join(golden['names'])}; "
             f"{golden['tokens']} tokens.", "",
             "| engine | cycles/token | ops/cycle | tokens/s | vs plain Python | same state as golden |",
             "|---|---:|---:|---:|---:|---|"]
    for row in result["rows"]:
        if "missing" in row:
            lines.append(f"| {row['engine']} | | | not available: {row['missing']} | | |")
            continue
        if row["engine"] == "rtl":
            rate = row["cycles_run"] / row["seconds"] / per_token
            lines.append(f"| rtl (first {row['cycles_run']} cycles) | {per_token:,.0f} | | "
                         f"{rate:.3f} | {rate / python:.3g}x | {'yes' if row['same'] else 'NO'} |")
            continue
        rate = row["tokens"] / row["seconds"]
        lines.append(f"| {row['engine']} | {row['cycles'] / row['tokens']:,.0f} | "
                     f"{row['ops'] / row['cycles']:.2f} | {rate:,.1f} | {rate / python:.3g}x | "
                     f"{'yes' if row['same'] else 'NO'} |")
    lines += ["", "| board clock (core cycles/s) | tokens/s projected | vs plain Python |",
              "|---|---:|---:|"]
    for board, rate in result["boards"].items():
        note = " (its core has no float unit: the clock only)" if board == "icebreaker" else ""
        lines.append(f"| {board}, {rate / 1e6:g} M{note} | {rate / per_token:,.0f} | "
                     f"{rate / per_token / python:.3g}x |")
    lines += ["", f"Plain Python (sim/gpt/reference.py, float64, the same tokens): "
              f"{python:,.0f} tokens/s."]
    return "\n".join(lines)
