"""Assembler tests: encodings worked out by hand from the field table of docs/isa.md
section 3, every error with its exact file:line:col, pseudo-instruction expansions
and float rounding checked against IEEE facts."""

import struct
from decimal import Decimal

import pytest
from hypothesis import given, strategies as st

from sim.asm.assembler import AsmError, assemble, format_listing, parse_float_bits


# Field positions copied from docs/isa.md section 3 (not from sim/isa/encoding.py), so a
# wrong table in the code cannot make these tests agree with it.
def D(op, rd=0, rs1=0, rs2=0, imm16=None):
    if imm16 is not None:
        return op | rd << 5 | imm16 << 10
    return op | rd << 5 | rs1 << 10 | rs2 << 15


def S(op, reg=0, ck=0):
    return (op | reg << 2 | ck << 7) << 26


def C(op, ck=0, dim=0, imm11=None, imm12=None, cj=None, reg=None, dim2=None, target=None):
    v = op | ck << 4 | dim << 7
    for value, lsb in ((imm11, 11), (imm12, 11), (cj, 11), (reg, 11), (dim2, 14), (target, 18)):
        if value is not None:
            v |= value << lsb
    return v << 36


def one(text):
    words = assemble(text).words
    assert len(words) == 1, words
    return words[0]


@pytest.mark.parametrize("text, word", [
    ("NOP", 0),
    ("ADD r1, r2, r3", D(1, 1, 2, 3)),
    ("SUB r31, r0, r17", D(2, 31, 0, 17)),
    ("MUL r4, r5, r6", D(3, 4, 5, 6)),
    ("MAC r3, r1, r2", D(4, 3, 1, 2)),
    ("MIN r1, r2, r3", D(5, 1, 2, 3)),
    ("MAX r1, r2, r3", D(6, 1, 2, 3)),
    ("IADD r1, r2, r3", D(7, 1, 2, 3)),
    ("ISUB r1, r2, r3", D(8, 1, 2, 3)),
    ("AND r1, r2, r3", D(9, 1, 2, 3)),
    ("OR r1, r2, r3", D(10, 1, 2, 3)),
    ("XOR r1, r2, r3", D(11, 1, 2, 3)),
    ("SHL r1, r2, r3", D(12, 1, 2, 3)),
    ("SHR r1, r2, r3", D(13, 1, 2, 3)),
    ("SRA r1, r2, r3", D(14, 1, 2, 3)),
    ("MOV r7, r9", D(15, 7, 9)),
    ("LI r2, 1234", D(16, 2, imm16=1234)),
    ("LI r2, -1", D(16, 2, imm16=0xFFFF)),
    ("LI r2, 65535", D(16, 2, imm16=0xFFFF)),
    ("LI r2, -32768", D(16, 2, imm16=0x8000)),
    ("LIH r2, 0xBEEF", D(17, 2, imm16=0xBEEF)),
    ("ITOF r1, r2", D(18, 1, 2)),
    ("FTOI r1, r2", D(19, 1, 2)),
    ("GATHER r5, [c3]", S(1, 5, 3)),
    ("SCATTER [c7], r31", S(2, 31, 7)),
    ("ERASE [c1]", S(3, 0, 1)),
    ("CSET c2.sc, 2047", C(1, 2, 8, imm11=2047)),
    ("CSET c2.library, 5", C(1, 2, 0, imm11=5)),
    ("CADD c1.bk, -1", C(2, 1, 5, imm12=0xFFF)),
    ("CADD c1.book, -2048", C(2, 1, 5, imm12=0x800)),
    ("CADD c1.vm, 2047", C(2, 1, 4, imm12=2047)),
    ("CMOV c4, c6", C(3, 4, cj=6)),
    ("CCLR c5", C(4, 5)),
    ("CGET r9, c3.sn", C(5, 3, 7, reg=9)),
    ("CPUT c3.ch, r10", C(6, 3, 6, reg=10)),
    ("KEY r1, c2", C(7, 2, reg=1)),
    ("LOOP c0.sc < c1.sr, 5", C(8, 0, 8, cj=1, dim2=2, target=5)),
    ("JUMP 1023", C(9, target=1023)),
    ("HALT", C(10)),
    # Three lanes in any order, any case, extra blanks.
    ("add r3, r1, r2 | gather r4, [c0] | cadd C0.SC, 1",
     D(1, 3, 1, 2) | S(1, 4, 0) | C(2, 0, 8, imm12=1)),
    ("CADD c0.sc, 1|GATHER r4,[ c0 ]|  ADD r3,r1,r2",
     D(1, 3, 1, 2) | S(1, 4, 0) | C(2, 0, 8, imm12=1)),
    ("NOP | HALT", C(10)),
    ("LI r1, 0b101 | SCATTER [c0], r1", D(16, 1, imm16=5) | S(2, 1, 0)),
    # Reading and writing the same register in different lanes is legal.
    ("ADD r1, r1, r1 | SCATTER [c0], r1 | CPUT c0.sc, r1",
     D(1, 1, 1, 1) | S(2, 1, 0) | C(6, 0, 8, reg=1)),
])
def test_encoding(text, word):
    assert one(text) == word


def test_labels_and_comments():
    src = """\
# a comment line
start:            # label alone on a line
    LI r1, 3
loop: ADD r2, r2, r1 | LOOP c0.sc < c1.sc, loop   # comment after code
    JUMP start
Start: JUMP Start
end:
"""
    p = assemble(src)
    assert p.labels == {"start": 0, "loop": 1, "Start": 3, "end": 4}
    assert p.words == [D(16, 1, imm16=3),
                       D(1, 2, 2, 1) | C(8, 0, 8, cj=1, dim2=8, target=1),
                       C(9, target=0),
                       C(9, target=3)]
    # Forward reference to a label at the end of the program.
    assert assemble("JUMP end\nend:\n").words == [C(9, target=1)]


def test_listing_maps_lines_to_words():
    src = "LI r1, 1\n\n  FLI r2, 1.0\nx: HALT\n"
    p = assemble(src)
    by_line = {e.line: (e.address, e.words) for e in p.listing}
    assert by_line[1] == (0, [D(16, 1, imm16=1)])
    assert by_line[2] == (1, [])
    assert by_line[3] == (1, [D(16, 2, imm16=0), D(17, 2, imm16=0x3F80)])
    assert by_line[4] == (3, [C(10)])
    text = format_listing(p)
    assert "+ LI r2, 0" in text and "+ LIH r2, 0x3f80" in text
    assert "0003  000000a000000000  x: HALT" in text


@pytest.mark.parametrize("value, words", [
    (5, [D(16, 1, imm16=5)]),
    (-5, [D(16, 1, imm16=0xFFFB)]),
    (32767, [D(16, 1, imm16=0x7FFF)]),
    (-32768, [D(16, 1, imm16=0x8000)]),
    (32768, [D(16, 1, imm16=0x8000), D(17, 1, imm16=0)]),
    (0x12345678, [D(16, 1, imm16=0x5678), D(17, 1, imm16=0x1234)]),
    (0xFFFFFFFF, [D(16, 1, imm16=0xFFFF)]),             # = -1, fits one LI
    (-(1 << 31), [D(16, 1, imm16=0), D(17, 1, imm16=0x8000)]),
])
def test_li32(value, words):
    assert assemble(f"LI32 r1, {value}").words == words


def _li32_value(words):
    """What LI then (maybe) LIH leave in the register, by the ISA's definitions."""
    lo = words[0] >> 10 & 0xFFFF
    reg = (lo - 0x10000 if lo & 0x8000 else lo) & 0xFFFFFFFF
    if len(words) == 2:
        reg = (words[1] >> 10 & 0xFFFF) << 16 | (reg & 0xFFFF)
    return reg


@given(st.integers(-(1 << 31), (1 << 32) - 1))
def test_li32_any_value(value):
    words = assemble(f"LI32 r4, {value}").words
    assert _li32_value(words) == value & 0xFFFFFFFF
    assert len(words) == (1 if -32768 <= (value + (1 << 31)) % (1 << 32) - (1 << 31) <= 32767 else 2)


@pytest.mark.parametrize("text, bits", [
    ("1.0", 0x3F800000), ("1.5", 0x3FC00000), ("-2", 0xC0000000), ("0.1", 0x3DCCCCCD),
    ("0", 0), ("-0.0", 0x80000000), ("inf", 0x7F800000), ("-inf", 0xFF800000),
    ("nan", 0x7FC00000), ("NaN", 0x7FC00000), ("3.4028234663852886e38", 0x7F7FFFFF),
    ("3.5e38", 0x7F800000), ("-1e39", 0xFF800000), ("1.401298464324817e-45", 1),
    ("1e-45", 1), ("7e-46", 0),
    # 2**-150 is exactly halfway between 0 and the least subnormal: ties to even gives 0.
    (f"{5 ** 150}e-150", 0),
    (f"{5 ** 150 + 1}e-150", 1),
    # 1 + 2**-24 is halfway between 1 and its successor: even is 1.0; a hair above
    # rounds up.  (2**-24 = 5.9604644775390625e-8 exactly.)
    ("1.000000059604644775390625", 0x3F800000),
    ("1.0000000596046447753906250000000000000001", 0x3F800001),
    # 1 + 3 * 2**-24 is halfway between two odd/even neighbours: even is 1 + 2**-22.
    ("1.000000178813934326171875", 0x3F800002),
    (".5", 0x3F000000), ("16777217", 0x4B800000),
])
def test_float_literal(text, bits):
    assert parse_float_bits(text) == bits


def test_fli_expansion():
    assert assemble("FLI r3, 1.5").words == [D(16, 3, imm16=0), D(17, 3, imm16=0x3FC0)]
    assert assemble("FLI r3, -0.0").words == [D(16, 3, imm16=0), D(17, 3, imm16=0x8000)]
    assert assemble("FLI r3, 0").words == [D(16, 3, imm16=0)]


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_float_literal_matches_ieee(x):
    # Decimal(x) is the exact value of the binary64 x; rounding it once to binary32
    # is what struct does for a binary64 (it raises where the result overflows).
    try:
        expected = struct.unpack("<I", struct.pack("<f", x))[0]
    except OverflowError:
        expected = 0xFF800000 if x < 0 else 0x7F800000
    assert parse_float_bits(str(Decimal(x))) == expected


def test_cli_expansion():
    assert assemble("CLI c2, 0.0.0/0.0.0/0.0.0").words == [C(4, 2)]
    assert assemble("here: CLI c1, 1.0.0/0.0.0/0.0.300").words == [
        C(4, 1), C(1, 1, 0, imm11=1), C(1, 1, 8, imm11=300)]
    assert assemble("CLI c0, 1.2.3/4.5.6/7.8.9").words == [C(4, 0)] + [
        C(1, 0, d, imm11=d + 1) for d in range(9)]


def err(text, filename="t.vasm"):
    with pytest.raises(AsmError) as info:
        assemble(text, filename)
    return info.value


@pytest.mark.parametrize("text, where, cause", [
    ("FOO r1, r2", "1:1", "unknown mnemonic 'FOO'"),
    ("  ADD r1, r2", "1:3", "ADD takes 3 operands (rd, rs1, rs2), not 2"),
    ("HALT r1", "1:1", "HALT takes 0 operands, not 1"),
    ("ADD r1, , r3", "1:7", "missing operand in ADD"),
    ("ADD r1, r2, r32", "1:13", "register r32 out of range: data registers are r0..r31"),
    ("ADD r1, c2, r3", "1:9", "expected a data register r0..r31, not 'c2'"),
    ("ADD r1, r2, r3 x", "1:13", "expected a data register r0..r31, not 'r3 x'"),
    ("KEY r1, c8", "1:9", "register c8 out of range: coordinate registers are c0..c7"),
    ("GATHER r1, c0", "1:12", "expected a coordinate register in brackets, [c0]..[c7], not 'c0'"),
    ("LI r1, 65536", "1:8", "immediate 65536 out of range for LI: -32768..65535"),
    ("LI r1, -32769", "1:8", "immediate -32769 out of range for LI: -32768..65535"),
    ("CSET c0.sc, 2048", "1:13", "immediate 2048 out of range for CSET: 0..2047"),
    ("CSET c0.sc, -1", "1:13", "immediate -1 out of range for CSET: 0..2047"),
    ("CADD c0.sc, 2048", "1:13", "immediate 2048 out of range for CADD: -2048..2047"),
    ("CADD c0.sc, -2049", "1:13", "immediate -2049 out of range for CADD: -2048..2047"),
    ("LI r1, 12abc", "1:8", "'12abc' is not a number (decimal, 0x hex or 0b binary)"),
    ("CSET c0.foo, 1", "1:9", "'foo' is not a dimension name; use lb sf sr cn vm bk ch sn sc "
                              "or library shelf series collection volume book chapter section scroll"),
    ("CSET c0, 1", "1:6", "expected a coordinate register and dimension, e.g. c0.sc or c0.scroll, "
                          "not 'c0'"),
    ("LOOP c0.sc, x", "1:6", "expected a loop condition ck.dim < cj.dim, e.g. c0.sc < c1.sc, "
                             "not 'c0.sc'"),
    ("LOOP c0.sc < c1.zz, 0", "1:17", "'zz' is not a dimension name; use lb sf sr cn vm bk ch sn sc "
                                      "or library shelf series collection volume book chapter section scroll"),
    ("JUMP nowhere", "1:6", "unknown label 'nowhere'"),
    ("Loop: NOP\nJUMP loop", "2:6", "unknown label 'loop' (labels are case-sensitive: did you mean 'Loop'?)"),
    ("JUMP 1024", "1:6", "target address 1024 out of range 0..1023"),
    ("a: NOP\n  a: HALT", "2:3", "duplicate label 'a' (first defined on line 1)"),
    ("ADD r1, r2, r3 | SUB r4, r5, r6", "1:18", "two D-lane operations in one SIW: ADD and SUB"),
    ("GATHER r1, [c0] | ERASE [c1]", "1:19", "two S-lane operations in one SIW: GATHER and ERASE"),
    ("ADD r1, r2, r3 | GATHER r1, [c0]", "1:25", "GATHER writes r1, which ADD in the same SIW also "
                                                 "writes (illegal SIW)"),
    ("KEY r7, c0 | LI r7, 1", "1:5", "KEY writes r7, which LI in the same SIW also writes (illegal SIW)"),
    ("GATHER r2, [c0] | CGET r2, c1.sc", "1:24", "CGET writes r2, which GATHER in the same SIW also "
                                                 "writes (illegal SIW)"),
    ("ADD r1, r2, r3 $", "1:16", "unexpected character '$'"),
    ("LI r1, 5;", "1:9", "unexpected character ';'"),
    ("ADD r1, r2, r3 |", "1:16", "empty slot between '|'"),
    ("LI32 r1, 1 | HALT", "1:1", "pseudo-instruction LI32 must be alone on its line"),
    ("HALT | CLI c0, 1.0.0/0.0.0/0.0.0", "1:8", "pseudo-instruction CLI must be alone on its line"),
    ("LI32 r1, 0x100000000", "1:10", "immediate 4294967296 out of range for LI32: -2147483648..4294967295"),
    ("FLI r1, 1.0.0", "1:9", "'1.0.0' is not a float literal (decimal, inf, -inf or nan)"),
    ("FLI r1, 0x10", "1:9", "'0x10' is not a float literal (decimal, inf, -inf or nan)"),
    ("CLI c0, 1.0.0/0.0.0", "1:9", "bad coordinate: '1.0.0/0.0.0' is not a coordinate: expected "
                                   "lb.sf.sr/cn.vm.bk/ch.sn.sc, nine decimal numbers"),
    ("CLI c0, 2048.0.0/0.0.0/0.0.0", "1:9", "bad coordinate: library = 2048 is outside 0..2047"),
    ("NOP\n  1abc: HALT", "2:3", "'1abc' is not a label name: a label is a letter or '_' followed "
                                  "by letters, digits or '_'"),
    ("| HALT", "1:1", "empty slot between '|'"),
    ("HALT || NOP", "1:6", "empty slot between '|'"),
    ("  2x", "1:3", "expected a mnemonic, not '2x'"),
    ("x y: HALT", "1:4", "':' must follow a label name at the start of a line"),
    ("HALT:", "1:1", None),  # 'HALT' as a label is legal: no error expected
])
def test_errors(text, where, cause):
    if cause is None:
        assert assemble(text).labels == {"HALT": 0}
        return
    e = err(text)
    assert str(e) == f"t.vasm:{where}: error: {cause}"
    line, col = map(int, where.split(":"))
    assert (e.file, e.line, e.column, e.cause) == ("t.vasm", line, col, cause)


def test_all_errors_are_collected_in_order():
    e = err("ADD r1\nHALT\nFOO\nJUMP x\nLI r40, 1\n")
    assert [str(x) for x in e.errors] == [
        "t.vasm:1:1: error: ADD takes 3 operands (rd, rs1, rs2), not 1",
        "t.vasm:3:1: error: unknown mnemonic 'FOO'",
        "t.vasm:4:6: error: unknown label 'x'",
        "t.vasm:5:4: error: register r40 out of range: data registers are r0..r31",
    ]
    assert e is e.errors[0]
    assert isinstance(e, ValueError)


def test_a_bad_line_still_defines_its_label():
    e = err("top: FOO r1\n    JUMP top\n")
    assert [str(x) for x in e.errors] == ["t.vasm:1:6: error: unknown mnemonic 'FOO'"]


def test_program_length_limit():
    assert len(assemble("NOP\n" * 1024).words) == 1024
    e = err("NOP\n" * 1024 + "  HALT\n")
    assert str(e) == "t.vasm:1025:3: error: program longer than 1024 SIWs"
    # A pseudo-instruction that crosses the limit is reported at its line.
    e = err("NOP\n" * 1023 + "LI32 r1, 0x12345678\n")
    assert (e.line, e.cause) == (1024, "program longer than 1024 SIWs")


def test_label_beyond_target_range():
    e = err("JUMP end\n" + "NOP\n" * 1023 + "end:\n")
    assert str(e) == "t.vasm:1:6: error: label 'end' is at address 1024, beyond the 10-bit target range 0..1023"


def test_case_rules():
    # Mnemonics, registers and dimension names ignore case; labels do not.
    assert one("cSeT C3.SCROLL, 1") == C(1, 3, 8, imm11=1)
    assert one("gather R1, [C2]") == S(1, 1, 2)
    p = assemble("a: NOP\nA: NOP\nJUMP A\n")
    assert p.words[2] == C(9, target=1)


def test_form_feed_in_a_comment_does_not_shift_line_numbers():
    # Only CR, LF and CR LF end a line; a form feed inside a comment is text.
    with pytest.raises(AsmError) as info:
        assemble("LI r1, 1 # a\fb\nBOGUS r1\n", "ff.vasm")
    assert str(info.value).startswith("ff.vasm:2:1:")
