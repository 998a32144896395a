"""The ``vtpu`` command: assemble, disassemble, compute keys, simulate, demonstrate.

Each subcommand is one :class:`Command`: a name, a help line, a function that
adds its arguments to an argparse parser and a function that runs it and returns
the exit status.  Adding a subcommand (``verilog``, ``build``, ``flash``, ...)
means writing those two functions and calling :func:`register_command`, here or
in a module listed in :data:`COMMAND_MODULES`.

Exit status: 0 success; 1 the simulated program faulted or did not halt;
2 bad usage or bad input, reported on stderr as ``vtpu: error: file:line:col: cause``
without a traceback.
"""

import argparse
import importlib
import json
import sys
from dataclasses import dataclass

from sim.isa.encoding import CoreConfig

__all__ = ["main", "Command", "register_command", "COMMANDS", "COMMAND_MODULES", "CliError",
           "EXIT_OK", "EXIT_FAULT", "EXIT_USAGE"]

EXIT_OK = 0
EXIT_FAULT = 1
EXIT_USAGE = 2

#: Modules that add subcommands by calling :func:`register_command` when imported.
COMMAND_MODULES = ("sim.cli.image", "sim.cli.verilog", "sim.cli.boards", "sim.cli.gpt")


class CliError(Exception):
    """Bad usage or input: printed as ``vtpu: error: <message>``, exit status 2."""


@dataclass
class Command:
    name: str
    help: str
    configure: object      # configure(parser): add the command's arguments
    run: object            # run(args) -> exit status


#: name -> Command, in the order ``vtpu --help`` lists them.
COMMANDS = {}


def register_command(name, help, configure, run):
    COMMANDS[name] = Command(name, help, configure, run)


# ---------------------------------------------------------------------------- helpers

def _load(path):
    from sim.asm.progfile import load_program_file
    return load_program_file(path)


def _engine(name, config):
    from sim.engines.interface import EngineUnavailableError, make_engine
    import sim.host.board_engine  # noqa: F401  (registers the board engines, "board" and "board-sim")
    try:
        return make_engine(name, config)
    except (ValueError, EngineUnavailableError) as e:
        raise CliError(str(e)) from None


def _print_json(obj):
    print(json.dumps(obj, indent=2, allow_nan=False))


# ---------------------------------------------------------------------------- asm

def _asm_configure(p):
    p.add_argument("file", help="assembly source (.vasm)")
    p.add_argument("-o", "--output", metavar="OUT",
                   help="write the program as a .vhex file (text, one 64-bit SIW per line); "
                        "with --schedule, OUT.vasm gets the packed assembly instead")
    p.add_argument("--listing", action="store_true",
                   help="print the listing: each source line with its address(es) and words; "
                        "with --schedule, each packed SIW with its predicted wait and the source "
                        "line, stage and iteration of every operation")
    p.add_argument("--schedule", action="store_true",
                   help="the file is a serial program (one operation per line): pack it into SIWs "
                        "and software-pipeline its loops (docs/compiler.md); prints the packed "
                        "assembly unless -o or --listing")
    p.add_argument("--board", choices=("icebreaker", "ulx3s"), default=None,
                   help="with --schedule: compile for that board's core (its latencies; the "
                        "iCEBreaker's has no float unit); default: the ISA's default core")


def _asm_run(args):
    from sim.asm.assembler import assemble_file, format_listing
    from sim.asm.progfile import format_hex, write_text_atomic
    if args.schedule:
        return _schedule_run(args)
    if args.board:
        raise CliError("--board needs --schedule (plain assembly is the same for every core)")
    try:
        program = assemble_file(args.file)
    except OSError as e:
        raise CliError(f"{args.file}: cannot read: {e.strerror}") from None
    if args.listing:
        sys.stdout.write(format_listing(program))
    if args.output:
        write_text_atomic(args.output, format_hex(program.words, source=args.file))
    if not args.listing and not args.output:
        sys.stdout.write(format_hex(program.words, source=args.file))
    return EXIT_OK


def _schedule_run(args):
    """``vtpu asm --schedule``: the kernel compiler (sim/asm/compiler.py)."""
    from sim.asm.compiler import compile_file
    from sim.asm.progfile import format_hex, write_text_atomic
    config, _ = board_core(args.board)
    try:
        compiled = compile_file(args.file, config)
    except OSError as e:
        raise CliError(f"{args.file}: cannot read: {e.strerror}") from None
    if args.listing:
        sys.stdout.write(compiled.listing)
    if args.output:
        if args.output.endswith(".vasm"):
            write_text_atomic(args.output, compiled.asm)
        else:
            write_text_atomic(args.output, format_hex(compiled.words, source=args.file))
    if not args.listing and not args.output:
        sys.stdout.write(compiled.asm)
    return EXIT_OK


register_command("asm", "assemble a .vasm file (to stdout as vhex, or -o OUT)", _asm_configure, _asm_run)


# ---------------------------------------------------------------------------- disasm

def _disasm_configure(p):
    p.add_argument("file", help="a program: .vhex, or .vasm source (assembled first)")


def _disasm_run(args):
    from sim.asm.disasm import disassemble_program
    loaded = _load(args.file)
    sys.stdout.write(disassemble_program(loaded.words, filename=loaded.filename, lines=loaded.lines))
    return EXIT_OK


register_command("disasm", "disassemble a program back to assembly text", _disasm_configure,
                 _disasm_run)


# ---------------------------------------------------------------------------- key

def _key_configure(p):
    p.add_argument("coord", help="a coordinate lb.sf.sr/cn.vm.bk/ch.sn.sc, e.g. 2.0.0/0.0.0/0.0.0")


def _key_run(args):
    from sim.isa.coord import CoordError, morton_key, parse_coord
    try:
        key = morton_key(parse_coord(args.coord))
    except CoordError as e:
        raise CliError(str(e)) from None
    print(f"{key} 0x{key:x}")
    return EXIT_OK


register_command("key", "print the Morton (Z-order) key of a coordinate", _key_configure, _key_run)


# ---------------------------------------------------------------------------- sim

DEFAULT_MAX_CYCLES = 10_000_000


def _sim_configure(p):
    p.add_argument("file", help="a program: .vasm source or .vhex")
    p.add_argument("--engine", default="golden",
                   help="simulation engine (default golden; others register themselves, e.g. rtl)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.add_argument("--max-cycles", type=int, default=DEFAULT_MAX_CYCLES, metavar="N",
                   help=f"stop if the program has not halted by cycle N (default {DEFAULT_MAX_CYCLES})")
    p.add_argument("--trace", action="store_true",
                   help="print every retired SIW: retire cycle, address, disassembly")
    p.add_argument("--image", metavar="FILE",
                   help="load this memory image (.phext) into the coordinate memory first")
    p.add_argument("--save-image", metavar="OUT",
                   help="write the final coordinate memory to OUT as an image (atomically)")
    p.add_argument("--vcd", metavar="FILE",
                   help="write a waveform of the simulated hardware to FILE (HDL engines, e.g. rtl)")
    p.add_argument("--board", choices=("icebreaker", "ulx3s"), default=None,
                   help="run that board's core configuration (docs/isa.md section 9; the "
                        "iCEBreaker's has no float unit and 6-bit dimensions), e.g. to save an "
                        "image for its bitstream; default: the ISA's default core")


def board_core(board):
    """``(config, regfile)`` of ``board``'s core (boards/<board>.py: ``CONFIG`` and
    ``REGFILE``), or of the default core (flip-flop register files) for None."""
    if board is None:
        return CoreConfig(), "ff"
    module = importlib.import_module(f"boards.{board}")
    return module.CONFIG, getattr(module, "REGFILE", "ff")


def image_entries(path, config):
    """The entries of the memory image at ``path``, checked to fit ``config``;
    any problem becomes a CliError naming the file (and the entry, if one is bad)."""
    from sim.image.memory_image import ImageError, check_fits, read_image
    try:
        image = read_image(path)
        check_fits(image, config)
    except ImageError as e:
        raise CliError(str(e)) from None
    except OSError as e:
        raise CliError(f"{path}: cannot read: {e.strerror or e}") from None
    return image.entries


def _save_image(state, path, config):
    from sim.image.memory_image import slot_entries, write_image
    try:
        write_image(path, slot_entries(state.memory), dim_bits=config.dim_bits,
                    set_bits=config.set_bits, ways=config.ways)
    except OSError as e:
        raise CliError(f"{path}: cannot write: {e.strerror or e}") from None


def traced_run(engine, max_cycles):
    """Run ``engine`` to the end, returning ``(state, records)`` with one
    ``(cycle, pc, word, fault)`` per retired SIW.

    An engine can trace by offering ``trace_run(max_cycles) -> (state, records)``;
    the golden engine traces through its :class:`~sim.golden.machine.Machine`'s ``retire()``
    records.  Any other engine gets a :class:`CliError` saying it cannot trace.
    """
    if hasattr(engine, "trace_run"):
        return engine.trace_run(max_cycles)
    machine = getattr(engine, "machine", None)
    if machine is None or not hasattr(machine, "retire"):
        raise CliError(f"the {engine.name} engine does not trace; use --engine golden")
    records = []
    machine.start()
    while machine.running:
        if max_cycles is not None and machine.next_retire_cycle() >= max_cycles:
            # Stop the way Machine.run stops at the cycle limit (Machine has no public
            # call for this; see its run()).
            machine._running = False
            machine.cycles = max(machine.cycles, max_cycles)
            break
        rec = machine.retire()
        records.append((rec.cycle, rec.pc, rec.word, rec.fault))
    return machine.state(), records


def _trace_text(word, labels=None):
    """An SIW's text for a trace line; branch targets by their source label if known."""
    from sim.asm.disasm import DisasmError, disassemble
    if word is None:
        return "(no SIW: fetch outside the program)"
    names = {}
    for name, address in (labels or {}).items():
        names.setdefault(address, name)
    try:
        return disassemble(word, lambda a: names.get(a, str(a)))
    except DisasmError as e:
        return f"(illegal SIW 0x{word:016x}: {e.cause})"


def _sim_run(args):
    from .report import exit_status, format_retire, format_state, state_to_dict
    loaded = _load(args.file)
    config, _ = board_core(args.board)
    engine = _engine(args.engine, config)
    if args.vcd:
        if not hasattr(engine, "record_vcd"):
            raise CliError(f"--vcd needs an engine that simulates the hardware (e.g. --engine rtl); "
                           f"the {args.engine} engine has no waveform")
        engine.record_vcd(args.vcd)
    engine.load_program(loaded.words)
    if args.image:
        engine.write_memory(image_entries(args.image, config))
    records = None
    if args.trace:
        state, records = traced_run(engine, args.max_cycles)
    else:
        state = engine.run(args.max_cycles)
    labels = loaded.program.labels if loaded.program is not None else None
    if args.json:
        obj = {"file": loaded.filename, "engine": args.engine, **state_to_dict(state, config)}
        if hasattr(engine, "cycles_per_second"):    # engines that time their runs (fast)
            obj["cycles_per_second"] = round(engine.cycles_per_second())
        if records is not None:
            obj["trace"] = [{"cycle": c, "pc": pc, "siw": _trace_text(w, labels),
                             "fault": f.name if f else None} for c, pc, w, f in records]
        _print_json(obj)
    else:
        if records is not None:
            print(f"{'cycle':>8s}  addr  SIW")
            for c, pc, w, f in records:
                print(format_retire(c, pc, _trace_text(w, labels), f))
            print()
        sys.stdout.write(format_state(state, config))
        if hasattr(engine, "cycles_per_second"):    # engines that time their runs (fast)
            print(f"speed      {engine.cycles_per_second():,.0f} simulated cycles/s "
                  f"({engine.cycles_per_second(cpu=True):,.0f} per CPU second)")
    if args.save_image:
        _save_image(state, args.save_image, config)
    if hasattr(engine, "close"):
        engine.close()          # finishes a --vcd waveform
    return exit_status(state)


register_command("sim", "run a program on a simulation engine and print the final state",
                 _sim_configure, _sim_run)


# ---------------------------------------------------------------------------- demo

def _demo_configure(p):
    p.add_argument("--engine", default="golden", help="simulation engine (default golden)")


def _demo_run(args):
    from sim.engines.interface import EngineUnavailableError
    from .demo import run_demos
    try:
        ok = run_demos(args.engine)
    except EngineUnavailableError as e:      # e.g. the fast engine without a C++ compiler
        raise CliError(str(e)) from None
    except ValueError as e:
        if "unknown engine" in str(e):
            raise CliError(str(e)) from None
        raise
    return EXIT_OK if ok else EXIT_FAULT


register_command("demo", "run the four micro_vtpu demos (bonding, love, performance, persistence)",
                 _demo_configure, _demo_run)


# ---------------------------------------------------------------------------- main

def build_parser():
    for module in COMMAND_MODULES:
        importlib.import_module(module)
    parser = argparse.ArgumentParser(
        prog="vtpu", description="Tools for the Sentron core of micro-vTPU.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS.values():
        p = sub.add_parser(command.name, help=command.help, description=command.help)
        command.configure(p)
        p.set_defaults(_run=command.run)
    return parser


def _error(message):
    print(f"vtpu: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def check_sibling_packages():
    """Fail clearly when ``hdl`` or ``boards`` is another project's package.

    micro-vTPU installs three top-level packages, ``hdl``, ``sim`` and ``boards``
    (README, "Layout"). Where some other project's ``hdl`` or ``boards`` comes
    first on the path, our commands would otherwise fail deep inside an import,
    or run the wrong hardware; this names the file that shadows ours instead.
    """
    import importlib.util
    from pathlib import Path
    home = Path(__file__).resolve().parents[2]
    for name in ("hdl", "boards"):
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise CliError(f"package {name!r} of micro-vtpu is not installed beside {home / 'sim'}; "
                           f"reinstall with pip install -e .")
        where = Path(spec.origin).resolve()
        if where.parent.parent != home:
            raise CliError(f"package {name!r} comes from {where}, not from micro-vtpu's {home / name}: "
                           f"another project's {name!r} shadows ours; install micro-vtpu in its own "
                           f"virtual environment (README, 'Layout')")


def main(argv=None):
    """Entry point of the ``vtpu`` console script; returns (and exits with) the status."""
    from sim.asm.assembler import AsmError
    from sim.asm.disasm import DisasmError
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        check_sibling_packages()
        status = args._run(args)
    except AsmError as e:
        for err in e.errors:
            where = err.file if err.line is None else f"{err.file}:{err.line}:{err.column}"
            _error(f"{where}: {err.cause}")
        status = EXIT_USAGE
    except DisasmError as e:
        status = _error(str(e))
    except CliError as e:
        status = _error(str(e))
    except BrokenPipeError:
        status = EXIT_OK
    if argv is None:
        sys.exit(status)
    return status


if __name__ == "__main__":
    # Run the imported module, not this __main__ copy, so that commands which
    # COMMAND_MODULES register (into sim.cli.main) are the ones main() sees.
    from .main import main as _main
    _main()
