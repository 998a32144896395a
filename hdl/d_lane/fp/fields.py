"""The fields of a binary32 word, as Amaranth expressions.

A word is ``sign[31] | exp[30:23] | frac[22:0]``.  The datapath wants the
*significand* with its implicit bit made explicit (1 for normal numbers, 0 for
zeros and subnormals) and the *effective exponent* (a subnormal's exponent field
is 0 but it scales like exponent 1), so that every finite value is exactly
``sig * 2**(exp_eff - 150)`` with no special case left for later stages.
"""

from amaranth.hdl import Cat, Value

from .wire import wire

__all__ = ["F32Fields", "unpack", "POS_INF_BITS", "ONE_BITS", "BIAS"]

#: Exponent bias of binary32.
BIAS = 127
#: Bit pattern of +inf and of 1.0.
POS_INF_BITS = 0x7F80_0000
ONE_BITS = 0x3F80_0000


class F32Fields:
    """The parts of one binary32 word (all Amaranth values, all combinational).

    ``sign`` (1), ``exp`` (8, the raw field), ``frac`` (23), ``sig`` (24, with the
    implicit bit), ``exp_eff`` (8, ``max(exp, 1)``), and the class flags
    ``is_zero``, ``is_inf``, ``is_nan`` (any NaN, quiet or signalling).
    ``mag`` (31) is the word without its sign: for non-NaN words, comparing
    ``mag`` as unsigned integers compares magnitudes.
    """

    def __init__(self, m, word, name):
        word = wire(m, word, name)
        if len(word) != 32:
            raise ValueError(f"a binary32 word is 32 bits wide, not {len(word)}")
        self.word = word
        self.sign = word[31]
        self.exp = word[23:31]
        self.frac = word[0:23]
        self.mag = word[0:31]
        exp_nonzero = wire(m, self.exp.any(), f"{name}_exp_nz")
        exp_ones = wire(m, self.exp.all(), f"{name}_exp_ones")
        frac_nonzero = wire(m, self.frac.any(), f"{name}_frac_nz")
        self.sig = Cat(self.frac, exp_nonzero)
        self.exp_eff = Cat(self.exp[0] | ~exp_nonzero, self.exp[1:8])
        self.is_zero = wire(m, ~exp_nonzero & ~frac_nonzero, f"{name}_is_zero")
        self.is_inf = wire(m, exp_ones & ~frac_nonzero, f"{name}_is_inf")
        self.is_nan = wire(m, exp_ones & frac_nonzero, f"{name}_is_nan")


def unpack(m, word, name):
    """:class:`F32Fields` of ``word``; intermediate wires are named after ``name``."""
    return F32Fields(m, word, name)
