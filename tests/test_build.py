"""Bitstream builds: the full Sentron on each board (iCEBreaker and ULX3S) in the default run.

Each build runs the PyPI toolchain (yowasp Yosys, nextpnr, icepack/ecppack) on the
board's platform wrapper, PLL, UART and host link around a core, and its figures
are read back here from nextpnr's own JSON report, independently of
boards/build.py's parsing.  Measured figures are in docs/boards.md.
"""

import json
import re
from pathlib import Path

import pytest

from boards import flash as flash_mod
from boards.build import (BuildError, BuildResult, TimingError, build, format_report,
                          nextpnr_options, read_record)
from boards.nextpnr_report import parse_report
from boards.pll import ecp5_pll, ice40_pll

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


# -- fast checks of the pieces

@pytest.mark.parametrize("target", [18e6, 24e6, 30e6, 48e6, 100e6])
def test_ice40_pll_from_first_principles(target):
    p = ice40_pll(12e6, target)
    f_pfd = 12e6 / (p.divr + 1)
    f_vco = f_pfd * (p.divf + 1)
    assert 10e6 <= f_pfd <= 133e6 and 533e6 <= f_vco <= 1066e6 and 1 <= p.divq <= 6
    assert p.f_out == f_vco / 2 ** p.divq <= target
    assert p.f_out > 0.95 * target


@pytest.mark.parametrize("target", [25e6, 40e6, 50e6, 62.5e6, 100e6])
def test_ecp5_pll_from_first_principles(target):
    p = ecp5_pll(25e6, target)
    assert p.f_out == 25e6 * p.clkfb_div / p.clki_div <= target
    assert 400e6 <= p.f_out * p.clkop_div <= 800e6
    assert p.f_out > 0.95 * target


def test_pll_out_of_reach_is_an_error():
    with pytest.raises(ValueError, match="no iCE40 PLL setting"):
        ice40_pll(12e6, 5e6)


def test_report_parsing_and_timing_verdict():
    report = {"utilization": {"ICESTORM_LC": {"used": 4000, "available": 5280},
                              "ICESTORM_RAM": {"used": 12, "available": 30}},
              "fmax": {"clk": {"achieved": 19.5, "constraint": 24.0}}}
    util, clocks = parse_report("icebreaker", report)
    assert util == {"logic cells": (4000, 5280), "block RAM (4 kbit)": (12, 30)}
    assert clocks == {"clk": (19.5, 24.0)}
    result = BuildResult("icebreaker", "top.bin", report, util, clocks)
    assert not result.timing_met
    assert "NOT MET" in format_report(result)


def test_a_design_that_does_not_fit_names_the_overfull_resources(tmp_path):
    """A build script that fails after nextpnr's utilisation lines: the error names each
    resource above 100 % (and only those), from the log."""
    from boards.build import _run_script
    (tmp_path / "top.sh").write_text(
        "echo 'Info: Device utilisation:'\n"
        "printf 'Info: \\t         ICESTORM_LC:   22140/   5280   419%%\\n'\n"
        "printf 'Info: \\t        ICESTORM_RAM:      20/     30    66%%\\n'\n"
        "echo \"ERROR: Unable to place cell 'x'\"\n"
        "exit 1\n")
    with pytest.raises(BuildError, match=r"does not fit the device: ICESTORM_LC 22140 / 5280 "
                                         r"\(419 %\); a smaller core"):
        _run_script(tmp_path, "top", tmp_path / "build.log", echo=None)


def test_nextpnr_gets_the_seed_asked_for():
    opts = nextpnr_options("ulx3s", "report.json", seed=3).split()
    assert opts[opts.index("--seed") + 1] == "3"
    assert opts[opts.index("--router") + 1] == "router2"
    assert "--seed" not in nextpnr_options("icebreaker", "report.json").split()
    assert "--router" not in nextpnr_options("icebreaker", "report.json", seed=0).split()
    for bad in (-1, 1.5, "2", True):
        with pytest.raises(BuildError, match="seed"):
            nextpnr_options("ulx3s", "report.json", seed=bad)


def test_vtpu_build_passes_the_seed_on(monkeypatch):
    import boards.build as build_mod
    from sim.cli.main import main
    seen = {}
    monkeypatch.setattr(build_mod, "build", lambda board, **kw: seen.update(kw, board=board))
    assert main(["build", "--board", "icebreaker", "--seed", "7"]) == 0
    assert seen["board"] == "icebreaker" and seen["seed"] == 7


def test_flash_needs_a_bitstream(tmp_path):
    with pytest.raises(flash_mod.FlashError, match="no such bitstream.*vtpu build --board ulx3s"):
        flash_mod.flash("ulx3s", tmp_path / "missing.bit", echo=None)


def test_flash_commands_name_the_boards(tmp_path):
    assert flash_mod.flash_command("icebreaker", "x.bin")[1:] == ["-b", "ice40_generic", "-f", "x.bin"]
    assert flash_mod.flash_command("ulx3s", "x.bit")[1:] == ["-b", "ulx3s", "x.bit"]
    assert flash_mod.flash_command("ulx3s", "x.bit", persist=True)[1:] == ["-b", "ulx3s", "-f", "x.bit"]


# -- the builds
#
# The default run builds the full Sentron for each board, each with a memory image
# baked in: the iCEBreaker's (a few minutes) and the ULX3S's (the longest test of
# the run).  Each board's *shell* (the real platform wrapper, PLL, pins, UART and
# host link around a small hardware stand-in for the core, EchoCore) builds in
# seconds; those builds are marked slow, since the full builds cover the same flow,
# except the one that shows a missed clock failing the build.

def _check_build(result, board, lut_key):
    report = json.loads((result.bitstream.parent / "report.json").read_text())
    assert result.bitstream.is_file() and result.bitstream.stat().st_size > 10_000
    fmax = report["fmax"]
    assert fmax, "no clock in nextpnr's report"
    for clock, f in fmax.items():
        assert f["achieved"] >= f["constraint"], f"{board}: {clock} misses timing: {f}"
    used = report["utilization"][lut_key]
    assert 0 < used["used"] <= used["available"]
    print(format_report(result))


def _shell(board):
    import importlib
    from support.fake_core import EchoCore
    return EchoCore(importlib.import_module(f"boards.{board}").CONFIG)


@pytest.mark.slow
def test_icebreaker_shell_bitstream(tmp_path):
    result = build("icebreaker", out_dir=tmp_path / "icebreaker", echo=None, core=_shell("icebreaker"))
    _check_build(result, "icebreaker", "ICESTORM_LC")
    # The host link's reply logic survived synthesis: the stand-in drives every response.
    assert result.report["utilization"]["ICESTORM_LC"]["used"] > 500


@pytest.mark.slow
def test_ulx3s_shell_bitstream(tmp_path):
    result = build("ulx3s", out_dir=tmp_path / "ulx3s", echo=None, core=_shell("ulx3s"))
    _check_build(result, "ulx3s", "TRELLIS_COMB")


def test_missed_timing_fails_loudly(tmp_path):
    """A clock above what the design reaches: the bitstream is written, the build fails."""
    with pytest.raises(TimingError, match="timing NOT met"):
        build("icebreaker", out_dir=tmp_path / "fast", freq=150e6, echo=None,
              core=_shell("icebreaker"))
    assert (tmp_path / "fast" / "summary.txt").read_text().count("NOT MET") == 1


def _meminit_rows(il_text, memid):
    """The initial rows of memory ``memid`` in an RTLIL netlist (its $meminit_v2 cell)."""
    cell = re.search(r'cell \$meminit_v2 \S+\n(?:\s+parameter [^\n]*\n)*?'
                     rf'\s+parameter \\MEMID "\\\\{memid}"\n(?P<body>(?:\s+(?:parameter|connect) [^\n]*\n)*)',
                     il_text)
    assert cell, f"no initial contents for memory {memid} in the netlist"
    body = cell.group("body")
    width = int(re.search(r"parameter \\WIDTH (\d+)", body).group(1))
    words = int(re.search(r"parameter \\WORDS (\d+)", body).group(1))
    bits = re.search(r"connect \\DATA (\d+)'([01]+)", body).group(2)
    value = int(bits, 2)
    return [(value >> (width * i)) & ((1 << width) - 1) for i in range(words)]


def _build_with_image(tmp_path, board, example, lut_key, min_entries):
    """Build the full Sentron for ``board`` with a memory image saved from a run of
    ``example`` baked into its coordinate memory; check timing and the baked rows.

    The image comes from the example run by the golden model on the board's core,
    saved and read back as a file; the netlist the bitstream is made from must hold
    each entry in the way of its set that the golden model's placement gives
    (docs/isa.md section 5), as a row (valid, tag, value) of that way's memory."""
    import importlib
    from sim.image.memory_image import read_image, write_image
    from sim.golden.machine import Machine
    from sim.golden.memory import CoordinateMemory
    from sim.asm.progfile import load_program_file
    config = importlib.import_module(f"boards.{board}").CONFIG

    machine = Machine(config)
    machine.load_program(load_program_file(EXAMPLES / example).words)
    machine.run(100_000)
    assert machine.state().halted and machine.state().fault == 0
    saved = machine.state().memory
    entries = [slot for ways in saved for slot in ways if slot is not None]
    assert len(entries) >= min_entries
    image_path = tmp_path / "saved.phext"
    write_image(image_path, entries, dim_bits=config.dim_bits, set_bits=config.set_bits,
                ways=config.ways)
    image = read_image(image_path)

    result = build(board, out_dir=tmp_path / board, echo=None, memory_init=image.entries)
    _check_build(result, board, lut_key)
    # Beside the bitstream, for vtpu run: the board's default host-link rate
    # (iCEBreaker: 3 Mbaud, 4 clocks of 12 MHz; ULX3S: 2 Mbaud, 20 clocks of 40 MHz).
    record = read_record(result.bitstream.parent)
    assert (record["baud"], record["uart_divisor"]) == {"icebreaker": (3_000_000, 4),
                                                        "ulx3s": (2_000_000, 20)}[board]

    golden = CoordinateMemory(config.dim_bits, config.set_bits, config.ways)
    golden.load(image.entries)
    il = (result.bitstream.parent / "top.il").read_text()
    S = config.set_bits
    tag_bits = 9 * config.dim_bits - S
    for way in range(config.ways):
        rows = _meminit_rows(il, f"way{way}")
        for set_, ways in enumerate(golden.slots()):
            slot = ways[way]
            want = 0 if slot is None else 1 | (slot[0] >> S) << 1 | slot[1] << (1 + tag_bits)
            assert rows[set_] == want, (way, set_, slot, hex(rows[set_]))
    return result


def test_icebreaker_bitstream(tmp_path):
    """The iCEBreaker's Sentron (no float unit, 6-bit dimensions, block RAM register
    files at five clocks per cycle: boards/icebreaker.py) fits the iCE40UP5K and
    meets the board clock, with the histogram example's memory baked in."""
    result = _build_with_image(tmp_path, "icebreaker", "histogram.vasm", "ICESTORM_LC", 4)
    assert result.report["utilization"]["ICESTORM_LC"]["used"] > 3000     # the whole core


def test_ulx3s_bitstream(tmp_path):
    """The full Sentron (LUT RAM register file) on the ECP5-85F meets the board clock,
    with the dot-product example's memory (129 entries) baked in."""
    _build_with_image(tmp_path, "ulx3s", "dot_product.vasm", "TRELLIS_COMB", 64)


def test_vtpu_flash_and_build_report_bad_input(tmp_path, capsys):
    from sim.cli.main import main
    assert main(["flash", "--board", "icebreaker", "--bitstream", str(tmp_path / "none.bin")]) == 2
    assert "no such bitstream" in capsys.readouterr().err
    bad = tmp_path / "bad.phext"
    bad.write_text("not an image")
    assert main(["build", "--board", "ulx3s", "--image", str(bad), "-o", str(tmp_path / "b")]) == 2
    assert str(bad) in capsys.readouterr().err


def test_the_build_record_names_the_core_and_the_seed(tmp_path):
    """build.json says which core a bitstream holds and nextpnr's seed; the board
    rows of docs/benchmarks.md read the seed from the command line the build ran."""
    from benchmarks.board_builds import build_facts
    from boards.build import write_record
    from boards.top import LinkRate
    path = write_record(tmp_path, "ulx3s", LinkRate(2_000_000, 40e6, 20), tmp_path / "top.bit",
                        core="hdl.pipeline.core", seed=3)
    record = json.loads(path.read_text())
    assert (record["core"], record["seed"], record["uart_divisor"]) == ("hdl.pipeline.core", 3, 20)
    (tmp_path / "build_top.sh").write_text('"$NEXTPNR_ECP5" --report report.json --seed 3 --85k\n')
    assert build_facts(tmp_path) == ("hdl.pipeline.core", 3)
    (tmp_path / "build_top.sh").write_text('"$NEXTPNR_ECP5" --report report.json --85k\n')
    (tmp_path / "build.json").unlink()
    assert build_facts(tmp_path) == (None, None)
    # A build from before the record named the core: the design's source attributes.
    (tmp_path / "top.il").write_text('attribute \\src "/x/hdl/pipeline/core.py:12"\n')
    assert build_facts(tmp_path) == ("hdl.pipeline.core", None)
