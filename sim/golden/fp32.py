"""Bit-exact IEEE-754 binary32 arithmetic on 32-bit patterns: the golden float unit.

Every function takes and returns unsigned 32-bit integers (the register bits), so
the hardware float unit can be compared with it pattern for pattern.  The rules are
those of docs/isa.md section 3: round to nearest, ties to even; subnormals kept;
overflow to the correctly signed infinity; ``x - x`` is +0; every NaN result is
exactly :data:`CANONICAL_NAN`.

Why binary64 is enough: a binary32 value is exactly a binary64 value, the product
of two binary32 values is exact in binary64 (48 significant bits, exponent far
inside binary64's range), and for a sum binary64 has more than ``2*24 + 2`` bits,
so rounding the binary64 sum again to binary32 gives the correctly rounded sum
(double rounding is innocuous).  The final rounding to binary32 is done here on
integers, never with ``struct.pack('f')``, which raises on overflow instead of
giving infinity.
"""

import math
import struct

from sim.isa.encoding import CANONICAL_NAN

__all__ = [
    "CANONICAL_NAN", "POS_INF", "NEG_INF", "SIGN_BIT",
    "is_nan", "bits_to_float", "round_to_f32", "round_scaled_int",
    "fadd", "fsub", "fmul", "fmac", "fmin", "fmax", "itof", "ftoi",
]

SIGN_BIT = 0x8000_0000
POS_INF = 0x7F80_0000
NEG_INF = 0xFF80_0000
_MASK32 = 0xFFFF_FFFF

_MANT_BITS = 23          # stored fraction bits
_PRECISION = 24          # significand bits including the implicit one
_MIN_EXP = -149          # exponent of the least subnormal, 2**-149
_BIAS = 127


def is_nan(bits):
    """True if ``bits`` is any binary32 NaN (exponent all ones, fraction nonzero)."""
    return (bits & 0x7F80_0000) == 0x7F80_0000 and (bits & 0x007F_FFFF) != 0


def bits_to_float(bits):
    """The binary32 value of ``bits`` as a Python float (exact: binary32 fits binary64)."""
    return struct.unpack("<f", struct.pack("<I", bits & _MASK32))[0]


def round_scaled_int(negative, m, q):
    """Binary32 bits of ``(-1)**negative * m * 2**q`` rounded once, to nearest even.

    ``m`` is a nonnegative integer, ``q`` any integer.  This is the single rounding
    step of the unit: it handles subnormal results (the quantum never goes below
    ``2**-149``), a carry out of the significand and overflow to infinity.  A zero
    result keeps the sign it is given.
    """
    sign = SIGN_BIT if negative else 0
    if m == 0:
        return sign
    # Exponent of the result's quantum: 24 significant bits, but never below 2**-149.
    k = max(m.bit_length() + q - _PRECISION, _MIN_EXP)
    shift = k - q
    if shift <= 0:
        n = m << -shift
    else:
        n = m >> shift
        rem = m & ((1 << shift) - 1)
        half = 1 << (shift - 1)
        if rem > half or (rem == half and (n & 1)):
            n += 1
    if n == 1 << _PRECISION:       # rounding carried out of the significand
        n >>= 1
        k += 1
    if n == 0:
        return sign
    if n >= 1 << _MANT_BITS:       # normal: leading bit at 2**(k+23)
        biased = k + _MANT_BITS + _BIAS
        if biased >= 0xFF:
            return sign | POS_INF
        return sign | (biased << _MANT_BITS) | (n - (1 << _MANT_BITS))
    return sign | n                # subnormal: k == -149, biased exponent 0


def round_to_f32(x):
    """Binary32 bits nearest to the Python float ``x`` (ties to even, NaN canonical)."""
    if math.isnan(x):
        return CANONICAL_NAN
    negative = math.copysign(1.0, x) < 0
    if math.isinf(x):
        return NEG_INF if negative else POS_INF
    if x == 0.0:
        return SIGN_BIT if negative else 0
    mant, exp = math.frexp(abs(x))          # abs(x) = mant * 2**exp, 0.5 <= mant < 1
    m = int(math.ldexp(mant, 53))           # exact: a binary64 significand has 53 bits
    return round_scaled_int(negative, m, exp - 53)


def _binary(op, a, b):
    if is_nan(a) or is_nan(b):
        return CANONICAL_NAN
    return round_to_f32(op(bits_to_float(a), bits_to_float(b)))


def fadd(a, b):
    """a + b."""
    return _binary(lambda x, y: x + y, a, b)


def fsub(a, b):
    """a - b."""
    return _binary(lambda x, y: x - y, a, b)


def fmul(a, b):
    """a * b; the binary64 product of two binary32 values is exact."""
    if is_nan(a) or is_nan(b):
        return CANONICAL_NAN
    x, y = bits_to_float(a), bits_to_float(b)
    if (math.isinf(x) and y == 0.0) or (math.isinf(y) and x == 0.0):
        return CANONICAL_NAN
    return round_to_f32(x * y)


def fmac(acc, a, b):
    """round(acc + round(a * b)): two roundings, not fused (the MAC of docs/isa.md)."""
    return fadd(acc, fmul(a, b))


def _order_key(bits):
    # Total order on non-NaN values in which -0 < +0.
    x = bits_to_float(bits)
    return (x, 0 if bits & SIGN_BIT else 1)


def fmin(a, b):
    """The smaller of a and b; NaN if either is NaN; -0 < +0."""
    if is_nan(a) or is_nan(b):
        return CANONICAL_NAN
    return a if _order_key(a) <= _order_key(b) else b


def fmax(a, b):
    """The larger of a and b; NaN if either is NaN; -0 < +0."""
    if is_nan(a) or is_nan(b):
        return CANONICAL_NAN
    return a if _order_key(a) >= _order_key(b) else b


def itof(a):
    """The binary32 nearest to the int32 ``a`` (two's complement bits), ties to even."""
    value = a - (1 << 32) if a & SIGN_BIT else a
    return round_scaled_int(value < 0, abs(value), 0)


def ftoi(a):
    """int32 bits of ``a`` rounded toward zero, saturating; NaN gives 0."""
    if is_nan(a):
        return 0
    x = bits_to_float(a)
    if x >= 2.0 ** 31:              # includes +inf
        return 0x7FFF_FFFF
    if x < -(2.0 ** 31):            # includes -inf
        return 0x8000_0000
    return math.trunc(x) & _MASK32
