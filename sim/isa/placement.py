"""The coordinate memory's set index: which set of the memory a Morton key lives in (docs/isa.md section 5).

Why a matrix: the set is linear over GF(2), ``set = M . key``, where column ``k``
of ``M`` (an ``S``-bit mask, ``S = set_bits``) is the set bits that key bit ``k``
flips.  An aligned box of ``2**a x 2**b`` coordinates over dimensions ``d`` and
``e`` is the span of the key bits of levels ``0..a-1`` of ``d`` and ``0..b-1`` of
``e``, so each set it reaches receives exactly ``2**(a + b - r)`` of its
coordinates, ``r`` the rank of those columns.  Every such box of up to the
capacity ``2**(S + w)`` therefore fits ``2**w`` ways exactly when every
full-capacity box has full rank ``S``; the matrices here are chosen for that
(tools/placement_search.py, checked for every box by tests/test_placement.py).

The shape of ``M``: key bits ``0..S-1`` are the identity columns, so the tag stays
``key >> S`` and the key comes back from its set and tag as
``key[0:S] = set ^ (M_high . tag)``.  Key bits of levels ``0..S+w-1`` take the
columns of :data:`SET_INDEX_TABLE`; those of higher levels never matter for a
box up to the capacity and take the plain fold, column ``1 << (k mod S)``, so
every key bit still reaches the index.  A ``set_bits`` beyond the table gets the
fold for every key bit (no box guarantee); ``set_bits`` 0 is one set.
"""

from sim.isa.set_index_table import SET_INDEX_TABLE

__all__ = ["SET_INDEX_TABLE", "set_index_columns", "box_ways_log2"]


def set_index_columns(set_bits, key_bits):
    """Column ``k`` of the set-index matrix for each key bit ``k < key_bits``: the
    ``set_bits``-bit mask of set bits that key bit ``k`` flips."""
    if not isinstance(set_bits, int) or not 0 <= set_bits <= key_bits:
        raise ValueError(f"set_bits must be an integer in 0..{key_bits}, not {set_bits!r}")
    if set_bits == 0:
        return (0,) * key_bits
    table = SET_INDEX_TABLE.get(set_bits, (0, ()))[1]
    return tuple(1 << k if k < set_bits else
                 table[k - set_bits] if k - set_bits < len(table) else
                 1 << (k % set_bits)
                 for k in range(key_bits))


def box_ways_log2(set_bits):
    """``w`` such that, with ``2**w`` ways or more, every aligned box over any two
    dimensions of up to the capacity fits; None where the table has no matrix."""
    if set_bits == 0:
        return 0
    entry = SET_INDEX_TABLE.get(set_bits)
    return None if entry is None else entry[0]
