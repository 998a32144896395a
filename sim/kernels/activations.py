"""Activation kernels: ReLU and ReLU squared, elementwise over registers or rows.

Why MAX with +0: ``relu(x) = max(x, +0)`` is one exact float operation, and the
ISA orders -0 below +0 (docs/isa.md section 3), so -0 and every negative number
give +0, and NaN stays NaN.  ReLU squared (the MLP activation of some GPTs) is
that value times itself, rounded once.
"""

from .linalg import DEFAULT_CHAINS
from .operands import registers_of
from .serial import Code, elementwise

__all__ = ["relu", "relu_squared"]


def _activation(x, out, scratch, unroll, label, square):
    code = Code(label)
    (zero,), scratch = scratch.without(registers_of(x, out)).take(1, f"{label} zero")
    code.load(zero, 0)

    def body(k, src, dst, t):
        code.d("MAX", dst, src, zero)
        if square:
            code.d("MUL", dst, dst, dst)

    elementwise(code, x, out, body, scratch=scratch, unroll=unroll)
    return code.lines


def relu(x, out, *, scratch, unroll=DEFAULT_CHAINS, label="relu"):
    """``out[k]`` = ``max(x[k], +0)``: exact.  ``x``, ``out``: Regs or Row (may be the same)."""
    return _activation(x, out, scratch, unroll, label, square=False)


def relu_squared(x, out, *, scratch, unroll=DEFAULT_CHAINS, label="relu2"):
    """``out[k]`` = ``m * m`` with ``m = max(x[k], +0)``: one rounding (half an ulp)."""
    return _activation(x, out, scratch, unroll, label, square=True)
