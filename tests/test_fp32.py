"""sim/golden/fp32.py against IEEE-754 facts and against an independent exact-rational path.

The reference below never touches binary64: it reads a binary32 pattern as an
exact ``Fraction``, computes exactly, and rounds the exact rational to binary32
with its own round-to-nearest-even, so it shares no code or method with the unit
under test (which computes in binary64 and rounds integer significands).
"""

from fractions import Fraction

import pytest
from hypothesis import given, settings, strategies as st

from sim.golden import fp32
from sim.golden.fp32 import fadd, fsub, fmul, fmac, fmin, fmax, itof, ftoi

NAN = 0x7FC00000
PINF, NINF = 0x7F800000, 0xFF800000
ONE, TWO, HALF = 0x3F800000, 0x40000000, 0x3F000000
MAXF = 0x7F7FFFFF           # largest finite, (2 - 2**-23) * 2**127
MIN_SUB = 0x00000001        # 2**-149
MAX_SUB = 0x007FFFFF
MIN_NORM = 0x00800000       # 2**-126
NEG = 0x80000000


# ---------------------------------------------------------------- exact reference

class _Nan:
    pass


def ref_value(bits):
    """Exact value of a binary32 pattern: Fraction, 'inf'/'-inf', or _Nan."""
    sign = -1 if bits >> 31 else 1
    e = (bits >> 23) & 0xFF
    f = bits & 0x7FFFFF
    if e == 0xFF:
        return _Nan if f else ("inf" if sign > 0 else "-inf")
    if e == 0:
        return sign * Fraction(f, 2 ** 149), bool(bits >> 31)
    return sign * Fraction(f + 2 ** 23) * Fraction(2) ** (e - 150), bool(bits >> 31)


def ref_round(x, negative_zero=False):
    """Round an exact Fraction to binary32 bits, nearest even, by rational arithmetic."""
    if x == 0:
        return NEG if negative_zero else 0
    sign = NEG if x < 0 else 0
    a = abs(x)
    # e with 2**e <= a < 2**(e+1)
    e = a.numerator.bit_length() - a.denominator.bit_length()
    while Fraction(2) ** e > a:
        e -= 1
    while Fraction(2) ** (e + 1) <= a:
        e += 1
    quantum_exp = max(e - 23, -149)
    scaled = a / Fraction(2) ** quantum_exp
    n = scaled.numerator // scaled.denominator
    frac = scaled - n
    if frac > Fraction(1, 2) or (frac == Fraction(1, 2) and n % 2 == 1):
        n += 1
    if n == 0:
        return sign
    if Fraction(n) * Fraction(2) ** quantum_exp >= Fraction(2) ** 128:
        return sign | PINF
    if n >= 2 ** 24:
        n //= 2
        quantum_exp += 1
    if n < 2 ** 23:
        return sign | n                          # subnormal
    return sign | ((quantum_exp + 150) << 23) | (n - 2 ** 23)


def _is_inf(v):
    return v in ("inf", "-inf")


def ref_add(a, b):
    va, vb = ref_value(a), ref_value(b)
    if va is _Nan or vb is _Nan:
        return NAN
    if _is_inf(va) or _is_inf(vb):
        if _is_inf(va) and _is_inf(vb) and va != vb:
            return NAN
        inf = va if _is_inf(va) else vb
        return PINF if inf == "inf" else NINF
    (xa, na), (xb, nb) = va, vb
    s = xa + xb
    # exact zero sum: -0 only if both are -0 (round to nearest)
    return ref_round(s, negative_zero=(s == 0 and xa == 0 and xb == 0 and na and nb))


def ref_sub(a, b):
    return ref_add(a, b ^ NEG) if not fp32.is_nan(b) else NAN


def ref_mul(a, b):
    va, vb = ref_value(a), ref_value(b)
    if va is _Nan or vb is _Nan:
        return NAN
    neg = bool((a ^ b) >> 31)
    if _is_inf(va) or _is_inf(vb):
        other = vb if _is_inf(va) else va
        if not _is_inf(other) and other[0] == 0:
            return NAN
        return NINF if neg else PINF
    return ref_round(va[0] * vb[0], negative_zero=neg)


def ref_mac(acc, a, b):
    return ref_add(acc, ref_mul(a, b))


def ref_itof(bits):
    v = bits - 2 ** 32 if bits >> 31 else bits
    return ref_round(Fraction(v))


# ---------------------------------------------------------------- strategies

def _f32(sign, exp, mant):
    return (sign << 31) | (exp << 23) | mant


# Patterns biased toward the interesting regions: zeros, subnormals, near-overflow,
# near 1, ties (few mantissa bits set), infinities and NaNs.
exps = st.one_of(st.integers(0, 255), st.sampled_from([0, 1, 2, 24, 103, 126, 127, 128, 150, 253, 254, 255]))
mants = st.one_of(st.integers(0, 2 ** 23 - 1),
                  st.sampled_from([0, 1, 2, 3, 2 ** 22, 2 ** 23 - 1, 2 ** 23 - 2, 0x400001]))
f32s = st.one_of(st.integers(0, 2 ** 32 - 1), st.builds(_f32, st.integers(0, 1), exps, mants))


@st.composite
def close_pairs(draw):
    """Two values with exponents close together, so sums cancel and round on ties."""
    e = draw(st.integers(0, 254))
    e2 = min(254, max(0, e + draw(st.integers(-26, 26))))
    return (_f32(draw(st.integers(0, 1)), e, draw(mants)),
            _f32(draw(st.integers(0, 1)), e2, draw(mants)))


# ---------------------------------------------------------------- directed IEEE facts

def test_signed_zero_sums():
    assert fadd(0, NEG) == 0            # +0 + -0 = +0
    assert fadd(NEG, 0) == 0
    assert fadd(NEG, NEG) == NEG        # -0 + -0 = -0
    assert fadd(0, 0) == 0
    assert fsub(0, 0) == 0
    assert fsub(NEG, 0) == NEG          # -0 - +0 = -0
    assert fsub(0, NEG) == 0


def test_x_minus_x_is_plus_zero():
    for x in (ONE, 0xBFC00000, MAXF, MIN_SUB, MAX_SUB | NEG):
        assert fsub(x, x) == 0
        assert fadd(x, x ^ NEG) == 0


def test_subnormals():
    assert fadd(MIN_SUB, 0) == MIN_SUB
    assert fadd(MIN_SUB, MIN_SUB) == 0x00000002
    assert fadd(MAX_SUB, MIN_SUB) == MIN_NORM                 # carries into the normals
    assert fsub(MIN_NORM, MIN_SUB) == MAX_SUB                 # and back out
    assert fmul(MIN_NORM, HALF) == 0x00400000                 # 2**-127, subnormal
    assert fmul(MIN_SUB, HALF) == 0                           # 2**-150: tie, to even 0
    assert fmul(MIN_SUB | NEG, HALF) == NEG                   # keeps its sign
    assert fmul(0x00000003, HALF) == 0x00000002               # 1.5 quanta -> 2 (even)
    assert fmul(MIN_SUB, 0x3FC00000) == 0x00000002            # 1.5 quanta -> 2
    assert fmul(MIN_SUB, 0x3FA00000) == MIN_SUB               # 1.25 quanta -> 1


def test_overflow_to_infinity():
    assert fmul(MAXF, TWO) == PINF
    assert fmul(MAXF | NEG, TWO) == NINF
    assert fadd(MAXF, MAXF) == PINF
    # MAXF + half an ulp (2**103) is a tie between MAXF (odd) and 2**128: to even = inf
    assert fadd(MAXF, 0x73000000) == PINF
    # a little less than half an ulp stays finite
    assert fadd(MAXF, 0x72FFFFFF) == MAXF


def test_rounding_ties_to_even():
    e24 = 0x33800000                                    # 2**-24: half an ulp of 1.0
    assert fadd(ONE, e24) == ONE                        # tie, 1.0 is even
    assert fadd(0x3F800001, e24) == 0x3F800002          # tie, rounds up to even
    assert fadd(ONE, 0x34400000) == 0x3F800002          # 1 + 3*2**-24 -> 1 + 2**-22
    assert fadd(ONE, 0x33800001) == 0x3F800001          # just over half: up


def test_infinities_and_nan():
    assert fsub(PINF, PINF) == NAN
    assert fadd(PINF, NINF) == NAN
    assert fadd(PINF, PINF) == PINF
    assert fadd(PINF, MAXF | NEG) == PINF
    assert fmul(0, PINF) == NAN
    assert fmul(NINF, NEG) == NAN
    assert fmul(NINF, TWO) == NINF
    assert fmul(NINF, NINF) == PINF


@pytest.mark.parametrize("nan", [0x7F800001, 0x7FFFFFFF, 0xFFC00000, 0xFF800001, NAN])
def test_nan_inputs_give_canonical_nan(nan):
    for f in (fadd, fsub, fmul, fmin, fmax):
        assert f(nan, ONE) == NAN
        assert f(ONE, nan) == NAN
    assert fmac(nan, ONE, ONE) == NAN
    assert fmac(ONE, nan, ONE) == NAN
    assert fmac(ONE, ONE, nan) == NAN
    assert ftoi(nan) == 0


def test_mac_rounds_twice():
    # a = b = 1 + 2**-12; a*b = 1 + 2**-11 + 2**-24 rounds (tie, to even) to 1 + 2**-11.
    a = 0x3F800800
    acc = 0xBF801000                        # -(1 + 2**-11)
    assert fmul(a, a) == 0x3F801000
    assert fmac(acc, a, a) == 0             # unfused: exactly cancels to +0
    # a fused multiply-add would have given 2**-24 = 0x33800000
    assert ref_round(Fraction(-(1 + Fraction(1, 2 ** 11))) + Fraction(1 + Fraction(1, 2 ** 12)) ** 2) == 0x33800000


def test_mac_overflow_and_plain_cases():
    assert fmac(ONE, TWO, 0x40400000) == 0x40E00000      # 1 + 2*3 = 7
    assert fmac(0, MAXF, TWO) == PINF                    # product overflows
    assert fmac(NINF, MAXF, TWO) == NAN                  # -inf + inf


def test_min_max():
    assert fmin(0, NEG) == NEG and fmin(NEG, 0) == NEG
    assert fmax(0, NEG) == 0 and fmax(NEG, 0) == 0
    assert fmin(ONE, TWO) == ONE and fmax(ONE, TWO) == TWO
    assert fmin(ONE | NEG, MIN_SUB) == ONE | NEG
    assert fmin(NINF, MAXF | NEG) == NINF
    assert fmax(PINF, MAXF) == PINF


def test_ftoi():
    assert ftoi(0x4F000000) == 0x7FFFFFFF         # 2**31 saturates
    assert ftoi(0xCF000000) == 0x80000000         # -2**31 is representable
    assert ftoi(0xCF800000) == 0x80000000         # -2**32 saturates
    assert ftoi(PINF) == 0x7FFFFFFF
    assert ftoi(NINF) == 0x80000000
    assert ftoi(0xBF000000) == 0                  # -0.5 -> 0
    assert ftoi(NEG) == 0
    assert ftoi(0x4039999A) == 2                  # 2.9 -> 2
    assert ftoi(0xC039999A) == 0xFFFFFFFE         # -2.9 -> -2
    assert ftoi(0x4EFFFFFF) == 0x7FFFFF80         # largest float below 2**31
    assert ftoi(MIN_SUB) == 0
    assert ftoi(MAXF | NEG) == 0x80000000


def test_itof():
    assert itof(0) == 0
    assert itof(1) == ONE
    assert itof(0xFFFFFFFF) == 0xBF800000              # -1
    assert itof(2 ** 24 + 1) == 0x4B800000             # tie -> 2**24 (even)
    assert itof(2 ** 24 + 3) == 0x4B800002             # tie -> 2**24 + 4 (even)
    assert itof(0x80000000) == 0xCF000000              # -2**31 exactly
    assert itof(0x7FFFFFFF) == 0x4F000000              # rounds up to 2**31


# ---------------------------------------------------------------- properties

@settings(max_examples=1500)
@given(f32s, f32s)
def test_add_sub_mul_match_exact_reference(a, b):
    assert fadd(a, b) == ref_add(a, b)
    assert fsub(a, b) == ref_sub(a, b)
    assert fmul(a, b) == ref_mul(a, b)


@settings(max_examples=1000)
@given(close_pairs())
def test_close_sums_match_exact_reference(pair):
    a, b = pair
    assert fadd(a, b) == ref_add(a, b)
    assert fsub(a, b) == ref_sub(a, b)


@settings(max_examples=600)
@given(f32s, f32s, f32s)
def test_mac_matches_exact_reference(acc, a, b):
    assert fmac(acc, a, b) == ref_mac(acc, a, b)


@settings(max_examples=600)
@given(f32s, f32s)
def test_min_max_match_reference(a, b):
    va, vb = ref_value(a), ref_value(b)
    if va is _Nan or vb is _Nan:
        assert fmin(a, b) == fmax(a, b) == NAN
        return

    def key(v, bits):
        if v == "inf":
            return (1, 0, 0)
        if v == "-inf":
            return (-1, 0, 0)
        return (0, v[0], 0 if bits >> 31 else 1)
    ka, kb = key(va, a), key(vb, b)
    assert fmin(a, b) == (a if ka <= kb else b)
    assert fmax(a, b) == (a if ka >= kb else b)


@settings(max_examples=1000)
@given(st.one_of(st.integers(0, 2 ** 32 - 1),
                 st.integers(-2 ** 26, 2 ** 26).map(lambda v: v & 0xFFFFFFFF)))
def test_itof_matches_exact_reference(i):
    assert itof(i) == ref_itof(i)


@settings(max_examples=1000)
@given(f32s)
def test_ftoi_matches_exact_reference(a):
    v = ref_value(a)
    if v is _Nan:
        expect = 0
    elif v == "inf":
        expect = 0x7FFFFFFF
    elif v == "-inf":
        expect = 0x80000000
    else:
        x = v[0]
        t = abs(x.numerator) // x.denominator * (1 if x >= 0 else -1)   # toward zero
        expect = 0x7FFFFFFF if t > 2 ** 31 - 1 else 0x80000000 if t < -2 ** 31 else t & 0xFFFFFFFF
    assert ftoi(a) == expect


def test_reference_rounding_self_check():
    # The reference itself against hand-known encodings, so a wrong reference cannot
    # agree with a wrong unit by accident.
    assert ref_round(Fraction(1)) == ONE
    assert ref_round(Fraction(-2)) == 0xC0000000
    assert ref_round(Fraction(1, 2 ** 149)) == MIN_SUB
    assert ref_round(Fraction(1, 2 ** 150)) == 0
    assert ref_round(Fraction(3, 2 ** 150)) == 0x00000002
    assert ref_round(Fraction(2) ** 128) == PINF
    assert ref_round(Fraction(2 ** 25 - 1, 2 ** 25) * Fraction(2) ** 128) == PINF  # tie at max -> inf
    assert ref_round(Fraction(2 ** 24 - 1, 2 ** 24) * Fraction(2) ** 128) == MAXF
    assert ref_round(Fraction(1, 10)) == 0x3DCCCCCD
