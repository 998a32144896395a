"""Normalisation kernels: the reciprocal square root by the integer-bit first guess and Newton steps, and RMSNorm.

Why the bit trick: the Sentron has no divide and no square root.  The bits of a
positive binary32 ``a``, read as an integer, are about ``2**23 (log2 a + 127)``,
so ``0x5F3759DF - (bits(a) >> 1)`` is about the bits of ``a**-1/2``: within
3.44 % for every normal ``a`` (:func:`rsqrt_first_guess_error`).  Each Newton step
``y = y (3/2 - (a/2) y y)`` then squares the relative error (times 3/2).

RMSNorm (no gain, as in microgpt): ``out[k] = x[k] * rsqrt(mean(x**2) + eps)``.
"""

import math

from .linalg import DEFAULT_CHAINS, sum_squares
from .operands import registers_of
from .serial import Code, bits_float, elementwise, float_bits
from .softmax import UNIT_ROUNDOFF

__all__ = ["RSQRT_MAGIC", "RSQRT_STEPS", "RMS_EPS", "rsqrt", "rmsnorm",
           "rsqrt_first_guess_error", "rsqrt_error_bound", "rmsnorm_error_bound"]

#: The first guess: ``bits(a**-1/2) ~ RSQRT_MAGIC - (bits(a) >> 1)``.
RSQRT_MAGIC = 0x5F3759DF
#: Newton steps of :func:`rsqrt` by default: the error is then rounding-limited.
RSQRT_STEPS = 3
#: microgpt's epsilon, added to the mean square.
RMS_EPS = 1e-5
_HALF = 0x3F000000
_THREE_HALVES = 0x3FC00000


def _rsqrt_ops(code, a, out, temps, consts, steps):
    """``out`` = ``a**-1/2``: ``out = magic - (a >> 1)``; ``h = a * 1/2``; then ``steps`` times
    ``t = h * out; t = t * out; t = 3/2 - t; out = out * t``."""
    one, magic, half, three_halves = consts
    h, t = temps
    code.d("SHR", out, a, one)
    code.d("ISUB", out, magic, out)
    code.d("MUL", h, a, half)
    for _ in range(steps):
        code.d("MUL", t, h, out)
        code.d("MUL", t, t, out)
        code.d("SUB", t, three_halves, t)
        code.d("MUL", out, out, t)


def _rsqrt_constants(code, scratch):
    consts, scratch = scratch.take(4, "rsqrt constants")
    for reg, bits in zip(consts, (1, RSQRT_MAGIC, _HALF, _THREE_HALVES)):
        code.load(reg, bits)
    return consts, scratch


def rsqrt(a, out, *, scratch, steps=RSQRT_STEPS, label="rsqrt"):
    """``out`` = ``1 / sqrt(a)`` for a register ``a`` holding a float in ``[2**-125, 2**127]``.

    ``out`` may not be ``a``.  Error: :func:`rsqrt_error_bound`.
    """
    if out == a:
        raise ValueError("rsqrt: out must differ from a (a is read after out is written)")
    code = Code(label)
    consts, scratch = _rsqrt_constants(code, scratch.without([a, out]))
    temps, _ = scratch.take(2, "rsqrt temporaries")
    _rsqrt_ops(code, a, out, temps, consts, steps)
    return code.lines


def rmsnorm(x, out, *, scratch, eps=RMS_EPS, steps=RSQRT_STEPS, chains=DEFAULT_CHAINS,
            unroll=DEFAULT_CHAINS, label="rmsnorm"):
    """``out[k]`` = ``x[k] * rsqrt(s * (1/n) + eps)``, ``s`` = :func:`sum_squares` of ``x``.

    ``x``, ``out``: Regs or Row of ``n`` (may be the same).  ``1/n`` and ``eps``
    are binary32 constants (rounded to nearest); the mean square is ``s * (1/n)``
    (one MUL), plus ``eps`` (one ADD), then :func:`rsqrt`, then one MUL per
    element.  Error: :func:`rmsnorm_error_bound`.
    """
    n = len(x)
    code = Code(label)
    scratch = scratch.without(registers_of(x, out))
    (s, scale), scratch = scratch.take(2, "rmsnorm")
    code.lines += sum_squares(x, s, scratch=scratch, chains=chains, label=f"{label}_sumsq")
    (inv_n, epsilon), rest = scratch.take(2, "rmsnorm constants")
    code.load_float(inv_n, 1.0 / n)
    code.load_float(epsilon, eps)
    code.d("MUL", s, s, inv_n)
    code.d("ADD", s, s, epsilon)
    code.lines += rsqrt(s, scale, scratch=scratch, steps=steps, label=f"{label}_rsqrt")
    elementwise(code, x, out, lambda k, src, dst, t: code.d("MUL", dst, src, scale),
                scratch=scratch.without([scale]), unroll=unroll)
    return code.lines


def rsqrt_first_guess_error(magic=RSQRT_MAGIC):
    """``max |y0 sqrt(a) - 1|`` of the first guess over every normal ``a`` (docs/kernels.md).

    With ``a = 2**E (1 + m)`` and ``K`` the fraction of ``magic``, the guess is
    ``c (alpha - m/2) sqrt(1 + m)`` times the exact value on three pieces: ``E`` odd
    and ``m <= 2K`` (``c = 2**-1/2``, ``alpha = 1 + K``), ``E`` odd and ``m > 2K``
    (``2**-3/2``, ``2 + K``), ``E`` even (``1/2``, ``3/2 + K``).  Extremes lie at the
    ends and where the derivative vanishes, ``m = (2 alpha - 2) / 3``.  The shift
    floors half the fraction, which moves the guess by at most ``2**-24`` of its
    value: added.
    """
    k = (magic & 0x7FFFFF) / 2 ** 23

    def piece(c, alpha, lo, hi):
        points = [lo, hi] + [m for m in [(2 * alpha - 2) / 3] if lo < m < hi]
        return max(abs(c * (alpha - m / 2) * math.sqrt(1 + m) - 1) for m in points)

    worst = max(piece(2 ** -0.5, 1 + k, 0, 2 * k), piece(2 ** -1.5, 2 + k, 2 * k, 1),
                piece(0.5, 1.5 + k, 0, 1))
    return worst + 2.0 ** -24 * (1 + worst)


def rsqrt_error_bound(steps=RSQRT_STEPS):
    """A bound on ``|rsqrt(a) * sqrt(a) - 1|`` after ``steps`` Newton steps.

    ``h = a/2`` is exact (``a >= 2**-125``).  One step from relative error ``e``
    (``|e| <= E``): ``sqrt(a) y' = [g(e) - (1+e)**3 eta / 2] (1+d3)(1+d4)`` with
    ``g(e) = 1 - 3/2 e**2 - 1/2 e**3`` (exact Newton, ``<= 1``) and
    ``|eta| <= 2u + u**2`` (the two products), so
    ``E' = max(1 - (1 - 3/2 E**2 - 1/2 E**3)(1-u)**2, (1+u)**2 - 1) + (1+E)**3 (2u + u**2)(1+u)**2 / 2``.
    """
    u, e = UNIT_ROUNDOFF, rsqrt_first_guess_error()
    eta = 2 * u + u * u
    for _ in range(steps):
        low = (1 - 1.5 * e * e - 0.5 * e ** 3) * (1 - u) ** 2
        e = max(1 - low, (1 + u) ** 2 - 1) + (1 + e) ** 3 * eta * (1 + u) ** 2 / 2
    return e


def rmsnorm_error_bound(x, eps=RMS_EPS, steps=RSQRT_STEPS):
    """``B`` with ``|out[k] - y[k]| <= B |y[k]| + 2**-150``, ``y`` the exact RMSNorm of ``x``.

    The sum of squares (``n`` products and ``n - 1`` additions, all terms
    non-negative) is within ``gamma_n`` of exact; ``1/n`` rounded adds ``u`` (none
    if ``n`` is a power of two), the MUL and the ADD one ``u`` each (the ADD's
    relative error, a sum of non-negatives, carries the others through); the
    rounding of ``eps`` to binary32 is measured, and underflow in the sum of squares
    loses at most ``2**-148`` of the mean square.  So the argument is ``a (1 + xi)``
    with ``|xi| <= A``, its reciprocal square root within ``(1 - A)**-1/2`` of
    ``a**-1/2``; then :func:`rsqrt_error_bound` and the last MUL's ``u`` (and, for a
    subnormal product, its absolute ``2**-150``).
    """
    u = UNIT_ROUNDOFF
    n = len(x)
    gamma = n * u / (1 - n * u)
    inv_n = 0.0 if n & (n - 1) == 0 else u
    eps32 = _f32(eps)
    ms = sum(v * v for v in x) / n
    eps_error = (abs(eps32 - eps) + 2.0 ** -148) / (ms + eps)
    arg = (1 + gamma) * (1 + inv_n) * (1 + u) * (1 + u) * (1 + eps_error) - 1
    return ((1 - arg) ** -0.5 * (1 + rsqrt_error_bound(steps)) * (1 + u) - 1) * (1 + 1e-9)


def _f32(value):
    return bits_float(float_bits(value))

