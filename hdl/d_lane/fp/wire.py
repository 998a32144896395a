"""Naming an intermediate value: one Signal driven combinationally.

Why it matters: an Amaranth expression used twice is two copies of its tree for
the simulator (which compiles expressions inline), so a shared sub-result that
feeds several places, level after level (a leading-zero tree, a normalizer),
grows exponentially unless it is held in a Signal.  A named wire also makes
waveforms and synthesis reports readable.  Hardware is the same either way.
"""

from amaranth.hdl import Signal, Value

__all__ = ["wire"]


def wire(m, value, name):
    """A Signal named ``name`` that equals ``value`` (``m.d.comb``), same shape."""
    value = Value.cast(value)
    sig = Signal(value.shape(), name=name)
    m.d.comb += sig.eq(value)
    return sig
