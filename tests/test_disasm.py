"""Disassembler tests: canonical text, exact round trips (word -> text -> word) over
random legal SIWs and programs built from the encoding tables, and rejection of
every kind of illegal SIW (docs/isa.md section 3) with the rule it breaks."""

import pytest
from hypothesis import assume, given, settings, strategies as st

from sim.asm.assembler import assemble
from sim.asm.disasm import DisasmError, decode_siw, disassemble, disassemble_program
from sim.isa.encoding import (C_FIELDS, C_OPERANDS, C_SLOT, D_FIELDS, D_OPERANDS, D_SLOT, NDIMS,
                          S_FIELDS, S_OPERANDS, S_SLOT, COp, DOp, SOp)

LANES = ((D_SLOT, D_FIELDS, D_OPERANDS), (S_SLOT, S_FIELDS, S_OPERANDS), (C_SLOT, C_FIELDS, C_OPERANDS))


def writes(word):
    """Registers written by the SIW's lanes, by docs/isa.md rule 4, from raw fields."""
    d, s, c = D_SLOT.get(word), S_SLOT.get(word), C_SLOT.get(word)
    out = []
    if d & 31:
        out.append(d >> 5 & 31)
    if s & 3 == 1:
        out.append(s >> 2 & 31)
    if c & 15 in (5, 7):
        out.append(c >> 11 & 31)
    return out


@st.composite
def legal_siws(draw, max_target=1023):
    word = 0
    for slot, fields, operands in LANES:
        op = draw(st.sampled_from(sorted(operands)))
        bits = fields["op"].put(op)
        for name in operands[op]:
            f = fields[name]
            if name in ("dim", "dim2"):
                value = draw(st.integers(0, NDIMS - 1))
            elif name == "target":
                value = draw(st.integers(0, max_target))
            else:
                value = draw(st.integers(0, f.mask))
            bits |= f.put(value)
        word |= slot.put(bits)
    w = writes(word)
    assume(len(set(w)) == len(w))       # rule 4; rare, so few draws are wasted
    return word


@given(legal_siws())
@settings(max_examples=800)
def test_round_trip_one_siw(word):
    text = disassemble(word)
    assert assemble(text).words == [word], text


@given(st.data())
@settings(max_examples=200)
def test_round_trip_program(data):
    n = data.draw(st.integers(1, 40))
    # Targets land inside the program, at its end, or (rarely) beyond it.
    words = data.draw(st.lists(legal_siws(max_target=n + 2), min_size=n, max_size=n))
    text = disassemble_program(words)
    assert assemble(text).words == words, text


def test_program_labels():
    words = assemble("""\
        LI r1, 1
    top: ADD r2, r2, r1 | LOOP c0.sc < c1.sc, top
        JUMP out
        JUMP 900
    out:
    """).words
    text = disassemble_program(words)
    assert text == ("    LI r1, 1\n"
                    "L0001:\n"
                    "    ADD r2, r2, r1 | LOOP c0.sc < c1.sc, L0001\n"
                    "    JUMP L0004\n"
                    "    JUMP 900\n"
                    "L0004:\n")


@pytest.mark.parametrize("text", [
    "NOP", "HALT", "LI r6, -1", "LI r6, 32767", "LIH r6, 0xffff", "CADD c7.lb, -2048",
    "ADD r3, r1, r2 | GATHER r4, [c0] | CADD c0.sc, 1",
    "LI r6, -1 | SCATTER [c2], r7 | KEY r5, c0",
    "ERASE [c3] | LOOP c0.sc < c1.sn, 12",
])
def test_canonical_text_is_a_fixed_point(text):
    word = assemble(text).words[0]
    assert disassemble(word) == text


def test_canonical_form():
    word = assemble("cadd C0.SCROLL, 1 | gather R4,[c0] |add r3,r1,r2").words[0]
    assert disassemble(word) == "ADD r3, r1, r2 | GATHER r4, [c0] | CADD c0.sc, 1"


def D(op, rd=0, rs1=0, rs2=0):
    return op | rd << 5 | rs1 << 10 | rs2 << 15


@pytest.mark.parametrize("word, rule, cause", [
    (20, 1, "D opcode 20 is undefined"),
    (31, 1, "D opcode 31 is undefined"),
    (11 << 36, 1, "C opcode 11 is undefined"),
    (15 << 36, 1, "C opcode 15 is undefined"),
    (D(1, 1, 2, 3) | 1 << 20, 2, "D lane ADD does not use bit 20 of the SIW, which must be zero"),
    (D(15, 1, 2, 3), 2, "D lane MOV does not use bits 15, 16 of the SIW, which must be zero"),
    (1 << 5, 2, "D lane NOP does not use bit 5 of the SIW, which must be zero"),
    (3 << 26 | 1 << 28, 2, "S lane ERASE does not use bit 28 of the SIW, which must be zero"),
    (1 << 35, 2, "S lane NOP does not use bit 35 of the SIW, which must be zero"),
    ((10 | 1 << 27) << 36, 2, "C lane HALT does not use bit 63 of the SIW, which must be zero"),
    ((9 | 1 << 4) << 36, 2, "C lane JUMP does not use bit 40 of the SIW, which must be zero"),
    ((1 | 9 << 7) << 36, 3, "C lane CSET has dim = 9, above 8"),
    ((5 | 15 << 7) << 36, 3, "C lane CGET has dim = 15, above 8"),
    ((8 | 2 << 7 | 12 << 14) << 36, 3, "C lane LOOP has dim2 = 12, above 8"),
    (D(1, 4, 1, 2) | (1 | 4 << 2) << 26, 4, "D lane ADD and S lane GATHER both write r4"),
    (D(16, 4) | (7 | 4 << 11) << 36, 4, "D lane LI and C lane KEY both write r4"),
    ((1 | 9 << 2) << 26 | (5 | 9 << 11) << 36, 4, "S lane GATHER and C lane CGET both write r9"),
])
def test_illegal_words_are_rejected(word, rule, cause):
    with pytest.raises(DisasmError) as info:
        disassemble(word)
    e = info.value
    assert (e.rule, e.cause, e.word) == (rule, cause, word)
    assert str(e) == f"word 0x{word:016x} (illegal SIW, rule {rule}): {cause}"


def test_illegal_word_in_a_program_names_index_and_file():
    with pytest.raises(DisasmError) as info:
        disassemble_program([0, 0, 20], filename="p.vhex", lines=[2, 3, 5])
    assert str(info.value) == ("p.vhex:5: word 2 0x0000000000000014 (illegal SIW, rule 1): "
                               "D opcode 20 is undefined")
    with pytest.raises(DisasmError) as info:
        disassemble_program([0, 20])
    assert str(info.value) == "word 1 0x0000000000000014 (illegal SIW, rule 1): D opcode 20 is undefined"


def test_not_a_word():
    for bad in (-1, 1 << 64):
        with pytest.raises(DisasmError):
            decode_siw(bad)


def test_reading_and_writing_one_register_is_legal():
    # Only two *writes* make an SIW illegal; SCATTER and CPUT read.
    word = D(1, 1, 1, 1) | (2 | 1 << 2) << 26 | (6 | 8 << 7 | 1 << 11) << 36
    assert disassemble(word) == "ADD r1, r1, r1 | SCATTER [c0], r1 | CPUT c0.sc, r1"


def test_decode_fields():
    slots = decode_siw(assemble("MAC r3, r1, r2 | GATHER r1, [c5] | LOOP c0.sc < c1.sr, 7").words[0])
    assert slots["D"] == (DOp.MAC, {"rd": 3, "rs1": 1, "rs2": 2})
    assert slots["S"] == (SOp.GATHER, {"reg": 1, "ck": 5})
    assert slots["C"] == (COp.LOOP, {"ck": 0, "dim": 8, "cj": 1, "dim2": 2, "target": 7})


@st.composite
def near_legal_words(draw):
    """Legal SIWs with a few random bits flipped: mostly illegal, by every rule."""
    word = draw(legal_siws())
    for bit in draw(st.lists(st.integers(0, 63), max_size=3)):
        word ^= 1 << bit
    return word


@given(st.one_of(legal_siws(), near_legal_words(), st.integers(0, (1 << 64) - 1)))
@settings(max_examples=600)
def test_agrees_with_the_golden_decoder_on_legality(word):
    """The disassembler's rule checks and the golden model's (sim/golden/decode.py) were
    written separately from docs/isa.md; they must judge every word alike."""
    from sim.golden.decode import decode
    try:
        decode_siw(word)
        mine = True
    except DisasmError:
        mine = False
    assert mine == decode(word).legal, (hex(word), decode(word).illegal)
