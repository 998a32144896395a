"""Leading-zero count and normalizing shift, shared by the product and sum paths.

After a multiply or an add the significand sits somewhere in a wide register;
IEEE rounding needs it left-aligned (leading one at the top bit) with the
exponent adjusted, *unless* that exponent would fall below the smallest normal
exponent: then the value is subnormal and must stop at exponent field 0 (shift
left less, or even shift right).  Writing that clamp once, here, is what makes
subnormal results come out right everywhere.

Two ways to get there, both built to keep the subnormal clamp off the critical
path (every logic level counts on an iCE40):

* the *sum* path counts the leading zeros of its result with a marker bit OR-ed
  in at the exponent-1 position (:func:`clamp_marker`, :func:`normalize_left`);
* the *product* path never counts the product's zeros at all: the product of
  significands with ``la`` and ``lb`` leading zeros has ``la + lb`` or
  ``la + lb + 1``, so the shift is planned from the operands beside the
  multiplier (:func:`coarse_plan`), applied (with :mod:`.shift`), and finished
  by at most one more position (:func:`fine_normalize`).
"""

from amaranth.hdl import C, Cat, Mux, Value

from .wire import wire

__all__ = ["leading_zeros", "clamp_marker", "normalize_left", "coarse_plan", "fine_normalize"]


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


def clamp_marker(xb_minus_1, width):
    """A one-hot ``width``-bit value with its bit at the position of exponent 1.

    For a significand whose top bit has biased exponent ``xb`` >= 1 (the argument
    is ``xb - 1``, unsigned, so that no adder sits in front of this decoder), bit
    ``width - xb`` has exponent 1 (none if ``xb > width``).  OR-ed into the
    significand before counting leading zeros, it caps the count at ``xb - 1``:
    the normalizing shift then stops at exponent field 0 by itself, with no
    subtract-and-compare in series with the shifter (see :func:`normalize_left`).
    Depends on the exponent only, so it can be computed a step early.
    """
    return C(1 << (width - 1), width) >> Value.cast(xb_minus_1)


def normalize_left(m, value, xb, marker=None, *, lz=None, name="norm"):
    """Left-normalize ``value`` (W bits) whose top bit has biased exponent ``xb`` >= 1.

    ``marker`` is :func:`clamp_marker` of ``xb``; or pass ``lz``, the leading zeros
    of ``value | marker`` counted a step earlier.  Returns ``(exp, shifted)``:
    ``shifted`` has its leading one at the top if the result is normal, and then
    ``exp = xb - lz`` >= 1; otherwise the shift stopped where the exponent is 1,
    the top bit is clear and ``exp`` is 0 (subnormal or zero).
    """
    value = wire(m, value, f"{name}_in")
    width = len(value)
    if lz is None:
        lz = leading_zeros(m, value | marker, f"{name}_lz")
    shifted = wire(m, (value << lz)[:width], f"{name}_left")
    exp = wire(m, Mux(shifted[width - 1], xb - lz, 0), f"{name}_exp")
    return exp, shifted


def coarse_plan(m, lz, xb, *, right_bits, name="plan"):
    """Plan the shift of a significand whose leading-zero count is ``lz`` or ``lz + 1``.

    The top bit of the significand has biased exponent ``xb`` (signed or
    unsigned).  Returns ``(left, right, go_right, e_top)``: shift left by ``left``
    (or, if ``go_right``, right by ``right``, saturated at ``2**right_bits - 1``),
    after which the top bit has exponent ``e_top`` >= 1 and the leading one is at
    the top or one below (normal case), or the value is aligned to exponent 1
    (subnormal case).  :func:`fine_normalize` finishes the job.  A left shift by
    at most the leading zeros loses no bit; a right shift keeps a sticky bit.  Uses only
    exponents and counts, so it runs beside the adder that makes the significand.
    """
    xb = Value.cast(xb)
    xbs = xb.as_signed() if xb.shape().signed else Cat(xb, C(0, 1)).as_signed()
    e1 = wire(m, xbs - lz, f"{name}_e1")
    normal = e1 > 0
    left = wire(m, Mux(normal, lz, (xbs - 1)[:len(lz)]), f"{name}_left")
    go_right = wire(m, xbs < 1, f"{name}_go_right")
    over = 1 - xbs
    limit = (1 << right_bits) - 1
    right = wire(m, Mux(over > limit, limit, over[:right_bits]), f"{name}_right")
    e_top = wire(m, Mux(normal, e1[:len(e1) - 1], 1), f"{name}_e_top")
    return left, right, go_right, e_top


def fine_normalize(m, value, e_top, *, name="fine"):
    """Finish a coarse shift: one more left shift if the top bit is clear and the
    exponent allows it.  Returns ``(exp, shifted)`` as :func:`normalize_left`."""
    value = wire(m, value, f"{name}_in")
    width = len(value)
    top = value[width - 1]
    can_shift = e_top > 1
    shifted = wire(m, Mux(~top & can_shift, Cat(C(0, 1), value[:width - 1]), value),
                   f"{name}_out")
    exp = Mux(shifted[width - 1], Mux(top, e_top, e_top - 1), 0)
    return exp, shifted
