"""``vtpu build``, ``vtpu flash`` and ``vtpu run``: bitstreams, programming, and running on a board.

Registered into ``sim/cli/main.py`` through its COMMAND_MODULES, like every optional
subcommand.  ``vtpu run`` prints exactly the report of ``vtpu sim``, read back
from a board over its serial port (``--port``) or from the simulated board behind
the simulated serial line (``--sim``).  The serial rate is the bitstream's: ``vtpu
build`` bakes it in (``--baud``, default the fastest the board's USB bridge takes
at its clock) and records it beside the bitstream (boards/build.py), where ``vtpu
run --port`` finds it; ``--baud`` overrides.
"""

import sys

__all__ = []


# ---------------------------------------------------------------------------- build

def _build_configure(p):
    p.add_argument("--board", required=True, choices=("icebreaker", "ulx3s"))
    p.add_argument("--image", metavar="FILE",
                   help="bake this memory image (.phext) into the coordinate memory's initial contents")
    p.add_argument("-o", "--output", metavar="DIR", help="build directory (default build/BOARD)")
    p.add_argument("--freq", type=float, metavar="MHZ",
                   help="system clock made by the PLL (default: the board's, see docs/boards.md)")
    p.add_argument("--baud", type=int, metavar="N",
                   help="host-link serial rate baked into the bitstream (default: the fastest rate of "
                        "the board's USB bridge that its clock divides within 2 %%, see "
                        "docs/boards.md); recorded in DIR/build.json for vtpu run")
    p.add_argument("--seed", type=int, metavar="N",
                   help="nextpnr's placement seed (default: nextpnr's own); a design whose "
                        "timing margin is thin may meet timing on one seed and not another")


def _build_run(args):
    import importlib
    from .main import EXIT_FAULT, EXIT_OK, CliError, image_entries
    from boards.build import BOARDS, BuildError, TimingError, build, format_report
    module = importlib.import_module(BOARDS[args.board][0])
    entries = image_entries(args.image, module.CONFIG) if args.image else ()
    try:
        build(args.board, out_dir=args.output, memory_init=entries,
              freq=args.freq * 1e6 if args.freq else None, baud=args.baud, seed=args.seed,
              echo=print)
    except TimingError as e:
        print(f"vtpu: error: {e}", file=sys.stderr)
        return EXIT_FAULT
    except BuildError as e:
        raise CliError(str(e)) from None
    return EXIT_OK


# ---------------------------------------------------------------------------- flash

def _flash_configure(p):
    p.add_argument("--board", required=True, choices=("icebreaker", "ulx3s"))
    p.add_argument("--bitstream", metavar="FILE",
                   help="bitstream to load (default build/BOARD/top.bin or top.bit)")
    p.add_argument("--persist", action="store_true",
                   help="ULX3S: write the flash instead of SRAM (iCEBreaker always writes its flash)")


def _flash_run(args):
    from .main import EXIT_OK, CliError
    from boards.flash import FlashError, flash
    try:
        flash(args.board, args.bitstream, persist=args.persist)
    except FlashError as e:
        raise CliError(str(e)) from None
    return EXIT_OK


# ---------------------------------------------------------------------------- run

def _run_configure(p):
    p.add_argument("file", help="a program: .vasm source or .vhex")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--port", metavar="DEV", help="the board's serial port, e.g. /dev/ttyUSB0")
    where.add_argument("--sim", action="store_true",
                       help="the simulated board behind a simulated serial line (slow: Amaranth's simulator)")
    p.add_argument("--baud", type=int, default=None, metavar="N",
                   help="serial rate; with --port by default the one the bitstream's build "
                        "recorded (see --build), else 115200; with --sim --board, the simulated "
                        "bitstream's (default: as vtpu build makes it)")
    p.add_argument("--build", metavar="DIR",
                   help="with --port: the build directory of the board's bitstream, whose "
                        "build.json gives the serial rate (default: whichever of "
                        "build/icebreaker and build/ulx3s has one)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.add_argument("--max-cycles", type=int, default=None, metavar="N",
                   help="halt the core once its cycle counter has passed N")
    p.add_argument("--image", metavar="FILE",
                   help="load this memory image (.phext) into the coordinate memory first")
    p.add_argument("--board", choices=("icebreaker", "ulx3s"), default=None,
                   help="with --sim: simulate this board's core as its bitstream has it "
                        "(default: the ISA's default core)")


def _warn_unsupported(loaded, config, where):
    """Name, on stderr, every SIW the board's core will fault as illegal although the
    ISA's default core runs it (float operations on a core without a float unit)."""
    from sim.golden.decode import decode
    for address, word in enumerate(loaded.words):
        here = decode(word, config.has_float)
        if decode(word).legal and not here.legal:
            print(f"{loaded.filename}:{loaded.lines[address]}: warning: SIW {address}: "
                  f"{here.illegal} ({where}): it will fault ILLEGAL_SIW there",
                  file=sys.stderr)


def _simulated_board(board, baud):
    """``(line, config)``: the simulated serial line to ``board``'s core (None: the ISA's
    default core, on the simulator's quick line), at ``board``'s host-link rate as
    ``vtpu build --board BOARD [--baud N]`` bakes it in: its clock, divisor and rate."""
    import importlib
    from .main import CliError, board_core
    from hdl.uart import BaudError
    from sim.host.serial_sim import SimSerial
    config, regfile = board_core(board)
    if board is None:
        return SimSerial(config, regfile=regfile), config
    try:
        rate = importlib.import_module(f"boards.{board}").link_rate(baud=baud)
    except BaudError as e:
        raise CliError(f"{board}: {e}") from None
    return SimSerial(config, regfile=regfile, divisor=rate.divisor, baud=rate.baud,
                     clock_hz=rate.clock_hz), config


def _port_baud(args):
    """The serial rate for ``--port``: ``--baud``; else the one recorded by the build in
    ``--build DIR``, or by those in build/<board>/ if they agree; else the host's
    DEFAULT_BAUD (the rate of bitstreams built before builds recorded theirs)."""
    from .main import CliError
    from boards.build import BuildError, recorded_baud
    from sim.host.transport import DEFAULT_BAUD
    if args.baud is not None:
        return args.baud
    try:
        baud = recorded_baud(args.build)
    except BuildError as e:
        raise CliError(f"{e} (--build DIR, --baud N)") from None
    return DEFAULT_BAUD if baud is None else baud


def _run_run(args):
    from .main import CliError, _load, _print_json, image_entries
    from sim.host.board_engine import BoardEngine
    from sim.host.errors import LinkError
    from sim.host.link import HostLink
    from sim.host.transport import SerialTransport
    from .report import exit_status, format_state, state_to_dict
    loaded = _load(args.file)
    if args.board and not args.sim:
        raise CliError("--board goes with --sim: a board behind --port says what its core is "
                       "(and its build record its serial rate: --build DIR)")
    if args.build and args.sim:
        raise CliError("--build goes with --port: it names the build of the bitstream a real "
                       "board runs, for its serial rate")
    peer = "simulated board"
    try:
        if args.sim:
            line, config = _simulated_board(args.board, args.baud)
            engine = BoardEngine(HostLink(line), config)
        else:
            baud = _port_baud(args)
            peer = f"{args.port} at {baud} baud"
            engine = BoardEngine(HostLink(SerialTransport(args.port, baud)))
            config = engine.config
        _warn_unsupported(loaded, config, f"the core of {args.board or args.port or 'this board'}")
        engine.load_program(loaded.words)
        if args.image:
            engine.write_memory(image_entries(args.image, config))
        state = engine.run(args.max_cycles)
    except LinkError as e:
        raise CliError(f"{peer}: {e}") from None
    if args.json:
        where = "sim" if args.sim else args.port
        _print_json({"file": loaded.filename, "engine": f"board:{where}",
                     **state_to_dict(state, config)})
    else:
        sys.stdout.write(format_state(state, config))
    return exit_status(state)


def _register():
    from .main import register_command
    register_command("build", "build a board's bitstream (iCEBreaker, ULX3S) and report its "
                     "utilisation and timing", _build_configure, _build_run)
    register_command("flash", "load a built bitstream onto a board with openFPGALoader",
                     _flash_configure, _flash_run)
    register_command("run", "run a program on a board over its serial port (or on the "
                     "simulated board) and print the final state", _run_configure, _run_run)


_register()
