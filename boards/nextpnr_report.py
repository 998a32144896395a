"""Readers of nextpnr's output: its ``--report`` JSON (utilisation, Fmax, critical path), its log.

Why one module: ``vtpu build`` (boards/build.py) prints a build's utilisation and
timing and names what did not fit, and the benchmarks (benchmarks/board_builds.py,
benchmarks/fmax.py) tabulate the same figures from the same files; reading them
in one place keeps the two from disagreeing about what nextpnr said.  Nothing
here runs a tool: every function takes what nextpnr wrote (a parsed report.json,
a log's text).
"""

import os
import re

__all__ = ["RESOURCES", "parse_report", "critical_path", "cell_module", "log_utilisation",
           "overfull", "log_fmax"]

#: The repository: design sources along a critical path are named relative to it.
_REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: Report utilisation keys worth printing, by board: (nextpnr cell type, label).
RESOURCES = {
    "icebreaker": [("ICESTORM_LC", "logic cells"), ("ICESTORM_RAM", "block RAM (4 kbit)"),
                   ("ICESTORM_DSP", "DSP"), ("ICESTORM_SPRAM", "SPRAM"), ("ICESTORM_PLL", "PLL")],
    "ulx3s": [("TRELLIS_COMB", "LUT4s"), ("TRELLIS_FF", "flip-flops"),
              ("DP16KD", "block RAM (18 kbit)"), ("MULT18X18D", "DSP 18x18"),
              ("EHXPLLL", "PLL")],
}

# One line of nextpnr's "Device utilisation" block: "Info:   ICESTORM_LC:  4000/  5280    75%".
_UTIL_LINE = re.compile(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%")

# nextpnr's timing summary: "Info: Max frequency for clock 'clk': 56.12 MHz (PASS at 50.00 MHz)".
_FMAX_LINE = re.compile(r"Max frequency for clock[^:]*: ([0-9.]+) MHz")

# A plain hierarchical name (a design module), as opposed to a generated cell suffix.
_MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def parse_report(board, report):
    """(utilisation {label: (used, available)}, clocks {name: (achieved MHz, constraint MHz)})."""
    util = {}
    for key, label in RESOURCES[board]:
        entry = report.get("utilization", {}).get(key)
        if entry is not None:
            util[label] = (entry["used"], entry["available"])
    clocks = {name: (f["achieved"], f["constraint"]) for name, f in report.get("fmax", {}).items()}
    return util, clocks


def critical_path(report, root=_REPOSITORY):
    """The critical path of the slowest clock in a nextpnr ``--report`` JSON, as
    {clock, fmax, delay (ns), from, to (cells), logic (steps), by_module (logic steps
    per design module), sources (file:line of the design along it, relative to
    ``root``; files outside it left out)}; None if the report has none."""
    fmax = report.get("fmax", {})
    if not fmax:
        return None
    clock = min(fmax, key=lambda c: fmax[c]["achieved"])
    for path in report.get("critical_paths", []):
        if path.get("from") == f"posedge {clock}" and path.get("to") == f"posedge {clock}":
            steps = path.get("path", [])
            if not steps:
                continue
            sources = []
            for s in steps:
                for src in s.get("sources", []):
                    src = src.split(" ")[0]
                    rel = os.path.relpath(src, root) if os.path.isabs(src) else src
                    if src.startswith("/share/") or rel.startswith(".."):
                        continue
                    if rel not in sources:
                        sources.append(rel)
            by_module = {}
            for st in steps:
                if st.get("type") == "logic":
                    mod = cell_module(st["from"]["cell"])
                    by_module[mod] = by_module.get(mod, 0) + 1
            return {"clock": clock, "fmax": fmax[clock]["achieved"], "by_module": by_module,
                    "delay": sum(s.get("delay", 0) for s in steps),
                    "from": steps[0]["from"]["cell"], "to": steps[-1]["to"]["cell"],
                    "logic": sum(1 for s in steps if s.get("type") == "logic"),
                    "sources": sources}
    return None


def cell_module(cell):
    """The design module of a nextpnr cell name: its leading plain hierarchical names
    (``top.core.clane.x_LUT4_Z`` -> ``top.core.clane``)."""
    mods = []
    for part in cell.split(".")[:-1]:
        if not _MODULE_NAME.fullmatch(part):
            break
        mods.append(part)
    return ".".join(mods) or "(top)"


def log_utilisation(text):
    """{cell type: (used, available)} from the "Device utilisation" lines of a nextpnr
    log (the last figure of each type wins)."""
    util = {}
    for line in text.splitlines():
        m = _UTIL_LINE.match(line.strip())
        if m:
            util[m.group(1)] = (int(m.group(2)), int(m.group(3)))
    return util


def overfull(util):
    """The entries of a utilisation {cell type: (used, available)} above 100 %."""
    return {cell: (used, avail) for cell, (used, avail) in util.items() if used > avail}


def log_fmax(text):
    """The Fmax figures (MHz) of a nextpnr log, in the order nextpnr printed them (after
    placement, then after routing: the last is the final one)."""
    return [float(x) for x in _FMAX_LINE.findall(text)]
