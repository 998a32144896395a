"""The whole machine against the iCE40 UP5K: what issue 13 asks of the iCEBreaker, measured against what the part has.

Why a script: whether the float unit, a 16,384-entry memory and 12 M cycles/s fit
the UP5K together is a question of a few numbers, and each of them is measured
here rather than estimated:

1. **Logic** (:func:`bench_logic`): the board's whole top level (core, host link,
   UART) per module, ``synth_ice40 -noflatten -dsp``, at the iCEBreaker's
   configuration and at the same configuration with the float unit of the default
   core; against the part's 5,280 logic cells.
2. **Register files at one core cycle per clock** (:func:`bench_regfiles`): the
   data file's five reads and four writes (docs/isa.md section 3: MAC's three, a
   SCATTER's and a CPUT's; the integer, GATHER, CGET/KEY and float results) in
   flip-flops, synthesised, and in block RAM, counted: a 1-read 1-write block RAM
   serves ``k`` reads and ``k`` writes per core cycle at ``k`` clocks per cycle, so
   ``ceil(writes / k)`` banks (a live value table picks the newest) of
   ``ceil(reads / k)`` copies each.
3. **Coordinate memory in SPRAM** (:func:`memory_rows`): an entry holds its value
   (32 bits), a valid bit and its tag, the key above its set index
   (``9 B - set_bits`` bits, docs/isa.md section 5); the four SPRAMs hold 2**20 bits.
4. **Clock** (:func:`clock_rows`): core cycles per second at ``k`` clocks per cycle
   from a build's Fmax.

``python -m benchmarks.ice40_budget [--build DIR]`` prints the tables (``DIR``: a
``vtpu build --board icebreaker`` directory, for its Fmax and logic cells);
``benchmarks/run.py`` puts them in docs/benchmarks.md.
"""

import argparse
import sys

__all__ = ["UP5K", "bench_logic", "bench_regfiles", "memory_rows", "clock_rows", "budget_text",
           "logic_groups"]

#: The iCE40UP5K's resources (Lattice DS1056): logic cells, 4-kbit block RAMs of
#: 256 x 16 with one read and one write port, SPRAMs of 16,384 x 16 with one port.
UP5K = {"lcs": 5280, "ebr": 30, "ebr_depth": 256, "ebr_width": 16, "spram": 4,
        "spram_depth": 16384, "spram_width": 16, "dsp": 8}

#: Issue 13's targets for the iCEBreaker.
TARGET_ENTRIES = 16384
TARGET_SIWS = 1024
TARGET_RATE = 12e6

_DATA_READS, _DATA_WRITES = 5, 4          # docs/isa.md section 3 (above)
_CREG_READS, _CREG_WRITES = 3, 1          # ck, cj and the key's register; the C lane's write


def logic_groups(stat):
    """Per module of a board top's ``stat -json``: {module: {luts, ffs, carries, brams, dsps}}.

    The core's units by name (its ``core`` and ``arch`` levels skipped), the float
    unit's steps summed as ``float_unit``, the host link, the UART halves; what
    sits in the levels themselves is ``glue``."""
    from benchmarks.synthesis import add_cells, empty_counts
    groups = {}
    for module, data in stat["modules"].items():
        path = [p for p in module.lstrip("\\").split(".")[1:] if p not in ("core", "arch")]
        if "float_unit" in path:
            name = "float_unit"
        elif path[:1] == ["uart_rx"] or path[:1] == ["uart_tx"]:
            name = "uart"
        else:
            name = path[0] if path else "glue"
        add_cells(groups.setdefault(name, empty_counts()), data)
    # d_lane's own level holds only wiring once the float unit is counted apart.
    return {k: v for k, v in groups.items() if any(v.values())}


def bench_logic():
    """{label: groups} for the iCEBreaker's board top as built, and with the float
    unit of the default core (its float latency) in the same configuration."""
    from benchmarks.synthesis import noflatten_stat
    from boards.icebreaker import CONFIG, ICEBreakerTop
    from sim.isa.encoding import CoreConfig
    with_float = CoreConfig(dim_bits=CONFIG.dim_bits, set_bits=CONFIG.set_bits, ways=CONFIG.ways,
                            prog_depth=CONFIG.prog_depth,
                            float_latency=CoreConfig().float_latency)
    rows = {}
    for label, config in (("as built (no float unit)", CONFIG),
                          (f"with the float unit (F = {with_float.float_latency})", with_float)):
        # The board-independent top as the iCEBreaker builds it (its UART divisor,
        # link timeout and register files), without the clock and pin wrapper.
        rows[label] = logic_groups(noflatten_stat(ICEBreakerTop(config).top))
    return rows


def bench_regfiles():
    """The data register file at one core cycle per clock, in flip-flops (synthesised),
    and the block RAMs each way of building the register files and program memory takes
    at 1 and 2 clocks per cycle (counted)."""
    from boards.icebreaker import CONFIG
    from boards.synth import synth_stats
    from hdl.regfile import RegisterFile
    from sim.isa.encoding import NDIMS, SIW_BITS
    ff = synth_stats(RegisterFile(32, 32, read_ports=_DATA_READS, write_ports=_DATA_WRITES),
                     "ice40")
    width = UP5K["ebr_width"]
    rows = []
    for k in (1, 2):
        data = -(-_DATA_WRITES // k) * -(-_DATA_READS // k) * -(-32 // width)
        cregs = -(-_CREG_WRITES // k) * -(-_CREG_READS // k) * -(-NDIMS * CONFIG.dim_bits // width)
        prog = -(-TARGET_SIWS * SIW_BITS // (UP5K["ebr_depth"] * width))
        rows.append({"clocks": k, "data": data, "cregs": cregs, "prog": prog,
                     "total": data + cregs + prog})
    return {"ff": ff, "ebr": rows}


def memory_rows(dim_bits=(4, 5, 6, 8, 11)):
    """Per dimension width: bits per entry at 16,384 entries (one way, 14 set bits:
    the smallest tag), whether the four SPRAMs hold them, and the most entries (a
    power of two, one way) they hold at that width."""
    from sim.isa.encoding import NDIMS
    spram_bits = UP5K["spram"] * UP5K["spram_depth"] * UP5K["spram_width"]
    one_way = (TARGET_ENTRIES - 1).bit_length()      # set bits of the target at one way
    rows = []
    for b in dim_bits:
        key = NDIMS * b

        def entry(sets_log2):
            return 32 + 1 + max(0, key - sets_log2)
        need = TARGET_ENTRIES * entry(one_way)
        most = max(n for n in range(0, 21) if (1 << n) * entry(n) <= spram_bits)
        rows.append({"dim_bits": b, "key_bits": key, "entry_bits": entry(one_way), "bits": need,
                     "fits": need <= spram_bits, "most_entries": 1 << most,
                     "spram_bits": spram_bits})
    return rows


def clock_rows(fmax_mhz, clocks=(1, 2, 5)):
    """Core cycles per second at each number of clocks per cycle, at ``fmax_mhz``."""
    return [{"clocks": k, "rate": fmax_mhz * 1e6 / k} for k in clocks]


def budget_text(logic, regfiles, memory, build=None):
    """The budget's tables as Markdown.  ``build``: a board row of
    benchmarks.board_builds.read_board_dir for the iCEBreaker, or None."""
    lcs = UP5K["lcs"]
    out = ["Each module's LUT4s after `synth_ice40 -noflatten -dsp` of the board's whole top "
           "level (core, host link, UART), at the iCEBreaker's configuration and with the "
           f"default core's float unit added; the part has {lcs:,} logic cells (a LUT4 and "
           "a flip-flop each).", ""]
    labels = list(logic)
    names = sorted({n for g in logic.values() for n in g},
                   key=lambda n: -max(g.get(n, {}).get("luts", 0) for g in logic.values()))
    out += ["| module | " + " | ".join(f"LUT4s, {lab}" for lab in labels) + " |",
            "|---|" + "---:|" * len(labels)]
    for n in names:
        out.append(f"| {n} | " + " | ".join(str(logic[lab].get(n, {}).get("luts", "—"))
                                             for lab in labels) + " |")
    totals = [sum(g["luts"] for g in logic[lab].values()) for lab in labels]
    out.append("| **total** | " + " | ".join(f"**{t:,}** ({100 * t / lcs:.0f} % of the part)"
                                             for t in totals) + " |")
    if build and build.get("status") == "routed":
        used = build["util"].get("logic cells", (None,))[0]
        if used is not None:
            out += ["", f"Placed and routed as built (nextpnr report of `vtpu build --board "
                    f"icebreaker`, {build['date']}): {used:,} of {lcs:,} logic cells "
                    f"({100 * used / lcs:.0f} %), {lcs - used:,} free."]
    ff = regfiles["ff"]
    out += ["", f"The data register file for one core cycle per clock ({_DATA_READS} reads, "
            f"{_DATA_WRITES} writes): in flip-flops, `synth_ice40` makes {ff['luts']:,} LUT4s and "
            f"{ff['ffs']:,} flip-flops ({100 * ff['luts'] / lcs:.0f} % of the part's logic cells). "
            "In block RAM (one read and one write per clock), counted:", "",
            "| clocks per core cycle | data registers | coordinate registers | program "
            f"memory, {TARGET_SIWS} SIWs | total | the part |", "|---:|---:|---:|---:|---:|---:|"]
    for r in regfiles["ebr"]:
        out.append(f"| {r['clocks']} | {r['data']} | {r['cregs']} | {r['prog']} | "
                   f"**{r['total']}** | {UP5K['ebr']} |")
    out += ["", f"The coordinate memory in the four SPRAMs ({memory[0]['spram_bits']:,} bits): "
            "an entry is its value (32 bits), a valid bit and its tag, the key's "
            "9 B bits above the set index; the smallest tag is at one way (14 set bits for "
            f"{TARGET_ENTRIES:,} entries).", "",
            f"| dimension bits B | key bits | bits per entry at {TARGET_ENTRIES:,} | "
            f"bits for {TARGET_ENTRIES:,} entries | fit | most entries at B |",
            "|---:|---:|---:|---:|---|---:|"]
    for r in memory:
        out.append(f"| {r['dim_bits']} | {r['key_bits']} | {r['entry_bits']} | {r['bits']:,} | "
                   f"{'yes' if r['fits'] else 'no'} | {r['most_entries']:,} |")
    if build and build.get("status") == "routed":
        fmax = min(a for a, _ in build["clocks"].values())
        out += ["", f"Core cycles per second from the build's Fmax ({fmax:.2f} MHz), against "
                f"the target {TARGET_RATE / 1e6:g} M:", "",
                "| clocks per core cycle | M cycles/s |", "|---:|---:|"]
        for r in clock_rows(fmax):
            out.append(f"| {r['clocks']} | {r['rate'] / 1e6:.2f} |")
    return "\n".join(out)


def _main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", metavar="DIR",
                        help="a `vtpu build --board icebreaker` directory (its Fmax and cells)")
    args = parser.parse_args(argv)
    build = None
    if args.build:
        from benchmarks.board_builds import read_board_dir
        build = read_board_dir("icebreaker", args.build)
    print(budget_text(bench_logic(), bench_regfiles(), memory_rows(), build))
    return 0


if __name__ == "__main__":
    sys.exit(_main())
