"""The Targets section: each target of issue #5, its measured value, verdict, and what limits it.

Why: the other sections measure; this one reads their rows against the thresholds,
and where a target is missed names the measured cause (stalls and idle lanes, the
critical path, the size, the fast engine's own cost per cycle).
"""

import os
import re

from benchmarks.board_builds import BOARD_PARTS, path_text

__all__ = ["TARGET_OPC", "TARGET_FMAX", "TARGET_FAST_CPS", "targets"]

#: The targets of issue #5 (name -> threshold).
TARGET_OPC = 2.9                 # ops/cycle on the scheduled kernel (reduction.vasm)
TARGET_FMAX = {"icebreaker": 36.0, "ulx3s": 100.0}   # MHz, full core
#: Why reduction.vasm cannot reach the target on the pipelined core's table at F = 8
#: (the ULX3S's before its float unit was made no deeper than its clock needs, F = 7),
#: counted from the timing table (docs/isa.md section 7) for the work the example
#: documents, whatever its schedule.  Cycles: the 1,025 S operations (512 SCATTERs, 512
#: GATHERs, the total's SCATTER) retire one a cycle from cycle 7 on; the first SIW has
#: nothing to store yet; program memory (1,024 SIWs) needs a loop, whose exit costs 3
#: cycles before the last 4 SCATTERs (a float value is made 8 cycles before its
#: SCATTER: a loop running to the last GATHER would make values it never stores); and
#: the last GATHER's value is ready 4 cycles later and 8 more for each level of ADDs
#: above it, so by Kraft's inequality over the GATHER cycles (one every other cycle at
#: best) the total's SCATTER comes at least 28 cycles after the last GATHER:
#: 7 + 1,025 + 1 + 3 + 27 = 1,063 cycles at least.  Ops: 1,025 S; in D one for each
#: value, 511 ADDs, the step and one ADD more for each of z accumulators started from 0;
#: in C 1,021 cursor steps, the cursors' set-up, the loop's limit, the result's cursor
#: and HALT (a step per SCATTER and per GATHER leaves no C slot before the first LOOP
#: for a second set-up and the limit, so one GATHER goes through the store cursor and
#: saves the load cursor's first step): 3,075 + z.  2.9 in 1,063 cycles needs 3,083, z = 8; but with 28 cycles
#: the Kraft sum is within 1/16 (the loop exit's slack) of 1: the last levels of the
#: sum are 4 chains, each taking one new value every 8 cycles (the 4 values gathered
#: last, one under each ADD of the tree's third level), and each further accumulator
#: needs an ADD of two partial sums, which fits only where that slack (one, in the last
#: pass) or the D slots left while the first values are made (two or three) allow:
#: z = 7 at most, 2.899; a longer tail costs more cycles than the ops it makes room for
#: (z = 8 in 1,064 cycles is 2.898).
#: examples/reduction.vasm: 8 accumulators, 6 filled straight from a GATHER (z = 2),
#: 3,077 ops in 1,065 cycles.
_REDUCTION_BOUND_F8 = ("a bound on the work, not the schedule: its 1,025 S operations (512 SCATTERs, "
                       "512 GATHERs, the total's) retire one a cycle from cycle 7, the first SIW "
                       "has nothing to store, the LOOP's exit costs 3 before the last 4 SCATTERs "
                       "(values are made 8 cycles ahead), and the total's SCATTER comes at least "
                       "28 cycles after the last GATHER (4 to its value, 8 for each level of "
                       "ADDs): at least 1,063 cycles; 2.9 would then take 3,083 ops, 8 "
                       "accumulators started from 0, and those 28 cycles leave room to combine "
                       "only 4 partial sums")
#: The bound of each float latency worked out (by the ULX3S's table's F).
_REDUCTION_BOUNDS = {8: _REDUCTION_BOUND_F8}
TARGET_FAST_CPS = 1_000_000      # simulated cycles/s, fast engine


def targets(programs, engines, boards, breakdown, fp_rows, timing=None, units=None):
    """The Targets table from the other sections' rows (None or empty: not run);
    ``timing``: the Timing tables section's figures (bench_timing), for the
    ULX3S's core's table; ``units``: the ULX3S core's units alone
    (bench_unit_fmax), which say what bounds its clock unit by unit."""
    out = ["| target | measured | verdict | what limits it (measured) |", "|---|---|---|---|"]
    red = next((p for p in programs if p["name"] == "reduction.vasm"), None)
    if red:
        met = red["opc"] >= TARGET_OPC
        lost = (f"{red['cycles'] - red['siws']} cycles retire no SIW (stalls); "
                f"{3 * red['siws'] - red['ops']} of the {3 * red['siws']} lane slots of the "
                f"retired SIWs are NOPs")
        out.append(f"| ops/cycle >= {TARGET_OPC} on the scheduled kernel (reduction.vasm) | "
                   f"{red['opc']:.2f} ({red['ops']} ops / {red['cycles']} cycles) | "
                   f"{'met' if met else 'NOT met'} | "
                   f"{'—' if met else lost} |")
    else:
        out.append(f"| ops/cycle >= {TARGET_OPC} on reduction.vasm | not run | — | — |")
    if timing:
        from boards.ulx3s import CONFIG as ULX3S
        title = f"pipelined F={ULX3S.float_latency}"
        if title in timing["titles"]:
            opc = timing["examples"]["reduction.vasm"][timing["titles"].index(title)]
            met = opc is not None and opc >= TARGET_OPC
            bound = _REDUCTION_BOUNDS.get(ULX3S.float_latency, "no bound worked out for this table")
            out.append(f"| ops/cycle >= {TARGET_OPC} on reduction.vasm, the ULX3S's core "
                       f"({title}) | {opc:.2f} | {'met' if met else 'NOT met'} | "
                       f"{'—' if met else bound} |")
    fp = {r["family"]: r for r in fp_rows or ()}
    routed = {}                      # board -> its routed rows (one per build, e.g. per seed)
    for b in boards:
        if b["status"] == "routed":
            routed.setdefault(b["board"], []).append(b)
    for board, family in (("icebreaker", "ice40"), ("ulx3s", "ecp5")):
        want = TARGET_FMAX[board]
        part = BOARD_PARTS[board][0]
        r = next((b for b in boards if b["board"] == board), None)
        fp_note = (f"; the float unit alone reaches {fp[family]['fmax']:.1f} MHz on {family}"
                   if family in fp and fp[family]["fmax"] else "")
        if board == "ulx3s" and units:
            slow = sorted((u for u in units if u["fmax"] and u["fmax"] < want),
                          key=lambda u: u["fmax"])
            fp_note = ("; alone between registers (units table), " + (
                "below it: " + ", ".join(f"{u['unit']} {u['fmax']:.1f} MHz" for u in slow)
                if slow else f"every unit reaches {want:g} MHz"))
        if r is None:
            out.append(f"| Fmax >= {want:g} MHz, {part}, the board's core | not measured in this run "
                       f"(`--boards` or `--board-report {board}=DIR`) | — | —{fp_note} |")
        elif r["status"] == "routed":
            # Several builds (seeds): the slowest decides, each is listed.
            runs = routed[board]
            r = min(runs, key=lambda b: min(a for a, _ in b["clocks"].values()))
            fmax = min(a for a, _ in r["clocks"].values())
            met = fmax >= want
            c = r.get("critical")
            limit = "—" if met else (f"critical path: {path_text(c)}" if c
                                     else "no critical path in the report")
            steps = re.search(r"(\d+) clocks per cycle", r["design"])
            measured = f"{fmax:.1f} MHz"
            if len(runs) > 1:
                measured += " (the lowest of " + ", ".join(
                    f"{min(a for a, _ in b['clocks'].values()):.1f} MHz"
                    + (f" at seed {b['seed']}" if b.get("seed") is not None else "")
                    for b in runs) + ")"
            if steps:
                measured += (f" clock, {steps.group(1)} clocks per core cycle: "
                             f"{fmax / int(steps.group(1)):.1f} M core cycles/s at most")
            out.append(f"| Fmax >= {want:g} MHz, {part}, the board's core | {measured} | "
                       f"{'met' if met else 'NOT met'} | {limit}{fp_note if not met else ''} |")
        elif r["status"] == "synthesis" and r["synth"]["luts"] <= r["lcs"]:
            out.append(f"| Fmax >= {want:g} MHz, {part}, the board's core | not placed in this "
                       f"run (`--boards` or `--board-report {board}=DIR`) | — | —{fp_note} |")
        else:
            if r["status"] == "synthesis":
                measured = (f"does not fit: {r['synth']['luts']} LUT4s after synthesis vs "
                            f"{r['lcs']} logic cells")
            else:
                measured = "does not fit: " + ", ".join(
                    f"{k} {u} / {a}" for k, (u, a) in r["over"].items())
            limit = "size"
            if breakdown:
                total = sum(g["luts"] for g in breakdown.values())
                top = sorted(breakdown.items(), key=lambda kv: -kv[1]["luts"])[:3]
                limit = "LUT4s of " + ", ".join(
                    f"{k} {g['luts']} ({100 * g['luts'] / total:.0f} %)" for k, g in top) + \
                    f" of {total} (per-module table above)"
            out.append(f"| Fmax >= {want:g} MHz, {part}, the board's core | {measured} | NOT met "
                       f"(no placement, no Fmax) | {limit}{fp_note} |")
    fast = next((e for e in engines if e["engine"] == "fast"), None) if engines else None
    if fast and "missing" not in fast:
        cps = fast["cycles"] / fast["wall"]
        cpu = fast["cycles"] / fast["cpu"] if fast.get("cpu") else None
        met = cps >= TARGET_FAST_CPS
        load = (f"; load average {fast['load']:.1f} on {os.cpu_count()} CPUs when measured"
                if fast.get("load") is not None else "")
        limit = "—" if met else (
            f"the compiled model's own cost: {1e9 / cpu:,.0f} ns of CPU per simulated cycle "
            f"({cpu:,.0f} cycles per CPU second"
            + (", also below the target" if cpu < TARGET_FAST_CPS else
               "; the shortfall is time the process did not get the CPU") + f"){load}"
            if cpu else "—")
        out.append(f"| fast engine >= {TARGET_FAST_CPS:,} simulated cycles/s | {cps:,.0f} "
                   f"(reduction.vasm, wall time) | {'met' if met else 'NOT met'} | {limit} |")
    else:
        out.append(f"| fast engine >= {TARGET_FAST_CPS:,} simulated cycles/s | not run | — | — |")
    return "\n".join(out)
