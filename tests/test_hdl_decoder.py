"""The hardware SIW decoder against the golden model's decode (sim/golden/decode.py).

Every word is judged by both: legal or not, every field, which data registers it
reads and writes (docs/isa.md section 7), whether its D operation is a float
one, and its non-NOP slot count.  Words come from three sources so that every
illegal rule is hit often: uniformly random 64-bit words (almost always
illegal), well-formed words built from the operand tables (mostly legal), and
well-formed words with one bit flipped or a register forced to collide.
"""

from amaranth.sim import Simulator
from hypothesis import given, settings, strategies as st

from hdl.decoder import Decoder
from sim.golden.decode import FLOAT_DOPS, decode
from sim.isa.encoding import (C_FIELDS, C_OPERANDS, C_SLOT, D_FIELDS, D_OPERANDS, D_SLOT, S_FIELDS,
                          S_OPERANDS, S_SLOT, COp, DOp, SOp)

_LANES = (
    (D_SLOT, D_FIELDS, D_OPERANDS),
    (S_SLOT, S_FIELDS, S_OPERANDS),
    (C_SLOT, C_FIELDS, C_OPERANDS),
)


@st.composite
def wellformed(draw):
    """A word whose every lane is a defined operation with only its own fields set."""
    word = 0
    for slot, fields, operands in _LANES:
        op = draw(st.sampled_from(sorted(operands)))
        bits = fields["op"].put(int(op))
        for name in operands[op]:
            f = fields[name]
            if name in ("dim", "dim2"):
                # Mostly in range, sometimes 9..15 (illegal rule 3).
                value = draw(st.one_of(st.integers(0, 8), st.integers(0, f.mask)))
            else:
                value = draw(st.integers(0, f.mask))
            bits |= f.put(value)
        word |= slot.put(bits)
    return word


@st.composite
def colliding(draw):
    """Two or three lanes writing registers drawn from a tiny set (illegal rule 4)."""
    reg = st.integers(0, 2)
    d_op = draw(st.sampled_from([op for op in DOp if op != DOp.NOP]))
    d = D_FIELDS["op"].put(int(d_op)) | D_FIELDS["rd"].put(draw(reg))
    s = S_FIELDS["op"].put(int(draw(st.sampled_from([SOp.GATHER, SOp.SCATTER])))) \
        | S_FIELDS["reg"].put(draw(reg))
    c = C_FIELDS["op"].put(int(draw(st.sampled_from([COp.CGET, COp.KEY, COp.CPUT])))) \
        | C_FIELDS["reg"].put(draw(reg))
    return D_SLOT.put(d) | S_SLOT.put(s) | C_SLOT.put(c)


words = st.one_of(
    st.integers(0, (1 << 64) - 1),
    wellformed(),
    st.builds(lambda w, bit: w ^ (1 << bit), wellformed(), st.integers(0, 63)),
    colliding(),
)


def hw_decode(word_list, has_float=True):
    """Run the words through one Decoder; return the decoded records as dicts."""
    dut = Decoder(has_float=has_float)
    out = []

    async def bench(ctx):
        for w in word_list:
            ctx.set(dut.siw, w)
            o = ctx.get(dut.out)
            out.append({name: getattr(o, name) for name in (
                "d_op", "d_rd", "d_rs1", "d_rs2", "d_imm16", "s_op", "s_reg", "s_ck", "c_op",
                "c_ck", "c_dim", "c_imm11", "c_imm12", "c_cj", "c_reg", "c_dim2", "c_target",
                "illegal", "rd_rs1", "rd_rs2", "rd_drd", "rd_sreg", "rd_creg", "wr_drd",
                "wr_sreg", "wr_creg", "d_float", "ops")})

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    return out


def hw_reads(o):
    regs = []
    for flag, field in (("rd_rs1", "d_rs1"), ("rd_rs2", "d_rs2"), ("rd_drd", "d_rd"),
                        ("rd_sreg", "s_reg"), ("rd_creg", "c_reg")):
        if o[flag]:
            regs.append(o[field])
    return sorted(regs)


def hw_writes(o):
    regs = []
    if o["wr_drd"]:
        regs.append((o["d_rd"], bool(o["d_float"])))
    if o["wr_sreg"]:
        regs.append((o["s_reg"], False))
    if o["wr_creg"]:
        regs.append((o["c_reg"], False))
    return sorted(regs)


def check(word_list, has_float=True):
    """Compare the hardware's decode of every word with the golden one; return it."""
    out = hw_decode(word_list, has_float)
    for w, o in zip(word_list, out):
        g = decode(w, has_float)
        where = f"word {w:#018x} ({g.illegal or 'legal'})"
        assert bool(o["illegal"]) == (not g.legal), where
        assert o["d_op"] == int(g.d_op) and o["s_op"] == int(g.s_op) and o["c_op"] == int(g.c_op), where
        assert (o["d_rd"], o["d_rs1"], o["d_rs2"], o["d_imm16"]) == (g.rd, g.rs1, g.rs2, g.imm16), where
        assert (o["s_reg"], o["s_ck"]) == (g.s_reg, g.s_ck), where
        assert (o["c_ck"], o["c_dim"], o["c_imm11"], o["c_imm12"], o["c_cj"], o["c_reg"],
                o["c_dim2"], o["c_target"]) == (g.c_ck, g.c_dim, g.c_imm11, g.c_imm12, g.c_cj,
                                               g.c_reg, g.c_dim2, g.c_target), where
        assert hw_reads(o) == sorted(g.reads()), where
        assert hw_writes(o) == sorted((r, bool(f)) for r, f in g.writes()), where
        if g.legal:
            assert o["ops"] == g.ops(), where
    return out


# Each example costs one simulator start-up (about a second), so few examples of
# many words each.
@settings(max_examples=5, deadline=None)
@given(st.lists(words, min_size=100, max_size=200))
def test_decoder_matches_golden(word_list):
    check(word_list)


@settings(max_examples=3, deadline=None)
@given(st.lists(words, min_size=100, max_size=200))
def test_decoder_without_float_unit_matches_golden(word_list):
    """A core without a float unit (float_latency 0): float D operations are illegal
    (rule 5), so they never issue, read or write anything."""
    out = check(word_list, has_float=False)
    for w, o in zip(word_list, out):
        if decode(w).legal and decode(w).d_op in FLOAT_DOPS:
            assert o["illegal"] and not o["d_float"] and not hw_writes(o)


def test_directed_words():
    """Hand-picked edge cases: the all-zero word, each rule's smallest violation."""
    mac = D_SLOT.put(D_FIELDS["op"].put(DOp.MAC) | D_FIELDS["rd"].put(3)
                     | D_FIELDS["rs1"].put(1) | D_FIELDS["rs2"].put(2))
    cases = [
        0,                                               # triple NOP: legal
        D_SLOT.put(20),                                  # rule 1: D opcode 20
        C_SLOT.put(11),                                  # rule 1: C opcode 11
        1 << 20,                                         # rule 2: D NOP with spare bit
        D_SLOT.put(D_FIELDS["op"].put(DOp.MOV) | D_FIELDS["rs2"].put(1)),  # rule 2: MOV rs2
        C_SLOT.put(C_FIELDS["op"].put(COp.CGET) | C_FIELDS["dim"].put(9)),  # rule 3
        C_SLOT.put(C_FIELDS["op"].put(COp.CMOV) | C_FIELDS["dim"].put(9)),  # rule 2 (dim unused)
        mac,                                             # legal MAC reads rd
        mac | S_SLOT.put(S_FIELDS["op"].put(SOp.GATHER) | S_FIELDS["reg"].put(3)),  # rule 4
        mac | S_SLOT.put(S_FIELDS["op"].put(SOp.SCATTER) | S_FIELDS["reg"].put(3)),  # legal
        C_SLOT.put((1 << 28) - 1),                       # C opcode 15 with every bit set
    ]
    out = check(cases)
    # First principles, not only agreement: the all-zero word is legal and does
    # nothing; D opcode 20 is illegal; the MAC reads rd as well as rs1 and rs2.
    o = out[0]
    assert not o["illegal"] and o["ops"] == 0 and not hw_reads(o) and not hw_writes(o)
    assert out[1]["illegal"] == 1
    assert hw_reads(out[7]) == [1, 2, 3] and hw_writes(out[7]) == [(3, True)]
