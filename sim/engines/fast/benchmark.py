"""The fast engine's benchmark: simulated cycles per second on a program that keeps every lane busy.

Why apart from the engine: the figure is for docs/fast-engine.md, benchmarks/run.py
and a test of the speed report; running programs needs none of it.
"""

from sim.asm.assembler import assemble
from sim.engines.fast.engine import FastEngine

__all__ = ["benchmark_program", "benchmark"]


def benchmark_program():
    """A long-running program that keeps every lane busy (assembly text): nested
    LOOPs around ``MAC | GATHER | LOOP``, a SCATTER and an integer add per outer
    iteration; 2047 * 2047 inner iterations (about 16 million cycles), then it
    starts again, so a benchmark bounded by ``max_cycles`` never runs out."""
    return """\
start:  CLI c1, 0.0.0/0.0.0/0.2047.2047
        CCLR c0
        FLI r2, 1.5
        FLI r3, 0.25
outer:  SCATTER [c2], r1 | CSET c0.sc, 0
inner:  MAC r1, r2, r3 | GATHER r4, [c0] | LOOP c0.sc < c1.sc, inner
        IADD r5, r5, r4 | LOOP c0.sn < c1.sn, outer
        JUMP start
"""


def benchmark(cycles=2_000_000, config=None, engine=None, cpu=False):
    """Run :func:`benchmark_program` for ``cycles`` simulated cycles on the fast
    engine; return simulated cycles per second (of wall time, or with ``cpu`` of
    CPU time), excluding the build."""
    eng = engine if engine is not None else FastEngine(config)
    eng.load_program(assemble(benchmark_program(), "<benchmark>").words)
    start = eng.status()["cycles"]
    eng.run(max_cycles=start + cycles)
    return eng.cycles_per_second(cpu=cpu)
