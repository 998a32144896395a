"""The D lane's pipelined IEEE-754 binary32 float unit.

Why one datapath and not eight: MAC is ``round(c + round(a*b))``, so the unit
needs a multiplier with its own rounding *followed by* an adder with its own
rounding anyway.  Every other arithmetic op is that same chain with one operand
chosen so the other stage is exact:

=======  ======================  =========================  ===========================
op       product stage           adder stage                why it is exact
=======  ======================  =========================  ===========================
MAC      ``P = round(a * b)``    ``round(P + c)``           the definition
MUL      ``P = round(a * b)``    ``round(P + (-0))``        ``x + (-0) = x`` for every x
ADD      ``P = round(a * 1.0)``  ``round(P + b)``           ``a * 1.0 = a`` (NaN stays NaN)
SUB      ``P = round(a * 1.0)``  ``round(P + (-b))``        ``x - y = x + (-y)``
ITOF     ``P = round(|i|)``      ``round(P + (-0))``        the product normalizer takes
                                                            ``|i|`` in place of ``a*b``
=======  ======================  =========================  ===========================

MIN, MAX and FTOI are small side paths computed in the first three steps and
carried to the output.  So normalization and rounding exist twice (product,
sum), both built from the same :mod:`hdl.d_lane.fp` functions, and the whole unit is
one straight pipe of fourteen combinational *steps* (short ones: every logic
level counts on an iCE40, and more boundaries let the registers fall evenly):

1. ``unpack_multiply``: decode, unpack, four 16-bit partial products of the
   24x24 significand product (one DSP tile each), leading zeros of the
   significands (and of ``|i|``), FTOI shift, choice of the adder's second operand;
2. ``product_mid``: sum of the middle partial products, the product's
   leading-zero estimate and exponent, ``|i|``, MIN/MAX compare, FTOI negation;
3. ``product``: the 48-bit product (or ``|i| << 16``) and, beside it, the plan of
   its normalizing shift (clamped for subnormal products); the MIN/MAX/FTOI
   result, carried from here to the output;
4. ``product_shift_high``, 5. ``product_shift_low``: the planned shift (left, or
   right with sticky for tiny products), by groups of 8 then by 0..7;
6. ``product_fine``: at most one more position, guard/sticky, round decision;
7. ``product_round``: increment, specials: the rounded product P as a word;
8. ``align_compare``: unpack P and the second operand, compare exponents and
   magnitudes;
9. ``align_shift_high``, 10. ``align_shift_low``: align the smaller significand
   (guard, round, sticky);
11. ``sum``: 28-bit add or subtract;
12. ``sum_count``: leading zeros, capped at exponent field 0 by a marker bit;
13. ``sum_shift``: left shift, round decision;
14. ``sum_round``: increment, specials, and the choice of sum or side result.

Pipeline registers go between steps.  ``latency`` L puts L-1 register stages
between ``x_*`` and ``w_*``: they are placed at the step boundaries that minimise
the longest estimated combinational segment (weights in :data:`STEP_WEIGHTS`,
from place-and-route of the single steps on iCE40; the first segment is also
charged for the core's operand selection before it, the last for the register
file write after it).  Any latency >= 1 works (1 = fully combinational); more
stages than boundaries become delay registers at the output.
"""

import itertools

from amaranth.hdl import C, Cat, Module, Mux, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from sim.isa.encoding import CANONICAL_NAN, DOp

from .fp.fields import BIAS, unpack
from .fp.normalize import clamp_marker, coarse_plan, fine_normalize, leading_zeros, normalize_left
from .fp.round import round_apply, round_up
from .fp.shift import shift_right_sticky, split_amount
from .fp.wire import wire

__all__ = ["FloatUnit", "FLOAT_OPS", "STEP_NAMES", "STEP_WEIGHTS", "choose_cuts"]

#: The D-lane operations this unit executes (docs/isa.md section 3).
FLOAT_OPS = (DOp.ADD, DOp.SUB, DOp.MUL, DOp.MAC, DOp.MIN, DOp.MAX, DOp.ITOF, DOp.FTOI)

_SIGN = 1 << 31
_NEG_ZERO = _SIGN


def _inf(sign):
    return Cat(C(0, 23), C(0xFF, 8), sign)


def _control(v):
    """What every step passes on unchanged: the op, its destination tag, valid."""
    return {"valid": v["valid"], "tag": v["tag"], "op": v["op"]}


def _keep(v, *names):
    return {name: v[name] for name in names}


def _step_unpack_multiply(m, v):
    op = v["op"]
    a, b = unpack(m, v["a"], "a"), unpack(m, v["b"], "b")
    is_mul = (op == DOp.MUL) | (op == DOp.MAC)
    is_itof = op == DOp.ITOF
    # Product operands: a*b for MUL and MAC, a*1.0 for everything else.
    sig_b = wire(m, Mux(is_mul, b.sig, 1 << 23), "sig_b")
    exp_b = Mux(is_mul, b.exp_eff, BIAS)
    # The adder's second operand.
    y = Mux(op == DOp.MAC, v["c"],
            Mux(op == DOp.ADD, v["b"],
                Mux(op == DOp.SUB, v["b"] ^ _SIGN, _NEG_ZERO)))
    # FTOI: |a| = sig * 2**(exp - 150); for exp in 127..157 the integer part is
    # (sig << (exp - 127)) >> 23, at most 31 bits.
    ftoi_mag = (a.sig << (a.exp - BIAS)[:5])[23:54]
    # Four partial products, one DSP tile each (16x16 on iCE40); summed in the next
    # step, so a register between the steps sits right at the DSP outputs.
    a_lo, a_hi, b_lo, b_hi = a.sig[0:16], a.sig[16:24], sig_b[0:16], sig_b[16:24]
    return {
        **_control(v),
        "pp_ll": a_lo * b_lo, "pp_lh": a_lo * b_hi, "pp_hl": a_hi * b_lo, "pp_hh": a_hi * b_hi,
        # Leading zeros of the significands (the product has their sum, or one
        # more) and of |i| (for a negative i, the leading ones of i, or one fewer).
        "la": leading_zeros(m, a.sig, "la"),
        "lb": leading_zeros(m, Mux(is_mul, b.sig, 1 << 23), "lb"),
        "li": leading_zeros(m, a.word ^ a.sign.replicate(32), "li"),
        "exp_sum": a.exp_eff + exp_b,
        "p_sign": a.sign ^ (is_mul & b.sign),
        "p_nan": ~is_itof & (a.is_nan | (is_mul & (b.is_nan | (a.is_inf & b.is_zero)
                                                     | (a.is_zero & b.is_inf)))),
        "p_inf": ~is_itof & (a.is_inf | (is_mul & b.is_inf)),
        "a": a.word, "b": b.word, "minmax_nan": a.is_nan | b.is_nan,
        "y": y,
        "ftoi_mag": ftoi_mag,
        "ftoi_sign": a.sign,
        "ftoi_zero": a.is_nan | (a.exp < BIAS),
        "ftoi_sat": a.exp >= BIAS + 31,
    }


def _step_product_mid(m, v):
    # The carry chains that need not sit beside the multiplier: the middle partial
    # products, the leading-zero estimate and exponent, |i|, the MIN/MAX compare,
    # FTOI's negation.
    op = v["op"]
    a, b = v["a"], v["b"]
    is_itof = op == DOp.ITOF
    # MIN/MAX: map each word to an unsigned key ordered like the values, -0 < +0.
    key_a = Mux(a[31], ~a, a | _SIGN)
    key_b = Mux(b[31], ~b, b | _SIGN)
    return {
        **_control(v),
        "pp_mid": v["pp_lh"] + v["pp_hl"],
        "lz": Mux(is_itof, v["li"] - v["p_sign"], v["la"] + v["lb"])[:6],
        # The product's bit 47 has biased exponent ea + eb - 126; |i| << 16 puts
        # 2**31 there.
        "xb": Mux(is_itof, 158, v["exp_sum"] - (BIAS - 1)),
        "itof_mag": Mux(a[31], -a, a)[:32],
        "a_le_b": key_a <= key_b,
        "ftoi_int": Mux(v["ftoi_sign"], -v["ftoi_mag"], v["ftoi_mag"])[:32],
        **_keep(v, "a", "b", "minmax_nan", "ftoi_sign", "ftoi_zero", "ftoi_sat",
                "pp_ll", "pp_hh", "p_sign", "p_nan", "p_inf", "y"),
    }


def _step_product(m, v):
    op = v["op"]
    is_itof = op == DOp.ITOF
    left, right, go_right, e_top = coarse_plan(m, v["lz"], v["xb"], right_bits=6, name="pplan")
    ftoi = Mux(v["ftoi_zero"], 0,
               Mux(v["ftoi_sat"], Mux(v["ftoi_sign"], 0x8000_0000, 0x7FFF_FFFF), v["ftoi_int"]))
    minmax = Mux((op == DOp.MIN) == v["a_le_b"], v["a"], v["b"])
    return {
        **_control(v),
        "p": Mux(is_itof, Cat(C(0, 16), v["itof_mag"]),
                 Cat(v["pp_ll"], v["pp_hh"]) + (v["pp_mid"] << 16))[0:48],
        "left": left, "right": right, "go_right": go_right, "e_top": e_top,
        "side": Mux(op == DOp.FTOI, ftoi, Mux(v["minmax_nan"], CANONICAL_NAN, minmax)),
        **_keep(v, "p_sign", "p_nan", "p_inf", "y"),
    }


def _step_product_shift_high(m, v):
    # The planned shift, first phase: whole groups of 8 positions.
    left_hi, left_lo = split_amount(v["left"])
    right_hi, right_lo = split_amount(v["right"])
    right, sticky = shift_right_sticky(m, v["p"], right_hi, "pshift_right_hi")
    return {
        **_control(v),
        "q1": Mux(v["go_right"], right, (v["p"] << left_hi)[0:48]),
        "q1_sticky": v["go_right"] & sticky, "left_lo": left_lo, "right_lo": right_lo,
        **_keep(v, "go_right", "e_top", "p_sign", "p_nan", "p_inf", "y", "side"),
    }


def _step_product_shift_low(m, v):
    right, sticky = shift_right_sticky(m, v["q1"], v["right_lo"], "pshift_right_lo")
    return {
        **_control(v),
        "q": Mux(v["go_right"], right, (v["q1"] << v["left_lo"])[0:48]),
        "q_sticky": v["q1_sticky"] | (v["go_right"] & sticky),
        **_keep(v, "e_top", "p_sign", "p_nan", "p_inf", "y", "side"),
    }


def _step_product_fine(m, v):
    exp, shifted = fine_normalize(m, v["q"], v["e_top"], name="pfine")
    sig = shifted[24:48]
    return {
        **_control(v),
        "p_exp": exp, "p_sig": sig,
        "p_up": round_up(sig, shifted[23], shifted[0:23].any() | v["q_sticky"]),
        **_keep(v, "p_sign", "p_nan", "p_inf", "y", "side"),
    }


def _step_product_round(m, v):
    word = round_apply(v["p_sign"], v["p_exp"], v["p_sig"], v["p_up"])
    word = Mux(v["p_nan"], CANONICAL_NAN, Mux(v["p_inf"], _inf(v["p_sign"]), word))
    return {**_control(v), "x": word, **_keep(v, "y", "side")}


def _step_align_compare(m, v):
    x, y = unpack(m, v["x"], "x"), unpack(m, v["y"], "y")
    # Which operand to shift and how far depends on the exponents only; the full
    # magnitude compare (a 31-bit carry chain) runs beside the shifter and only
    # matters when the exponents are equal (no shift).
    y_exp_gt = wire(m, y.exp_eff > x.exp_eff, "y_exp_gt")
    big_exp = Mux(y_exp_gt, y.exp_eff, x.exp_eff)
    eff_sub = x.sign ^ y.sign
    return {
        **_control(v),
        "swap": y.mag > x.mag,
        "exp_eq": x.exp_eff == y.exp_eff,
        "diff": Mux(y_exp_gt, y.exp_eff - x.exp_eff, x.exp_eff - y.exp_eff)[:8],
        "to_shift": Mux(y_exp_gt, x.sig, y.sig),
        "x_sig": x.sig, "y_sig": y.sig,
        "big_exp": big_exp,
        "eff_sub": eff_sub,
        "x_sign": x.sign, "y_sign": y.sign,
        "s_nan": x.is_nan | y.is_nan | (x.is_inf & y.is_inf & eff_sub),
        "s_inf": x.is_inf | y.is_inf, "inf_sign": Mux(x.is_inf, x.sign, y.sign),
        "side": v["side"],
    }


def _step_align_shift_high(m, v):
    # The smaller significand plus guard, round, sticky positions, shifted right by
    # the exponent difference (beyond 31 positions everything is sticky anyway);
    # first phase: whole groups of 8 positions.
    diff = v["diff"]
    high, low = split_amount(Mux(diff > 31, 31, diff[:5]))
    shifted, sticky = shift_right_sticky(m, Cat(C(0, 3), v["to_shift"]), high, "align_hi")
    return {
        **_control(v),
        "a1": shifted, "a1_sticky": sticky, "low": low,
        **_keep(v, "swap", "exp_eq", "x_sig", "y_sig", "x_sign", "y_sign", "eff_sub",
                "big_exp", "s_nan", "s_inf", "inf_sign", "side"),
    }


def _step_align_shift_low(m, v):
    swap = v["swap"]
    shifted, sticky = shift_right_sticky(m, v["a1"], v["low"], "align_lo")
    shifted = shifted | (v["a1_sticky"] | sticky)
    small_equal_exp = Cat(C(0, 3), Mux(swap, v["x_sig"], v["y_sig"]))
    return {
        **_control(v),
        "big": Cat(C(0, 3), Mux(swap, v["y_sig"], v["x_sig"])),
        "aligned": Mux(v["exp_eq"], small_equal_exp, shifted),
        "sign": Mux(swap, v["y_sign"], v["x_sign"]),
        # An exact zero is +0, except (-0) + (-0) (IEEE 754 section 6.3, RNE).
        "zero_sign": v["x_sign"] & v["y_sign"],
        # The sum's bit 27 has biased exponent big_exp + 1.
        "marker": clamp_marker(v["big_exp"], 28),
        **_keep(v, "eff_sub", "big_exp", "s_nan", "s_inf", "inf_sign", "side"),
    }


def _step_sum(m, v):
    eff_sub = v["eff_sub"]
    # One adder for both: big - small = big + ~small + 1 (never negative: big >= small).
    raw = wire(m, v["big"] + (v["aligned"] ^ Mux(eff_sub, (1 << 27) - 1, 0)) + eff_sub,
               "raw_sum")
    return {
        **_control(v),
        "sum": Cat(raw[0:27], raw[27] & ~eff_sub),
        **_keep(v, "big_exp", "marker", "sign", "zero_sign", "s_nan", "s_inf", "inf_sign",
                "side"),
    }


def _step_sum_count(m, v):
    return {
        **_control(v),
        "lz": leading_zeros(m, v["sum"] | v["marker"], "sum_lz"),
        "sign": Mux(v["sum"].any(), v["sign"], v["zero_sign"]),
        **_keep(v, "sum", "big_exp", "s_nan", "s_inf", "inf_sign", "side"),
    }


def _step_sum_shift(m, v):
    exp, shifted = normalize_left(m, v["sum"], v["big_exp"] + 1, lz=v["lz"], name="snorm")
    sig = shifted[4:28]
    return {
        **_control(v),
        "s_exp": exp, "s_sig": sig, "s_up": round_up(sig, shifted[3], shifted[0:3].any()),
        **_keep(v, "sign", "s_nan", "s_inf", "inf_sign", "side"),
    }


def _step_sum_round(m, v):
    op = v["op"]
    word = round_apply(v["sign"], v["s_exp"], v["s_sig"], v["s_up"])
    word = Mux(v["s_nan"], CANONICAL_NAN, Mux(v["s_inf"], _inf(v["inf_sign"]), word))
    is_side = (op == DOp.MIN) | (op == DOp.MAX) | (op == DOp.FTOI)
    return {**_control(v), "result": Mux(is_side, v["side"], word)}


_STEPS = (
    ("unpack_multiply", _step_unpack_multiply),
    ("product_mid", _step_product_mid),
    ("product", _step_product),
    ("product_shift_high", _step_product_shift_high),
    ("product_shift_low", _step_product_shift_low),
    ("product_fine", _step_product_fine),
    ("product_round", _step_product_round),
    ("align_compare", _step_align_compare),
    ("align_shift_high", _step_align_shift_high),
    ("align_shift_low", _step_align_shift_low),
    ("sum", _step_sum),
    ("sum_count", _step_sum_count),
    ("sum_shift", _step_sum_shift),
    ("sum_round", _step_sum_round),
)
#: The datapath's combinational steps, in order.
STEP_NAMES = tuple(name for name, _ in _STEPS)
#: Delay of each step in ns on iCE40UP5K: place-and-route of the step alone
#: between registers (``python -m benchmarks.fmax --steps``) less ~3 ns of register
#: overhead.  Used only to place the pipeline registers.
STEP_WEIGHTS = {
    "unpack_multiply": 18.0, "product_mid": 23.5, "product": 24.0, "product_shift_high": 18.0,
    "product_shift_low": 14.0, "product_fine": 12.5, "product_round": 16.5,
    "align_compare": 20.0, "align_shift_high": 18.5, "align_shift_low": 13.0, "sum": 14.0,
    "sum_count": 13.5, "sum_shift": 18.0, "sum_round": 14.5,
}
#: Charged to the first segment (the core reads x_a/x_b/x_c through the 32:1
#: read muxes of its flip-flop register file) and to the last (w_tag decode and
#: the write-port choice in front of the register flip-flops).
INPUT_WEIGHT = 10.0
OUTPUT_WEIGHT = 8.0


def choose_cuts(latency, weights=None):
    """Step boundaries (0 = at the inputs .. len(steps) = at the output) that get a
    register stage, as a sorted tuple of ``latency - 1`` entries.

    Boundaries are chosen to minimise the longest segment's estimated delay (ties:
    the smaller sum of squares, i.e. the more even split).  With more stages than
    boundaries, the extra ones repeat the output boundary (delay registers).
    """
    if not isinstance(latency, int) or latency < 1:
        raise ValueError(f"FloatUnit latency must be an integer >= 1 (1 = combinational), "
                         f"not {latency!r}")
    weights = STEP_WEIGHTS if weights is None else weights
    w = [weights[name] for name in STEP_NAMES]
    n = len(w)
    stages = latency - 1
    if stages > n + 1:
        return tuple(range(n + 1)) + (n,) * (stages - n - 1)

    def cost(cuts):
        edges = (0,) + cuts + (n,)
        segs = [sum(w[lo:hi]) for lo, hi in zip(edges, edges[1:])]
        segs[0] += INPUT_WEIGHT
        segs[-1] += OUTPUT_WEIGHT
        return max(segs), sum(s * s for s in segs)

    return min(itertools.combinations(range(n + 1), stages), key=cost)


class FloatUnit(wiring.Component):
    """Pipelined binary32 float unit of the D lane (bit-exact IEEE-754, docs/isa.md).

    Parameters
    ----------
    latency : int
        Cycles from issue to write-back (docs/isa.md section 7: ``float_latency``).
        An op entering in cycle t has its result on ``w_*`` in cycle
        ``t + latency - 1``; there are ``latency - 1`` register stages.  At least 1.

    Attributes
    ----------
    x_valid : In(1)
        An op issues this cycle.  One op may issue every cycle; nothing stalls.
    x_op : In(5)
        The :class:`sim.isa.encoding.DOp` number: ADD, SUB, MUL, MAC, MIN, MAX, ITOF, FTOI.
    x_a, x_b : In(32)
        rs1 and rs2 (``x_b`` unused by ITOF and FTOI).
    x_c : In(32)
        rd's old value: the MAC accumulator (unused by the other ops).
    x_tag : In(5)
        Destination register, returned unchanged on ``w_tag``.
    w_valid : Out(1)
        A result is ready this cycle: ``x_valid`` of ``latency - 1`` cycles ago,
        and only for a float op (another op number with ``x_valid`` gives no result).
    w_tag : Out(5)
        The issuing op's ``x_tag``.
    w_result : Out(32)
        The result bits (binary32, or int32 for FTOI).  Combinational from the
        last pipeline register (from the inputs if ``latency`` is 1).
    """

    def __init__(self, latency=4):
        self.cuts = choose_cuts(latency)
        self.latency = latency
        super().__init__({
            "x_valid": In(1), "x_op": In(5), "x_a": In(32), "x_b": In(32), "x_c": In(32),
            "x_tag": In(5),
            "w_valid": Out(1), "w_tag": Out(5), "w_result": Out(32),
        })

    def elaborate(self, platform):
        m = Module()
        is_float = self.x_op == FLOAT_OPS[0]
        for op in FLOAT_OPS[1:]:
            is_float |= self.x_op == op
        v = {"valid": self.x_valid & is_float, "tag": self.x_tag, "op": self.x_op,
             "a": self.x_a, "b": self.x_b, "c": self.x_c}
        stage = 0

        def register(v):
            nonlocal stage
            stage += 1
            out = {}
            for name, value in v.items():
                value = Value.cast(value)
                reg = Signal(value.shape(), name=f"s{stage}_{name}")
                m.d.sync += reg.eq(value)
                out[name] = reg
            return out

        for boundary in range(len(_STEPS) + 1):
            for _ in range(self.cuts.count(boundary)):
                v = register(v)
            if boundary < len(_STEPS):
                step_name, step = _STEPS[boundary]
                # One submodule per step: its wires form a separate simulator
                # process, re-run only when that step's inputs change.
                sub = m.submodules[step_name] = Module()
                v = {name: wire(sub, value, f"{name}")
                     for name, value in step(sub, v).items()}
        m.d.comb += [
            self.w_valid.eq(v["valid"]),
            self.w_tag.eq(v["tag"]),
            self.w_result.eq(v["result"]),
        ]
        return m
