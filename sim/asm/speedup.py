"""What the kernel compiler gains: ops/cycle of serial programs run as they are and compiled.

Why: the compiler's worth is measured, not claimed.  Each serial program runs on
the golden model twice, as written (one operation per SIW) and compiled for the
same core; the two final states must agree (scratch registers aside), and the
cycle counts give the speed-up.  Beside them, the example of the same name in
``examples/`` when there is one: hand-packed (reduction), or the compiler's own
output where it beat the hand-packed program (dot_product, saxpy:
tools/compile_examples.py).

    python -m sim.asm.speedup                   # examples/serial/*.vasm, a Markdown table
    python -m sim.asm.speedup FILE.vasm ...
    python -m sim.asm.speedup --pipelined 12    # on the pipelined core's timing table
                                                # (docs/isa.md section 7), compiled for it
"""

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from sim.asm.assembler import assemble_file
from sim.golden.machine import Machine
from sim.isa.encoding import CoreConfig

from .compiler import compile_file
from .timing_option import add_pipelined_option, configured

__all__ = ["Speedup", "measure", "measure_examples", "format_table", "SERIAL_EXAMPLES", "main"]

#: The serial versions of the examples.
SERIAL_EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "serial"

_MAX_CYCLES = 10_000_000


def _run(words, config):
    m = Machine(config)
    m.load_program(words)
    return m.run(_MAX_CYCLES)


@dataclass(frozen=True)
class Speedup:
    """One program: ``ops`` retired (the same both ways), cycles and SIWs of the serial
    and the compiled run, and of the hand-packed example (None if there is none)."""
    name: str
    ops: int
    serial_cycles: int
    compiled_cycles: int
    serial_siws: int
    compiled_siws: int
    hand_ops: int | None = None
    hand_cycles: int | None = None

    @property
    def serial_ops_per_cycle(self):
        return self.ops / self.serial_cycles

    @property
    def compiled_ops_per_cycle(self):
        return self.ops / self.compiled_cycles

    @property
    def hand_ops_per_cycle(self):
        return None if self.hand_cycles is None else self.hand_ops / self.hand_cycles

    @property
    def speedup(self):
        return self.serial_cycles / self.compiled_cycles


def measure(path, config=None, hand=None):
    """The :class:`Speedup` of the serial program at ``path`` on ``config``; ``hand`` a
    hand-packed program to show beside it.  ValueError if the compiled program does
    not end in the serial program's state."""
    config = config if config is not None else CoreConfig()
    serial = _run(assemble_file(path).words, config)
    compiled = compile_file(path, config)
    packed = _run(compiled.words, config)
    keep = [r for r in range(32) if r not in compiled.scratch]
    if ([serial.regs[r] for r in keep] != [packed.regs[r] for r in keep]
            or serial.cregs != packed.cregs or serial.memory != packed.memory
            or (serial.halted, serial.fault) != (packed.halted, packed.fault)):
        raise ValueError(f"{path}: the compiled program does not end in the serial state")
    hand_state = _run(assemble_file(hand).words, config) if hand else None
    return Speedup(Path(path).stem, serial.ops, serial.cycles, packed.cycles, serial.siws,
                   packed.siws, hand_state.ops if hand_state else None,
                   hand_state.cycles if hand_state else None)


def measure_examples(paths=None, config=None):
    """:func:`measure` for ``paths`` (default: every ``examples/serial/*.vasm``), each
    beside ``examples/<name>.vasm`` when it exists."""
    paths = sorted(SERIAL_EXAMPLES.glob("*.vasm")) if paths is None else [Path(p) for p in paths]
    rows = []
    for path in paths:
        hand = SERIAL_EXAMPLES.parent / path.name
        rows.append(measure(path, config, hand if hand.exists() else None))
    return rows


def format_table(rows):
    """A Markdown table of :class:`Speedup` rows."""
    out = ["| program | ops | serial cycles | ops/cycle | compiled cycles | ops/cycle | speed-up "
           "| examples/ ops/cycle |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        hand = "" if r.hand_cycles is None else f"{r.hand_ops_per_cycle:.2f}"
        out.append(f"| {r.name} | {r.ops} | {r.serial_cycles} | {r.serial_ops_per_cycle:.2f} | "
                   f"{r.compiled_cycles} | {r.compiled_ops_per_cycle:.2f} | {r.speedup:.2f}x | "
                   f"{hand} |")
    return "\n".join(out) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m sim.asm.speedup", description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="*", help="serial programs (default: examples/serial/*.vasm)")
    add_pipelined_option(parser)
    args = parser.parse_args(argv)
    config = configured(parser, args, CoreConfig())
    sys.stdout.write(format_table(measure_examples(args.files or None, config)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
