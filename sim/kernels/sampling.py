"""Sampling kernels: argmax, a xorshift32 random number generator, a uniform float, and inverse-CDF sampling.

Why branch-free: the ISA's only data-dependent control is a LOOP bound set by
CPUT, so every decision here is a mask.  ``SRA(d, 31)`` of an int32 ``d`` is all
ones when ``d < 0`` and 0 otherwise; with it:

* argmax keeps the first index of the maximum: ``d = best - x[k]`` (a float
  SUB: negative exactly when ``x[k] > best``, also for -0 against +0, and never
  for equal values), then ``idx ^= (k ^ idx) & SRA(d, 31)``;
* sampling counts the cumulative sums ``cdf[k]`` (k < n-1) with
  ``cdf[k] <= target``: for non-negative binary32 values the bit patterns, as
  integers, are in the same order as the values, so ``SRA(bits(target) -
  bits(cdf[k]), 31)`` is -1 exactly when ``cdf[k] > target``.

The generator is Marsaglia's xorshift32 (``x ^= x << 13; x ^= x >> 17;
x ^= x << 5``): period 2**32 - 1 over the nonzero states, zero maps to zero.
"""

from .operands import Regs, Row, registers_of
from .serial import Code, Stream, repeat

__all__ = ["XORSHIFT_SHIFTS", "xorshift", "uniform", "argmax", "sample"]

#: The shifts of xorshift32: left, right, left.
XORSHIFT_SHIFTS = (13, 17, 5)
_ONE_BITS = 0x3F800000          # 1.0f, and the exponent field of [1, 2)


def xorshift(state, *, scratch, label="xorshift"):
    """``state`` = xorshift32(``state``): six integer operations (SHL/SHR, XOR) on one register."""
    code = Code(label)
    (left1, right, left2, t), _ = scratch.without([state]).take(4, "xorshift")
    for reg, shift in zip((left1, right, left2), XORSHIFT_SHIFTS):
        code.load(reg, shift)
    for op, amount in (("SHL", left1), ("SHR", right), ("SHL", left2)):
        code.d(op, t, state, amount)
        code.d("XOR", state, state, t)
    return code.lines


def uniform(state, out, *, scratch, label="uniform"):
    """``out`` = ``(state >> 9) * 2**-23`` in ``[0, 1)``: the top 23 bits as a float, exactly.

    ``bits((state >> 9) | bits(1.0)) - 1.0``: a float in ``[1, 2)`` whose fraction
    is the 23 bits, less one (exact).  ``out`` may be ``state`` (then it is consumed).
    """
    code = Code(label)
    (nine, one), _ = scratch.without([state, out]).take(2, "uniform")
    code.load(nine, 9)
    code.load(one, _ONE_BITS)
    code.d("SHR", out, state, nine)
    code.d("OR", out, out, one)
    code.d("SUB", out, out, one)
    return code.lines


def _scan(code, x, count, acc, step, scratch, cregs, head=None):
    """Walk ``x[0 .. count-1]`` in order and return the register of the running value.

    ``head(reg)`` (if given) is emitted once ``reg`` holds ``x[0]``; then
    ``step(k, prev, v)`` for ``k = 1 ..``, with ``v`` holding ``x[k]`` and ``prev``
    the running value's register: ``x[0]``'s before the first step, ``acc`` after
    (a step writes ``acc``).  A Row's ``x[0]`` is GATHERed into ``acc`` and the rest
    into a temporary, in a counted loop after element 0.
    """
    if isinstance(x, Regs):
        if head:
            head(x[0])
        for k in range(1, count):
            step(k, x[0] if k == 1 else acc, x[k])
        return acc if count > 1 else x[0]
    (v,), _ = scratch.take(1, "element register")
    read = Stream(code, cregs[0], x.coords()[:count])

    def element(k):
        if k == 0:
            read.gather(acc)
            if head:
                head(acc)
        else:
            read.gather(v)
            step(k, acc, v)

    repeat(code, count, element, streams=[read], limit=cregs[1], peel=1)
    return acc


def argmax(x, out, *, scratch, label="argmax"):
    """``out`` = the first index of the largest element of ``x`` (Regs or Row; no NaN).

    Order: ``best = x[0]``, ``idx = 0``; for ``k = 1 ..``: ``d = best - x[k]``;
    ``mask = SRA(d, 31)``; ``best = max(best, x[k])``; ``k`` counted by IADD;
    ``idx ^= (k ^ idx) & mask``.  Exact.
    """
    code = Code(label)
    scratch = scratch.without([*registers_of(x), out])
    (best, k_reg, one, shift, d, t), scratch = scratch.take(6, "argmax")
    cregs, scratch = scratch.take_cregs(0 if isinstance(x, Regs) else 2, "argmax cursors")
    for reg, value in ((out, 0), (k_reg, 0), (one, 1), (shift, 31)):
        code.load(reg, value)

    def step(k, prev, v):
        code.d("SUB", d, prev, v)
        code.d("SRA", d, d, shift)
        code.d("MAX", best, prev, v)
        code.d("IADD", k_reg, k_reg, one)
        code.d("XOR", t, k_reg, out)
        code.d("AND", t, t, d)
        code.d("XOR", out, out, t)

    _scan(code, x, len(x), best, step, scratch, cregs)
    return code.lines


def sample(weights, u, out, *, scratch, label="sample"):
    """``out`` = an index drawn with probability ``weights[k] / total`` by the inverse CDF.

    ``weights``: Regs or Row of non-negative binary32 values (not -0, not NaN);
    ``u``: a register holding a uniform float in ``[0, 1)`` with 23 fraction bits
    (:func:`uniform`).  Order: ``total = ((w0 + w1) + w2) + ...``;
    ``target = u * total``; ``out = (n - 1) + sum over k < n-1 of
    SRA(bits(target) - bits(cdf[k]), 31)`` with ``cdf[0] = w0``,
    ``cdf[k] = cdf[k-1] + w[k]``: the number of ``k < n-1`` with
    ``cdf[k] <= target``.  Since ``u <= 1 - 2**-23``, ``target < total``, so an
    index whose weight is zero is never drawn.  Exact, given those sums.
    """
    n = len(weights)
    code = Code(label)
    scratch = scratch.without([*registers_of(weights), u, out])
    (total, target, cdf, shift, d), scratch = scratch.take(5, "sample")
    cregs, scratch = scratch.take_cregs(0 if isinstance(weights, Regs) else 2, "sample cursors")

    def add(acc):
        return lambda k, prev, v: code.d("ADD", acc, prev, v)

    total = _scan(code, weights, n, total, add(total), scratch, cregs)
    code.d("MUL", target, u, total)
    code.load(out, n - 1)
    code.load(shift, 31)

    def count(reg):
        code.d("ISUB", d, target, reg)
        code.d("SRA", d, d, shift)
        code.d("IADD", out, out, d)

    def step(k, prev, v):
        add(cdf)(k, prev, v)
        count(cdf)

    if n > 1:
        _scan(code, weights, n - 1, cdf, step, scratch, cregs, head=count)
    return code.lines
