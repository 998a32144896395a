"""Program files: assembly source (``.vasm``) and assembled programs (``.vhex``).

The assembled form is text on purpose, so a program can be read, reviewed and
diffed like source: the ``vhex`` format.

    # vtpu-hex 1
    # any comment lines
    0000000000000030  # 0000  LI r1, 0
    000000a000000000  # 0001  HALT

* The first line is exactly ``# vtpu-hex 1`` (the format and its version).
* Each other line is blank, a ``#`` comment, or one SIW: exactly 16 hex digits
  (either case), optionally followed by blanks and a ``#`` comment.  The n-th
  SIW line is address n.  At most 1024 SIWs.
* ``vtpu asm -o`` writes each SIW's address and disassembly as its comment.

A file is read as ``vhex`` if its name ends in ``.vhex`` or its first line is the
header, and as assembly source otherwise.  Every error names file, line and column.
"""

import os
import re
from dataclasses import dataclass

from .assembler import MAX_SIWS, AsmError, assemble
from .disasm import disassemble
from sim.isa.syntax import source_lines

__all__ = ["HEX_HEADER", "HEX_SUFFIX", "ProgramFileError", "LoadedProgram", "read_hex",
           "format_hex", "load_program_file", "write_text_atomic"]

HEX_HEADER = "# vtpu-hex 1"
HEX_SUFFIX = ".vhex"

_WORD_RE = re.compile(r"^[0-9a-fA-F]{16}$")


class ProgramFileError(AsmError):
    """A malformed program file; like an assembly error it reads ``file:line:col: error: cause``
    (``file: error: cause`` when no line is concerned, e.g. a missing file)."""

    def __str__(self):
        if self.line is None:
            return f"{self.file}: error: {self.cause}"
        return super().__str__()


@dataclass
class LoadedProgram:
    """SIWs read from a file: ``lines[i]`` is the file line of word ``i``; ``program`` is
    the assembler's :class:`sim.asm.assembler.Program` when the file was source, else None."""
    filename: str
    words: list
    lines: list
    program: object = None
    kind: str = "vasm"


def read_hex(text, filename="<input>"):
    """Parse ``vhex`` text into a :class:`LoadedProgram`; raise :class:`ProgramFileError`."""
    lines = source_lines(text)
    if not lines or lines[0].rstrip() != HEX_HEADER:
        first = lines[0] if lines else ""
        raise ProgramFileError(filename, 1, 1, f"a vhex file starts with the line '{HEX_HEADER}', "
                               f"not {first[:40]!r}")
    words, where = [], []
    for lineno, line in enumerate(lines[1:], 2):
        code = line.split("#", 1)[0]
        token = code.strip()
        if not token:
            continue
        col = len(code) - len(code.lstrip()) + 1
        if not _WORD_RE.match(token):
            raise ProgramFileError(filename, lineno, col,
                                   f"expected one SIW as 16 hex digits, not {token[:40]!r}")
        if len(words) == MAX_SIWS:
            raise ProgramFileError(filename, lineno, col, f"program longer than {MAX_SIWS} SIWs")
        words.append(int(token, 16))
        where.append(lineno)
    return LoadedProgram(filename, words, where, None, "vhex")


def format_hex(words, source=None):
    """``vhex`` text for ``words``, each line commented with its address and disassembly.

    Illegal words (which have no disassembly) are still written, commented as such,
    so a file can carry any bit pattern a test needs.
    """
    out = [HEX_HEADER,
           "# Sentron program: one 64-bit SIW per line, address order from 0 (docs: sim/asm/progfile.py)."]
    if source:
        out.append(f"# assembled from {source}")
    for address, word in enumerate(words):
        try:
            text = disassemble(word)
        except ValueError as e:
            text = f"illegal: {e}"
        out.append(f"{word:016x}  # {address:04d}  {text}")
    return "\n".join(out) + "\n"


def load_program_file(path):
    """Read a program from ``path``: ``vhex`` or assembly source, by name or by content."""
    name = str(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ProgramFileError(name, None, None, f"cannot read: {e.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise ProgramFileError(name, line, col, "not a text file (invalid UTF-8); "
                               "programs are .vasm source or .vhex text") from None
    if name.endswith(HEX_SUFFIX) or text.startswith(HEX_HEADER):
        return read_hex(text, name)
    program = assemble(text, name)
    lines = [entry.line for entry in program.listing for _ in entry.words]
    return LoadedProgram(name, program.words, lines, program, "vasm")


def write_text_atomic(path, text):
    """Write ``text`` to ``path`` so that a crash leaves the old file or the new, never half."""
    path = os.fspath(path)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
