"""A serial program read for the kernel compiler: operations in order, basic blocks, directives.

Why read it with the assembler: a serial program *is* a valid ``.vasm`` program (one
operation per line, docs/compiler.md), so assembling it gives exactly the meaning
it has when run one operation per SIW, pseudo-instructions expanded and labels
resolved, with the assembler's error messages.  Each SIW is then one operation
(:class:`sim.asm.ops.Op`) that knows its source line.

Blocks: a block starts at address 0, at every label, at every branch target and
after every LOOP, JUMP or HALT, which ends the block it is in.  NOP lines make no
operation.
"""

from dataclasses import dataclass, field

from sim.asm.assembler import AsmError, assemble
from sim.asm.disasm import decode_siw
from sim.isa.encoding import FLOAT_DOPS, COp

from .ops import Op

__all__ = ["CompileError", "Block", "SerialProgram", "read_serial"]


class CompileError(AsmError):
    """A serial program the compiler cannot take: ``file:line:col: error: cause``."""


@dataclass
class Block:
    """Operations from serial address ``start`` up to ``end`` (exclusive), the labels
    naming ``start``, and ``ops`` in serial order (a LOOP, JUMP or HALT only last)."""
    start: int
    end: int
    labels: list = field(default_factory=list)
    ops: list = field(default_factory=list)

    @property
    def terminator(self):
        """The LOOP, JUMP or HALT that ends the block, or None (it falls through)."""
        return self.ops[-1] if self.ops and self.ops[-1].is_control else None

    @property
    def falls_through(self):
        t = self.terminator
        return t is None or t.op == COp.LOOP


@dataclass
class SerialProgram:
    """A serial program: ``ops`` in order, ``blocks`` covering addresses 0..length (the
    last one may be empty, holding labels at the end), ``labels`` name -> serial
    address, ``scratch`` the registers declared free, ``mintrip`` LOOP op index ->
    guaranteed trip count, ``program`` the assembled serial program."""
    filename: str
    ops: list
    blocks: list
    labels: dict
    scratch: tuple
    mintrip: dict
    program: object

    @property
    def length(self):
        return len(self.program.words)

    def block_at(self, address):
        """The block starting at serial ``address`` (a branch target at or beyond the
        end is the empty last block)."""
        address = min(address, self.length)
        for block in self.blocks:
            if block.start == address:
                return block
        raise KeyError(address)


def _first_column(text):
    return len(text) - len(text.lstrip()) + 1


def read_serial(text, config, filename="<input>", scratch=()):
    """Read serial program ``text`` for a core ``config``; ``scratch`` adds registers
    to those the ``.scratch`` directives declare.  Raises :class:`CompileError`
    (or the assembler's AsmError) with the file, line and column of the problem."""
    for reg in scratch:
        if not isinstance(reg, int) or not 0 <= reg <= 31:
            raise ValueError(f"scratch registers are 0..31, not {reg!r}")
    program = assemble(text, filename, max_siws=None)   # packed, it may fit where it did not
    ops = []
    address_of = {}
    for entry in program.listing:
        for i, word in enumerate(entry.words):
            slots = [(lane, op, fields) for lane, (op, fields) in decode_siw(word).items()
                     if op.value]
            if len(slots) > 1:
                names = " and ".join(op.name for _, op, _ in slots)
                raise CompileError(filename, entry.line, _first_column(entry.text),
                                   f"a serial program has one operation per line; this line "
                                   f"has {len(slots)} ({names})")
            if not slots:
                continue
            lane, op, fields = slots[0]
            if lane == "D" and op in FLOAT_DOPS and not config.has_float:
                raise CompileError(filename, entry.line, _first_column(entry.text),
                                   f"{op.name} is a float operation and this core has no "
                                   f"float unit")
            address_of[len(ops)] = entry.address + i
            if entry.address + i in program.targets:
                fields["target"] = program.targets[entry.address + i]
            ops.append(Op(lane, op, fields, len(ops), entry.line, filename))
    declared = set(scratch)
    for d in program.directives:
        if d.name == "scratch":
            declared.update(d.value)
    for op in ops:
        used = [reg for _, reg in op.reads] + ([op.writes[1]] if op.writes else [])
        for reg in used:
            if reg in declared:
                raise CompileError(filename, op.line, 1,
                                   f"r{reg} is declared scratch, but this operation uses it "
                                   f"(the compiler may overwrite a scratch register)")
    mintrip = {}
    for d in program.directives:
        if d.name != "mintrip":
            continue
        # The loop whose label comes first at or after the directive.
        start = min((a for a in program.labels.values() if a >= d.address), default=None)
        loop = next((op for i, op in enumerate(ops)
                     if start is not None and address_of[i] >= start and op.lane == "C"
                     and op.op == COp.LOOP and op.target == start), None)
        if loop is None:
            raise CompileError(filename, d.line, d.column,
                               ".mintrip must come before the label of a loop (the label a "
                               "later LOOP branches back to)")
        if loop.index in mintrip:
            raise CompileError(filename, d.line, d.column,
                               f"a second .mintrip for the LOOP on line {loop.line}")
        mintrip[loop.index] = d.value
    blocks = _blocks(ops, address_of, program)
    return SerialProgram(filename, ops, blocks, dict(program.labels), tuple(sorted(declared)),
                         mintrip, program)


def _blocks(ops, address_of, program):
    length = len(program.words)
    starts = {0, length}
    starts.update(a for a in program.labels.values())
    for i, op in enumerate(ops):
        if op.is_control:
            starts.add(address_of[i] + 1)
            if op.target is not None:
                starts.add(min(op.target, length))
    starts = sorted(a for a in starts if a <= length)
    blocks = [Block(a, b) for a, b in zip(starts, starts[1:])] + [Block(length, length)]
    by_start = {b.start: b for b in blocks}
    for name, address in program.labels.items():
        by_start[address].labels.append(name)
    k = 0
    for i, op in enumerate(ops):
        while address_of[i] >= blocks[k].end:
            k += 1
        blocks[k].ops.append(op)
    return blocks
