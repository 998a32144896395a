"""Phext coordinates: parsing, printing and the Morton (Z-order) key.

A coordinate is nine unsigned dimensions, library first.  The Morton key puts bit
``i`` of dimension ``d`` at key bit ``9*i + d`` (docs/isa.md section 1), so
coordinates that are close in every dimension get keys that are close too.
"""

import re

from .encoding import DEFAULT_DIM_BITS, DIM_NAMES, DIM_SHORT, NDIMS

__all__ = ["Coord", "CoordError", "parse_coord", "format_coord",
           "morton_key", "morton_coord", "dim_index"]


class CoordError(ValueError):
    """A coordinate text or value that is not a valid coordinate."""


_COORD_RE = re.compile(r"^([0-9]+)\.([0-9]+)\.([0-9]+)/([0-9]+)\.([0-9]+)\.([0-9]+)/([0-9]+)\.([0-9]+)\.([0-9]+)$")


class Coord(tuple):
    """A 9-tuple of dimension values, library first; immutable and hashable."""

    def __new__(cls, dims=(0,) * NDIMS, dim_bits=DEFAULT_DIM_BITS):
        dims = tuple(int(d) for d in dims)
        if len(dims) != NDIMS:
            raise CoordError(f"a coordinate has {NDIMS} dimensions, not {len(dims)}")
        limit = (1 << dim_bits) - 1
        for name, value in zip(DIM_NAMES, dims):
            if not 0 <= value <= limit:
                raise CoordError(f"{name} = {value} is outside 0..{limit}")
        return super().__new__(cls, dims)

    def __str__(self):
        return format_coord(self)

    def __repr__(self):
        return f"Coord({format_coord(self)!r})"


def parse_coord(text, dim_bits=DEFAULT_DIM_BITS):
    """Parse ``lb.sf.sr/cn.vm.bk/ch.sn.sc``; raise :class:`CoordError` saying why not."""
    m = _COORD_RE.match(text.strip())
    if not m:
        raise CoordError(f"{text!r} is not a coordinate: expected lb.sf.sr/cn.vm.bk/ch.sn.sc, "
                         f"nine decimal numbers")
    limit = (1 << dim_bits) - 1
    for name, digits in zip(DIM_NAMES, m.groups()):
        if len(digits.lstrip("0")) > len(str(limit)):   # before int(): it refuses 4300 digits
            raise CoordError(f"{name} = {digits[:20]}... is outside 0..{limit}")
    return Coord((int(g.lstrip("0") or "0") for g in m.groups()), dim_bits)


def format_coord(dims):
    """Print a coordinate in its text form ``lb.sf.sr/cn.vm.bk/ch.sn.sc``."""
    d = [str(v) for v in dims]
    return f"{'.'.join(d[0:3])}/{'.'.join(d[3:6])}/{'.'.join(d[6:9])}"


def morton_key(dims, dim_bits=DEFAULT_DIM_BITS):
    """Interleave: bit ``i`` of dimension ``d`` becomes key bit ``9*i + d``."""
    key = 0
    for d, value in enumerate(dims):
        if not 0 <= value < (1 << dim_bits):
            raise CoordError(f"{DIM_NAMES[d]} = {value} is outside 0..{(1 << dim_bits) - 1}")
        for i in range(dim_bits):
            if (value >> i) & 1:
                key |= 1 << (NDIMS * i + d)
    return key


def morton_coord(key, dim_bits=DEFAULT_DIM_BITS):
    """The inverse of :func:`morton_key` for a key of ``9*dim_bits`` bits."""
    if not 0 <= key < (1 << (NDIMS * dim_bits)):
        raise CoordError(f"key {key} does not fit in {NDIMS * dim_bits} bits")
    dims = [0] * NDIMS
    for d in range(NDIMS):
        for i in range(dim_bits):
            if (key >> (NDIMS * i + d)) & 1:
                dims[d] |= 1 << i
    return Coord(dims, dim_bits)


def dim_index(name):
    """Dimension index of a long or short dimension name (case-insensitive)."""
    lowered = name.lower()
    if lowered in DIM_NAMES:
        return DIM_NAMES.index(lowered)
    if lowered in DIM_SHORT:
        return DIM_SHORT.index(lowered)
    raise CoordError(f"{name!r} is not a dimension; use one of "
                     f"{', '.join(DIM_NAMES)} or {', '.join(DIM_SHORT)}")
