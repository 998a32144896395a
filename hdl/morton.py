"""The Morton (Z-order) interleaver and de-interleaver of the Sentron core: pure wiring.

A coordinate packs dimension ``d`` at bits ``[d*bits, (d+1)*bits)``; its Morton key
puts bit ``i`` of dimension ``d`` at key bit ``dims*i + d`` (docs/isa.md section 1).
Both directions are a fixed permutation of wires, so they cost no logic cells:
the functions below build that permutation as an Amaranth ``Cat`` of one-bit
slices, and the two components are thin wrappers around them.  The core calls
the functions inline (no submodule needed); tests, synthesis figures and the
formal proof use the components.  One mechanism, two packagings.
"""

from amaranth.hdl import Cat, Module, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from sim.isa.encoding import DEFAULT_DIM_BITS, NDIMS

__all__ = ["morton_key_value", "morton_coord_value", "MortonEncoder", "MortonDecoder"]


def _check(dims, bits):
    if not isinstance(dims, int) or dims < 1:
        raise ValueError(f"dims must be a positive integer, not {dims!r}")
    if not isinstance(bits, int) or bits < 1:
        raise ValueError(f"bits must be a positive integer, not {bits!r}")


def _check_width(value, dims, bits, what):
    value = Value.cast(value)
    if len(value) != dims * bits:
        raise ValueError(f"{what} must be {dims}*{bits} = {dims * bits} bits wide, "
                         f"not {len(value)}")
    return value


def morton_key_value(coord, dims=NDIMS, bits=DEFAULT_DIM_BITS):
    """The Morton key of ``coord`` as an Amaranth expression (wiring only).

    ``coord`` is a ``dims*bits``-bit value with dimension ``d`` at
    ``[d*bits, (d+1)*bits)``.  Key bit ``dims*i + d`` is bit ``i`` of dimension ``d``.
    """
    _check(dims, bits)
    coord = _check_width(coord, dims, bits, "coord")
    # Cat lists the least significant bit first: key bit dims*i + d, i outer, d inner.
    return Cat(*(coord[d * bits + i] for i in range(bits) for d in range(dims)))


def morton_coord_value(key, dims=NDIMS, bits=DEFAULT_DIM_BITS):
    """The coordinate of a Morton ``key`` as an Amaranth expression (wiring only).

    The inverse of :func:`morton_key_value`: dimension ``d`` at ``[d*bits, (d+1)*bits)``
    collects key bits ``d, dims + d, 2*dims + d, ...``.
    """
    _check(dims, bits)
    key = _check_width(key, dims, bits, "key")
    return Cat(*(key[dims * i + d] for d in range(dims) for i in range(bits)))


class MortonEncoder(wiring.Component):
    """Coordinate to Morton key.

    Parameters
    ----------
    dims : int
        Number of dimensions (9 in the Sentron ISA).
    bits : int
        Bits per dimension.

    Attributes
    ----------
    coord : In(dims*bits)
        Dimension ``d`` at bits ``[d*bits, (d+1)*bits)``.
    key : Out(dims*bits)
        The Morton key: bit ``i`` of dimension ``d`` at ``dims*i + d``.
        Combinational; no logic, only wires.
    """

    def __init__(self, dims=NDIMS, bits=DEFAULT_DIM_BITS):
        _check(dims, bits)
        self.dims = dims
        self.bits = bits
        super().__init__({"coord": In(dims * bits), "key": Out(dims * bits)})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.key.eq(morton_key_value(self.coord, self.dims, self.bits))
        return m


class MortonDecoder(wiring.Component):
    """Morton key to coordinate: the inverse of :class:`MortonEncoder`.

    Attributes
    ----------
    key : In(dims*bits)
        A Morton key.
    coord : Out(dims*bits)
        Dimension ``d`` at bits ``[d*bits, (d+1)*bits)``.  Wires only.
    """

    def __init__(self, dims=NDIMS, bits=DEFAULT_DIM_BITS):
        _check(dims, bits)
        self.dims = dims
        self.bits = bits
        super().__init__({"key": In(dims * bits), "coord": Out(dims * bits)})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.coord.eq(morton_coord_value(self.key, self.dims, self.bits))
        return m
