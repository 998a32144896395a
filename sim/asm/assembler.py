"""Assembler: Sentron assembly text to 64-bit SIWs (docs/isa.md section 8).

Two passes.  The first reads every line into SIWs whose branch targets may still
be label names, and so fixes every label's address (a pseudo-instruction's length
depends only on its own operands).  The second resolves the targets and encodes.
Errors are collected rather than stopping at the first, each with its file, line,
column and cause, because a programmer fixing a file wants the whole list.
"""

import re
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from sim.isa.coord import CoordError, dim_index, parse_coord
from sim.isa.encoding import PC_BITS, SIW_BITS, COp, DOp
from sim.golden.fp32 import CANONICAL_NAN, NEG_INF, POS_INF, round_scaled_int
from sim.isa.syntax import (source_lines, DIRECTIVES, LANE_FIELDS, LANE_SLOTS, LANES, MAX_MINTRIP,
                            MNEMONICS, OPERAND_HELP, PSEUDOS, SYNTAX, USAGE, written_register)

__all__ = ["AsmError", "Program", "ListingLine", "Directive", "assemble", "assemble_file",
           "format_listing", "encode_siw", "parse_float_bits", "MAX_SIWS"]

#: A program holds at most this many SIWs (program memory of 2**PC_BITS words).
MAX_SIWS = 1 << PC_BITS


class AsmError(ValueError):
    """An error in assembly source: ``file:line:col: error: cause``.

    ``line`` and ``column`` count from 1.  When :func:`assemble` finds several
    errors it raises the first, with all of them (itself first) in ``errors``.
    """

    def __init__(self, file, line, column, cause):
        self.file = file
        self.line = line
        self.column = column
        self.cause = cause
        self.errors = [self]
        super().__init__(str(self))

    def __str__(self):
        return f"{self.file}:{self.line}:{self.column}: error: {self.cause}"


@dataclass
class ListingLine:
    """One source line and what it produced: ``words`` from ``address`` on (maybe none).

    ``expansion`` is True for a pseudo-instruction, whose several SIWs the listing
    shows one by one.
    """
    line: int
    text: str
    address: int
    words: list = field(default_factory=list)
    expansion: bool = False


@dataclass(frozen=True)
class Directive:
    """A directive line (docs/isa.md section 8): ``name`` without its dot, ``value`` its
    checked operands (``scratch``: a sorted tuple of register numbers; ``mintrip``: an
    int), ``address`` the address of the next SIW."""
    line: int
    column: int
    name: str
    value: object
    address: int


@dataclass
class Program:
    """An assembled program: its SIWs from address 0, its labels, its listing and its
    directives (which make no SIW)."""
    words: list
    labels: dict
    listing: list
    filename: str = "<input>"
    directives: list = field(default_factory=list)
    #: address -> branch target of every LOOP and JUMP to a label (the full address, also
    #: where ``assemble(..., max_siws=None)`` let it pass the 10-bit field)
    targets: dict = field(default_factory=dict)


class _LineError(Exception):
    """Internal: an error at a column of the line being read."""

    def __init__(self, column, cause):
        self.column = column
        self.cause = cause


# ---------------------------------------------------------------------------- encoding

def encode_siw(slots):
    """Encode ``{lane: (op, {field: value})}`` (missing lanes are NOPs) into a 64-bit word."""
    word = 0
    for lane, (op, fields) in slots.items():
        f = LANE_FIELDS[lane]
        bits = f["op"].put(int(op))
        for name, value in fields.items():
            bits |= f[name].put(value)
        word |= LANE_SLOTS[lane].put(bits)
    assert 0 <= word < 1 << SIW_BITS
    return word


# ---------------------------------------------------------------------------- numbers

_INT_RE = re.compile(r"^(-)?(0[xX][0-9a-fA-F]+|0[bB][01]+|[0-9]+)$")
_FLOAT_RE = re.compile(r"^([-+])?((?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|inf|nan)$",
                       re.IGNORECASE)


#: More significant digits than any operand needs (the widest, LI32's 0b form, has 32): a
#: longer number is out of range whatever its digits, and is refused before int(), which
#: Python refuses above 4300 decimal digits (as it refuses to print such a value).
_MAX_DIGITS = 40


def _number(digits, base=10):
    """``int(digits, base)``, or None if it has more than _MAX_DIGITS significant digits.
    Leading zeros are dropped first: int() counts them towards its limit too."""
    digits = digits.lstrip("0") or "0"
    return int(digits, base) if len(digits) <= _MAX_DIGITS else None


def _parse_int(text, column):
    m = _INT_RE.match(text)
    if not m:
        raise _LineError(column, f"'{text}' is not a number (decimal, 0x hex or 0b binary)")
    digits = m.group(2)
    value = _number(digits) if digits.isdigit() else _number(digits[2:], 16 if digits[1] in "xX" else 2)
    if value is None:
        raise _LineError(column, f"number out of range: more than {_MAX_DIGITS} significant digits")
    return -value if m.group(1) else value


def parse_float_bits(text):
    """Binary32 bits of a decimal float literal, ``inf``, ``-inf`` or ``nan``, rounded once
    to nearest even from the exact decimal value (so ``0.1`` gives 0x3DCCCCCD); None if
    ``text`` is not such a literal.  Too large gives infinity, as IEEE rounding does."""
    m = _FLOAT_RE.match(text)
    if not m:
        return None
    negative = m.group(1) == "-"
    body = m.group(2).lower()
    if body == "nan":
        return CANONICAL_NAN
    if body == "inf":
        return NEG_INF if negative else POS_INF
    # Decimal reads the literal exactly at any length and exponent (Fraction(body) would
    # refuse over 4300 digits, and compute 10**exponent for 1e999999999 forever).
    value = Decimal(body)
    if value == 0 or value.adjusted() < -46:      # below 1e-46 < 2**-150: rounds to zero
        return 0x8000_0000 if negative else 0
    if value.adjusted() > 38:                     # 1e39 and above: past the largest binary32
        return NEG_INF if negative else POS_INF
    value = Fraction(value)
    # Scale to an integer with plenty of bits beyond binary32's 24 (and beyond the
    # 2**-149 quantum), keep a sticky bit for what is left, and round once.
    k = max(0, 200 - (value.numerator.bit_length() - value.denominator.bit_length()))
    scaled = value * (1 << k)
    m_int = scaled.numerator // scaled.denominator
    sticky = 1 if m_int * scaled.denominator != scaled.numerator else 0
    return round_scaled_int(negative, (m_int << 1) | sticky, -k - 1)


# ---------------------------------------------------------------------------- operands

_REG_RE = re.compile(r"^[rR]([0-9]+)$")
_CREG_RE = re.compile(r"^[cC]([0-9]+)$")
_IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _reg(text, column):
    m = _REG_RE.match(text)
    if not m:
        raise _LineError(column, f"expected {OPERAND_HELP['reg']}, not '{text}'")
    n = _number(m.group(1))
    if n is None:
        raise _LineError(column, f"register {text[:12]}... out of range: data registers are r0..r31")
    if n > 31:
        raise _LineError(column, f"register r{n} out of range: data registers are r0..r31")
    return n


def _creg(text, column):
    m = _CREG_RE.match(text)
    if not m:
        raise _LineError(column, f"expected {OPERAND_HELP['creg']}, not '{text}'")
    n = _number(m.group(1))
    if n is None:
        raise _LineError(column, f"register {text[:12]}... out of range: coordinate registers are c0..c7")
    if n > 7:
        raise _LineError(column, f"register c{n} out of range: coordinate registers are c0..c7")
    return n


def _cdim(text, column):
    reg, dot, dim = text.partition(".")
    if not dot:
        raise _LineError(column, f"expected {OPERAND_HELP['cdim']}, not '{text}'")
    ck = _creg(reg.strip(), column)
    try:
        d = dim_index(dim.strip())
    except CoordError:
        raise _LineError(column + len(reg) + 1,
                         f"'{dim.strip()}' is not a dimension name; use lb sf sr cn vm bk ch sn sc "
                         f"or library shelf series collection volume book chapter section scroll")
    return ck, d


def _mem(text, column):
    if not (text.startswith("[") and text.endswith("]")):
        raise _LineError(column, f"expected {OPERAND_HELP['mem']}, not '{text}'")
    inner = text[1:-1]
    return _creg(inner.strip(), column + 1 + (len(inner) - len(inner.lstrip())))


def _imm(text, column, low, high, what):
    value = _parse_int(text, column)
    if not low <= value <= high:
        raise _LineError(column, f"immediate {value} out of range for {what}: {low}..{high}")
    return value


def _cond(text, column):
    left, lt, right = text.partition("<")
    if not lt:
        raise _LineError(column, f"expected {OPERAND_HELP['cond']}, not '{text}'")
    right_col = column + len(left) + 1 + (len(right) - len(right.lstrip()))
    ck, dim = _cdim(left.strip(), column)
    cj, dim2 = _cdim(right.strip(), right_col)
    return ck, dim, cj, dim2


def _target(text, column):
    """A label (resolved in pass two) or an absolute address."""
    if _IDENT_RE.match(text):
        return ("label", text, column)
    value = _parse_int(text, column)
    if not 0 <= value < MAX_SIWS:
        raise _LineError(column, f"target address {value} out of range 0..{MAX_SIWS - 1}")
    return value


def _operand(kind, text, column, mnemonic):
    if kind == "reg":
        return _reg(text, column)
    if kind == "creg":
        return _creg(text, column)
    if kind == "mem":
        return _mem(text, column)
    if kind == "cdim":
        return _cdim(text, column)
    if kind in ("imm16", "himm16"):
        return _imm(text, column, -32768, 65535, mnemonic) & 0xFFFF
    if kind == "uimm11":
        return _imm(text, column, 0, 2047, mnemonic)
    if kind == "simm12":
        return _imm(text, column, -2048, 2047, mnemonic) & 0xFFF
    if kind == "cond":
        return _cond(text, column)
    if kind == "target":
        return _target(text, column)
    raise AssertionError(kind)


# ---------------------------------------------------------------------------- lines

_ALLOWED = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.,[]|:</-+ \t")
_LABEL_RE = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*:")
_MNEMONIC_RE = re.compile(r"\s*([A-Za-z][A-Za-z0-9]*)")


def _split(text, sep, column):
    """Split ``text`` (starting at ``column``) at ``sep``: [(stripped piece, its column)]."""
    pieces = []
    start = 0
    while True:
        end = text.find(sep, start)
        piece = text[start:] if end < 0 else text[start:end]
        lead = len(piece) - len(piece.lstrip())
        if piece.strip():
            pieces.append((piece.strip(), column + start + lead))
        else:   # an empty piece is shown at the separator before it (or after, if first)
            pieces.append(("", column + (start - 1 if start else end)))
        if end < 0:
            return pieces
        start = end + 1


def _operands(text, column, mnemonic, count_help, expected, mnemonic_column):
    """The comma-separated operands of a slot, checking their number."""
    if not text.strip():
        found = []
    else:
        found = _split(text, ",", column)
        for piece, col in found:
            if not piece:
                raise _LineError(col, f"missing operand in {mnemonic}")
    if len(found) != expected:
        raise _LineError(mnemonic_column, f"{mnemonic} takes {expected} operand{'s' if expected != 1 else ''}"
                         f"{' (' + count_help + ')' if count_help else ''}, not {len(found)}")
    return found


def _slot(text, column):
    """One slot: (mnemonic, lane, op, {field: value}) or a pseudo ('PSEUDO', name, operands)."""
    m = _MNEMONIC_RE.match(text)
    if not m:
        raise _LineError(column, f"expected a mnemonic, not '{text}'")
    name = m.group(1)
    upper = name.upper()
    rest = text[m.end():]
    rest_col = column + m.end()
    if rest and not rest[0].isspace():
        raise _LineError(rest_col, f"unexpected '{rest[0]}' after mnemonic {name}")
    if upper == "NOP":
        _operands(rest, rest_col, "NOP", "", 0, column)
        return None
    if upper in PSEUDOS:
        return ("PSEUDO", upper, _operands(rest, rest_col, upper, USAGE[upper], 2, column))
    if upper not in MNEMONICS:
        raise _LineError(column, f"unknown mnemonic '{name}'")
    lane, op = MNEMONICS[upper]
    syntax = SYNTAX[(lane, op)]
    pieces = _operands(rest, rest_col, upper, USAGE[upper], len(syntax), column)
    fields = {}
    targets = []
    write_col = column
    for (kind, names), (piece, col) in zip(syntax, pieces):
        value = _operand(kind, piece, col, upper)
        if kind == "target" and isinstance(value, tuple):
            targets.append(value)
            value = 0
        if isinstance(names, tuple):
            fields.update(zip(names, value))
        else:
            fields[names] = value
        if names in ("rd", "reg"):
            write_col = col
    return (upper, lane, op, fields, targets, write_col)




def _expand_pseudo(name, operands):
    """The SIWs of a pseudo-instruction, as lists of slot dicts."""
    (a, acol), (b, bcol) = operands
    if name == "CLI":
        ck = _creg(a, acol)
        try:
            coord = parse_coord(b)
        except CoordError as e:
            raise _LineError(bcol, f"bad coordinate: {e}")
        siws = [{"C": (COp.CCLR, {"ck": ck})}]
        siws += [{"C": (COp.CSET, {"ck": ck, "dim": d, "imm11": v})}
                 for d, v in enumerate(coord) if v]
        return siws
    rd = _reg(a, acol)
    if name == "LI32":
        value = _imm(b, bcol, -(1 << 31), (1 << 32) - 1, "LI32")
    else:
        value = parse_float_bits(b)
        if value is None:
            raise _LineError(bcol, f"'{b}' is not a float literal (decimal, inf, -inf or nan)")
    value &= 0xFFFF_FFFF
    signed = value - (1 << 32) if value >= 1 << 31 else value
    lo = value & 0xFFFF
    siws = [{"D": (DOp.LI, {"rd": rd, "imm16": lo})}]
    if not -32768 <= signed <= 32767:
        siws.append({"D": (DOp.LIH, {"rd": rd, "imm16": value >> 16})})
    return siws


_DIRECTIVE_RE = re.compile(r"\.([A-Za-z][A-Za-z0-9_]*)")
_REG_RANGE_RE = re.compile(r"^([rR][0-9]+)\s*-\s*([rR][0-9]+)$")


def _directive(text, column):
    """A directive ``.name operands`` starting at ``column``: ('DIRECTIVE', name, value, column)."""
    m = _DIRECTIVE_RE.match(text)
    if not m:
        raise _LineError(column, f"expected a directive name after '.', e.g. "
                         f"{', '.join('.' + d for d in DIRECTIVES)}")
    name = m.group(1).lower()
    if name not in DIRECTIVES:
        raise _LineError(column, f"unknown directive '.{m.group(1)}' (directives: "
                         f"{', '.join('.' + d for d in DIRECTIVES)})")
    rest, rest_col = text[m.end():], column + m.end()
    if rest and not rest[0].isspace():
        raise _LineError(rest_col, f"unexpected '{rest[0]}' after directive .{name}")
    if not rest.strip():
        raise _LineError(column, f".{name} takes {DIRECTIVES[name]}")
    pieces = _split(rest, ",", rest_col)
    for piece, col in pieces:
        if not piece:
            raise _LineError(col, f"missing operand in .{name}")
    if name == "mintrip":
        if len(pieces) != 1:
            raise _LineError(column, f".mintrip takes one operand ({DIRECTIVES[name]}), "
                             f"not {len(pieces)}")
        piece, col = pieces[0]
        return ("DIRECTIVE", name, _imm(piece, col, 1, MAX_MINTRIP, ".mintrip"), column)
    regs = set()
    for piece, col in pieces:
        m = _REG_RANGE_RE.match(piece)
        if m is None:
            regs.add(_reg(piece, col))
            continue
        low = _reg(m.group(1), col)
        high = _reg(m.group(2), col + m.start(2))
        if low > high:
            raise _LineError(col, f"empty register range r{low}-r{high}: write the lower first")
        regs.update(range(low, high + 1))
    return ("DIRECTIVE", name, tuple(sorted(regs)), column)


def _check_writes(slots, cols):
    """Illegal-SIW rule 4: two lanes writing the same data register."""
    seen = {}
    for lane in LANES:
        if lane not in slots:
            continue
        op, fields = slots[lane]
        reg = written_register(lane, op, fields)
        if reg is None:
            continue
        if reg in seen:
            raise _LineError(cols[lane], f"{op.name} writes r{reg}, which {seen[reg]} in the same "
                             f"SIW also writes (illegal SIW)")
        seen[reg] = op.name


def _read_labels(code):
    """The labels at the start of a line: ([(name, col)], position after them).

    Read apart from the rest, so that a line with an error still defines its
    labels and one mistake does not cascade into "unknown label" errors.
    """
    labels = []
    pos = 0
    while True:
        m = _LABEL_RE.match(code, pos)
        if not m:
            return labels, pos
        labels.append((m.group(1), m.start(1) + 1))
        pos = m.end()


def _read_code(code, pos):
    """Parse a line's code after its labels: None | ('SIW', slots, targets) |
    ('PSEUDO', name, ops) | ('DIRECTIVE', name, value, column)."""
    for i, ch in enumerate(code):
        if ch not in _ALLOWED:
            raise _LineError(i + 1, f"unexpected character {ch!r}")
    rest = code[pos:]
    if ":" in rest:
        before = rest[:rest.index(":")]
        if before.strip() and len(before.split()) == 1:
            col = pos + len(before) - len(before.lstrip()) + 1
            raise _LineError(col, f"'{before.strip()}' is not a label name: a label is a letter or "
                             f"'_' followed by letters, digits or '_'")
        col = pos + rest.index(":") + 1
        raise _LineError(col, "':' must follow a label name at the start of a line")
    if not rest.strip():
        return None
    if rest.lstrip().startswith("."):
        return _directive(rest.strip(), pos + len(rest) - len(rest.lstrip()) + 1)
    pieces = _split(rest, "|", pos + 1)
    parsed = []
    for piece, col in pieces:
        if not piece:
            raise _LineError(col, "empty slot between '|'")
        parsed.append((_slot(piece, col), col))
    pseudos = [(p, col) for p, col in parsed if p is not None and p[0] == "PSEUDO"]
    if pseudos:
        if len(parsed) > 1:
            raise _LineError(pseudos[0][1], f"pseudo-instruction {pseudos[0][0][1]} must be alone "
                             f"on its line")
        return pseudos[0][0]
    slots, cols, targets = {}, {}, []
    for p, col in parsed:
        if p is None:
            continue
        upper, lane, op, fields, tgts, write_col = p
        if lane in slots:
            raise _LineError(col, f"two {lane}-lane operations in one SIW: {slots[lane][0].name} "
                             f"and {upper}")
        slots[lane] = (op, fields)
        cols[lane] = write_col
        targets += [(lane, t) for t in tgts]
    _check_writes(slots, cols)
    return ("SIW", slots, targets)


# ---------------------------------------------------------------------------- program

def assemble(text, filename="<input>", *, max_siws=MAX_SIWS):
    """Assemble source ``text``; return a :class:`Program` or raise :class:`AsmError`.

    The raised error is the first one in the file; ``error.errors`` holds them all.
    ``max_siws=None`` lifts the program-memory limit for the kernel compiler's input
    (sim/asm/serial.py): a serial program may be longer than the program memory, since
    it is packed before it runs. Its words then hold branch targets modulo
    ``2**PC_BITS``, so they are not a program to run; ``Program.targets`` holds the
    full addresses.
    """
    errors = []

    def error(line, column, cause):
        errors.append(AsmError(filename, line, column, cause))

    labels = {}            # name -> (address, line)
    listing = []
    directives = []
    pending = []           # (address, slots, targets, line)
    full_targets = {}      # address -> full branch target
    address = 0
    too_long_reported = False
    for lineno, line in enumerate(source_lines(text), 1):
        code = line.split("#", 1)[0]
        line_labels, pos = _read_labels(code)
        for name, col in line_labels:
            if name in labels:
                error(lineno, col, f"duplicate label '{name}' (first defined on line {labels[name][1]})")
            else:
                labels[name] = (address, lineno)
        try:
            item = _read_code(code, pos)
        except _LineError as e:
            error(lineno, e.column, e.cause)
            listing.append(ListingLine(lineno, line, address))
            continue
        siws = []
        if item is not None and item[0] == "SIW":
            siws = [(item[1], item[2])]
        elif item is not None and item[0] == "DIRECTIVE":
            directives.append(Directive(lineno, item[3], item[1], item[2], address))
            item = None
        elif item is not None:
            try:
                siws = [(s, []) for s in _expand_pseudo(item[1], item[2])]
            except _LineError as e:
                error(lineno, e.column, e.cause)
                siws = []
        entry = ListingLine(lineno, line, address, expansion=item is not None and item[0] == "PSEUDO")
        listing.append(entry)
        for slots, targets in siws:
            if max_siws is not None and address >= max_siws and not too_long_reported:
                error(lineno, _first_col(line), f"program longer than {max_siws} SIWs")
                too_long_reported = True
            pending.append((address, slots, targets, lineno, entry))
            address += 1

    words = []
    for address, slots, targets, lineno, entry in pending:
        for lane, (_, name, col) in targets:
            if name not in labels:
                near = [n for n in labels if n.lower() == name.lower()]
                hint = f" (labels are case-sensitive: did you mean '{near[0]}'?)" if near else ""
                error(lineno, col, f"unknown label '{name}'{hint}")
                continue
            target = labels[name][0]
            if target >= MAX_SIWS and max_siws is not None:
                error(lineno, col, f"label '{name}' is at address {target}, beyond the "
                      f"{PC_BITS}-bit target range 0..{MAX_SIWS - 1}")
                continue
            op, fields = slots[lane]
            full_targets[address] = target
            fields["target"] = target % MAX_SIWS
        word = encode_siw(slots)
        words.append(word)
        entry.words.append(word)
    if errors:
        errors.sort(key=lambda e: (e.line, e.column))
        first = errors[0]
        first.errors = errors
        raise first
    return Program(words, {name: a for name, (a, _) in labels.items()}, listing, filename,
                   directives, full_targets)


def _first_col(line):
    return len(line) - len(line.lstrip()) + 1


def assemble_file(path):
    """Assemble the file at ``path`` (errors name it as given)."""
    with open(path, encoding="utf-8") as f:
        return assemble(f.read(), str(path))


def format_listing(program):
    """A listing: each source line with the address and words it produced.

    A pseudo-instruction's line is followed by its expansion, one SIW per line in
    canonical form, so the reader sees exactly what runs.
    """
    from .disasm import disassemble
    out = [f"{'line':>5}  {'addr':>4}  {'word':16}  source"]
    for entry in program.listing:
        text = entry.text.rstrip()
        if not entry.words:
            out.append(f"{entry.line:5d}  {'':4}  {'':16}  {text}")
        elif not entry.expansion:
            out.append(f"{entry.line:5d}  {entry.address:04d}  {entry.words[0]:016x}  {text}")
        else:
            out.append(f"{entry.line:5d}  {'':4}  {'':16}  {text}")
            for i, word in enumerate(entry.words):
                out.append(f"{entry.line:5d}  {entry.address + i:04d}  {word:016x}      "
                           f"+ {disassemble(word)}")
    return "\n".join(out) + "\n"

