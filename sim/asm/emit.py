"""Emission: packed SIWs as ordinary assembly text, and the compiler's listing.

Why text: the compiler's output is a ``.vasm`` program like any other, which the
assembler (``sim/asm/assembler.py``) turns into words, so what runs is exactly what
the reader reads.  The listing shows, for each SIW, its address, its slots, the
cycles the core is predicted to wait before it (``sim/asm/stalls.py``), and the
source ``file:line`` of every operation, with its stage and iteration inside a
software pipeline, under headings that mark each loop's prologue, kernel and
epilogue.

The code to emit is a list of items: :class:`Heading` (a comment line),
:class:`Label` and :class:`PackedSIW` (one SIW of :class:`Slot` s).
"""

from dataclasses import dataclass, field

from sim.isa.syntax import LANES

__all__ = ["Slot", "PackedSIW", "Heading", "Label", "assembly_text", "listing_text"]


@dataclass(frozen=True)
class Slot:
    """One operation as emitted (``op``: an :class:`sim.asm.ops.Op`, maybe renamed or a
    LOOP rewritten as CADD), and in a software pipeline its ``stage`` and
    ``iteration``: text, a number in a prologue (and in an epilogue when the trip
    count is known), ``i``, ``i-1``... in a kernel whose stage 0 runs iteration ``i``,
    ``last``, ``last-1``... in an epilogue."""
    op: object
    stage: int | None = None
    iteration: str | None = None

    def origin(self):
        """``file:line``, and ``[s<stage>, <iteration>]`` inside a pipeline."""
        where = self.op.where
        if self.stage is None:
            return where
        return f"{where} [s{self.stage}, {self.iteration}]"


@dataclass
class PackedSIW:
    """One SIW: its slots (at most one per lane), ``cycle`` the cycle the scheduler
    placed it in, counted from the start of its ``block`` (the index of the serial
    block it was compiled from; None for either if unknown)."""
    slots: list = field(default_factory=list)
    cycle: int | None = None
    block: int | None = None

    def __post_init__(self):
        lanes = [s.op.lane for s in self.slots]
        if len(set(lanes)) != len(lanes):
            raise ValueError(f"two operations of one lane in an SIW: {self.slots}")
        self.slots.sort(key=lambda s: LANES.index(s.op.lane))

    def text(self, target_text):
        return " | ".join(s.op.text(target_text) for s in self.slots) or "NOP"


@dataclass(frozen=True)
class Heading:
    """A comment line before the next SIW (e.g. a loop's prologue)."""
    text: str


@dataclass(frozen=True)
class Label:
    """A label naming the next SIW's address."""
    name: str


def _siws(items):
    return [item for item in items if isinstance(item, PackedSIW)]


def assembly_text(items, target_text, header=()):
    """The items as ``.vasm`` source: each SIW on its own line, with a comment naming
    the source lines of its operations; ``header`` lines go first as comments."""
    siws = _siws(items)
    width = max([len(s.text(target_text)) for s in siws] + [20])
    out = [f"# {line}" if line else "#" for line in header]
    for item in items:
        if isinstance(item, Heading):
            out.append(f"# {item.text}")
        elif isinstance(item, Label):
            out.append(f"{item.name}:")
        else:
            lines = ", ".join(str(s.op.line) for s in item.slots)
            plural = "s" if len(item.slots) > 1 else ""
            out.append(f"    {item.text(target_text):<{width}}  # line{plural} {lines}")
    return "\n".join(out) + "\n"


def _wait(bounds):
    if bounds is None:
        return "-"
    low, high = bounds
    return str(high) if low == high else f"{low}-{high}"


def listing_text(items, words, stalls, target_text, header=()):
    """The listing: a line per SIW with its address, word, predicted wait (cycles
    before it retires, ``low-high`` where paths differ, ``-`` if unreachable), slots
    and the origin of every operation; labels and headings between."""
    siws = _siws(items)
    width = max([len(s.text(target_text)) for s in siws] + [20])
    out = list(header)
    out.append(f"{'addr':>4}  {'word':16}  {'wait':>4}  {'SIW':<{width}}  operations: source "
               f"[stage, iteration]")
    address = 0
    for item in items:
        if isinstance(item, Heading):
            out.append(f"{'':4}  {'':16}  {'':4}  ; {item.text}")
        elif isinstance(item, Label):
            out.append(f"{'':4}  {'':16}  {'':4}  {item.name}:")
        else:
            origins = "  ".join(s.origin() for s in item.slots)
            out.append(f"{address:04d}  {words[address]:016x}  {_wait(stalls[address]):>4}  "
                       f"{item.text(target_text):<{width}}  {origins}")
            address += 1
    return "\n".join(out) + "\n"
