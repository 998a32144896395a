"""Disassembler: 64-bit SIWs back to the assembly text that produces them.

The text is canonical (slots in D, S, C order, NOP slots left out, upper-case
mnemonics, short dimension names) and assembling it gives the same words: that is
what makes a program file reviewable.  An illegal SIW (docs/isa.md section 3) has
no assembly text at all, so it is an error naming the word and the rule it breaks,
never a guess.  Which words are illegal, and why, is the golden decoder's verdict
(``sim.golden.decode``), so the tools and the model cannot disagree; the
disassembler only words it its own way.
"""

from sim.golden.decode import decode
from sim.isa.encoding import DIM_SHORT, NDIMS, PC_BITS, SIW_BITS, COp
from sim.isa.syntax import LANE_FIELDS, LANE_OPERANDS, LANE_OPS, LANE_SLOTS, LANES, SYNTAX

__all__ = ["DisasmError", "decode_siw", "disassemble", "disassemble_program", "label_name",
           "format_slot"]


class DisasmError(ValueError):
    """A word that is not a legal SIW.

    ``index`` is the word's position in the program (None for a lone word),
    ``word`` the word, ``rule`` the illegal-SIW rule number (docs/isa.md section 3,
    0 for a value that is not a 64-bit word at all), ``cause`` the explanation;
    ``filename`` and ``line`` say where the word came from, when it came from a file.
    """

    def __init__(self, word, rule, cause, index=None, filename=None, line=None):
        self.word = word
        self.rule = rule
        self.cause = cause
        self.index = index
        self.filename = filename
        self.line = line
        super().__init__(str(self))

    def located(self, index=None, filename=None, line=None):
        """The same error, with its position in a program or file filled in."""
        return DisasmError(self.word, self.rule, self.cause,
                           self.index if index is None else index,
                           self.filename if filename is None else filename,
                           self.line if line is None else line)

    def __str__(self):
        where = ""
        if self.filename is not None:
            where = f"{self.filename}:{self.line}: " if self.line is not None else f"{self.filename}: "
        what = f"word {self.index}" if self.index is not None else "word"
        hexword = f"0x{self.word:016x}" if isinstance(self.word, int) and self.word >= 0 else repr(self.word)
        rule = f" (illegal SIW, rule {self.rule})" if self.rule else ""
        return f"{where}{what} {hexword}{rule}: {self.cause}"


def _cause(why):
    """The disassembler's sentence for the golden decoder's :class:`Illegality` ``why``."""
    if why.rule == 1:
        return f"{why.lane} opcode {why.op} is undefined"
    if why.rule == 2:
        return (f"{why.lane} lane {why.op.name} does not use bit{'s' if len(why.bits) > 1 else ''} "
                f"{', '.join(map(str, why.bits))} of the SIW, which must be zero")
    if why.rule == 3:
        return f"{why.lane} lane {why.op.name} has {why.field} = {why.value}, above {NDIMS - 1}"
    if why.rule == 4:
        first_lane, first_op = why.first
        return (f"{first_lane} lane {first_op.name} and {why.lane} lane {why.op.name} "
                f"both write r{why.register}")
    return str(why)      # rule 5 is for a core without a float unit, not for the ISA


def decode_siw(word):
    """Split a word into ``{lane: (op, {field: value})}``; raise :class:`DisasmError` if illegal.

    The verdict is the golden decoder's (the rules of docs/isa.md section 3, for the
    ISA's default core), so the error names the first rule the word breaks.
    """
    if not isinstance(word, int) or not 0 <= word < (1 << SIW_BITS):
        raise DisasmError(word, 0, f"not a {SIW_BITS}-bit word")
    why = decode(word).illegality
    if why is not None:
        raise DisasmError(word, why.rule, _cause(why))
    slots = {}
    for lane in LANES:
        raw = LANE_SLOTS[lane].get(word)
        fields = LANE_FIELDS[lane]
        op = LANE_OPS[lane](fields["op"].get(raw))
        slots[lane] = (op, {name: fields[name].get(raw) for name in LANE_OPERANDS[lane][op]})
    return slots


def label_name(address):
    """The label the disassembler gives a branch target."""
    return f"L{address:04d}"


def _format_operand(kind, value, target_text):
    if kind == "reg":
        return f"r{value}"
    if kind == "creg":
        return f"c{value}"
    if kind == "mem":
        return f"[c{value}]"
    if kind == "cdim":
        return f"c{value[0]}.{DIM_SHORT[value[1]]}"
    if kind == "imm16":
        return str(value - (1 << 16) if value >= 1 << 15 else value)
    if kind == "himm16":
        return f"0x{value:04x}"
    if kind == "uimm11":
        return str(value)
    if kind == "simm12":
        return str(value - (1 << 12) if value >= 1 << 11 else value)
    if kind == "cond":
        ck, dim, cj, dim2 = value
        return f"c{ck}.{DIM_SHORT[dim]} < c{cj}.{DIM_SHORT[dim2]}"
    if kind == "target":
        return target_text(value)
    raise AssertionError(kind)


def format_slot(lane, op, fields, target_text=str):
    """Assembly text of one decoded slot; ``target_text(address)`` writes branch targets."""
    parts = []
    for kind, names in SYNTAX[(lane, op)]:
        value = tuple(fields[n] for n in names) if isinstance(names, tuple) else fields[names]
        parts.append(_format_operand(kind, value, target_text))
    return op.name + (" " + ", ".join(parts) if parts else "")


def disassemble(word, target_text=str):
    """Canonical assembly text of one SIW (``NOP`` for three NOPs); branch targets as numbers
    unless ``target_text`` maps an address to a label."""
    slots = decode_siw(word)
    texts = [format_slot(lane, op, fields, target_text)
             for lane in LANES for op, fields in [slots[lane]] if op.value != 0]
    return " | ".join(texts) if texts else "NOP"


def disassemble_program(words, filename=None, lines=None):
    """Assembly text for a whole program, with a label ``Lnnnn:`` at every branch target.

    Targets inside the program (or just past its end) get labels; a target beyond
    that is written as an absolute address, which assembles to the same word.
    ``filename`` and ``lines`` (the file line of each word) locate errors.
    """
    decoded = []
    for index, word in enumerate(words):
        try:
            decoded.append(decode_siw(word))
        except DisasmError as e:
            raise e.located(index=index, filename=filename,
                            line=lines[index] if lines is not None else None) from None
    targets = set()
    for slots in decoded:
        op, fields = slots["C"]
        if op in (COp.LOOP, COp.JUMP):
            targets.add(fields["target"])
    labelled = {t for t in targets if t <= len(words)}

    def target_text(address):
        return label_name(address) if address in labelled else str(address)

    out = []
    for address, word in enumerate(words):
        if address in labelled:
            out.append(f"{label_name(address)}:")
        out.append("    " + disassemble(word, target_text))
    if len(words) in labelled:
        out.append(f"{label_name(len(words))}:")
    return "\n".join(out) + "\n"


assert (1 << PC_BITS) <= 10000, "label_name assumes at most four decimal digits"
