"""The hardware Morton units against the golden model's morton_key / morton_coord."""

import gc
import warnings

import pytest
from hypothesis import given, settings, strategies as st
from amaranth.hdl import UnusedElaboratable
from amaranth.sim import Simulator

from hdl.morton import MortonDecoder, MortonEncoder, morton_coord_value, morton_key_value
from sim.isa.coord import morton_coord, morton_key
from sim.isa.encoding import NDIMS


def pack(dims, bits):
    """A coordinate as the HDL's packed form: dimension d at [d*bits, (d+1)*bits)."""
    return sum(v << (d * bits) for d, v in enumerate(dims))


def simulate(component, in_port, out_port, values):
    """Drive ``values`` one after another into a combinational unit; return its outputs."""
    results = []

    async def bench(ctx):
        for v in values:
            ctx.set(getattr(component, in_port), v)
            results.append(ctx.get(getattr(component, out_port)))

    sim = Simulator(component)
    sim.add_testbench(bench)
    sim.run()
    return results


def coords(bits):
    return st.lists(st.tuples(*[st.integers(0, (1 << bits) - 1)] * NDIMS), min_size=1, max_size=40)


@pytest.mark.parametrize("bits", [1, 3, 11, 16])
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_encoder_matches_golden(bits, data):
    cs = data.draw(coords(bits))
    got = simulate(MortonEncoder(NDIMS, bits), "coord", "key", [pack(c, bits) for c in cs])
    assert got == [morton_key(c, bits) for c in cs]


@pytest.mark.parametrize("bits", [1, 3, 11, 16])
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_decoder_matches_golden(bits, data):
    keys = data.draw(st.lists(st.integers(0, (1 << (NDIMS * bits)) - 1), min_size=1, max_size=40))
    got = simulate(MortonDecoder(NDIMS, bits), "key", "coord", keys)
    assert got == [pack(morton_coord(k, bits), bits) for k in keys]


def test_isa_examples():
    """docs/isa.md section 1: keys 1, 257 and 512, computed by hand from the bit rule."""
    cs = [(1, 0, 0, 0, 0, 0, 0, 0, 0), (1, 0, 0, 0, 0, 0, 0, 0, 1), (2, 0, 0, 0, 0, 0, 0, 0, 0)]
    assert simulate(MortonEncoder(), "coord", "key", [pack(c, 11) for c in cs]) == [1, 257, 512]
    assert simulate(MortonDecoder(), "key", "coord", [1, 257, 512]) == [pack(c, 11) for c in cs]


def test_every_single_bit_default_width():
    """Each one-hot coordinate bit lands exactly at key bit 9*i + d (all 99 of them)."""
    ins = [1 << (d * 11 + i) for d in range(NDIMS) for i in range(11)]
    want = [1 << (NDIMS * i + d) for d in range(NDIMS) for i in range(11)]
    assert simulate(MortonEncoder(), "coord", "key", ins) == want
    assert simulate(MortonDecoder(), "key", "coord", want) == ins


@pytest.mark.parametrize("dims,bits", [(2, 3), (3, 2), (1, 5)])
def test_other_dimension_counts(dims, bits):
    """The units are parametric in dims too: exhaustive check against the bit rule."""
    xs = list(range(1 << (dims * bits)))
    keys = simulate(MortonEncoder(dims, bits), "coord", "key", xs)
    for x, k in zip(xs, keys):
        for d in range(dims):
            for i in range(bits):
                assert (k >> (dims * i + d)) & 1 == (x >> (d * bits + i)) & 1
    assert simulate(MortonDecoder(dims, bits), "key", "coord", keys) == xs


def test_bad_parameters_and_widths():
    with warnings.catch_warnings():
        # The half-built component is never elaborated: that is the point.
        warnings.simplefilter("ignore", UnusedElaboratable)
        with pytest.raises(ValueError, match="dims must be a positive integer, not 0"):
            MortonEncoder(0, 11)
        with pytest.raises(ValueError, match="bits must be a positive integer, not 0"):
            MortonDecoder(9, 0)
        gc.collect()
    from amaranth.hdl import Signal
    with pytest.raises(ValueError, match="99 bits wide, not 98"):
        morton_key_value(Signal(98))
    with pytest.raises(ValueError, match="not 100"):
        morton_coord_value(Signal(100))
