"""The set index of docs/isa.md section 5: every aligned box over two dimensions fits, up to the capacity.

Three levels of evidence.  (1) The fit condition on the matrix itself, checked
exhaustively with a rank computation written here: every box ``2**a x 2**b``
over dimensions ``d, e`` with ``a + b <= S + w`` has columns of rank at least
``a + b - w``, so no set receives more than ``2**w`` of its coordinates.  (2)
Tiles stored one by one into the golden memory and into the HDL memory (the
Amaranth simulator), which must take every coordinate of a full-capacity tile,
read it back, and then refuse one more new coordinate with MEM_FULL.  (3) The
tile of the issue that the XOR fold could not hold.
"""

import itertools

import pytest

from boards.icebreaker import CONFIG as ICEBREAKER
from boards.ulx3s import CONFIG as ULX3S
from hdl.coord_memory import CoordinateMemory as HdlMemory
from sim.golden.memory import CoordinateMemory, MemoryFullError
from sim.isa.coord import morton_key
from sim.isa.encoding import NDIMS, SOp, CoreConfig
from sim.isa.placement import SET_INDEX_TABLE, box_ways_log2, set_index_columns
from test_hdl_coord_memory import observe

DEFAULT = CoreConfig()
SHIPPED = {"default": DEFAULT, "ulx3s": ULX3S, "icebreaker": ICEBREAKER}
PAIRS = list(itertools.combinations(range(NDIMS), 2))


def rank(vectors):
    """Rank over GF(2) of ints taken as bit vectors (Gaussian elimination)."""
    rows = []
    for v in vectors:
        for r in rows:
            if v ^ r < v:
                v ^= r
        if v:
            rows.append(v)
    return len(rows)


def unfit_boxes(set_bits, ways_log2, dim_bits):
    """Every box (d, e, a, b) up to the capacity whose columns have too low a rank."""
    columns = set_index_columns(set_bits, NDIMS * dim_bits)
    levels = min(dim_bits, set_bits + ways_log2)
    bad = []
    for d in range(NDIMS):
        for e in range(NDIMS):
            for a in range(levels + 1):
                for b in range(levels + 1 if e != d else 1):
                    if a + b > set_bits + ways_log2:
                        continue
                    cols = ([columns[NDIMS * i + d] for i in range(a)] +
                            [columns[NDIMS * i + e] for i in range(b)])
                    if rank(cols) < a + b - ways_log2:
                        bad.append((d, e, a, b))
    return bad


def ways_log2(config):
    return config.ways.bit_length() - 1


# -- (1) the fit condition on the matrix

@pytest.mark.parametrize("name", SHIPPED)
def test_every_box_fits_each_shipped_configuration(name):
    config = SHIPPED[name]
    w = ways_log2(config)
    assert box_ways_log2(config.set_bits) <= w
    assert unfit_boxes(config.set_bits, w, config.dim_bits) == []


@pytest.mark.parametrize("set_bits", sorted(SET_INDEX_TABLE))
def test_every_box_fits_for_each_matrix_of_the_table(set_bits):
    w = box_ways_log2(set_bits)
    assert unfit_boxes(set_bits, w, 16) == []
    # fewer bits per dimension use a prefix of the same columns and still fit
    assert unfit_boxes(set_bits, w, max(1, (set_bits + 8) // 9)) == []


@pytest.mark.parametrize("set_bits", sorted(SET_INDEX_TABLE))
def test_matrix_shape_identity_low_columns_and_every_key_bit_counts(set_bits):
    columns = set_index_columns(set_bits, NDIMS * 16)
    assert columns[:set_bits] == tuple(1 << k for k in range(set_bits))
    assert all(0 < c < 1 << set_bits for c in columns)
    w, table = SET_INDEX_TABLE[set_bits]
    assert len(table) == NDIMS * (set_bits + w) - set_bits
    # above the table's levels: the plain fold
    assert all(columns[k] == 1 << (k % set_bits) for k in range(NDIMS * (set_bits + w), len(columns)))


def test_two_ways_with_three_set_bits_has_no_matrix():
    """docs/isa.md 5: with S = 3, w = 1 the nine planes span(c_d0, c_d1) must pairwise
    sum to GF(2)^3, which needs eight distinct planes; GF(2)^3 has seven.  So the
    table's S = 3 is built for four ways, and with two it misfits some box."""
    planes = [v for v in range(1, 8)]
    two_dim = {frozenset({0} | {a, b, a ^ b}) for a in planes for b in planes if a != b}
    assert len(two_dim) == 7
    assert box_ways_log2(3) == 2
    assert unfit_boxes(3, 1, 11) != []


def test_outside_the_table_the_set_is_the_fold():
    top = max(SET_INDEX_TABLE) + 1
    assert box_ways_log2(top) is None
    assert set_index_columns(top, 99) == tuple(1 << (k % top) for k in range(99))
    assert set_index_columns(0, 18) == (0,) * 18


# -- (2) tiles stored into the golden and the HDL memories

def tile(d, e, rows, columns, dim_bits):
    """Keys of the box rows x columns over dimensions d, e (every other part 0)."""
    keys = []
    for i in range(rows):
        for j in range(columns):
            coord = [0] * NDIMS
            coord[d], coord[e] = i, j
            keys.append(morton_key(tuple(coord), dim_bits))
    return keys


def outside(d, e, dim_bits):
    """A new coordinate outside every box over d, e: 1 in a third dimension."""
    coord = [0] * NDIMS
    coord[next(x for x in range(NDIMS) if x not in (d, e))] = 1
    return morton_key(tuple(coord), dim_bits)


def fill_golden(config, keys):
    m = CoordinateMemory(config.dim_bits, config.set_bits, config.ways)
    for n, key in enumerate(keys):
        m.scatter(key, n + 1)
    return m


@pytest.mark.parametrize("d,e", PAIRS)
def test_a_32_by_32_tile_fills_the_default_golden_memory(d, e):
    keys = tile(d, e, 32, 32, DEFAULT.dim_bits)
    m = fill_golden(DEFAULT, keys)
    assert len(m.entries()) == 1024 == DEFAULT.sets * DEFAULT.ways
    assert all(m.gather(key) == n + 1 for n, key in enumerate(keys))
    with pytest.raises(MemoryFullError):
        m.scatter(outside(d, e, DEFAULT.dim_bits), 7)


@pytest.mark.parametrize("d,e", PAIRS)
def test_64_by_64_and_full_capacity_tiles_fit_the_ulx3s_golden_memory(d, e):
    keys = tile(d, e, 64, 64, ULX3S.dim_bits)
    m = fill_golden(ULX3S, keys)
    assert all(m.gather(key) == n + 1 for n, key in enumerate(keys))
    # the whole capacity: 128 x 64 fills every way of every set
    more = [k for k in tile(d, e, 128, 64, ULX3S.dim_bits) if k not in set(keys)]
    for n, key in enumerate(more):
        m.scatter(key, 5000 + n)
    assert len(m.entries()) == 8192 == ULX3S.sets * ULX3S.ways
    with pytest.raises(MemoryFullError):
        m.scatter(outside(d, e, ULX3S.dim_bits), 7)


def test_the_gpt_box_fills_the_ulx3s_golden_memory():
    """library 0..511 x scroll 0..15 (docs/gpt.md): the whole ULX3S memory."""
    m = fill_golden(ULX3S, tile(0, 8, 512, 16, ULX3S.dim_bits))
    assert len(m.entries()) == 8192


@pytest.mark.parametrize("name", ["icebreaker"])
def test_full_capacity_tiles_fill_the_icebreaker_golden_memory(name):
    config = SHIPPED[name]                       # 64 sets x 2 ways, 6-bit dimensions
    for d, e in PAIRS:
        for a in range(1, 7):
            m = fill_golden(config, tile(d, e, 1 << a, 1 << (7 - a), config.dim_bits))
            assert len(m.entries()) == 128
            assert m.would_fault(outside(d, e, config.dim_bits))


def hdl_fill(config, keys, probe):
    """Scatter ``keys`` through the HDL memory, one per cycle as the core streams them,
    then GATHER each back and SCATTER ``probe``; return (full flags of the scatters,
    values read back, (x_full, x_hit) of the probe)."""
    dut = HdlMemory(config.dim_bits, config.set_bits, config.ways)
    ops = ([(SOp.SCATTER, key, n + 1, 1) for n, key in enumerate(keys)] +
           [(SOp.GATHER, key, 0, 1) for key in keys] + [(SOp.SCATTER, probe, 7, 1)])
    seen = observe(dut, ops)                  # (rdata, hit, full, slots) per op
    n = len(keys)
    return ([full for _, _, full, _ in seen[:n]], [rdata for rdata, _, _, _ in seen[n:2 * n]],
            (seen[-1][2], seen[-1][1]))


@pytest.mark.parametrize("d,e", [(0, 8), (7, 8), (3, 4)])
def test_a_32_by_32_tile_fills_the_default_hdl_memory(d, e):
    keys = tile(d, e, 32, 32, DEFAULT.dim_bits)
    full, values, probe = hdl_fill(DEFAULT, keys, outside(d, e, DEFAULT.dim_bits))
    assert not any(full)
    assert values == list(range(1, 1025))
    assert probe == (1, 0)                    # new coordinate, full set: MEM_FULL


@pytest.mark.slow
@pytest.mark.parametrize("d,e", PAIRS)
def test_a_32_by_32_tile_fills_the_default_hdl_memory_every_pair(d, e):
    test_a_32_by_32_tile_fills_the_default_hdl_memory(d, e)


@pytest.mark.parametrize("d,e", [(0, 8), pytest.param(2, 6, marks=pytest.mark.slow),
                                 pytest.param(4, 7, marks=pytest.mark.slow)])
def test_a_64_by_64_tile_fits_the_ulx3s_hdl_memory(d, e):
    keys = tile(d, e, 64, 64, ULX3S.dim_bits)
    full, values, probe = hdl_fill(ULX3S, keys, outside(d, e, ULX3S.dim_bits))
    assert not any(full)
    assert values == list(range(1, 4097))
    assert probe == (0, 0)                    # half full: one more new coordinate fits


# -- (3) the tile

def xor_fold(key, set_bits):
    """The old rule (before issue 11): key bit k on set bit k mod S."""
    s = 0
    for k in range(key.bit_length()):
        s ^= (key >> k & 1) << (k % set_bits)
    return s


def test_scrolls_by_sections_fill_the_default_memory_where_the_fold_stopped_at_512():
    keys = tile(7, 8, 16, 64, DEFAULT.dim_bits)          # row by row: section 0..15 x scroll 0..63
    fold_fill = {}
    first_fold_fault = None
    for n, key in enumerate(keys):
        s = xor_fold(key, DEFAULT.set_bits)
        fold_fill[s] = fold_fill.get(s, 0) + 1
        if fold_fill[s] > DEFAULT.ways and first_fold_fault is None:
            first_fold_fault = n
    assert first_fold_fault == 512                       # the report
    m = fill_golden(DEFAULT, keys)
    assert len(m.entries()) == 1024


def test_the_gpt_weights_image_loads_into_the_ulx3s_configuration():
    from sim.gpt.model import WEIGHTS_PATH
    from sim.image.memory_image import check_fits, read_image
    image = read_image(WEIGHTS_PATH)
    assert image.geometry == (ULX3S.dim_bits, ULX3S.set_bits, ULX3S.ways)
    check_fits(image, ULX3S)
    m = CoordinateMemory(ULX3S.dim_bits, ULX3S.set_bits, ULX3S.ways)
    m.load(image.entries)
    assert m.entries() == dict(image.entries)
