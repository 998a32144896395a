"""The Boards section: each board's full-core build, read from its `vtpu build` directory.

Why: a placed and routed build is the only honest Fmax, and a board build takes
minutes, so a row comes from a build directory (``--board-report BOARD=DIR``) or
from a build this run makes (``--boards``); nextpnr's report.json or, for a design
that did not fit, the utilisation lines of its build.log (both read by
boards/nextpnr_report.py, like ``vtpu build``), and the design's own RTLIL say
what was built.  Without a build, the iCEBreaker row comes from the synthesis of
its core.
"""

import datetime
import json
import os
import re

from boards.nextpnr_report import critical_path, log_utilisation, overfull, parse_report
from benchmarks.environment import say
from benchmarks.synthesis import config_text

__all__ = ["BOARD_PARTS", "UP5K_RESOURCES", "path_text", "describe_design", "read_board_dir",
           "run_board_build", "board_clock", "board_table", "icebreaker_synth_row"]

#: Board -> (part, logic-cell label of boards.nextpnr_report.parse_report).
BOARD_PARTS = {"icebreaker": ("iCE40UP5K-SG48", "logic cells"),
               "ulx3s": ("LFE5U-85F", "LUT4s")}


#: What the iCE40UP5K offers (its datasheet; nextpnr's reports list the same "available"
#: counts): logic cells, 4-kbit block RAMs, DSPs.  Used only when the core is not placed.
UP5K_RESOURCES = {"lcs": 5280, "brams_avail": 30, "dsps_avail": 8}


def path_text(c, sources=6):
    text = (f"{c['delay']:.1f} ns, {c['logic']} logic steps, from `{c['from']}` to `{c['to']}`")
    if c.get("by_module"):
        text += "; logic steps by module: " + ", ".join(
            f"`{m}` {n}" for m, n in sorted(c["by_module"].items(), key=lambda kv: -kv[1]))
    if c["sources"]:
        text += "; design sources nextpnr lists along it: " + ", ".join(
            f"`{s}`" for s in c["sources"][:sources])
    return text


def describe_design(directory):
    """What a `vtpu build` directory holds, from its RTLIL (``top.il``): the full
    Sentron and its memory shape, or something else (e.g. a test stand-in)."""
    il = os.path.join(directory, "top.il")
    if not os.path.exists(il):
        netlist = os.path.join(directory, "top.json")   # Yosys's netlist: names only
        if os.path.exists(netlist):
            with open(netlist) as f:
                if ".coord_memory" in f.read():
                    return "Sentron core (shape not recorded: no top.il)"
        return None
    with open(il) as f:
        text = f.read()
    # The core's own modules sit under .core, or under .core.arch when its cycle is
    # several clocks (hdl/core.py, regfile="bram").
    if not re.search(r"^module \\\S*\.core(\.arch)?\.coord_memory$", text, re.M):
        return None
    prog = re.search(r"memory width 64 size (\d+) \\prog", text)
    ways = re.findall(r"memory width (\d+) size (\d+) \\way(\d+)", text)
    # The coordinate register file: one memory (block RAM) or flip-flops reg0..reg7.
    cregs = re.search(r"^module \\\S*\.core\.cregs\n(?:.*\n){0,8}?\s*(?:memory|wire) width (\d+) ",
                      text, re.M)
    parts = []
    if cregs:
        parts.append(f"B = {int(cregs.group(1)) // 9}")
    if ways:
        parts.append(f"{ways[0][1]} sets x {len(ways)} ways")
    if prog:
        parts.append(f"{prog.group(1)} SIWs")
    if not re.search(r"^module \\\S*\.core(\.arch)?\.d_lane\.float_unit$", text, re.M):
        parts.append("no float unit")
    regs = re.search(r"^module \\\S*\.core\.regs\n(?:.*\n){0,8}?\s*memory \S+ \S+ \S+ \S+ \\(\w+)",
                     text, re.M)
    kind = {"copy0": "block RAM, 5 clocks per cycle", "bank0": "LUT RAM"}.get(
        regs.group(1) if regs else None, "flip-flops")
    parts.append("register files in " + kind if kind.startswith("block") else
                 "data registers in " + kind)
    return "Sentron core" + (f" ({', '.join(parts)})" if parts else "")


#: The cores' names in the board rows (hdl.cores).
CORE_NAMES = {"hdl.core": "three-stage core", "hdl.pipeline.core": "pipelined core"}


def build_facts(directory):
    """(core module, nextpnr seed) of a `vtpu build` directory: the core from its
    build record (build.json), or for a build made before the record named it,
    from the design's own source attributes (top.il: which core's file the
    design came from); the seed from the nextpnr command line the build ran
    (build_top.sh; None if it gave none)."""
    core = seed = None
    try:
        with open(os.path.join(directory, "build.json")) as f:
            core = json.load(f).get("core")
    except (OSError, ValueError, AttributeError):
        pass
    if core is None:
        try:
            with open(os.path.join(directory, "top.il")) as f:
                text = f.read()
            core = next((module for module, path in (("hdl.pipeline.core", "hdl/pipeline/core.py"),
                                                     ("hdl.core", "hdl/core.py"))
                         if path in text), None)
        except OSError:
            pass
    try:
        with open(os.path.join(directory, "build_top.sh")) as f:
            found = re.search(r"--seed (\d+)", f.read())
        seed = int(found.group(1)) if found else None
    except OSError:
        pass
    return core, seed


def read_board_dir(board, directory):
    """The figures of a `vtpu build --board BOARD -o DIRECTORY` (boards/build.py):
    from nextpnr's report.json if the build was placed and routed, else from the
    utilisation lines of build.log if it did not fit."""
    directory = os.path.abspath(directory)
    report_path = os.path.join(directory, "report.json")
    log_path = os.path.join(directory, "build.log")
    design = describe_design(directory)
    if design is None:
        raise SystemExit(f"{directory}: not a build of the Sentron core (no core.coord_memory "
                         f"in its top.il / top.json); the board rows are the core's")
    core, seed = build_facts(directory)
    if core:
        design += f", {CORE_NAMES.get(core, core)}"
    row = {"board": board, "dir": directory, "design": design, "seed": seed}
    if os.path.exists(report_path):
        with open(report_path) as f:
            report = json.load(f)
        util, clocks = parse_report(board, report)
        row.update(status="routed", util=util, clocks=clocks, critical=critical_path(report),
                   date=_mtime(report_path))
        return row
    if os.path.exists(log_path):
        with open(log_path) as f:
            util = log_utilisation(f.read())
        over = overfull(util)
        if over:
            row.update(status="does not fit", over=over, util_raw=util, date=_mtime(log_path))
            return row
    raise SystemExit(f"{directory}: neither a nextpnr report.json nor an overfull build.log "
                     f"(is the build finished?)")


def _mtime(path):
    return datetime.datetime.fromtimestamp(os.path.getmtime(path), datetime.timezone.utc) \
        .strftime("%Y-%m-%d %H:%M UTC")


def run_board_build(board, out_root):
    """Build the board's full core (boards/build.py) into out_root/board; its row."""
    from boards.build import BuildError, build
    out = os.path.join(out_root, board)
    say(f"building {board} into {out} (full core; this takes long) ...")
    try:
        build(board, out_dir=out, echo=lambda line: say("  " + line), check_timing=False)
    except BuildError as e:
        say(f"  {board}: {e}")
    return read_board_dir(board, out)


def board_clock(board):
    """(board oscillator MHz, the board's default core clock MHz)."""
    import importlib
    from boards.build import BOARDS
    module = importlib.import_module(BOARDS[board][0])
    return module.platform().default_clk_frequency / 1e6, getattr(module, "DEFAULT_FREQ", 0) / 1e6


def _used(util, label):
    if label not in util:
        return "—"
    used, avail = util[label]
    return f"{used} / {avail} ({100 * used / avail:.0f} %)"


def board_table(rows):
    out = ["| board | part | build (core, report date) | logic | BRAM | DSP | Fmax | "
           "core clock (constraint) | oscillator | timing |",
           "|---|---|---|---|---|---|---:|---:|---:|---|"]
    crit = []
    for r in rows:
        part, logic = BOARD_PARTS[r["board"]]
        osc, _ = board_clock(r["board"])
        if r["status"] == "routed":
            u = r["util"]
            bram = next((k for k in u if k.startswith("block RAM")), None)
            dsp = next((k for k in u if k.startswith("DSP")), None)
            clock, (fmax, want) = min(r["clocks"].items(), key=lambda kv: kv[1][0])
            seed = f", seed {r['seed']}" if r.get("seed") is not None else ""
            out.append(f"| {r['board']} | {part} | {r['design']}; nextpnr report of "
                       f"`vtpu build`{seed}, {r['date']} | {_used(u, logic)} {logic} | "
                       f"{_used(u, bram) if bram else '0'} | {_used(u, dsp) if dsp else '0'} | "
                       f"**{fmax:.1f} MHz** | {want:.1f} MHz | {osc:g} MHz | "
                       f"{'met' if fmax >= want else 'NOT met'} |")
            if r.get("critical"):
                crit.append((r["board"] + (f", seed {r['seed']}" if r.get("seed") is not None
                                           else ""), r["critical"]))
        elif r["status"] == "does not fit":
            over = ", ".join(f"{k} {u} / {a}" for k, (u, a) in r["over"].items())
            raw = r["util_raw"]

            def cell(kind):
                return next((f"{u} / {a}" for k, (u, a) in raw.items() if k == kind), "—")
            ram, dsp = {"icebreaker": ("ICESTORM_RAM", "ICESTORM_DSP"),
                        "ulx3s": ("DP16KD", "MULT18X18D")}[r["board"]]
            out.append(f"| {r['board']} | {part} | {r['design']}; nextpnr log of `vtpu build` "
                       f"(packing), {r['date']} | **does not fit**: {over} | {cell(ram)} | "
                       f"{cell(dsp)} | — (not placed) | — | {osc:g} MHz | — |")
        else:   # synthesis only
            s = r["synth"]
            verdict = "**does not fit**: " if s["luts"] > r["lcs"] else ""
            out.append(f"| {r['board']} | {part} | {r['design']}; Yosys `synth_ice40` "
                       f"(this run), not placed | {verdict}{s['luts']} LUT4s + "
                       f"{s['ffs']} flip-flops after synthesis, {r['lcs']} logic cells present "
                       f"(a logic cell holds one LUT4 and one flip-flop) | "
                       f"{s['brams']} / {r['brams_avail']} | "
                       f"{s['dsps']} / {r['dsps_avail']} | — (not placed) | — | {osc:g} MHz | — |")
    for r in rows:
        if r.get("dir"):
            what = "report.json" if r["status"] == "routed" else "build.log"
            out += ["", f"{r['board']}: read from the `vtpu build` directory `{r['dir']}` "
                    f"({what}, {r['date']})."]
    for board, c in crit:
        out += ["", f"Critical path, {board} (clock `{c['clock']}`, nextpnr report): "
                f"{path_text(c, sources=20)}."]
    return "\n".join(out)


def icebreaker_synth_row(synth_rows):
    """The iCEBreaker row from the synthesis of its core configuration (no build)."""
    from boards.icebreaker import CONFIG, REGFILE
    row = next(r for r in synth_rows if r["name"].startswith("Sentron core (iCEBreaker"))
    return {"board": "icebreaker", "status": "synthesis", "synth": row["ice40"],
            "design": f"Sentron core ({config_text(CONFIG)}, register files: {REGFILE})",
            **UP5K_RESOURCES}
