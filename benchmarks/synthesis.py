"""The Synthesis sections: Yosys cells per unit and per module, and the float unit placed alone.

Why: the hardware cost of each unit on both FPGA families (``synth_ice40``,
``synth_ecp5``: boards/synth.py), where the iCEBreaker core's LUTs go (each
module's own cells, ``synth_ice40 -noflatten``), and the float unit's Fmax between
registers (benchmarks/fmax.py), the figure that placed its pipeline registers.
"""

import json
import os
import time
import warnings

from benchmarks.environment import say

__all__ = ["components", "config_text", "bench_synth", "synth_table", "module_breakdown",
           "add_cells", "empty_counts", "noflatten_stat", "bench_breakdown", "breakdown_table",
           "bench_fp_fmax", "fp_table"]


def components():
    """(label, factory) of every unit worth a synthesis figure, the whole core last."""
    from sim.isa.encoding import CoreConfig
    from hdl.c_lane import CLane
    from hdl.coord_memory import CoordinateMemory
    from hdl.core import Sentron
    from hdl.decoder import Decoder
    from hdl.d_lane.float_unit import FloatUnit
    from hdl.issue import IssueUnit
    from hdl.morton import MortonDecoder, MortonEncoder
    from hdl.regfile import RegisterFile
    units = [
        ("MortonEncoder (9x11 bits)", lambda: MortonEncoder()),
        ("MortonDecoder (9x11 bits)", lambda: MortonDecoder()),
        ("Decoder", lambda: Decoder()),
        ("IssueUnit (F=4)", lambda: IssueUnit(4)),
        ("CLane", lambda: CLane()),
    ]
    try:
        from hdl.d_lane.int_alu import IntAlu
        units.append(("IntAlu", lambda: IntAlu()))
    except ImportError:
        pass
    # The register files as the core builds them (port counts change with the core).
    from amaranth.hdl import UnusedElaboratable
    warnings.filterwarnings("ignore", category=UnusedElaboratable)   # only inspected
    core = Sentron(CoreConfig())
    files = []
    for label, rf in (("data", core._regs), ("coordinate", core._cregs)):
        nr, nw = len(getattr(rf, "read", ())), len(getattr(rf, "write", ()))
        files.append((f"RegisterFile, {label}: {rf.depth}x{rf.width} ({nr}R {nw}W)",
                      lambda rf=rf, nr=nr, nw=nw: RegisterFile(rf.width, rf.depth, nr, nw)))
    units += [("FloatUnit (F=4)", lambda: FloatUnit(4))] + files + [
        ("CoordinateMemory (256 sets x 4 ways)", lambda: CoordinateMemory(11, 8, 4)),
        ("Sentron core (default config)", lambda: Sentron(CoreConfig())),
    ]
    from boards.icebreaker import CONFIG as ice, REGFILE as ice_rf
    from hdl.core import BRAM_STEPS
    from hdl.regfile import BlockRamRegisterFile
    units += [
        (f"RegisterFile, data, block RAM: 32x32 (5R 4W, 2 copies, {BRAM_STEPS} clocks per cycle)",
         lambda: BlockRamRegisterFile(32, 32, 5, 4, steps=BRAM_STEPS, copies=2)),
        (f"Sentron core (iCEBreaker: {config_text(ice)}, register files: {ice_rf})",
         lambda: Sentron(ice, regfile=ice_rf)),
    ]
    # The ULX3S core: its data register file in the ECP5's distributed RAM (no iCE40 figure:
    # iCE40 has no distributed RAM).
    from boards.ulx3s import CONFIG as ulx, REGFILE
    from hdl.cores import core_class
    from hdl.regfile import make_register_file
    rf = core._regs
    nr, nw = len(getattr(rf, "read", ())), len(getattr(rf, "write", ()))
    units += [
        (f"RegisterFile, data, {REGFILE}: {rf.depth}x{rf.width} ({nr}R {nw}W)",
         lambda: make_register_file(REGFILE, rf.width, rf.depth, nr, nw), ("ecp5",)),
        (f"Sentron core (ULX3S: the pipelined core, {config_text(ulx)}, data registers: "
         f"{REGFILE})", lambda: core_class(ulx)(ulx, regfile=REGFILE), ("ecp5",)),
    ]
    return units


def config_text(config):
    from sim.isa.encoding import CoreConfig
    default = CoreConfig()
    text = f"{config.sets} sets x {config.ways} ways, {config.prog_depth} SIWs"
    if config.dim_bits != default.dim_bits:
        text = f"B = {config.dim_bits}, " + text
    if config.has_float and config.float_latency != default.float_latency:
        text += f", float latency {config.float_latency}"
    return text + ("" if config.has_float else ", no float unit")


def bench_synth(families=("ice40", "ecp5")):
    from boards.synth import synth_stats
    rows = []
    for label, make, *only in components():
        row = {"name": label}
        for family in (only[0] if only else families):
            start = time.perf_counter()
            s = synth_stats(make(), family)
            row[family] = s
            say(f"  {family:5} {label}: {s['luts']} LUTs, {s['ffs']} FFs, {s['brams']} BRAMs, "
                f"{s['dsps']} DSPs ({time.perf_counter() - start:.0f} s)")
        rows.append(row)
    for row in rows:
        if row["name"].startswith("Morton"):
            for family in families:
                if row.get(family, {}).get("cells", 0) != 0:
                    raise SystemExit(f"{row['name']} costs {row[family]['cells']} cells on "
                                     f"{family}: the Morton units must be pure wiring")
    return rows


#: Extra columns per family: (label, cell type substring) counted from ``by_type``.
_EXTRA = {"ecp5": [("LUT RAMs (DPR16X4)", "DPR16X4")]}


def synth_table(rows, families=("ice40", "ecp5")):
    heads = []
    for f in families:
        heads += [f"{f} LUTs", f"{f} FFs", f"{f} BRAMs", f"{f} DSPs"] + \
            [f"{f} {label}" for label, _ in _EXTRA.get(f, ())]
    out = ["| component | " + " | ".join(heads) + " |", "|---|" + "---:|" * len(heads)]
    for r in rows:
        cells = []
        for f in families:
            s = r.get(f)
            extra = _EXTRA.get(f, ())
            if s is None:
                cells += ["—"] * (4 + len(extra))
                continue
            cells += [str(s["luts"]), str(s["ffs"]), str(s["brams"]), str(s["dsps"])]
            cells += [str(sum(n for t, n in s["by_type"].items() if key in t)) for _, key in extra]
        out.append(f"| {r['name']} | " + " | ".join(cells) + " |")
    return "\n".join(out)


#: The iCE40 primitive classes counted per module.
_ICE40_CLASSES = {"luts": ("SB_LUT4",), "ffs": ("SB_DFF",), "carries": ("SB_CARRY",),
                  "brams": ("SB_RAM40_4K", "SB_SPRAM256KA"), "dsps": ("SB_MAC16",)}


def module_breakdown(stat, top="top"):
    """Per submodule of ``top`` (children summed into their top-level submodule;
    ``top`` itself is "top glue"): {group: {class: count}} from Yosys ``stat -json``."""
    groups = {}
    for module, data in stat["modules"].items():
        name = module.lstrip("\\")
        if name == top:
            group = "top glue"
        elif name.startswith(top + "."):
            # A core of several clocks per cycle keeps its units under "arch".
            path = name[len(top) + 1:].split(".")
            group = path[1] if path[0] == "arch" and len(path) > 1 else (
                "top glue" if path == ["arch"] else path[0])
        else:
            group = name
        g = groups.setdefault(group, empty_counts() | {"modules": 0})
        g["modules"] += 1
        add_cells(g, data)
    return groups


def add_cells(counts, module):
    """Add the iCE40 primitives of ``module`` (one entry of Yosys ``stat -json``'s
    "modules") to ``counts``, a {class: count} dict of every class."""
    for cell, n in module.get("num_cells_by_type", {}).items():
        for cls, prefixes in _ICE40_CLASSES.items():
            if any(cell.startswith(p) for p in prefixes):
                counts[cls] += n


def empty_counts():
    """A {class: 0} dict of every iCE40 primitive class :func:`add_cells` counts."""
    return {c: 0 for c in _ICE40_CLASSES}


def noflatten_stat(component):
    """Yosys ``stat -json`` of ``component`` after ``synth_ice40 -noflatten -dsp``:
    each module's own cells, for a per-module breakdown."""
    import subprocess
    import tempfile
    from amaranth.back import rtlil
    from boards.synth import yosys_command
    from boards.toolchain import prepare
    prepare(["yosys"])                                 # its first run once, under a lock
    with tempfile.TemporaryDirectory(prefix="vtpu-bench-") as tmp:
        with open(os.path.join(tmp, "design.il"), "w") as f:
            f.write(rtlil.convert(component, name="top"))
        subprocess.run([yosys_command(), "-q", "-l", "yosys.log", "-p",
                        "read_rtlil design.il; synth_ice40 -noflatten -dsp -top top; "
                        "tee -q -o stat.json stat -json"], cwd=tmp, check=True,
                       capture_output=True, timeout=3600)
        with open(os.path.join(tmp, "stat.json")) as f:
            return json.load(f)


def bench_breakdown(config, regfile="ff"):
    """``synth_ice40 -noflatten -dsp`` of the core at ``config``, then ``stat``: per module."""
    from hdl.cores import core_class
    start = time.perf_counter()
    stat = noflatten_stat(core_class(config)(config, regfile=regfile))
    say(f"  breakdown: {time.perf_counter() - start:.0f} s")
    return module_breakdown(stat)


def breakdown_table(groups):
    total = {c: sum(g[c] for g in groups.values()) for c in _ICE40_CLASSES}
    order = sorted(groups, key=lambda k: -groups[k]["luts"])
    out = ["| module | LUT4s | share of LUT4s | flip-flops | carries | BRAMs | DSPs |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    for name in order:
        g = groups[name]
        label = name + (f" ({g['modules']} modules summed)" if g["modules"] > 1 else "")
        out.append(f"| {label} | {g['luts']} | {100 * g['luts'] / max(1, total['luts']):.0f} % | "
                   f"{g['ffs']} | {g['carries']} | {g['brams']} | {g['dsps']} |")
    out.append(f"| **total** | **{total['luts']}** | 100 % | {total['ffs']} | "
               f"{total['carries']} | {total['brams']} | {total['dsps']} |")
    return "\n".join(out)


def bench_fp_fmax(latency):
    """The float unit between registers, placed and routed alone (benchmarks/fmax.py)."""
    from benchmarks.fmax import FLOWS, measure
    rows = []
    for family in ("ice40", "ecp5"):
        start = time.perf_counter()
        r = measure(latency, family)
        c = r["cells"]
        part = " ".join(a for a in FLOWS[family][2] if a.startswith("--") and a != "--package")
        rows.append({"family": family, "device": part.lstrip("-"), "fmax": r["fmax"],
                     "luts": c.get("SB_LUT4", 0) + c.get("LUT4", 0),
                     "dsps": c.get("SB_MAC16", 0) + c.get("MULT18X18D", 0),
                     "seconds": time.perf_counter() - start})
        say(f"  float unit {family}: {r['fmax']} MHz ({rows[-1]['seconds']:.0f} s)")
    return rows


def bench_unit_fmax(names=None, seed=1):
    """Each unit of the ULX3S's core alone between registers, placed and routed on
    the ECP5-85F for 100 MHz (:func:`benchmarks.fmax.measure_unit`): the clock each
    unit allows by its own paths, before any wiring between units."""
    from benchmarks.fmax import UNITS, measure_unit
    rows = []
    for name in names or UNITS():
        start = time.perf_counter()
        r = measure_unit(name, seed)
        c = r["cells"]
        rows.append({"unit": name, "fmax": r["fmax"], "luts": c.get("LUT4", 0),
                     "ffs": sum(n for cell, n in c.items() if cell.startswith("TRELLIS_FF")),
                     "brams": c.get("DP16KD", 0), "dsps": c.get("MULT18X18D", 0),
                     "seconds": time.perf_counter() - start})
        say(f"  {name}: {r['fmax']} MHz ({rows[-1]['seconds']:.0f} s)")
    return rows


def unit_table(rows):
    """The rows of :func:`bench_unit_fmax`, slowest unit first."""
    out = ["| unit | LUT4s | flip-flops | block RAMs | DSPs | Fmax alone |",
           "|---|---:|---:|---:|---:|---:|"]
    for r in sorted(rows, key=lambda r: r["fmax"] or 0):
        fmax = f"{r['fmax']:.1f} MHz" if r["fmax"] else "no clocked path"
        out.append(f"| {r['unit']} | {r['luts']} | {r['ffs']} | {r['brams']} | {r['dsps']} | "
                   f"{fmax} |")
    return "\n".join(out)


def fp_table(rows, latency):
    out = [f"FloatUnit (F={latency}) with registers on every input and output (the way the "
           "core drives it), `python -m benchmarks.fmax`, nextpnr seed 1:", "",
           "| family | nextpnr device | LUT4s | DSPs | Fmax |", "|---|---|---:|---:|---:|"]
    for r in rows:
        fmax = f"{r['fmax']:.1f} MHz" if r["fmax"] else "—"
        out.append(f"| {r['family']} | {r['device']} | {r['luts']} | {r['dsps']} | {fmax} |")
    return "\n".join(out)
