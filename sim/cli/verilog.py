"""``vtpu verilog``: write the Sentron core as Verilog (for Icarus Verilog, Verilator, ...)."""

import os
import sys

from sim.engines.verilog import TOP_NAME, generate_verilog
from sim.isa.encoding import CoreConfig

from .main import EXIT_OK, CliError, register_command

__all__ = []

def _configure(p):
    p.add_argument("-o", "--output", metavar="FILE",
                   help="write the Verilog to FILE (default: standard output)")
    p.add_argument("--image", metavar="FILE",
                   help="bake this memory image (.phext) into the coordinate memory's initial contents")
    p.add_argument("--set-bits", type=int, default=None, metavar="S",
                   help="coordinate memory has 2**S sets (default: the default configuration's)")
    p.add_argument("--ways", type=int, default=None, metavar="W", help="ways per set")
    p.add_argument("--float-latency", type=int, default=None, metavar="F",
                   help="latency of float operations in cycles (0: no float unit; float "
                        "operations are then illegal SIWs)")
    p.add_argument("--regfile", choices=("ff", "lutram", "bram"), default="ff",
                   help="data register file in flip-flops (any FPGA, default), in LUT RAM "
                        "with a live value table (ECP5 and others with distributed RAM), or "
                        "both register files in block RAM at five clocks per core cycle "
                        "(iCE40; the debug port's protocol is the same)")


def _run(args):
    options = {k: v for k, v in (("set_bits", args.set_bits), ("ways", args.ways),
                                  ("float_latency", args.float_latency)) if v is not None}
    try:
        config = CoreConfig(**options)
    except ValueError as e:
        raise CliError(str(e)) from None
    entries = ()
    if args.image:
        from sim.image.memory_image import ImageError, check_fits, read_image
        try:
            image = read_image(args.image)
            check_fits(image, config)
        except ImageError as e:
            raise CliError(str(e)) from None
        except OSError as e:
            raise CliError(f"{args.image}: cannot read: {e.strerror or e}") from None
        entries = image.entries
    text = generate_verilog(config, entries, regfile=args.regfile)
    if args.output:
        from sim.asm.progfile import write_text_atomic
        directory = os.path.dirname(os.path.abspath(args.output))
        os.makedirs(directory, exist_ok=True)
        write_text_atomic(args.output, text)
        print(f"wrote {args.output}: module {TOP_NAME}, {text.count(chr(10))} lines, {config}",
              file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK


register_command("verilog", "write the Sentron core as Verilog (for Icarus, Verilator, ...)",
                 _configure, _run)

