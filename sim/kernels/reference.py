"""The kernels' arithmetic in plain Python binary32: each kernel's operation order, for references.

Why a mirror: a float32 reference of a whole program (the GPT's forward pass) is
bit-identical to the core only if it performs the same roundings in the same
order as every kernel it uses.  These functions do exactly that, on Python floats
holding binary32 values (every operation rounds to nearest even; MAC rounds
twice), written from the orders documented in docs/kernels.md and in each
kernel's docstring, not from the generated code.  ``tests/test_kernels.py``
checks each against the kernel run on the golden model, bit for bit.
"""

import math
import struct

from .linalg import DEFAULT_CHAINS, tree_order
from .norm import RMS_EPS, RSQRT_MAGIC, RSQRT_STEPS
from .sampling import XORSHIFT_SHIFTS
from .softmax import EXP_CLAMP, EXP_COEFFS, LOG2E, RECIPROCAL_MAGIC, RECIPROCAL_STEPS

__all__ = ["f32", "bits", "from_bits", "add", "sub", "mul", "mac", "fmax", "ftoi", "itof",
           "dot", "saxpy", "matvec", "reduce_sum", "reduce_max", "sum_squares",
           "relu", "relu_squared", "exp", "reciprocal", "softmax", "rsqrt", "rmsnorm",
           "xorshift", "uniform", "argmax", "sample"]

_MAX32 = 0xFFFF_FFFF


def bits(x):
    """The binary32 bit pattern of ``x`` (already a binary32 value)."""
    return struct.unpack("<I", struct.pack("<f", x))[0]


def from_bits(b):
    return struct.unpack("<f", struct.pack("<I", b & _MAX32))[0]


def f32(x):
    """``x`` rounded to binary32 (nearest even; overflow to infinity; NaN stays NaN)."""
    if math.isnan(x) or math.isinf(x):
        return x
    try:
        return struct.unpack("<f", struct.pack("<f", x))[0]
    except OverflowError:
        return math.copysign(math.inf, x)


def add(a, b):
    return f32(a + b)


def sub(a, b):
    return f32(a - b)


def mul(a, b):
    return f32(a * b)


def mac(acc, a, b):
    """``acc + a*b`` with two roundings, as the MAC instruction."""
    return add(acc, mul(a, b))


def fmax(a, b):
    """The larger, -0 below +0, NaN if either is NaN."""
    if math.isnan(a) or math.isnan(b):
        return math.nan
    if a == b:
        return b if math.copysign(1, a) < 0 else a
    return a if a > b else b


def ftoi(a):
    """Toward zero, saturating, NaN to 0: an int."""
    if math.isnan(a):
        return 0
    if a >= 2.0 ** 31:
        return 2 ** 31 - 1
    if a < -2.0 ** 31:
        return -2 ** 31
    return math.trunc(a)


def itof(n):
    return f32(float(n))


def _tree(values, op):
    values = list(values)
    for a, b in tree_order(len(values)):
        values[a] = op(values[a], values[b])
    return values[0]


def _chains(values, chains, first, step):
    accs = []
    for k, v in enumerate(values):
        if k < chains:
            accs.append(first(v))
        else:
            accs[k % chains] = step(accs[k % chains], v)
    return accs


def dot(x, y, chains=DEFAULT_CHAINS):
    """Chain ``k mod chains`` gets ``x[k]*y[k]``: MUL first, then MAC; then the tree of ADDs."""
    products = list(zip(x, y))
    accs = _chains(products, chains, lambda p: mul(*p), lambda acc, p: mac(acc, *p))
    return _tree(accs, add)


def saxpy(a, x, y):
    return [mac(yk, a, xk) for xk, yk in zip(x, y)]


def matvec(w, x):
    """``y[i]`` = ``w[i][0]*x[0]`` (MUL), then ``+ w[i][j]*x[j]`` (MAC) for j = 1, 2, ...
    (both forms of the kernel).  ``w``: a list of rows."""
    out = []
    for row in w:
        acc = mul(row[0], x[0])
        for wj, xj in zip(row[1:], x[1:]):
            acc = mac(acc, wj, xj)
        out.append(acc)
    return out


def reduce_sum(x, chains=DEFAULT_CHAINS):
    return _tree(_chains(x, chains, lambda v: v, add), add)


def reduce_max(x, chains=DEFAULT_CHAINS):
    return _tree(_chains(x, chains, lambda v: v, fmax), fmax)


def sum_squares(x, chains=DEFAULT_CHAINS):
    accs = _chains(x, chains, lambda v: mul(v, v), lambda acc, v: mac(acc, v, v))
    return _tree(accs, add)


def relu(x):
    return [fmax(v, 0.0) for v in x]


def relu_squared(x):
    return [mul(m, m) for m in relu(x)]


def exp(x):
    """The kernel's exp of one value (docs/kernels.md, "exp")."""
    t = fmax(mul(x, from_bits(LOG2E)), from_bits(EXP_CLAMP))
    n = ftoi(sub(t, 0.5))
    f = sub(t, itof(n))
    c = [from_bits(b) for b in EXP_COEFFS]
    p = c[-1]
    for ck in reversed(c[:-1]):
        p = mac(ck, p, f)
    scale = from_bits(((n << 23) + EXP_COEFFS[0]) & _MAX32)
    return mul(p, scale)


def reciprocal(s, steps=RECIPROCAL_STEPS):
    r = from_bits(RECIPROCAL_MAGIC - bits(s))
    for _ in range(steps):
        r = mul(r, sub(2.0, mul(s, r)))
    return r


def softmax(x, chains=DEFAULT_CHAINS, steps=RECIPROCAL_STEPS):
    m = reduce_max(x, chains)
    e = [exp(sub(v, m)) for v in x]
    total = 0.0
    for v in e:
        total = add(total, v)
    r = reciprocal(total, steps)
    return [mul(v, r) for v in e]


def rsqrt(a, steps=RSQRT_STEPS):
    y = from_bits(RSQRT_MAGIC - (bits(a) >> 1))
    h = mul(a, 0.5)
    for _ in range(steps):
        y = mul(y, sub(1.5, mul(mul(h, y), y)))
    return y


def rmsnorm(x, eps=RMS_EPS, steps=RSQRT_STEPS, chains=DEFAULT_CHAINS):
    ms = add(mul(sum_squares(x, chains), f32(1.0 / len(x))), f32(eps))
    scale = rsqrt(ms, steps)
    return [mul(v, scale) for v in x]


def xorshift(state):
    """One step of xorshift32 on a 32-bit unsigned int."""
    left1, right, left2 = XORSHIFT_SHIFTS
    state ^= (state << left1) & _MAX32
    state ^= state >> right
    state ^= (state << left2) & _MAX32
    return state


def uniform(state):
    return (state >> 9) / 2.0 ** 23


def argmax(x):
    """The first index of the largest value, -0 below +0 (no NaN)."""
    key = [(v, math.copysign(1, v)) for v in x]
    return key.index(max(key))


def sample(weights, u):
    total = weights[0]
    for w in weights[1:]:
        total = add(total, w)
    target = mul(u, total)
    cdf, count = weights[0], 0
    for k in range(len(weights) - 1):
        if k:
            cdf = add(cdf, weights[k])
        if cdf <= target:
            count += 1
    return count
