"""Softmax kernels: exp by range reduction and a polynomial, the reciprocal by Newton steps, max-subtracted softmax.

Why these methods: the Sentron has no divide, no exp and no data-dependent
branch, only +, *, MAC, MIN/MAX, conversions and integer bit operations.  So:

* ``exp(x)`` = ``2**t`` with ``t = x * log2(e)``: ``t`` is split into an integer
  ``n = FTOI(t - 1/2)`` (FTOI rounds toward zero, so for ``t <= 0`` that is
  ``ceil(t - 1/2)``, the integer nearest ``t``) and an exact fraction
  ``f = t - n`` in ``(-1/2, 1/2]``; ``2**f`` is a degree-6 polynomial
  (:data:`EXP_COEFFS`), and ``2**n`` is built from its bits, ``(n + 127) << 23``
  (SHL, IADD), then multiplied in.  ``t`` is clamped to ``>= -127`` first, so
  ``n >= -127``; ``n = -127`` builds +0, which flushes results below about
  ``2**-126.5`` to exactly zero: ``exp(-inf)`` is 0, as a causal mask wants.
* ``1/s``: the integer-bit first guess ``bits(r) = 0x7EF311C7 - bits(s)`` (within
  5.06 % for every normal ``s``), then Newton steps ``r = r * (2 - s*r)``, each
  squaring the relative error.
* softmax: the maximum is subtracted first (exact: ``x - max <= 0``), so every
  exponent is in ``(-inf, 0]`` and the sum lies in ``[1, n]``.

The exact operation order and the error bounds (functions here, derived in
docs/kernels.md) are what a float32 reference must mirror.
"""

import math
from fractions import Fraction

from .linalg import DEFAULT_CHAINS, reduce_max
from .operands import registers_of
from .serial import Code, bits_float, elementwise

__all__ = ["LOG2E", "EXP_CLAMP", "EXP_COEFFS", "RECIPROCAL_MAGIC", "RECIPROCAL_STEPS", "SOFTMAX_UNROLL",
           "exp", "reciprocal", "softmax",
           "exp_error_bound", "reciprocal_first_guess_error", "reciprocal_error_bound",
           "softmax_error_bound", "UNIT_ROUNDOFF"]

#: Binary32 bits of log2(e), rounded to nearest.
LOG2E = 0x3FB8AA3B
#: Binary32 bits of -127.0: ``t = x * log2(e)`` is clamped to at least this.
EXP_CLAMP = 0xC2FE0000
_HALF = 0x3F000000
_SHIFT_EXPONENT = 23
#: Binary32 bits of ``c0 .. c6`` of ``2**f ~ c0 + c1 f + ... + c6 f**6`` on ``[-1/2, 1/2]``:
#: the interpolant at the 7 Chebyshev nodes ``cos((2k+1) pi / 14) / 2``, each rounded to
#: binary32.  ``c0`` is exactly 1.0, so ``exp(0) = 1`` and the same register serves as
#: ``127 << 23``, the exponent bias of ``2**n``.
EXP_COEFFS = (0x3F800000, 0x3F317218, 0x3E75FDF0, 0x3D635766, 0x3C1D950E, 0x3AAFA460,
              0x39222000)
#: The reciprocal's first guess: ``bits(1/s) ~ RECIPROCAL_MAGIC - bits(s)``.
RECIPROCAL_MAGIC = 0x7EF311C7
_TWO = 0x40000000
#: Newton steps of :func:`reciprocal` by default: the error is then rounding-limited.
RECIPROCAL_STEPS = 3
#: Half an ulp of 1: the relative error of one binary32 rounding.
UNIT_ROUNDOFF = 2.0 ** -24


class _ExpConstants:
    """Registers holding exp's constants, loaded once per kernel (11 registers)."""

    def __init__(self, code, scratch):
        regs, self.scratch = scratch.take(4 + len(EXP_COEFFS), "exp constants")
        self.log2e, self.clamp, self.half, self.shift = regs[:4]
        self.coeffs = regs[4:]
        for reg, bits in ((self.log2e, LOG2E), (self.clamp, EXP_CLAMP), (self.half, _HALF),
                          (self.shift, _SHIFT_EXPONENT), *zip(self.coeffs, EXP_COEFFS)):
            code.load(reg, bits)


#: Temporaries of one exp in flight.
_EXP_TEMPS = 4


def _exp_ops(code, c, src, dst, t):
    """``dst`` = exp(``src``) for ``src <= 0``, in 21 D operations; ``t``: 4 temporaries.

    The order (mirrored by docs/kernels.md, "exp"):
    ``t = max(src * log2e, -127)``; ``n = FTOI(t - 1/2)``; ``f = t - ITOF(n)``;
    ``p = c6``, then ``p = c_k + p * f`` for k = 5 .. 0 (MOV c_k, MAC);
    ``dst = p * bits((n << 23) + bits(1.0))``.
    """
    a, n, f, q = t
    code.d("MUL", a, src, c.log2e)
    code.d("MAX", a, a, c.clamp)
    code.d("SUB", n, a, c.half)
    code.d("FTOI", n, n)
    code.d("ITOF", f, n)
    code.d("SUB", f, a, f)
    p = c.coeffs[-1]
    for k in range(len(EXP_COEFFS) - 2, -1, -1):      # Horner's rule in two registers by turns
        acc = (q, a)[k % 2]
        code.d("MOV", acc, c.coeffs[k])
        code.d("MAC", acc, p, f)
        p = acc
    code.d("SHL", n, n, c.shift)
    code.d("IADD", n, n, c.coeffs[0])
    code.d("MUL", dst, p, n)


def exp(x, out, *, scratch, unroll=DEFAULT_CHAINS, label="exp"):
    """``out[k]`` = exp(``x[k]``) for ``x[k] <= 0`` (valid up to ``x <= 0.34``).

    ``x``, ``out``: Regs or Row (may be the same).  ``unroll`` sets of 4
    temporaries let that many exps be in flight; 11 constant registers.
    Error: :func:`exp_error_bound`.
    """
    code = Code(label)
    consts = _ExpConstants(code, scratch.without(registers_of(x, out)))
    elementwise(code, x, out, lambda k, src, dst, t: _exp_ops(code, consts, src, dst, t),
                scratch=consts.scratch, temps=_EXP_TEMPS, unroll=unroll)
    return code.lines


def _reciprocal_ops(code, s, out, temp, magic, two, steps):
    """``out`` = 1/``s``: ``out = bits(magic - bits(s))``, then ``steps`` times
    ``t = s * out; t = 2 - t; out = out * t``."""
    code.d("ISUB", out, magic, s)
    for _ in range(steps):
        code.d("MUL", temp, s, out)
        code.d("SUB", temp, two, temp)
        code.d("MUL", out, out, temp)


def reciprocal(s, out, *, scratch, steps=RECIPROCAL_STEPS, label="recip"):
    """``out`` = 1/``s`` for a register ``s`` holding a normal float in ``[2**-125, 2**125]``.

    ``out`` may not be ``s``.  Error: :func:`reciprocal_error_bound`.
    """
    if out == s:
        raise ValueError("reciprocal: out must differ from s (s is read by every step)")
    code = Code(label)
    (magic, two, temp), _ = scratch.without([s, out]).take(3, "reciprocal")
    code.load(magic, RECIPROCAL_MAGIC)
    code.load(two, _TWO)
    _reciprocal_ops(code, s, out, temp, magic, two, steps)
    return code.lines


#: Elements of softmax's exp pass in flight at once: each takes 4 temporaries (and, for a
#: row, a value register) beside exp's 11 constants; 3 keeps the D lane busy where 2
#: leaves a pipelined loop waiting on one element's chain of 23 operations.
SOFTMAX_UNROLL = 3


def softmax(x, out, *, scratch, chains=DEFAULT_CHAINS, unroll=SOFTMAX_UNROLL,
            steps=RECIPROCAL_STEPS, label="softmax"):
    """``out[k]`` = ``e[k] * r``: ``e[k]`` = exp(``x[k]`` - m), ``m`` the maximum, ``r`` = 1/sum.

    ``x``, ``out``: Regs or Row (may be the same).  Three passes:
    :func:`reduce_max` (``chains`` accumulators; exact in any order);
    ``e[k] = exp(x[k] - m)`` into ``out`` while ``s = s + e[k]`` in increasing
    ``k`` from ``s = +0`` (one accumulator: an element's 23 D operations take far
    longer than a float latency); ``r`` = :func:`reciprocal` of ``s``; ``out[k] = e[k] * r``.
    Error: :func:`softmax_error_bound`.
    """
    code = Code(label)
    scratch = scratch.without(registers_of(x, out))
    (m, total, r), scratch = scratch.take(3, "softmax")
    code.lines += reduce_max(x, m, scratch=scratch, chains=chains, label=f"{label}_max")
    consts = _ExpConstants(code, scratch)
    code.load(total, 0)

    def exp_and_sum(k, src, dst, t):
        code.d("SUB", dst, src, m)
        _exp_ops(code, consts, dst, dst, t)
        code.d("ADD", total, total, dst)

    elementwise(code, x, out, exp_and_sum, scratch=consts.scratch, temps=_EXP_TEMPS, unroll=unroll)
    code.lines += reciprocal(total, r, scratch=scratch, steps=steps, label=f"{label}_recip")
    elementwise(code, out, out, lambda k, src, dst, t: code.d("MUL", dst, src, r),
                scratch=scratch.without([r]), unroll=unroll)
    return code.lines


# ----------------------------------------------------------------------------- error bounds

def _poly_bound():
    """Error bound of the polynomial step, relative to ``2**f``, over ``|f| <= 1/2``.

    Two parts (docs/kernels.md, "exp"): the interpolation error of degree 6 at
    Chebyshev nodes, ``(1/2)**7 * 2 / (2**6 * 7!) * max|d^7 2**f| / 2**(-1/2)``, plus the
    change made by rounding the coefficients (``sum |c_k - c_k*| / 2**k``, the
    ``c_k*`` of the exact interpolant, solved in rationals), plus the rounding of
    the six MACs of Horner's rule: a running bound ``E_k`` on ``|p_k - fl(p_k)|`` at
    ``|f| = 1/2``, where all coefficients are positive.
    """
    u, a = UNIT_ROUNDOFF, 0.5 + 2.0 ** -23     # f may exceed 1/2 by half an ulp of 1
    degree = len(EXP_COEFFS) - 1
    ln2 = math.log(2)
    interpolation = (ln2 ** (degree + 1) * 2 ** 0.5 / (2 ** (2 * degree + 1) * math.factorial(degree + 1)))
    nodes = [Fraction(math.cos((2 * k + 1) * math.pi / (2 * degree + 2)) / 2) for k in range(degree + 1)]
    exact = _interpolant(nodes, [2.0 ** float(v) for v in nodes])
    coeffs = [bits_float(b) for b in EXP_COEFFS]
    rounding = sum(abs(Fraction(c) - e) * Fraction(1, 2 ** k)
                   for k, (c, e) in enumerate(zip(coeffs, exact)))
    # the node values 2**node are float64 roundings: at most 2**-52 relative, times the
    # Lebesgue constant of 7 Chebyshev nodes (< 3)
    nodes_slack = 3 * 2.0 ** -52 * 2 ** 0.5
    e, q = 0.0, coeffs[degree]
    for k in range(degree - 1, -1, -1):
        e = u * (coeffs[k] + (q + e) * a * (1 + u)) + e * a + u * (q + e) * a
        q = coeffs[k] + q * a
    # the interpolation error at |f| <= a: the node polynomial grows by < 1e-4 past 1/2
    absolute = interpolation * (1 + 1e-4) + float(rounding) * (1 + 1e-4) + nodes_slack + e
    return absolute / 2 ** -0.5 * (1 + 1e-9)


def _interpolant(nodes, values):
    """Monomial coefficients of the polynomial through ``(nodes, values)``, in rationals."""
    n = len(nodes)
    rows = [[x ** j for j in range(n)] + [Fraction(v)] for x, v in zip(nodes, values)]
    for i in range(n):
        pivot = max(range(i, n), key=lambda r: abs(rows[r][i]))
        rows[i], rows[pivot] = rows[pivot], rows[i]
        for r in range(n):
            if r != i:
                factor = rows[r][i] / rows[i][i]
                rows[r] = [a - factor * b for a, b in zip(rows[r], rows[i])]
    return [rows[i][n] / rows[i][i] for i in range(n)]


_POLY_BOUND = None


def exp_error_bound(x):
    """A bound on ``|exp_kernel(x) / e**x - 1|`` for ``-87 <= x <= 0`` (normal results).

    ``(1 + P) * e**(B |x|) - 1``: ``P`` bounds the polynomial and its rounding
    (:func:`_poly_bound`, about 1.6e-7); ``B |x|`` bounds the argument's error,
    ``t = fl(x * fl(log2 e))`` against ``x log2 e``, times ``ln 2``.  Everything
    else is exact (the fraction, the conversions, the scaling by ``2**n``).  Below
    ``2**-126`` add an absolute ``2**-126`` (subnormal rounding, or the flush to 0).
    """
    global _POLY_BOUND
    if _POLY_BOUND is None:
        _POLY_BOUND = _poly_bound()
    log2e = bits_float(LOG2E)
    b = math.log(2) * (abs(log2e - 1 / math.log(2)) + log2e * UNIT_ROUNDOFF) * (1 + 1e-9)
    return (1 + _POLY_BOUND) * math.exp(b * abs(x)) - 1


def reciprocal_first_guess_error(magic=RECIPROCAL_MAGIC):
    """``max |r0 * s - 1|`` of the first guess over every normal ``s`` (docs/kernels.md).

    With ``s = 2**E (1 + m)``, ``bits(r0) = magic - bits(s)`` is linear in ``m`` on
    two pieces (the fraction of ``magic``, ``K``, minus ``m`` borrows when
    ``m > K``): ``r0 s = (1+m)(1+K-m)/2`` and ``(1+m)(2+K-m)/4``, whose extremes are
    at the ends and at the vertices ``m = K/2`` and ``m = (1+K)/2``.
    """
    k = (magic & 0x7FFFFF) / 2 ** 23
    return max(abs((1 + k) / 2 - 1), abs((1 + k / 2) ** 2 / 2 - 1),
               abs(((3 + k) / 2) ** 2 / 4 - 1))


def reciprocal_error_bound(steps=RECIPROCAL_STEPS):
    """A bound on ``|reciprocal(s) * s - 1|`` after ``steps`` Newton steps.

    One step from relative error ``e`` (``|e| <= E``), with roundings
    ``1 + d_i``, ``|d_i| <= u``: ``s r' = [(1 - e**2) - d1 (1+e)**2] (1+d2)(1+d3)``, so
    ``E' = max(1 - (1 - E**2)(1-u)**2, (1+u)**2 - 1) + u (1+E)**2 (1+u)**2``.
    """
    u, e = UNIT_ROUNDOFF, reciprocal_first_guess_error()
    for _ in range(steps):
        e = max(1 - (1 - e * e) * (1 - u) ** 2, (1 + u) ** 2 - 1) + u * (1 + e) ** 2 * (1 + u) ** 2
    return e


def softmax_error_bound(x, steps=RECIPROCAL_STEPS):
    """Bounds on ``|out[k] / p[k] - 1|``, ``p`` the exact softmax of the binary32 values ``x``.

    ``inf`` where ``p[k]`` may be below the normal range of the kernel's exp
    (``x[k] - m < -87``): there ``|out[k] - p[k]| <= 2**-125`` instead.
    Derivation (docs/kernels.md, "softmax"): with ``d = m - x[k] >= 0`` exact,
    the computed exponent is ``-d (1 + delta)``, so ``e[k] = e**-d (1 + eta_k)``
    with ``|eta_k| <= H_k = (1 + exp_error_bound(d (1+u))) e**(u d) - 1``; the sum,
    ``n`` positive terms in any order, is ``sum(e**-d) (1 + eta)(1 + theta)`` with
    ``|eta| <= sum p_k H_k`` (a weighted mean) and ``|theta| <= gamma_n``; the
    reciprocal adds ``R`` = :func:`reciprocal_error_bound` and the product one ``u``.
    """
    u = UNIT_ROUNDOFF
    m = max(x)
    d = [m - v for v in x]
    weights = [math.exp(-dk) for dk in d]
    p = [w / sum(weights) for w in weights]
    h = [(1 + exp_error_bound(dk * (1 + u))) * math.exp(u * dk) - 1 if dk * (1 + u) <= 87
         else 1.0 for dk in d]
    eta = sum(pk * hk for pk, hk in zip(p, h)) * (1 + 1e-9)
    gamma = len(x) * u / (1 - len(x) * u)
    r = reciprocal_error_bound(steps)
    return [(1 + hk) * (1 + u) * (1 + r) / ((1 - eta) * (1 - gamma)) - 1 if dk * (1 + u) <= 87
            else math.inf for hk, dk in zip(h, d)]
