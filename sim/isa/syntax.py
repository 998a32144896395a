"""Assembly syntax of the Sentron ISA: which text stands for which operation and field.

The assembler reads it and the disassembler writes it, so the two cannot drift
apart: an operation's operands are listed here once, in the order the assembly
language writes them, each with the slot fields it fills (docs/isa.md section 3,
``sim/isa/encoding.py`` for the bit positions).  It also says which data register
a slot writes (:func:`written_register`), with which the assembler refuses
illegal-SIW rule 4 (two lanes writing the same data register) at the source
column; the disassembler takes its legality verdict from the golden decoder
(``sim/golden/decode.py``).
"""

import re

from .encoding import (C_FIELDS, C_OPERANDS, C_SLOT, D_FIELDS, D_OPERANDS, D_SLOT,
                       S_FIELDS, S_OPERANDS, S_SLOT, COp, DOp, SOp)

__all__ = ["source_lines", "LANES", "LANE_OPS", "LANE_FIELDS", "LANE_SLOTS", "LANE_OPERANDS",
           "MNEMONICS", "PSEUDOS", "DIRECTIVES", "MAX_MINTRIP", "SYNTAX", "OPERAND_HELP", "USAGE",
           "written_register"]

#: Lane names in slot order (D is the low slot, C the high one).
LANES = ("D", "S", "C")
LANE_OPS = {"D": DOp, "S": SOp, "C": COp}
LANE_FIELDS = {"D": D_FIELDS, "S": S_FIELDS, "C": C_FIELDS}
LANE_SLOTS = {"D": D_SLOT, "S": S_SLOT, "C": C_SLOT}
LANE_OPERANDS = {"D": D_OPERANDS, "S": S_OPERANDS, "C": C_OPERANDS}

#: Operand kinds, each with the slot fields it fills:
#:   ``reg``     a data register ``r0..r31``            -> one field
#:   ``creg``    a coordinate register ``c0..c7``       -> one field
#:   ``mem``     ``[ck]``                               -> one field
#:   ``cdim``    ``ck.dim``                             -> (ck field, dim field)
#:   ``imm16``   -32768..65535, stored as 16 bits       -> one field
#:   ``himm16``  as imm16, but written in hex: LIH's upper half-word
#:   ``uimm11``  0..2047                                -> one field
#:   ``simm12``  -2048..2047, two's complement          -> one field
#:   ``cond``    ``ck.dim < cj.dim2``                   -> (ck, dim, cj, dim2)
#:   ``target``  a label or an absolute address 0..1023 -> one field
_RRR = (("reg", "rd"), ("reg", "rs1"), ("reg", "rs2"))
_RR = (("reg", "rd"), ("reg", "rs1"))

#: (lane, opcode) -> operands in assembly order, as (kind, field or fields).
SYNTAX = {
    **{("D", op): _RRR for op, fields in D_OPERANDS.items() if fields == ("rd", "rs1", "rs2")},
    ("D", DOp.MOV): _RR,
    ("D", DOp.ITOF): _RR,
    ("D", DOp.FTOI): _RR,
    ("D", DOp.LI): (("reg", "rd"), ("imm16", "imm16")),
    ("D", DOp.LIH): (("reg", "rd"), ("himm16", "imm16")),
    ("S", SOp.GATHER): (("reg", "reg"), ("mem", "ck")),
    ("S", SOp.SCATTER): (("mem", "ck"), ("reg", "reg")),
    ("S", SOp.ERASE): (("mem", "ck"),),
    ("C", COp.CSET): (("cdim", ("ck", "dim")), ("uimm11", "imm11")),
    ("C", COp.CADD): (("cdim", ("ck", "dim")), ("simm12", "imm12")),
    ("C", COp.CMOV): (("creg", "ck"), ("creg", "cj")),
    ("C", COp.CCLR): (("creg", "ck"),),
    ("C", COp.CGET): (("reg", "reg"), ("cdim", ("ck", "dim"))),
    ("C", COp.CPUT): (("cdim", ("ck", "dim")), ("reg", "reg")),
    ("C", COp.KEY): (("reg", "reg"), ("creg", "ck")),
    ("C", COp.LOOP): (("cond", ("ck", "dim", "cj", "dim2")), ("target", "target")),
    ("C", COp.JUMP): (("target", "target"),),
    ("C", COp.HALT): (),
}

#: Mnemonic (upper case) -> (lane, opcode).  NOP is not here: it fills no lane.
MNEMONICS = {op.name: (lane, op) for lane in LANES for op in LANE_OPS[lane] if op.value != 0}

#: Pseudo-instructions (docs/isa.md section 8); each stands alone on its line.
PSEUDOS = ("LI32", "FLI", "CLI")

#: Directives (docs/isa.md section 8): a line ``.name operands`` that makes no SIW.  The
#: assembler checks and records them and otherwise ignores them; the kernel compiler
#: (``sim/asm/compiler.py``, docs/compiler.md) reads them.  Name -> its operands, as
#: error messages write them.
DIRECTIVES = {
    "scratch": "data registers, single or as ranges, e.g. r24-r31 or r20, r22-r23",
    "mintrip": "a count 1..65535",
}
#: The largest count ``.mintrip`` takes.
MAX_MINTRIP = 65535

#: How each operand kind is written, for error messages.
OPERAND_HELP = {
    "reg": "a data register r0..r31",
    "creg": "a coordinate register c0..c7",
    "mem": "a coordinate register in brackets, [c0]..[c7]",
    "cdim": "a coordinate register and dimension, e.g. c0.sc or c0.scroll",
    "imm16": "an immediate -32768..65535",
    "himm16": "an immediate -32768..65535",
    "uimm11": "an immediate 0..2047",
    "simm12": "an immediate -2048..2047",
    "cond": "a loop condition ck.dim < cj.dim, e.g. c0.sc < c1.sc",
    "target": "a label or an address 0..1023",
}


#: Mnemonic -> its operands as docs/isa.md writes them, for error messages.
USAGE = {
    **{op.name: "rd, rs1, rs2" for (lane, op), syn in SYNTAX.items() if syn == _RRR},
    "MOV": "rd, rs1", "ITOF": "rd, rs1", "FTOI": "rd, rs1", "LI": "rd, imm", "LIH": "rd, imm",
    "GATHER": "rd, [ck]", "SCATTER": "[ck], rs", "ERASE": "[ck]",
    "CSET": "ck.dim, imm", "CADD": "ck.dim, simm", "CMOV": "ck, cj", "CCLR": "ck",
    "CGET": "rd, ck.dim", "CPUT": "ck.dim, rs", "KEY": "rd, ck",
    "LOOP": "ck.dim < cj.dim, label", "JUMP": "label", "HALT": "",
    "LI32": "rd, imm32", "FLI": "rd, float", "CLI": "ck, lb.sf.sr/cn.vm.bk/ch.sn.sc",
}


def _check_tables():
    """Every defined operation has a syntax whose fields are exactly its encoded fields."""
    for lane in LANES:
        for op, fields in LANE_OPERANDS[lane].items():
            if op.value == 0:
                continue
            used = []
            for _, f in SYNTAX[(lane, op)]:
                used.extend(f if isinstance(f, tuple) else (f,))
            assert sorted(used) == sorted(fields), (lane, op, used, fields)
            assert op.name in USAGE, op


_check_tables()


def written_register(lane, op, fields):
    """The data register this slot writes, or None (docs/isa.md section 3, rule 4)."""
    if lane == "D":
        return fields["rd"] if op != DOp.NOP else None
    if lane == "S":
        return fields["reg"] if op == SOp.GATHER else None
    if op in (COp.CGET, COp.KEY):
        return fields["reg"]
    return None


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def source_lines(text):
    """Split source text into lines the way editors number them.

    Only CR LF, CR and LF end a line; ``str.splitlines`` would also break at form
    feeds and other separators, even inside comments, and shift every later line
    number in error messages.
    """
    lines = _LINE_BREAK.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines
