"""Leading-zero count and normalizing shift, shared by the product and sum paths.

After a multiply or an add the significand sits somewhere in a wide register;
IEEE rounding needs it left-aligned (leading one at the top bit) with the
exponent adjusted, *unless* that exponent would fall below the smallest normal
exponent: then the value is subnormal and must stop at exponent field 0 (shift
left less, or even shift right).  Writing that clamp once, here, is what makes
subnormal results come out right everywhere.
"""

from amaranth.hdl import C, Cat, Mux, Value

from .wire import wire

__all__ = ["leading_zeros", "normalize"]


def _lzc_pow2(m, v, name):
    # v has 2**k bits; returns a (k+1)-bit count 0..2**k of leading zeros (from the MSB).
    n = len(v)
    if n == 1:
        return ~v[0]
    half = n // 2
    hi = _lzc_pow2(m, v[half:], name + "h")
    lo = _lzc_pow2(m, v[:half], name + "l")
    hi_zero, lo_zero = hi[-1], lo[-1]
    return wire(m, Cat(Mux(hi_zero, lo[:-1], hi[:-1]), hi_zero & ~lo_zero, hi_zero & lo_zero),
                name)


def leading_zeros(m, value, name="lzc"):
    """Number of leading zeros of ``value`` (from its top bit), ``len(value)`` if zero.

    A balanced tree of 2:1 muxes: depth log2(width), not a width-long priority chain.
    """
    value = Value.cast(value)
    width = len(value)
    if width < 1:
        raise ValueError("leading_zeros needs a value at least 1 bit wide")
    n = 1 << (width - 1).bit_length()
    # Pad below with ones: the count is unchanged for nonzero values, and exactly
    # `width` for zero.
    padded = Cat(C((1 << (n - width)) - 1, n - width), value) if n > width else value
    return _lzc_pow2(m, padded, name)


def normalize(m, value, xb, *, allow_right=True, right_bits=5, name="norm"):
    """Shift ``value`` so its leading one lands at the top bit, clamped for subnormals.

    ``value`` is a W-bit significand whose top bit has biased exponent ``xb`` (a
    signed or unsigned Amaranth value): the number is ``value / 2**(W-1) *
    2**(xb - 127)``.  Returns ``(exp, shifted, sticky)``:

    * ``exp`` (unsigned): the biased exponent field of the shifted value, 0 if it
      is subnormal (then ``shifted`` has its top bit clear and scales like
      exponent 1), possibly 255 or more (overflow, for the rounder to turn into inf);
    * ``shifted`` (W bits): the shifted significand;
    * ``sticky`` (1 bit): OR of the bits shifted out on the right.

    Left shift by ``lz`` if ``xb - lz >= 1``; else (subnormal) by ``xb - 1`` when
    ``xb >= 1``, else right by ``1 - xb`` (only with ``allow_right``; callers whose
    ``xb`` is always >= 1 pass False and save the right shifter).  The right shift
    saturates at ``2**right_bits - 1`` positions; everything beyond is sticky.
    """
    value = wire(m, value, f"{name}_in")
    xb = wire(m, xb, f"{name}_xb")
    width = len(value)
    if allow_right and (1 << right_bits) - 1 < width // 2 + 2:
        raise ValueError(f"right_bits={right_bits} cannot push a {width}-bit value "
                         "below its rounding position")
    lz = leading_zeros(m, value, f"{name}_lz")
    xbs = xb.as_signed() if xb.shape().signed else Cat(xb, C(0, 1)).as_signed()
    t = wire(m, xbs - lz, f"{name}_t")
    # A zero value (lz == width) is never normal: it must come out as exponent 0.
    is_normal = wire(m, (t > 0) & (lz != width), f"{name}_is_normal")
    left_amount = Mux(is_normal, lz, (xbs - 1)[:len(lz)])
    left = wire(m, (value << left_amount)[:width], f"{name}_left")
    exp = Mux(is_normal, t[:len(t) - 1], 0)     # t > 0 fits its width less the sign
    if not allow_right:
        return exp, left, C(0, 1)
    go_right = wire(m, xbs < 1, f"{name}_go_right")
    over = 1 - xbs          # positive when go_right
    limit = (1 << right_bits) - 1
    right_amount = Mux(over > limit, limit, over[:right_bits])
    ext = wire(m, Cat(C(0, 1 << right_bits), value) >> right_amount, f"{name}_right")
    shifted = Mux(go_right, ext[1 << right_bits:], left)
    sticky = go_right & ext[:1 << right_bits].any()
    return exp, shifted, sticky
