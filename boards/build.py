"""Build a board's bitstream with the PyPI toolchain, report utilisation and timing.

Yosys, nextpnr and the bitstream packers come from the ``yowasp-*`` wheels (the
environment variables that Amaranth's build scripts read point at them, in this
process only, and each has made its first run before the build starts:
boards/toolchain.py), so a build needs nothing outside PyPI and no board: the ULX3S
platform lists ``openFPGALoader`` among its required tools, but that check is
only made by ``platform.build()``, which this module does not call; it prepares
the build plan and runs the script itself, streaming the tools' progress.

After place and route, nextpnr's JSON report gives the figures printed here
(logic cells or LUTs, block RAM, DSP, achieved Fmax against the constraint; read by
``boards/nextpnr_report.py``, as the benchmarks read them), and
a clock that misses its constraint fails the build loudly (:class:`TimingError`,
exit status 1 from ``vtpu build``).  Everything goes to ``build/<board>/``, and
beside the bitstream :data:`RECORD_NAME` records what a host needs to talk to it
(the host link's rate, the clock and divisor behind it), which ``vtpu run``
reads (:func:`recorded_baud`).
"""

import importlib
import json
import os
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from hdl.uart import BaudError

from . import toolchain
from .nextpnr_report import log_utilisation, overfull, parse_report

__all__ = ["BOARDS", "BuildError", "TimingError", "BuildResult", "build", "nextpnr_options",
           "toolchain_env", "format_report", "RECORD_NAME", "write_record", "read_record", "recorded_baud"]

#: Board name -> (module, top-level class, bitstream file suffix).
BOARDS = {
    "icebreaker": ("boards.icebreaker", "ICEBreakerTop", "bin"),
    "ulx3s": ("boards.ulx3s", "ULX3STop", "bit"),
}

#: Extra Yosys synthesis options per board.  The iCEBreaker's core fills 96.6 % of
#: the UP5K's logic cells; ``-dff`` lets ABC optimise across flip-flops, which packs
#: it into 94.2 % and raises its Fmax from 15.1 to 16.1 MHz (docs/boards.md).
SYNTH_OPTS = {"icebreaker": "-dff"}

#: The file beside a bitstream that says what it was built with, for the host.
RECORD_NAME = "build.json"


class BuildError(Exception):
    """The build could not be made; the message says which step and why."""


class TimingError(BuildError):
    """The design was placed and routed but misses its clock constraint."""


@dataclass
class BuildResult:
    board: str
    bitstream: Path
    report: dict
    utilisation: dict = field(default_factory=dict)   # label -> (used, available)
    clocks: dict = field(default_factory=dict)        # clock -> (achieved MHz, constraint MHz)
    seconds: float = 0.0

    @property
    def timing_met(self):
        return all(achieved >= wanted for achieved, wanted in self.clocks.values())


def toolchain_env(required_tools=None):
    """Point Amaranth's build scripts at the yowasp tools, in ``os.environ`` of this process,
    and make the first run of those among ``required_tools`` (Amaranth's tool names, a
    platform's ``required_tools``; default all) now, so that the build meets none
    (boards/toolchain.py says why)."""
    used = list(toolchain.TOOL_VARIABLES.values())
    if required_tools is None:
        required_tools = used
    try:
        variables = toolchain.tool_variables()
        os.environ.update(variables)
        toolchain.prepare([t for t in required_tools if t in used])
    except toolchain.ToolchainError as e:
        raise BuildError(str(e)) from None
    return variables


def write_record(out_dir, board, rate, bitstream, core=None, seed=None):
    """Write :data:`RECORD_NAME` into ``out_dir``: ``board``, the ``bitstream``'s file
    name, and of ``rate`` (a :class:`boards.top.LinkRate`) the host link's rate, the
    clock and the UART divisor that makes it; with ``core`` (the module of the
    core's class) and ``seed`` (nextpnr's), those too.  Returns its path."""
    record = {"board": board, "bitstream": Path(bitstream).name, "baud": rate.baud,
              "clock_hz": rate.clock_hz, "uart_divisor": rate.divisor}
    if core is not None:
        record["core"] = core
    if seed is not None:
        record["seed"] = seed
    path = Path(out_dir) / RECORD_NAME
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path


def read_record(build_dir):
    """The record :func:`write_record` left in ``build_dir``, as a dict; a
    :class:`BuildError` naming the file if it is missing or not a build record."""
    path = Path(build_dir) / RECORD_NAME
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        raise BuildError(f"{path}: no build record; build the bitstream with vtpu build "
                         f"(it writes one), or give the rate with --baud") from None
    except (OSError, ValueError) as e:
        raise BuildError(f"{path}: cannot read the build record: {e}") from None
    baud = record.get("baud") if isinstance(record, dict) else None
    if not isinstance(baud, int) or isinstance(baud, bool) or baud <= 0:
        raise BuildError(f"{path}: not a build record (no positive integer 'baud')")
    return record


def recorded_baud(build_dir=None):
    """The host-link rate of a board's bitstream as its build recorded it: in
    ``build_dir`` (whose record must be there), or, for None, in the records of
    ``build/<board>/`` (where ``vtpu build`` puts a bitstream and ``vtpu flash``
    finds it) if they agree; None if there is none.  A :class:`BuildError` names
    a missing or broken record, or the records that disagree."""
    if build_dir is not None:
        return read_record(build_dir)["baud"]
    dirs = [d for d in (Path("build") / board for board in BOARDS) if (d / RECORD_NAME).exists()]
    rates = {d / RECORD_NAME: read_record(d)["baud"] for d in dirs}
    if len(set(rates.values())) > 1:
        raise BuildError("the builds disagree on the serial rate ("
                         + ", ".join(f"{path}: {baud}" for path, baud in rates.items())
                         + "): say whose bitstream the board runs, or give the rate")
    return next(iter(rates.values()), None)


def format_report(result, board_clock_mhz=None):
    lines = [f"{result.board}: {result.bitstream}"]
    for label, (used, avail) in result.utilisation.items():
        lines.append(f"  {label:22s} {used:6d} / {avail:6d}  ({100 * used / avail:5.1f} %)")
    for name, (achieved, wanted) in result.clocks.items():
        verdict = "met" if achieved >= wanted else "NOT MET"
        lines.append(f"  clock {name}: Fmax {achieved:.2f} MHz vs constraint {wanted:.2f} MHz: "
                     f"timing {verdict}")
    if board_clock_mhz:
        lines.append(f"  (board oscillator {board_clock_mhz:g} MHz)")
    lines.append(f"  build time {result.seconds:.0f} s")
    return "\n".join(lines)


# Lines of tool output shown while building (the full log is in build.log).
_PROGRESS = re.compile(
    r"^(\d+\.\s+Executing (SYNTH|HIERARCHY|FLATTEN|OPT |MEMORY|TECHMAP|ABC|ICE40|ECP5)"
    r"|Info: (Packing|Placing|Running|Routing|Program finished|Device utilisation|"
    r"Max frequency|\s+(ICESTORM_LC|ICESTORM_RAM|ICESTORM_DSP|TRELLIS_COMB|DP16KD|MULT18X18D))"
    r"|ERROR|Error|error:|Warning: .*(timing|Timing))")


def _run_script(build_dir, script, log_path, echo):
    with open(log_path, "w") as log:
        proc = subprocess.Popen(["sh", f"{script}.sh"], cwd=build_dir, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, bufsize=1)
        tail = []
        for line in proc.stdout:
            log.write(line)
            tail = (tail + [line.rstrip()])[-30:]
            if echo and _PROGRESS.search(line.strip()):
                echo(line.rstrip())
        rc = proc.wait()
    if rc:
        over = overfull(log_utilisation(Path(log_path).read_text()))
        if over:
            raise BuildError("the design does not fit the device: " + ", ".join(
                f"{cell} {used} / {avail} ({100 * used / avail:.0f} %)"
                for cell, (used, avail) in over.items())
                + f"; a smaller core configuration or a larger part is needed (log: {log_path})")
        raise BuildError(f"the build script failed (exit {rc}); last lines of {log_path}:\n"
                         + "\n".join(tail))


def nextpnr_options(board, report_name, seed=None):
    """nextpnr's options for ``board``: the JSON report, no failure on missed timing
    (the build reports it itself), router2 on the ECP5 (it routes a large ECP5
    design several times faster than the default router1), and ``seed``, the
    placer's seed (None: nextpnr's own), so that timing can be checked on several."""
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or seed < 0):
        raise BuildError(f"the nextpnr seed must be a non-negative integer, not {seed!r}")
    opts = f"--report {report_name} --timing-allow-fail"
    if board == "ulx3s":
        opts += " --router router2"
    if seed is not None:
        opts += f" --seed {seed}"
    return opts


def build(board, out_dir=None, memory_init=(), config=None, freq=None, echo=print,
          check_timing=True, core=None, baud=None, seed=None):
    """Build ``board``'s bitstream into ``out_dir`` (default ``build/<board>``).

    ``memory_init``: (key, value) entries baked into the coordinate memory.
    ``config``, ``freq``, ``baud``: override the board's core configuration, clock
    and host-link rate (default: the fastest its USB bridge and clock allow).
    ``seed``: nextpnr's placement seed (None: nextpnr's own).
    ``echo``: a function receiving progress lines (None: silent).
    Raises :class:`TimingError` if a clock misses its constraint (after writing
    the bitstream, the report and the record), :class:`BuildError` for any other
    failure (a rate the clock cannot divide cleanly, before any tool runs).
    """
    if board not in BOARDS:
        raise BuildError(f"unknown board {board!r}; known: {', '.join(BOARDS)}")
    module_name, top_name, suffix = BOARDS[board]
    module = importlib.import_module(module_name)
    try:            # the rate first: one the clock cannot make fails before anything is made
        module.link_rate(module.DEFAULT_FREQ if freq is None else freq, baud)
    except BaudError as e:
        raise BuildError(f"{board}: {e}") from None
    overrides = {"config": config, "freq": freq, "core": core, "baud": baud}
    top = getattr(module, top_name)(memory_init=tuple(memory_init), **{
        name: value for name, value in overrides.items() if value is not None})
    out_dir = Path(out_dir or Path("build") / board).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    say = echo or (lambda line: None)
    start = time.monotonic()

    toolchain_env(module.platform().required_tools)
    say(f"[{board}] core {top.top.config}, clock {top.freq / 1e6:.3f} MHz "
        f"(UART divisor {top.rate.divisor} for {top.rate.baud} baud, "
        f"{100 * top.rate.error:+.2f} %)")
    steps = getattr(top.top.core, "micro_cycles", 1)
    core_module = type(top.top.core).__module__
    say(f"[{board}] {core_module}.{type(top.top.core).__name__}, "
        f"{steps} clock{'s' if steps > 1 else ''} per cycle"
        f"{' (block RAM register files)' if steps > 1 else ''}: "
        f"{top.freq / steps / 1e6:.3f} M core cycles/s")
    say(f"[{board}] elaborating and writing the build plan to {out_dir}")
    platform = module.platform()
    report_name = "report.json"
    nextpnr_opts = nextpnr_options(board, report_name, seed)
    plan = platform.prepare(top, name="top", verbose=True, nextpnr_opts=nextpnr_opts,
                            synth_opts=SYNTH_OPTS.get(board, ""))
    plan.extract(str(out_dir))
    for stale in (out_dir / report_name, out_dir / f"top.{suffix}", out_dir / RECORD_NAME):
        if stale.exists():
            stale.unlink()
    say(f"[{board}] synthesis (yosys), place and route (nextpnr), packing; log: "
        f"{out_dir / 'build.log'}")
    _run_script(out_dir, plan.script, out_dir / "build.log", say)

    bitstream = out_dir / f"top.{suffix}"
    if not bitstream.exists():
        raise BuildError(f"the build finished but wrote no bitstream {bitstream}")
    record = write_record(out_dir, board, top.rate, bitstream, core=core_module, seed=seed)
    say(f"[{board}] host link at {top.rate.baud} baud, recorded in {record} for vtpu run")
    try:
        report = json.loads((out_dir / report_name).read_text())
    except (OSError, ValueError) as e:
        raise BuildError(f"cannot read nextpnr's report {out_dir / report_name}: {e}") from None
    util, clocks = parse_report(board, report)
    result = BuildResult(board, bitstream, report, util, clocks, time.monotonic() - start)
    (out_dir / "summary.txt").write_text(format_report(result) + "\n")
    say(format_report(result, board_clock_mhz=12 if board == "icebreaker" else 25))
    if not clocks:
        raise BuildError(f"nextpnr's report has no clock figures: is the clock constraint lost?")
    if check_timing and not result.timing_met:
        misses = ", ".join(f"{n}: {a:.2f} MHz < {w:.2f} MHz" for n, (a, w) in clocks.items() if a < w)
        raise TimingError(f"{board}: timing NOT met ({misses}); lower the clock (--freq) "
                          f"or the core's size")
    return result
