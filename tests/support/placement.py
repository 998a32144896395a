"""The set index of docs/isa.md section 5 written bit by bit for tests, and keys chosen to share a set.

Why here: the golden model and the HDL each compute the set their own way (byte
tables, XOR trees); tests state the rule once more, from the text, with the
matrix's columns as the only shared input (sim/isa/placement.py, the ISA table).
"""

from sim.isa.placement import set_index_columns

__all__ = ["spec_set", "key_in_set", "keys_in_set"]


def spec_set(key, set_bits, key_bits):
    """docs/isa.md 5: set bit j is the parity of the key bits k whose column has bit j."""
    columns = set_index_columns(set_bits, key_bits)
    s = 0
    for k in range(key_bits):
        if key >> k & 1:
            s ^= columns[k]
    return s


def key_in_set(set_index, tag, set_bits, key_bits):
    """The key with this tag that lives in this set: its low bits are ``set ^ (M_high . tag)``."""
    tag_part = spec_set(tag << set_bits, set_bits, key_bits)
    return (set_index ^ tag_part) | (tag << set_bits)


def keys_in_set(set_index, count, set_bits, key_bits, first_tag=0):
    """``count`` distinct keys of one set: tags ``first_tag, first_tag + 1, ...``."""
    return [key_in_set(set_index, tag, set_bits, key_bits)
            for tag in range(first_tag, first_tag + count)]
