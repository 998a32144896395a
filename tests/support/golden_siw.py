"""Tiny SIW builder for the golden-model tests, straight from sim/isa/encoding.py fields.

The assembler is a separate component with its own tests; the golden model's tests
build words here so that a bug in one cannot hide a bug in the other.
"""

from sim.isa.encoding import C_FIELDS, C_SLOT, D_FIELDS, D_SLOT, S_FIELDS, S_SLOT, COp, DOp, SOp

__all__ = ["D", "S", "C", "siw", "DOp", "SOp", "COp", "f32"]


def _slot(slot, fields, op, values):
    bits = fields["op"].put(int(op))
    for name, value in values.items():
        field = fields[name]
        bits |= field.put(value & field.mask)     # negative immediates as two's complement
    return slot.put(bits)


def D(op, **values):
    return _slot(D_SLOT, D_FIELDS, op, values)


def S(op, **values):
    return _slot(S_SLOT, S_FIELDS, op, values)


def C(op, **values):
    return _slot(C_SLOT, C_FIELDS, op, values)


def siw(*slots):
    word = 0
    for s in slots:
        word |= s
    return word


def f32(x):
    """Bits of a float that binary32 represents exactly (tests use only such values)."""
    import struct
    bits = struct.unpack("<I", struct.pack("<f", x))[0]
    assert struct.unpack("<f", struct.pack("<I", bits))[0] == x, x
    return bits
