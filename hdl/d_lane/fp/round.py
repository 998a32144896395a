"""Round to nearest, ties to even, and pack a binary32 word.

The trick that keeps this small: the exponent field and the 23 fraction bits are
adjacent in the word, so adding the round-up bit to ``exp:frac`` as one 31-bit
integer carries correctly in every case: a subnormal that rounds up to the
smallest normal (fraction overflows into exponent 1), a normal whose fraction
overflows (exponent + 1), and the largest finite value rounding up to infinity
(exponent becomes 255, fraction 0).
"""

from amaranth.hdl import C, Cat, Mux, Value

__all__ = ["round_up", "round_apply", "round_pack"]


def round_up(sig, guard, sticky):
    """Round to nearest, ties to even: 1 if the significand must be incremented."""
    return guard & (sticky | Value.cast(sig)[0])


def round_apply(sign, exp, sig, up):
    """The binary32 word of ``sig`` (24 bits, leading bit set iff ``exp`` >= 1) at
    exponent field ``exp`` (unsigned, any width; >= 255 overflows to the signed
    infinity), plus ``up`` in the last place."""
    sig = Value.cast(sig)
    exp = Value.cast(exp)
    if len(sig) != 24:
        raise ValueError(f"round_apply wants a 24-bit significand, not {len(sig)} bits")
    if len(exp) < 8:
        exp = Cat(exp, C(0, 8 - len(exp)))
    overflow = exp >= 255
    body = (Cat(sig[0:23], exp[0:8]) + up)[0:31]
    return Mux(overflow, Cat(C(0, 23), C(255, 8), sign), Cat(body, sign))


def round_pack(sign, exp, sig, guard, sticky):
    """Binary32 word of ``(-1)**sign * sig * 2**(...)`` rounded to nearest even.

    ``sig`` (24 bits) is the significand with its leading bit, which is set iff
    ``exp`` (unsigned, any width) is at least 1 (``exp`` = 0 encodes a subnormal);
    ``guard`` is the next bit below ``sig`` and ``sticky`` the OR of everything
    below that.  ``exp`` >= 255 overflows to the signed infinity.
    """
    return round_apply(sign, exp, sig, round_up(sig, guard, sticky))
