"""A serial program written from Python: one call per operation, text out.

Why: kernels (a matrix-vector product over so many rows, a softmax of so many
entries) are easier to generate than to type, but the compiler's contract stays
text in, text out (docs/compiler.md).  A :class:`SerialBuilder` only appends lines
of serial assembly, so what it makes can be printed, saved, assembled and compiled
like any hand-written serial program, and errors name the line of its text.

    k = SerialBuilder()
    k.scratch("r24-r31")
    k.CLI("c0", "1.0.0/0.0.0/0.0.0")
    k.label("dot")
    k.GATHER("r4", "[c0]")
    k.MAC("r10", "r4", "r5")
    k.LOOP("c1.sc < c7.sc", "dot")
    k.HALT()
    compiled = k.compile(CoreConfig())

Every mnemonic and pseudo-instruction is a method taking the operands in assembly
order (strings or numbers); :meth:`op` takes a whole line.
"""

import re

from sim.isa.syntax import DIRECTIVES, MNEMONICS, PSEUDOS

__all__ = ["SerialBuilder"]

_LABEL_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class SerialBuilder:
    """Appends the lines of a serial program; ``filename`` names it in errors and listings."""

    def __init__(self, filename="<builder>"):
        self.filename = filename
        self._lines = []

    def op(self, text):
        """Append one operation, written as assembly (e.g. ``"MAC r10, r4, r5"``)."""
        if "|" in text or "\n" in text:
            raise ValueError(f"one operation per line, not {text!r}")
        self._lines.append(f"    {text}")
        return self

    def label(self, name):
        """Append a label naming the next operation's address."""
        if not _LABEL_RE.match(name):
            raise ValueError(f"{name!r} is not a label name")
        self._lines.append(f"{name}:")
        return self

    def comment(self, text):
        self._lines.extend(f"# {line}" for line in str(text).splitlines() or [""])
        return self

    def scratch(self, registers):
        """Declare scratch registers, e.g. ``"r24-r31"`` (the ``.scratch`` directive)."""
        return self._directive("scratch", registers)

    def mintrip(self, count):
        """Promise that the next loop (its label follows) runs at least ``count`` times."""
        return self._directive("mintrip", count)

    def _directive(self, name, operands):
        assert name in DIRECTIVES
        self._lines.append(f"    .{name} {operands}")
        return self

    def __getattr__(self, name):
        upper = name.upper()
        if name == upper and (upper in MNEMONICS or upper in PSEUDOS or upper == "NOP"):
            return lambda *operands: self.op(f"{upper} {', '.join(str(x) for x in operands)}".strip())
        raise AttributeError(name)

    def text(self):
        """The program as serial assembly text."""
        return "\n".join(self._lines) + "\n"

    def compile(self, config=None, **options):
        """:func:`sim.asm.compiler.compile_serial` of :meth:`text`."""
        from .compiler import compile_serial
        return compile_serial(self.text(), config, self.filename, **options)
