"""Variable shifts that keep a sticky bit, split in two phases if the pipeline wants.

A barrel shifter is log2(width) levels of multiplexers: on an iCE40 that alone
nearly fills a cycle.  Splitting the amount into its high bits (whole groups of
``2**low_bits`` positions) and low bits gives two shorter steps with a register
between them; bits that fall off the right in the first phase can never come
back, so they only need to leave their OR (sticky) behind.
"""

from amaranth.hdl import C, Cat, Value

from .wire import wire

__all__ = ["shift_right_sticky", "split_amount"]


def split_amount(amount, low_bits=3):
    """``(high, low)``: ``high`` is ``amount`` with its low bits cleared, ``low`` those bits."""
    amount = Value.cast(amount)
    return Cat(C(0, low_bits), amount[low_bits:]), amount[:low_bits]


def shift_right_sticky(m, value, amount, name):
    """``(value >> amount, OR of the bits shifted out)``; result as wide as ``value``."""
    value = Value.cast(value)
    amount = Value.cast(amount)
    pad = (1 << len(amount)) - 1
    ext = wire(m, Cat(C(0, pad), value) >> amount, name)
    return ext[pad:], ext[:pad].any()
