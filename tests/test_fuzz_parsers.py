"""Fuzzing every input parser: any input gives a result or the parser's documented error.

A parser that meets bad input must say where and why (docs/errors.md catalogues
each error), never crash with another exception and never hang.  Each test here
feeds one parser random input and input mutated from real files (the examples,
their assembled form, a real memory image), and checks the result against the
parser's own contract:

* success: the result is sound (assembled words are legal SIWs whose disassembly
  assembles back to them, a coordinate is in range, ...);
* failure: exactly the documented error class, pointing inside the input.

A hang would block the run, so every call runs under a time limit (``time_limit``)
that turns it into a failure.  The default run takes a few seconds per parser;
the ``slow`` variants (``pytest -m slow``) run many more examples.

The memory-image reader's corruption fuzzing is in tests/test_image.py and the
host link's named rejection cases in tests/test_host_link.py; this file adds only
what they do not cover (arbitrary bytes, crafted numbers, random byte streams).
"""

import contextlib
import os
import re
import signal
import tempfile
import threading
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.control import currently_in_test_context, event as _event

from sim.isa.syntax import source_lines
from sim.asm.assembler import MAX_SIWS, AsmError, assemble
from sim.isa.coord import Coord, CoordError, format_coord, parse_coord
from sim.golden.decode import decode
from sim.asm.disasm import DisasmError, decode_siw, disassemble, disassemble_program
from sim.isa.encoding import (C_FIELDS, C_OPERANDS, C_SLOT, D_FIELDS, D_OPERANDS, D_SLOT, S_FIELDS,
                          S_OPERANDS, S_SLOT, COp, CoreConfig, DOp, Fault, SOp)
from sim.image.memory_image import ImageError, decode_image, encode_image
from sim.golden.machine import Machine
from sim.asm.progfile import HEX_HEADER, ProgramFileError, format_hex, load_program_file, read_hex

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_SOURCES = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "examples").glob("*.vasm"))]
assert EXAMPLE_SOURCES, "the fuzzers mutate examples/*.vasm"

#: Seconds any one parser call may take before it counts as a hang.  Generous: the
#: slowest legitimate call (a long mutated program) takes well under a second, and
#: CI machines are shared.
CALL_LIMIT = 10.0

_HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
FAST = dict(deadline=None, suppress_health_check=_HEALTH, derandomize=False)


def fast(n):
    return settings(max_examples=n, **FAST)


def slow(n):
    def wrap(test):
        return pytest.mark.slow(settings(max_examples=n, **FAST)(test))
    return wrap


def tally(what):
    """Count an outcome for ``--hypothesis-show-statistics`` (a no-op outside a Hypothesis test),
    to see that the inputs reach both success and each kind of error."""
    if currently_in_test_context():
        _event(what)


class Hang(AssertionError):
    """A parser call ran past :data:`CALL_LIMIT`."""


@contextlib.contextmanager
def time_limit(what, seconds=CALL_LIMIT):
    """Raise :class:`Hang` inside the block if it runs longer than ``seconds`` (main thread only;
    elsewhere the block runs unguarded, and a hang shows as a stuck test)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def on_alarm(signum, frame):
        raise Hang(f"{what} took longer than {seconds} s (hang)")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


# ============================================================================ text mutation

#: Tokens that stress a text parser: every kind of operand, in and out of range,
#: numbers too long for Python's int() (4300 digits) or for a float, separators,
#: line ends of every kind, control and non-ASCII characters.
HUGE_DECIMAL = "9" * 5000
NASTY_TOKENS = [
    "r0", "r31", "r32", "r" + HUGE_DECIMAL, "c0", "c7", "c8", "c" + HUGE_DECIMAL, "[c0]", "[c9]",
    "[", "]", "[]", "c0.sc", "c0.scroll", "c0.zz", "c0.", ".sc", "c0.sc < c7.sc", "<", "c1.lb<c2.9",
    "0", "-1", "65535", "65536", "-32769", "2047", "2048", "-2049", "1023", "1024",
    HUGE_DECIMAL, "-" + HUGE_DECIMAL, "0x" + "f" * 5000, "0b" + "1" * 5000, "0x", "0b2", "00009",
    "1.5", "-0.0", "1e38", "1e39", "1e-46", "1e999999999", "1e-999999999", "1" + "0" * 5000 + ".5",
    "0." + "0" * 5000 + "1", "nan", "-inf", "inf", ".", "e5", "1e", "+",
    "LI", "LIH", "LI32", "FLI", "CLI", "MAC", "ADD", "MOV", "ITOF", "CSET", "CADD", "CMOV", "CCLR",
    "CGET", "CPUT", "KEY", "LOOP", "JUMP", "HALT", "NOP", "GATHER", "SCATTER", "ERASE", "nop", "lI",
    "fill", "dot", "L0000", "_x", "lbl:", "a:b:", "1abc:", ":", "::", "|", "||", ",", ",,", "#", " # ",
    "1.0.0/0.0.0/0.0.0", "2047.0.0/0.0.0/0.0.0", "2048.0.0/0.0.0/0.0.0", HUGE_DECIMAL + ".0.0/0.0.0/0.0.0",
    "1.0.0/0.0", "1..0/0.0.0/0.0.0",
    "\x00", "\r", "\r\n", "\n", "\n\r", "\t", "\x0b", "\x0c", "\x1c", "\x85", "\u2028", "\ufeff",
    "é", "ℝ", "٣", "１", "\U0001F600", " " * 300,
]


#: Longest text a mutation may build: long enough for over-long lines and programs,
#: short enough that Hypothesis can shrink and print a failure.
MAX_FUZZ_TEXT = 60_000


@st.composite
def mutated(draw, bases, tokens=NASTY_TOKENS, max_mutations=4):
    """A text from ``bases`` with 1..max_mutations edits: characters and tokens inserted,
    replaced or deleted, lines swapped, duplicated, dropped or made very long, line ends
    changed, the text cut short."""
    text = draw(st.sampled_from(bases))
    for _ in range(draw(st.integers(1, max_mutations))):
        kind = draw(st.sampled_from(["char", "token", "replace", "delete", "swap", "dup", "drop",
                                     "long", "newlines", "truncate"]))
        n = len(text)
        i = draw(st.integers(0, n))
        if kind == "char":
            text = text[:i] + draw(st.characters(codec=None) | st.sampled_from("\x00\r\n\t")) + text[i:]
        elif kind == "token":
            text = text[:i] + draw(st.sampled_from(tokens)) + text[i:]
        elif kind == "replace":
            j = min(n, i + draw(st.integers(1, 12)))
            text = text[:i] + draw(st.sampled_from(tokens)) + text[j:]
        elif kind == "delete":
            text = text[:i] + text[i + draw(st.integers(1, 20)):]
        elif kind == "truncate":
            text = text[:i]
        elif kind == "newlines":
            text = text.replace("\n", draw(st.sampled_from(["\r\n", "\r", "\n\r", "\n\n", "\x0c"])),
                                draw(st.integers(1, 50)))
        else:
            lines = text.split("\n")
            a = draw(st.integers(0, len(lines) - 1))
            b = draw(st.integers(0, len(lines) - 1))
            if kind == "swap":
                lines[a], lines[b] = lines[b], lines[a]
            elif kind == "dup":
                lines[b:b] = [lines[a]] * draw(st.integers(1, 3))
            elif kind == "drop":
                del lines[a]
            elif kind == "long":
                lines[a] = " | ".join([lines[a]] * draw(st.integers(2, 300)))
            text = "\n".join(lines)
        text = text[:MAX_FUZZ_TEXT]
    return text


# ============================================================================ assembly text

def check_asm_error(e, text, filename, cls=AsmError):
    """Every error of an AsmError (of exactly class ``cls``) points inside ``text``, lines
    counted as the parsers count them (``sim.isa.syntax.source_lines``: CR, LF, CR LF only)."""
    lines = source_lines(text)
    assert e.errors and e.errors[0] is e
    for err in e.errors:
        assert type(err) is cls, repr(err)
        assert err.file == filename
        assert 1 <= err.line <= max(1, len(lines)), (err.line, len(lines), str(err)[:200])
        line = lines[err.line - 1] if lines else ""
        assert 1 <= err.column <= len(line) + 1, (err.column, len(line), str(err)[:200])
        assert err.cause
        assert str(err).startswith(f"{filename}:{err.line}:{err.column}: error: ")


def check_assembly(text, filename="fuzz.vasm"):
    """``assemble(text)`` gives legal words that round-trip, or an AsmError inside the text."""
    try:
        with time_limit(f"assemble({text[:60]!r}...)"):
            program = assemble(text, filename)
    except AsmError as e:
        check_asm_error(e, text, filename)
        tally("AsmError")
        return None
    tally("assembled")
    assert len(program.words) <= MAX_SIWS
    for word in program.words:
        assert decode(word).legal, f"assembler produced illegal word 0x{word:016x}"
    with time_limit("disassemble/reassemble"):
        again = assemble(disassemble_program(program.words), "round-trip")
    assert again.words == program.words
    return program


ASM_ALPHABET = "abcdefghiklmnoprstuvxyzACDEFGHIJKLMNOPQRSTUVXYZ_0123456789.,[]|:</-+ \t\n#"


def asm_line_pieces():
    """Lines that look like assembly: a label or not, one to three slots of a mnemonic and
    operands drawn from the nasty tokens."""
    operand = st.sampled_from(NASTY_TOKENS[:90]) | st.text(ASM_ALPHABET, max_size=8)
    slot = st.builds(lambda m, ops: m + " " + ", ".join(ops),
                     st.sampled_from([t for t in NASTY_TOKENS if t.isalpha() and t.isupper()]),
                     st.lists(operand, max_size=3))
    line = st.builds(lambda lbl, slots, comment: lbl + " | ".join(slots) + comment,
                     st.sampled_from(["", "start: ", "a: b: ", "fill:"]),
                     st.lists(slot, min_size=0, max_size=3),
                     st.sampled_from(["", "  # comment", "#"]))
    return st.lists(line, max_size=12).map("\n".join)


ASM_INPUTS = st.one_of(
    st.text(max_size=300),                                  # any unicode text
    st.text(ASM_ALPHABET, max_size=300),                    # text of the assembler's own characters
    asm_line_pieces(),                                      # plausible lines
    mutated(EXAMPLE_SOURCES),                               # real programs, damaged
)


@fast(300)
@given(ASM_INPUTS)
def test_assembler_gives_legal_words_or_asm_error(text):
    check_assembly(text)


@slow(5000)
@given(ASM_INPUTS)
def test_assembler_fuzz_long(text):
    check_assembly(text)


@pytest.mark.parametrize("text", [
    "LI r1, " + HUGE_DECIMAL, "LI r1, 0x" + "f" * 5000, "JUMP " + HUGE_DECIMAL,
    "LI r" + HUGE_DECIMAL + ", 0", "CCLR c" + HUGE_DECIMAL, "CSET c0.sc, " + HUGE_DECIMAL,
    "LI32 r1, -" + HUGE_DECIMAL, "CLI c0, " + HUGE_DECIMAL + ".0.0/0.0.0/0.0.0",
    "FLI r1, 1e999999999", "FLI r1, -1e-999999999", "FLI r1, " + HUGE_DECIMAL,
    "FLI r1, 0." + "0" * 5000 + "1", "LI r1, " + "0" * 5000 + "7", "LI r0" + "0" * 5000 + "1, 0",
    "CCLR c" + "0" * 5000, "JUMP 0x" + "0" * 5000 + "1", "CLI c0, " + "0" * 5000 + "1.0.0/0.0.0/0.0.0",
    "\x00", "\ufeffHALT", "HALT\r\nHALT\rHALT\n", "a:\na:\n", "HALT | " * 5000,
    "NOP\n" * 1100 + "HALT", "LI r1, 1\n" * 1025,
])
def test_assembler_edge_inputs(text):
    """Inputs that random search rarely builds: numbers too long for int(), exponents
    too large to compute, a BOM, a program over the SIW limit, a very long line."""
    check_assembly(text)


def test_float_literals_of_extreme_size_round_like_ieee():
    """A decimal exponent far outside binary32 gives infinity or zero, as IEEE rounding
    does (the assembler's documented behaviour), without computing 10**exponent."""
    program = check_assembly("FLI r1, 1e999999999\nFLI r2, -1e-999999999\nHALT")
    assert program is not None
    # +inf = 0x7F800000 and -0.0 = 0x80000000: each is LI rd, 0 then LIH rd, upper half.
    halves = [(decode(w).d_op, decode(w).rd, decode(w).imm16) for w in program.words[:4]]
    assert halves == [(DOp.LI, 1, 0), (DOp.LIH, 1, 0x7F80), (DOp.LI, 2, 0), (DOp.LIH, 2, 0x8000)]


# ============================================================================ instruction words

def _field_values(fields, names, draw):
    return {name: draw(st.integers(0, fields[name].mask)) for name in names}


@st.composite
def siw_words(draw):
    """Any 64-bit word, or one built lane by lane from defined and undefined opcodes with
    random fields (so legal words and each illegal rule are all common), sometimes with
    a stray bit set."""
    if draw(st.booleans()):
        return draw(st.integers(0, (1 << 64) - 1))
    word = 0
    for slot, fields, operands, ops in ((D_SLOT, D_FIELDS, D_OPERANDS, DOp),
                                        (S_SLOT, S_FIELDS, S_OPERANDS, SOp),
                                        (C_SLOT, C_FIELDS, C_OPERANDS, COp)):
        code = draw(st.sampled_from([int(op) for op in ops]) | st.integers(0, fields["op"].mask))
        bits = fields["op"].put(code)
        names = operands.get(ops(code), ()) if code in ops._value2member_map_ else ()
        if draw(st.integers(0, 3)) == 0:   # small values: rule-3 dims and rule-4 clashes
            values = {n: draw(st.integers(0, min(9, fields[n].mask))) for n in names}
        else:
            values = _field_values(fields, names, draw)
        for name, value in values.items():
            bits |= fields[name].put(value)
        word |= slot.put(bits)
    if draw(st.integers(0, 4)) == 0:
        word ^= 1 << draw(st.integers(0, 63))
    return word


def _rule_of_reason(reason):
    """The illegal-SIW rule number (docs/isa.md section 3) that decode's reason describes."""
    if "is undefined" in reason:
        return 1
    if "uses only" in reason:
        return 2
    if "is above" in reason:
        return 3
    if "written by two lanes" in reason:
        return 4
    raise AssertionError(f"decode gave a reason naming no rule: {reason!r}")


def check_word(word):
    """decode never raises; the disassembler agrees on legality and on the rule; a legal
    word's text assembles back to it."""
    dec = decode(word)
    assert dec.word == word
    try:
        text = disassemble(word)
    except DisasmError as e:
        assert not dec.legal, f"disassembler refused legal word 0x{word:016x}: {e}"
        assert isinstance(dec.illegal, str) and dec.illegal
        assert e.rule == _rule_of_reason(dec.illegal), (e.rule, dec.illegal, str(e))
        tally(f"illegal, rule {e.rule}")
        assert e.word == word and f"0x{word:016x}" in str(e) and f"rule {e.rule}" in str(e)
        return
    assert dec.legal, f"disassembler accepted illegal word 0x{word:016x} ({dec.illegal}) as {text!r}"
    assert assemble(text, "disasm").words == [word], text
    tally("legal")
    assert dec.reads() is not None and dec.writes() is not None and 0 <= dec.ops() <= 3


@fast(2000)
@given(siw_words())
def test_decode_and_disasm_agree_on_every_word(word):
    check_word(word)


@slow(20000)
@given(siw_words())
def test_decode_and_disasm_fuzz_long(word):
    check_word(word)


@pytest.mark.parametrize("bad", [-1, 1 << 64, 2 ** 200, "0x10", None, 1.5])
def test_disasm_refuses_non_words(bad):
    with pytest.raises(DisasmError) as info:
        decode_siw(bad)
    assert info.value.rule == 0


HALT_WORD = C_SLOT.put(C_FIELDS["op"].put(int(COp.HALT)))


def check_machine(words, regs):
    """The golden Machine runs any words: it faults ILLEGAL_SIW exactly on the words decode
    calls illegal, and never raises."""
    m = Machine(CoreConfig(dim_bits=4, set_bits=2, ways=2, prog_depth=64))
    m.regs[:] = regs
    m.load_program(words + [HALT_WORD])
    m.start()
    for _ in range(200):
        if not m.running:
            break
        with time_limit("Machine.retire"):
            rec = m.retire()
        if rec.word is None:
            assert rec.fault == Fault.PC_RANGE
            continue
        legal = decode(rec.word).legal
        assert (rec.fault == Fault.ILLEGAL_SIW) == (not legal), (hex(rec.word), rec.fault)
        if rec.fault != Fault.NONE:
            tally(f"fault {rec.fault.name}")
            assert m.fault == rec.fault and m.fault_pc == rec.pc and not m.running
    state = m.state()
    assert len(state.regs) == 32 and all(0 <= r < 1 << 32 for r in state.regs)


MACHINE_INPUTS = (st.lists(siw_words(), min_size=1, max_size=8),
                  st.lists(st.integers(0, (1 << 32) - 1), min_size=32, max_size=32))


@fast(300)
@given(*MACHINE_INPUTS)
def test_machine_faults_exactly_on_illegal_words(words, regs):
    check_machine(words, regs)


@slow(5000)
@given(*MACHINE_INPUTS)
def test_machine_fuzz_long(words, regs):
    check_machine(words, regs)


# ============================================================================ program files

def _vhex_bases():
    return [format_hex(assemble(src, "ex.vasm").words, "ex.vasm") for src in EXAMPLE_SOURCES]


VHEX_BASES = _vhex_bases()
VHEX_TOKENS = ["0" * 16, "F" * 16, "f" * 15, "0" * 17, "g" * 16, "0x" + "0" * 14, "٠" * 16, "１" * 16,
               HEX_HEADER, "# vtpu-hex 2", "#", " ", "\t", "\n", "\r\n", "\r", "\x00", "\x0c", "\u2028",
               "\n" + "0" * 16, "0" * 16 + " 0" * 16, HUGE_DECIMAL, "é"]


def check_vhex(text, filename="fuzz.vhex"):
    try:
        with time_limit("read_hex"):
            loaded = read_hex(text, filename)
    except ProgramFileError as e:
        check_asm_error(e, text, filename, ProgramFileError)
        tally("ProgramFileError")
        return
    tally("read")
    lines = source_lines(text)
    assert lines[0].rstrip() == HEX_HEADER
    assert len(loaded.words) == len(loaded.lines) <= MAX_SIWS
    assert loaded.lines == sorted(set(loaded.lines))
    for word, lineno in zip(loaded.words, loaded.lines):
        assert 0 <= word < 1 << 64
        assert lines[lineno - 1].split("#", 1)[0].strip().lower() == f"{word:016x}"


VHEX_INPUTS = st.one_of(
    st.text(max_size=200),
    st.text(max_size=200).map(lambda t: HEX_HEADER + "\n" + t),
    mutated(VHEX_BASES, VHEX_TOKENS),
    st.integers(1000, 1100).map(lambda n: HEX_HEADER + "\n" + "0000000000000000\n" * n),
)


@fast(300)
@given(VHEX_INPUTS)
def test_vhex_reader_gives_words_or_error_at_a_line(text):
    check_vhex(text)


@slow(5000)
@given(VHEX_INPUTS)
def test_vhex_reader_fuzz_long(text):
    check_vhex(text)


def check_program_file(data, suffix):
    """Any bytes in a file: a program, or an error that names the file (and a line in it)."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "prog" + suffix)
        with open(path, "wb") as f:
            f.write(data)
        try:
            with time_limit("load_program_file"):
                loaded = load_program_file(path)
        except AsmError as e:   # ProgramFileError is an AsmError
            assert e.file == path and str(e).startswith(path + ":")
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                assert type(e) is ProgramFileError and "UTF-8" in e.cause
                assert 1 <= e.line <= data.count(b"\n") + 1
                return
            check_asm_error(e, text, path, ProgramFileError if type(e) is ProgramFileError else AsmError)
            tally(type(e).__name__)
            return
    tally(f"loaded {loaded.kind}")
    assert all(decode(w).legal for w in loaded.words) or loaded.kind == "vhex"
    assert len(loaded.words) == len(loaded.lines) <= MAX_SIWS


PROGRAM_BYTES = st.one_of(
    st.binary(max_size=300),
    mutated(EXAMPLE_SOURCES + VHEX_BASES, NASTY_TOKENS + VHEX_TOKENS).map(
        lambda t: t.encode("utf-8", "surrogatepass")),
    st.tuples(mutated(EXAMPLE_SOURCES), st.binary(min_size=1, max_size=4), st.integers(0, 2000)).map(
        lambda t: t[0].encode()[:t[2]] + t[1] + t[0].encode()[t[2]:]),
)


@fast(150)
@given(PROGRAM_BYTES, st.sampled_from([".vhex", ".vasm", ".txt"]))
def test_program_file_loader_gives_program_or_named_error(data, suffix):
    check_program_file(data, suffix)


@slow(3000)
@given(PROGRAM_BYTES, st.sampled_from([".vhex", ".vasm", ".txt"]))
def test_program_file_loader_fuzz_long(data, suffix):
    check_program_file(data, suffix)


def test_program_file_missing_or_directory(tmp_path):
    for path in (tmp_path / "absent.vasm", tmp_path):
        with pytest.raises(ProgramFileError) as info:
            load_program_file(path)
        assert str(info.value).startswith(f"{path}: error: cannot read")


# ============================================================================ coordinates

def check_coord(text, dim_bits):
    try:
        with time_limit("parse_coord"):
            c = parse_coord(text, dim_bits)
    except CoordError as e:
        assert type(e) is CoordError and str(e)
        tally("CoordError")
        return
    tally("parsed")
    assert isinstance(c, Coord) and len(c) == 9
    assert all(0 <= v < 1 << dim_bits for v in c)
    assert parse_coord(format_coord(c), dim_bits) == c


COORD_BASES = ["0.0.0/0.0.0/0.0.0", "1.2.3/4.5.6/7.8.9", "2047.2047.2047/2047.2047.2047/2047.2047.2047",
               " 65535.0.0/0.0.0/0.0.1 "]
COORD_INPUTS = st.one_of(
    st.text(max_size=60),
    st.tuples(st.lists(st.integers(0, 70000) | st.integers(0, 9), min_size=9, max_size=9),
              st.sampled_from(["", " ", "\t", "\n"])).map(lambda t: t[1] + format_coord(t[0]) + t[1]),
    st.text("0123456789./ ", max_size=60),
    mutated(COORD_BASES, ["0", "9", HUGE_DECIMAL, ".", "/", " ", "-1", "+1", "٣", "１", "\n", "\x00",
                          "0" * 5000 + "1", "٠" * 5000, "65536"]),
)


@fast(500)
@given(COORD_INPUTS, st.integers(1, 16))
def test_parse_coord_gives_coord_or_coord_error(text, dim_bits):
    check_coord(text, dim_bits)


@slow(20000)
@given(COORD_INPUTS, st.integers(1, 16))
def test_parse_coord_fuzz_long(text, dim_bits):
    check_coord(text, dim_bits)


# ============================================================================ memory images
# tests/test_image.py mutates a valid image; here: arbitrary bytes, bytes made of the
# format's own pieces, and well-checksummed scrolls carrying absurd numbers.

PHEXT_BREAKS = bytes([0x01, 0x1F, 0x1E, 0x1D, 0x1C, 0x1A, 0x19, 0x18, 0x17])


def _crc_line(body):
    return body + f"crc32=0x{zlib.crc32(body.encode('ascii')):08X}\n"


def trailer_bytes(version, dim_bits, set_bits, ways, count, entries_crc):
    body = (f"vtpu-image {version}\ndim_bits={dim_bits}\nset_bits={set_bits}\nways={ways}\n"
            f"entries={count}\nentries_crc32=0x{entries_crc:08X}\n")
    return _crc_line(body).encode("ascii")


def entry_bytes(seq, coord_text, value, f32_text):
    body = f"seq={seq} coord={coord_text} value=0x{value:08X} f32={f32_text}"
    return f"{body} crc32=0x{zlib.crc32(body.encode('ascii')):08X}\n".encode("ascii")


NUM9 = st.one_of(st.integers(0, 20), st.integers(0, 999_999_999))


@st.composite
def crafted_images(draw):
    """Scrolls whose own CRCs check but whose numbers are absurd, at random phext positions."""
    parts = []
    for _ in range(draw(st.integers(0, 3))):
        coord_text = draw(st.text("0123456789./", min_size=17, max_size=53) |
                          st.lists(st.integers(0, 99999), min_size=9, max_size=9).map(format_coord))
        parts.append(entry_bytes(draw(st.integers(0, 9_999_999_999)), coord_text,
                                 draw(st.integers(0, 0xFFFFFFFF)),
                                 draw(st.text(st.characters(min_codepoint=33, max_codepoint=126),
                                              min_size=1, max_size=20))))
        parts.append(bytes(draw(st.lists(st.sampled_from(list(PHEXT_BREAKS)), min_size=1, max_size=3))))
    parts.append(trailer_bytes(draw(st.integers(0, 999_999_999) | st.just(1)), draw(NUM9), draw(NUM9),
                               draw(NUM9), draw(NUM9), draw(st.integers(0, 0xFFFFFFFF))))
    if draw(st.booleans()):
        parts.append(bytes([draw(st.sampled_from(list(PHEXT_BREAKS)))]) * draw(st.integers(1, 70000)))
    return b"".join(parts)


def _image_pieces():
    pieces = [b"seq=", b"seq=0 ", b"coord=", b"value=0x", b"f32=", b"crc32=0x", b"vtpu-image 1\n",
              b"dim_bits=", b"set_bits=", b"ways=", b"entries=", b"entries_crc32=0x", b"\n",
              b"0", b"9" * 9, b"9" * 5000, b"DEADBEEF", b".", b"/", b" "]
    return st.lists(st.sampled_from(pieces) | st.sampled_from([bytes([b]) for b in PHEXT_BREAKS]) |
                    st.binary(max_size=3), max_size=40).map(b"".join)


IMAGE_INPUTS = st.one_of(st.binary(max_size=400), _image_pieces(), crafted_images())


def check_image(data):
    try:
        with time_limit("decode_image"):
            image = decode_image(data, "fuzz.phext")
    except ImageError as e:
        assert type(e) is ImageError
        assert str(e).startswith("fuzz.phext: ")
        assert e.offset is None or 0 <= e.offset <= len(data)
        tally(f"ImageError: {re.sub(r'[0-9]+', 'N', e.cause).split(':')[0][:32]}")
        return
    # Accepted: then it is a sound image, and writing it out reads back the same memory.
    again = decode_image(encode_image(list(image.entries), dim_bits=image.dim_bits,
                                      set_bits=image.set_bits, ways=image.ways))
    assert again.entries == image.entries


def test_image_edge_inputs():
    for data in (b"", bytes(PHEXT_BREAKS), b"\x17" * 70000, b"\x01" * 65538, b"\x00" * 1000,
                 trailer_bytes(1, 999_999_999, 999_999_999, 999_999_999, 999_999_999, 0),
                 trailer_bytes(1, 16, 30, 255, 0, 0), trailer_bytes(1, 0, 0, 0, 0, 0),
                 entry_bytes(0, "99999.99999.99999/99999.99999.99999/99999.99999.99999", 0, "0")
                 + b"\x17" + trailer_bytes(1, 16, 0, 1, 1, 0)):
        check_image(data)


@fast(300)
@given(IMAGE_INPUTS)
def test_image_reader_on_arbitrary_bytes(data):
    check_image(data)


@slow(5000)
@given(IMAGE_INPUTS)
def test_image_reader_fuzz_long(data):
    check_image(data)


# ============================================================================ host driver replies
# sim/host/link.py and sim/host/frames.py decode the board's replies.  A board (or a
# line) that sends anything at all must make a driver call return or raise one of its
# LinkErrors, never crash and never wait forever.  The fake transport answers each request with bytes Hypothesis
# draws: noise, or a frame with a good CRC and any status and payload.

from sim.host import link as host_driver              # noqa: E402  (section-local import)
from sim.host.errors import LinkError                 # noqa: E402
from sim.isa.protocol import REPLY_LEN, SYNC_REPLY, Cmd, Status  # noqa: E402


def crc16_ccitt(data, crc=0xFFFF):
    """CRC-16/CCITT-FALSE from its definition (independent of sim/host/frames.py's)."""
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def reply_frame(seq, cmd, status, payload):
    body = bytes([len(payload) & 0xFF, seq, cmd, status]) + payload
    return bytes([SYNC_REPLY]) + body + crc16_ccitt(body).to_bytes(2, "big")


@st.composite
def board_replies(draw, seq, cmd):
    """What comes back for one request: noise, a well-checksummed reply (right or wrong
    seq/cmd, any status, a payload of the right or a wrong length), or both."""
    good_len = REPLY_LEN.get(cmd, 0) if cmd in Cmd._value2member_map_ else 0
    status = draw(st.sampled_from([int(s) for s in Status]) | st.integers(0, 255) | st.just(0))
    payload = draw(st.binary(min_size=good_len, max_size=good_len) |
                   st.binary(max_size=40) |
                   st.lists(st.integers(0, 3) | st.integers(0, 20), min_size=good_len,
                            max_size=good_len).map(bytes) |            # plausible small fields
                   st.just(bytes(good_len)) | st.just(b"\xff" * good_len))
    frame = reply_frame(draw(st.just(seq) | st.integers(0, 255)), draw(st.just(cmd) | st.integers(0, 255)),
                        status, payload)
    kind = draw(st.sampled_from(["frame", "frame", "frame", "noise", "noise+frame", "nothing", "flip"]))
    if kind == "frame":
        return frame
    if kind == "noise":
        return draw(st.binary(max_size=80))
    if kind == "noise+frame":
        return draw(st.binary(max_size=10)) + frame
    if kind == "flip":
        i = draw(st.integers(0, len(frame) - 1))
        return frame[:i] + bytes([frame[i] ^ draw(st.integers(1, 255))]) + frame[i + 1:]
    return b""


class FuzzTransport:
    """A transport (see sim/host/transport.py) whose board is Hypothesis; time is simulated."""
    byte_time = 1e-4
    latency = 1e-3
    resync_time = 1e-3

    def __init__(self, data):
        self.data = data
        self.t = 0.0
        self.inbox = bytearray()
        self.writes = 0

    def now(self):
        return self.t

    def write(self, frame):
        self.writes += 1
        assert self.writes <= 500, "the driver keeps sending: unbounded retries"
        assert frame[0] == 0xA5 and crc16_ccitt(frame[1:]) == 0, "driver sent a bad frame"
        self.inbox += self.data.draw(board_replies(frame[2], frame[3]), label="reply")

    def read(self, n, timeout):
        got = bytes(self.inbox[:n])
        del self.inbox[:n]
        self.t += timeout if len(got) < n else n * self.byte_time
        return got

    def discard_input(self, quiet):
        self.inbox.clear()
        self.t += quiet


DRIVER_CALLS = {
    "config": lambda link: link.config(),
    "status": lambda link: link.status(),
    "read_reg": lambda link: link.read_reg(3),
    "read_prog": lambda link: link.read_prog(1),
    "read_creg": lambda link: link.read_creg(2),
    "mem_read": lambda link: link.mem_read((0,) * 9),
    "mem_write": lambda link: link.mem_write((1,) * 9, 5),
    "slot_read": lambda link: link.slot_read(0),
    "dump": lambda link: link.dump(),
    "halt": lambda link: link.halt(),
    "load_program": lambda link: link.load_program([1, 2], verify=True),
}


def check_driver(data, names):
    link = host_driver.HostLink(FuzzTransport(data), retries=2)
    link._seq = data.draw(st.integers(0, 255), label="first seq")   # not os.urandom: replayable
    for name in names:
        try:
            with time_limit(f"HostLink.{name}"):
                DRIVER_CALLS[name](link)
        except LinkError as e:
            assert str(e)
            tally(f"{name}: {type(e).__name__}")
        else:
            tally(f"{name}: ok")


DRIVER_INPUTS = (st.data(), st.lists(st.sampled_from(sorted(DRIVER_CALLS)), min_size=1, max_size=4))

@settings(max_examples=300, **FAST)
@given(*DRIVER_INPUTS)
def test_host_driver_survives_any_reply(data, names):
    check_driver(data, names)


@pytest.mark.slow
@settings(max_examples=5000, **FAST)
@given(*DRIVER_INPUTS)
def test_host_driver_fuzz_long(data, names):
    check_driver(data, names)


class ScriptTransport(FuzzTransport):
    """Answers every request OK (echoing SEQ and CMD) with a fixed payload per command."""

    def __init__(self, payloads):
        super().__init__(None)
        self.payloads = payloads

    def write(self, frame):
        cmd = Cmd(frame[3])
        self.inbox += reply_frame(frame[2], frame[3], Status.OK, self.payloads[cmd])


GOOD_CONFIG = bytes([1, 4, 2, 2, 0, 64, 4])   # version 1, dim_bits 4, set_bits 2, ways 2, 64 SIWs, F=4


def test_host_driver_status_with_undefined_fault_code():
    link = host_driver.HostLink(ScriptTransport({Cmd.STATUS: bytes([0, 99]) + bytes(24)}))
    with pytest.raises(LinkError):
        link.status()


def test_host_driver_config_with_impossible_parameters():
    link = host_driver.HostLink(ScriptTransport({Cmd.CONFIG: bytes([1, 0, 2, 2, 0, 64, 4])}))
    with pytest.raises(LinkError):
        link.config()


def test_host_driver_coordinate_beyond_dim_bits():
    link = host_driver.HostLink(ScriptTransport({Cmd.CONFIG: GOOD_CONFIG,
                                                 Cmd.READ_CREG: b"\xff" * 18}))
    with pytest.raises(LinkError):
        link.read_creg(0)


# ============================================================================ the board's frame parser
# hdl/host_link.py against the fake core of tests/support/fake_core.py.  tests/test_host_link.py
# checks each named rejection; here a random stream mixes good frames, damaged ones,
# noise, idle gaps and UART framing errors, and the link must (a) send only complete,
# well-formed reply frames, at most one per SYNC byte received, with an OK reply's
# length that of its command and an error reply empty, and (b) afterwards still
# serve a good request correctly.

from sim.isa.protocol import MAX_PAYLOAD, REQUEST_LEN, SYNC_REQUEST  # noqa: E402

LINK_CONFIG = CoreConfig(dim_bits=11, set_bits=2, ways=2, prog_depth=64, float_latency=4)
LINK_TIMEOUT = 60      # clock cycles of idle line that end a frame


def request_frame(cmd, payload, seq, length=None):
    body = bytes([len(payload) if length is None else length, seq, cmd]) + bytes(payload)
    return bytes([SYNC_REQUEST]) + body + crc16_ccitt(body).to_bytes(2, "big")


@st.composite
def link_chunks(draw):
    """One piece of a byte stream to the board, as (bytes, gap cycles after each byte,
    idle cycles after the piece, whether a UART framing error comes in its middle)."""
    seq = draw(st.integers(0, 255))
    cmd = draw(st.sampled_from([int(c) for c in Cmd if c not in (Cmd.RUN,)]) | st.integers(0, 255))
    n = REQUEST_LEN.get(cmd, draw(st.integers(0, MAX_PAYLOAD))) if cmd in Cmd._value2member_map_ \
        else draw(st.integers(0, MAX_PAYLOAD))
    payload = draw(st.binary(min_size=n, max_size=n) | st.just(bytes(n)))
    good = request_frame(cmd, payload, seq)
    kind = draw(st.sampled_from(["good", "good", "flip", "truncate", "noise", "overlong", "badlen", "sync"]))
    if kind == "flip":
        i = draw(st.integers(1, len(good) - 1))
        data = good[:i] + bytes([good[i] ^ draw(st.integers(1, 255))]) + good[i + 1:]
    elif kind == "truncate":
        data = good[:draw(st.integers(1, len(good) - 1))]
    elif kind == "noise":
        data = draw(st.binary(min_size=1, max_size=30))
    elif kind == "overlong":
        data = bytes([SYNC_REQUEST, draw(st.integers(MAX_PAYLOAD + 1, 255))]) + draw(st.binary(max_size=6))
    elif kind == "badlen":
        data = request_frame(cmd, payload + b"\x00", seq)
    elif kind == "sync":
        data = bytes([SYNC_REQUEST]) * draw(st.integers(1, 3))
    else:
        data = good
    gap = draw(st.sampled_from([0, 1, 3]))
    idle = draw(st.sampled_from([0, 5, LINK_TIMEOUT + 5]))
    framing = draw(st.integers(0, 9)) == 0
    return data, gap, idle, framing


def parse_replies(data):
    """Split the link's output into reply frames; assert each is complete and checks."""
    frames = []
    while data:
        assert data[0] == SYNC_REPLY, f"reply does not start with SYNC: {bytes(data).hex()}"
        assert len(data) >= 7 and len(data) >= 7 + data[1], f"incomplete reply {bytes(data).hex()}"
        frame, data = bytes(data[:7 + data[1]]), data[7 + data[1]:]
        assert crc16_ccitt(frame[1:]) == 0, f"reply CRC does not check: {frame.hex()}"
        frames.append(frame)
    return frames


def check_link_stream(chunks):
    from amaranth.hdl import Module
    from amaranth.lib import wiring
    from amaranth.sim import Simulator

    from support.fake_core import DebugPortStub, FakeCore
    from hdl.host_link import HostLink

    link = HostLink(LINK_CONFIG, LINK_TIMEOUT)
    stub = DebugPortStub(LINK_CONFIG)
    fake = FakeCore(LINK_CONFIG, stub.debug, run_cycles=30)
    m = Module()
    m.submodules.link = link
    m.submodules.stub = stub
    wiring.connect(m, link.debug, stub.debug)
    out = []
    probe_value = 0x5EED_0000 | len(chunks)

    async def collect(ctx):
        ctx.set(link.tx.ready, 1)
        while True:
            if ctx.get(link.tx.valid):
                out.append(ctx.get(link.tx.payload))
            await ctx.tick()

    async def send(ctx, data, gap, framing_at=None):
        for i, byte in enumerate(data):
            if i == framing_at:
                ctx.set(link.rx_error, 1)
                await ctx.tick()
                ctx.set(link.rx_error, 0)
            ctx.set(link.rx.payload, byte)
            ctx.set(link.rx.valid, 1)
            await ctx.tick()
            ctx.set(link.rx.valid, 0)
            for _ in range(gap):
                await ctx.tick()

    async def idle(ctx, cycles):
        for _ in range(cycles):
            await ctx.tick()

    async def bench(ctx):
        for data, gap, quiet, framing in chunks:
            await send(ctx, data, gap, len(data) // 2 if framing else None)
            await idle(ctx, quiet)
        await idle(ctx, 3 * LINK_TIMEOUT)          # every frame ended by its timeout
        # ... and every reply out: a READ_REGS reply alone takes over a thousand cycles.
        for _ in range(20_000):
            if not ctx.get(link.busy):
                break
            await ctx.tick()
        else:
            raise AssertionError("the link stayed busy for 20,000 cycles after the stream")
        await idle(ctx, 10)
        stream_out = list(out)
        out.clear()
        await send(ctx, request_frame(Cmd.HALT, b"", 0x71), 3)   # a RUN may be under way
        await idle(ctx, 300)
        await send(ctx, request_frame(Cmd.WRITE_REG, bytes([5]) + probe_value.to_bytes(4, "big"), 0x72), 3)
        await idle(ctx, 300)
        await send(ctx, request_frame(Cmd.READ_REG, bytes([5]), 0x73), 3)
        await idle(ctx, 300)
        results["stream"], results["probe"] = stream_out, list(out)

    results = {}
    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(fake.process, background=True)
    sim.add_testbench(collect, background=True)
    sim.add_testbench(bench)
    with time_limit("host link simulation", 120):
        sim.run()

    replies = parse_replies(results["stream"])
    syncs = sum(data.count(SYNC_REQUEST) for data, _, _, _ in chunks)
    assert len(replies) <= syncs, "a reply without a request frame"
    for r in replies:
        length, seq, cmd, status = r[1], r[2], r[3], r[4]
        assert status in Status._value2member_map_, f"undefined status in {r.hex()}"
        if status == Status.OK:
            assert cmd in Cmd._value2member_map_ and length == REPLY_LEN[Cmd(cmd)], r.hex()
        else:
            assert length == 0, r.hex()
        tally(f"reply {Status(status).name}")
    probe = parse_replies(results["probe"])
    assert [p[2:5] for p in probe] == [bytes([0x71, Cmd.HALT, Status.OK]),
                                       bytes([0x72, Cmd.WRITE_REG, Status.OK]),
                                       bytes([0x73, Cmd.READ_REG, Status.OK])], [p.hex() for p in probe]
    assert probe[2][5:9] == probe_value.to_bytes(4, "big") and fake.regs[5] == probe_value


LINK_STREAMS = st.lists(link_chunks(), min_size=1, max_size=8)


@fast(8)
@given(LINK_STREAMS)
def test_host_link_hardware_answers_any_stream_and_recovers(chunks):
    check_link_stream(chunks)


@slow(150)
@given(LINK_STREAMS)
def test_host_link_hardware_fuzz_long(chunks):
    check_link_stream(chunks)
