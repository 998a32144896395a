"""``vtpu gpt``: generate names with the GPT running on the core, and report its speed.

Registered into ``sim/cli/main.py`` through its COMMAND_MODULES.  The host's part
is only what issue 11 allows: load the compiled program (sim/gpt/program.py)
and an image of the weights and the control words, run, read the names back
from coordinate memory (sim/gpt/host.py).  ``--save-program`` and
``--save-image`` write those two files instead, for ``vtpu run --sim`` or a
board (docs/gpt.md section 8).
"""

import importlib
import sys

from .main import EXIT_FAULT, EXIT_OK, CliError, _engine, _print_json, register_command

__all__ = ["board_cycles_per_second"]

DEFAULT_BOARD = "ulx3s"
DEFAULT_SAMPLES = 10
DEFAULT_MAX_CYCLES = 200_000_000


def board_cycles_per_second(board):
    """Core cycles per second of ``board``'s bitstream: its clock (boards/<board>.py
    ``DEFAULT_FREQ``) divided by the clocks a cycle takes (hdl/core.py ``BRAM_STEPS``
    with block-RAM register files, else 1)."""
    module = importlib.import_module(f"boards.{board}")
    if getattr(module, "REGFILE", "ff") == "bram":
        from hdl.core import BRAM_STEPS
        return module.DEFAULT_FREQ / BRAM_STEPS
    return module.DEFAULT_FREQ


def _configure(p):
    p.add_argument("--engine", default="golden",
                   help="golden (default), fast (Verilator), rtl (Amaranth's simulator: slow, "
                        "use --max-cycles), board-sim (the simulated board behind the host link: "
                        "slower still)")
    p.add_argument("--board", choices=("icebreaker", "ulx3s"), default=DEFAULT_BOARD,
                   help=f"the board whose clock the tokens/s are projected at (default "
                        f"{DEFAULT_BOARD}); the GPT runs on its own core (sim.gpt.model.core_config)")
    p.add_argument("--samples", type=int, default=DEFAULT_SAMPLES, metavar="N",
                   help=f"names to generate, 1..64 (default {DEFAULT_SAMPLES})")
    p.add_argument("--seed", type=int, default=1, metavar="S",
                   help="the xorshift32 seed, 1..2**32-1 (default 1)")
    p.add_argument("--temperature", type=float, default=0.5, metavar="T",
                   help="sampling temperature (default 0.5, microgpt's)")
    p.add_argument("--greedy", action="store_true", help="argmax instead of sampling")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.add_argument("--max-cycles", type=int, default=DEFAULT_MAX_CYCLES, metavar="N",
                   help=f"stop the core at cycle N (default {DEFAULT_MAX_CYCLES:,})")
    p.add_argument("--save-program", metavar="OUT",
                   help="write the compiled program (.vasm: packed assembly; else .vhex) and stop")
    p.add_argument("--save-image", metavar="OUT",
                   help="write the image to load (weights + control words, .phext) and stop")


def _control(args):
    from sim.gpt.host import control_entries
    try:
        return control_entries(samples=args.samples, seed=args.seed,
                               temperature=None if args.greedy else args.temperature,
                               greedy=args.greedy)
    except ValueError as e:
        raise CliError(str(e)) from None


def _save(args, compiled, control, config):
    from sim.asm.progfile import format_hex, write_text_atomic
    from sim.gpt.host import gpt_image_entries
    from sim.image.memory_image import write_image
    try:
        if args.save_program:
            text = (compiled.asm if args.save_program.endswith(".vasm")
                    else format_hex(compiled.words, source="gpt.vasm"))
            write_text_atomic(args.save_program, text)
        if args.save_image:
            write_image(args.save_image, gpt_image_entries(control), dim_bits=config.dim_bits,
                        set_bits=config.set_bits, ways=config.ways)
    except OSError as e:
        raise CliError(f"cannot write: {e.strerror or e}") from None


def _run(args):
    from sim.gpt.host import generate_on
    from sim.gpt.model import core_config
    from sim.gpt.program import build_program
    control = _control(args)
    config = core_config()
    compiled = build_program(config)
    if args.save_program or args.save_image:
        _save(args, compiled, control, config)
        return EXIT_OK
    engine = _engine(args.engine, config)
    result = generate_on(engine, compiled.words, control, samples=args.samples,
                         max_cycles=args.max_cycles)
    state = result.state
    rate = board_cycles_per_second(args.board)
    report = {
        "engine": args.engine, "board": args.board, "names": result.names,
        "halted": state.halted, "fault": state.fault.name, "cycles": state.cycles,
        "ops": state.ops, "tokens": result.tokens, "siws_in_program": len(compiled.words),
        "cycles_per_token": round(result.cycles_per_token, 1),
        "ops_per_token": round(result.ops_per_token, 1),
        "ops_per_cycle": round(result.ops_per_cycle, 3),
        "board_cycles_per_second": rate,
        "tokens_per_second_at_board_clock": (round(rate / result.cycles_per_token, 1)
                                             if result.tokens else 0.0),
    }
    if args.json:
        _print_json(report)
    else:
        for name in result.names:
            print(name)
        if not state.halted or state.fault.name != "NONE":
            print(f"(stopped at cycle {state.cycles:,}: {'fault ' + state.fault.name if state.halted else 'not halted'})")
        print(f"{result.tokens} tokens in {state.cycles:,} cycles on {args.engine}: "
              f"{report['cycles_per_token']:,} cycles and {report['ops_per_token']:,} ops per token, "
              f"{report['ops_per_cycle']} ops/cycle")
        print(f"at {args.board}'s {rate / 1e6:g} M cycles/s: "
              f"{report['tokens_per_second_at_board_clock']:,} tokens/s")
    if hasattr(engine, "close"):
        engine.close()
    ok = state.halted and state.fault.name == "NONE"
    if not ok:
        print("vtpu: the program did not finish (raise --max-cycles)", file=sys.stderr)
    return EXIT_OK if ok else EXIT_FAULT


register_command("gpt", "generate names with the GPT running on the core (docs/gpt.md)",
                 _configure, _run)
