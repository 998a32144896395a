"""Measuring the kernels compiled: cycles, ops/cycle and MACs per cycle of each on the golden model.

Why: the targets of docs/kernels.md ("Lane bounds and the targets") are about the
kernels as the kernel compiler packs them.  Each case here is a kernel on fixed
pseudo-random data, run as a whole program (the kernel, then HALT) twice on the
golden model: serially (one operation per SIW) and compiled.  ``python -m
sim.kernels.measure`` prints the table docs/kernels.md shows; tests/test_kernels.py
checks with it that every compiled kernel ends as its serial form does, and the
targets.  ``--pipelined F`` measures them for the pipelined core's timing table
(docs/isa.md section 7, ``Timing.pipelined``) instead of the default core's: each
case is built for the table it runs on (its reductions' chains, :func:`chains_for`).

    python -m sim.kernels.measure                  # the default core
    python -m sim.kernels.measure --pipelined 12   # the pipelined core, float latency 12
"""

import argparse
import random
import struct
import sys
from dataclasses import dataclass

from sim.asm.assembler import assemble
from sim.asm.compiler import compile_serial
from sim.asm.timing_option import add_pipelined_option, configured
from sim.golden.machine import Machine
from sim.isa.coord import morton_key
from sim.isa.encoding import CoreConfig, Fault

from . import activations, linalg, norm, sampling, softmax
from .operands import Matrix, Regs, Row, Scratch

__all__ = ["Case", "Measurement", "CASES", "chains_for", "measure", "table", "main"]

_ALL = Scratch(range(32), range(8))
_X, _Y, _W, _OUT = ("1.0.0/0.0.0/0.0.0", "2.0.0/0.0.0/0.0.0", "3.0.0/0.0.0/0.0.0",
                    "4.0.0/0.0.0/0.0.0")


@dataclass(frozen=True)
class Case:
    """A kernel on data: ``build(values, timing)`` returns ``(lines, memory, regs)`` for a
    core with Timing table ``timing``, ``memory`` as ``(coordinate, float)`` pairs and
    ``regs`` as ``{register: float}``, drawing its data from ``values()``; ``macs``: the
    multiply-adds it does (None if none)."""
    name: str
    build: object
    macs: object = None


@dataclass(frozen=True)
class Measurement:
    """One case run serially and compiled: cycles of each, the compiled SIWs and ops,
    and whether both runs ended in the same state (registers and memory)."""
    name: str
    serial_cycles: int
    cycles: int
    siws: int
    ops: int
    macs: object
    same: bool

    @property
    def ops_per_cycle(self):
        return self.ops / self.cycles

    @property
    def mac_rate(self):
        """MACs per cycle: the fraction of the D lane's bound of one per cycle."""
        return None if self.macs is None else self.macs / self.cycles


def _bits(x):
    return struct.unpack("<I", struct.pack("<f", x))[0]


def _values(seed):
    rnd = random.Random(seed)
    return lambda low=-2.0, high=2.0: struct.unpack("<f", struct.pack("<f", rnd.uniform(low, high)))[0]


def chains_for(latency, cycles, most):
    """Independent chains (accumulators, slot cursors) a kernel's loop needs for its
    table: a chain waits ``latency`` cycles per element and the lanes take ``cycles``
    per element, so ``ceil(latency / cycles)`` chains keep the lanes busy; never fewer
    than the default core's :data:`~sim.kernels.linalg.DEFAULT_CHAINS`, at most
    ``most``, what the registers hold beside the kernel's other registers."""
    return min(most, max(linalg.DEFAULT_CHAINS, -(-latency // cycles)))


def _row(base, n, value, **kw):
    row = Row(base, n)
    return row, [(c, value(**kw)) for c in row.coords()]


def _dot_rows(value, timing):
    (x, mx), (y, my) = _row(_X, 64, value), _row(_Y, 64, value)
    # a MAC chain of latency F, two GATHERs per element; an accumulator and two temporaries each
    chains = chains_for(timing.float_op, 2, 10)
    return linalg.dot(x, y, 0, scratch=_ALL.without([0]), chains=chains), mx + my, {}


def _saxpy_rows(value, timing):
    (x, mx), (y, my) = _row(_X, 64, value), _row(_Y, 64, value)
    # a slot cursor's element: GATHER, MAC, SCATTER, then its move, seen by the next SIW;
    # three S operations each; a cursor per slot, of 8 with x's and the limit
    unroll = chains_for(timing.gather + timing.float_op + 1, 3, 6)
    return (linalg.saxpy(31, x, y, scratch=_ALL.without([31]), unroll=unroll), mx + my,
            {31: value()})


def _dot_regs(value, timing):
    xr, (y, my) = Regs.span(16, 16), _row(_Y, 16, value)
    chains = chains_for(timing.float_op, 1, 7)  # an accumulator and a temporary each
    return (linalg.dot(xr, y, 0, scratch=_ALL.without([0]), chains=chains), my,
            {r: value() for r in xr})


def _saxpy_regs(value, timing):
    (x, mx), yr = _row(_X, 16, value), Regs.span(16, 16)
    return (linalg.saxpy(0, x, yr, scratch=_ALL.without([0])), mx,
            {0: value(), **{r: value() for r in yr}})


def _matrix(w, value):
    return [(w.at(i, j), value()) for i in range(w.rows) for j in range(w.cols)]


def _matvec_columns(rows, cols):
    def build(value, timing):
        w, (x, mx) = Matrix.column_major(_W, rows, cols), _row(_X, cols, value)
        y = Regs.span(16, rows)
        return (linalg.matvec(w, x, y, scratch=_ALL.without(y), timing=timing),
                _matrix(w, value) + mx, {})
    return build


def _matvec_blocks(value, timing):
    w, (x, mx) = Matrix.column_major(_W, 32, 16), _row(_X, 16, value)
    return (linalg.matvec(w, x, Row(_OUT, 32), scratch=_ALL, timing=timing),
            _matrix(w, value) + mx, {})


def _matvec_rows(value, timing):
    w, xr = Matrix.row_major(_W, 32, 16), Regs.span(16, 16)
    block = chains_for(timing.float_op, 1, 12)  # a chain per row of a group
    temps = min(linalg.MATVEC_TEMPS, 16 - block)  # the registers x and the chains leave
    return (linalg.matvec(w, xr, Row(_OUT, 32), scratch=_ALL.without(xr), block=block,
                          temps=temps, timing=timing),
            _matrix(w, value), {r: value() for r in xr})


def _reduction(value, timing):
    x = Row(_X, 512)
    chains = chains_for(timing.float_op, 1, 15)  # an accumulator and a temporary each
    return (linalg.reduce_sum(x, 0, scratch=_ALL.without([0]), chains=chains),
            [(c, k + 1.0) for k, c in enumerate(x.coords())], {})


def _sum_squares(value, timing):
    x, mx = _row(_X, 64, value)
    chains = chains_for(timing.float_op, 1, 15)
    return linalg.sum_squares(x, 0, scratch=_ALL.without([0]), chains=chains), mx, {}


def _relu(value, timing):
    x, mx = _row(_X, 64, value)
    return activations.relu(x, x, scratch=_ALL), mx, {}


def _exp(value, timing):
    x, mx = _row(_X, 64, value, low=-20.0, high=0.0)
    return softmax.exp(x, Row(_Y, 64), scratch=_ALL), mx, {}


def _softmax(value, timing):
    x, mx = _row(_X, 27, value, low=-8.0, high=8.0)
    return softmax.softmax(x, x, scratch=_ALL), mx, {}


def _rmsnorm(value, timing):
    xr = Regs.span(16, 16)
    return norm.rmsnorm(xr, xr, scratch=_ALL.without(xr)), [], {r: value() for r in xr}


def _argmax(value, timing):
    x, mx = _row(_X, 27, value)
    return sampling.argmax(x, 0, scratch=_ALL.without([0])), mx, {}


def _sample(value, timing):
    w, mw = _row(_X, 27, value, low=0.0, high=1.0)
    return (sampling.sample(w, 31, 0, scratch=_ALL.without([0, 31])), mw,
            {31: value(0.0, 1.0)})


CASES = [
    Case("dot, two rows of 64 (examples/dot_product.vasm)", _dot_rows, 64),
    Case("saxpy, two rows of 64 (examples/saxpy.vasm)", _saxpy_rows, 64),
    Case("dot, 16 registers and a row", _dot_regs, 16),
    Case("saxpy into 16 registers", _saxpy_regs, 16),
    Case("matvec 16 x 16, column form", _matvec_columns(16, 16), 256),
    Case("matvec 16 x 32, column form", _matvec_columns(16, 32), 512),
    Case("matvec 16 x 48, column form", _matvec_columns(16, 48), 768),
    Case("matvec 32 x 16, column form into a row", _matvec_blocks, 512),
    Case("matvec 32 x 16, row form", _matvec_rows, 512),
    Case("sum of a row of 512 (examples/reduction.vasm)", _reduction),
    Case("sum of squares of 64", _sum_squares, 64),
    Case("relu of 64, in place", _relu),
    Case("exp of 64", _exp),
    Case("softmax of 27, in place", _softmax),
    Case("rmsnorm of 16 registers", _rmsnorm),
    Case("argmax of 27", _argmax),
    Case("sample from 27", _sample),
]


def _run(words, memory, regs, config):
    machine = Machine(config)
    machine.load_program(words)
    machine.write_memory([(morton_key(c), _bits(v)) for c, v in memory])
    for reg, v in regs.items():
        machine.regs[reg] = _bits(v)
    state = machine.run(10_000_000)
    if not state.halted or state.fault != Fault.NONE:
        raise RuntimeError(f"the program did not halt cleanly: {state.fault.name} at "
                           f"{state.fault_pc}")
    return state


def measure(case, config=None, seed=1):
    """Run ``case``, built for ``config``'s timing table, serially and compiled for
    ``config`` (default: the default core)."""
    config = config if config is not None else CoreConfig()
    lines, memory, regs = case.build(_values(seed), config.timing)
    text = "\n".join(lines + ["HALT"])
    serial = _run(assemble(text).words, memory, regs, config)
    compiled = _run(compile_serial(text, config).words, memory, regs, config)
    same = compiled.regs == serial.regs and compiled.entries() == serial.entries()
    return Measurement(case.name, serial.cycles, compiled.cycles, compiled.siws, compiled.ops,
                       case.macs, same)


def table(measurements):
    """The measurements as a Markdown table."""
    rows = ["| kernel (whole program) | serial cycles | compiled cycles | SIWs | ops | ops/cycle "
            "| MAC/cycle |", "|---|---|---|---|---|---|---|"]
    for m in measurements:
        rate = "" if m.mac_rate is None else f"{m.mac_rate:.3f}"
        rows.append(f"| {m.name} | {m.serial_cycles} | {m.cycles} | {m.siws} | {m.ops} | "
                    f"{m.ops_per_cycle:.2f} | {rate} |")
    return "\n".join(rows)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m sim.kernels.measure",
                                     description=__doc__.splitlines()[0])
    add_pipelined_option(parser)
    args = parser.parse_args(argv)
    config = configured(parser, args, CoreConfig())
    measurements = [measure(case, config) for case in CASES]
    for m in measurements:
        if not m.same:
            raise SystemExit(f"{m.name}: the compiled program ends in another state")
    print(table(measurements))
    return 0


if __name__ == "__main__":
    sys.exit(main())
