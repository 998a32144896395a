"""``vtpu image dump`` and ``vtpu image check``: look into a memory image without a core.

Kept apart from ``sim/cli/main.py`` so that the image format's owner can offer these
subcommands without touching the command's core: importing this module
registers them (list it in ``sim.cli.main.COMMAND_MODULES``).  Loading an image into
an engine (``vtpu sim --image``) belongs with the engines in ``sim/cli/main.py``.
"""

import json

from .main import EXIT_OK, CliError, register_command
from sim.isa.coord import format_coord, morton_coord
from sim.isa.encoding import CoreConfig
from sim.image.memory_image import ImageError, check_fits, format_listing, read_image

__all__ = ["image_to_dict"]


def image_to_dict(image):
    """A JSON-ready view of an image: parameters, then entries in load order."""
    return {
        "file": image.path, "dim_bits": image.dim_bits, "set_bits": image.set_bits,
        "ways": image.ways,
        "entries": [{"seq": seq, "coord": format_coord(morton_coord(key, image.dim_bits)),
                     "key": key, "value": value} for seq, (key, value) in enumerate(image.entries)],
    }


def _read(path):
    try:
        return read_image(path)
    except ImageError as e:
        raise CliError(str(e)) from None
    except OSError as e:
        raise CliError(f"{path}: cannot read: {e.strerror or e}") from None


def _configure(p):
    sub = p.add_subparsers(dest="image_command", metavar="ACTION", required=True)
    dump = sub.add_parser("dump", help="check an image and list its entries in load order")
    dump.add_argument("file", help="a memory image (.phext)")
    dump.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    check = sub.add_parser("check", help="check an image, and that it fits a core's memory")
    check.add_argument("file", help="a memory image (.phext)")
    for name, default in (("dim-bits", None), ("set-bits", None), ("ways", None)):
        check.add_argument(f"--{name}", type=int, default=default, metavar="N",
                           help=f"the core's {name.replace('-', '_')} (default: the image's own)")


def _run(args):
    image = _read(args.file)
    if args.image_command == "dump":
        if args.json:
            print(json.dumps(image_to_dict(image), indent=2))
        else:
            print(format_listing(image), end="")
        return EXIT_OK
    try:
        config = CoreConfig(
            dim_bits=image.dim_bits if args.dim_bits is None else args.dim_bits,
            set_bits=image.set_bits if args.set_bits is None else args.set_bits,
            ways=image.ways if args.ways is None else args.ways)
    except ValueError as e:
        raise CliError(f"bad core parameters: {e}") from None
    try:
        check_fits(image, config)
    except ImageError as e:
        raise CliError(str(e)) from None
    print(f"{args.file}: ok: {len(image.entries)} entries, fits dim_bits={config.dim_bits} "
          f"set_bits={config.set_bits} ways={config.ways}")
    return EXIT_OK


register_command("image", "check or list a memory image (.phext)", _configure, _run)
