"""sim/isa/coord.py: text form, Morton key examples of docs/isa.md section 1, bijection."""

import pytest
from hypothesis import given, strategies as st

from sim.isa.coord import Coord, CoordError, dim_index, format_coord, morton_coord, morton_key, parse_coord


def test_isa_examples():
    assert morton_key(parse_coord("1.0.0/0.0.0/0.0.0")) == 1
    assert morton_key(parse_coord("1.0.0/0.0.0/0.0.1")) == 257
    assert morton_key(parse_coord("2.0.0/0.0.0/0.0.0")) == 512


def test_key_bit_positions_by_hand():
    # bit i of dimension d -> key bit 9*i + d
    assert morton_key((0, 0, 0, 0, 0, 0, 0, 0, 1)) == 1 << 8
    assert morton_key((0, 1, 0, 0, 0, 0, 0, 0, 0)) == 1 << 1
    assert morton_key((0, 0, 0, 0, 0, 0, 0, 0, 1 << 10)) == 1 << 98
    assert morton_key((2047,) * 9) == (1 << 99) - 1
    assert morton_key((3, 0, 0, 0, 0, 0, 0, 0, 0), dim_bits=2) == 1 | (1 << 9)


def test_text_round_trip_and_errors():
    c = parse_coord("1.2.3/4.5.6/7.8.2047")
    assert c == (1, 2, 3, 4, 5, 6, 7, 8, 2047)
    assert format_coord(c) == "1.2.3/4.5.6/7.8.2047"
    assert str(c) == "1.2.3/4.5.6/7.8.2047"
    for bad in ("1.2.3/4.5.6/7.8", "1.2.3.4.5.6.7.8.9", "-1.0.0/0.0.0/0.0.0", "a.0.0/0.0.0/0.0.0",
                "2048.0.0/0.0.0/0.0.0"):
        with pytest.raises(CoordError):
            parse_coord(bad)
    with pytest.raises(CoordError):
        parse_coord("4.0.0/0.0.0/0.0.0", dim_bits=2)
    with pytest.raises(CoordError):
        Coord((0,) * 8)


def test_dim_names():
    assert dim_index("scroll") == 8 and dim_index("SC") == 8 and dim_index("lb") == 0
    with pytest.raises(CoordError):
        dim_index("page")


@given(st.lists(st.integers(0, 2047), min_size=9, max_size=9))
def test_bijection(dims):
    key = morton_key(dims)
    assert 0 <= key < 1 << 99
    assert morton_coord(key) == tuple(dims)


@given(st.integers(0, (1 << 27) - 1))
def test_bijection_from_keys_small_dims(key):
    assert morton_key(morton_coord(key, dim_bits=3), dim_bits=3) == key


def test_out_of_range():
    with pytest.raises(CoordError):
        morton_key((2048, 0, 0, 0, 0, 0, 0, 0, 0))
    with pytest.raises(CoordError):
        morton_coord(1 << 99)


def test_parse_coord_rejects_non_ascii_digits():
    with pytest.raises(CoordError):
        parse_coord("\u0663.0.0/0.0.0/0.0.0")
