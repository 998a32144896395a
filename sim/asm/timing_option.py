"""The ``--pipelined F`` option of the tools that compile and measure programs for a timing table.

Why one place: ``python -m sim.kernels.measure``, ``python -m sim.asm.speedup`` and
``tools/compile_examples.py`` take the pipelined core's timing table (docs/isa.md
section 7, ``Timing.pipelined``) the same way, and turn a float latency the table
cannot have into the same usage error.
"""

from sim.isa.encoding import Timing

__all__ = ["add_pipelined_option", "configured"]


def add_pipelined_option(parser):
    """Add ``--pipelined F`` to an argparse ``parser``."""
    parser.add_argument("--pipelined", type=int, metavar="F",
                        help="the pipelined core's timing table with float latency F "
                             "(docs/isa.md section 7) instead of the default core's")


def configured(parser, args, config):
    """``config``, or with ``--pipelined F`` given, ``config`` with the pipelined table of
    float latency F; an F the table cannot have is a usage error (``parser.error``)."""
    if args.pipelined is None:
        return config
    try:
        return config.with_timing(Timing.pipelined(args.pipelined))
    except ValueError as e:
        parser.error(str(e))
