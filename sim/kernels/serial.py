"""Writing serial Sentron assembly: one operation per line, cursors that walk memory, counted loops.

Why serial: a kernel is written as ordinary assembly with one operation per line
in program order, which runs as it stands (one operation per SIW) and which the
kernel compiler (``sim.asm.compiler``) packs into SIWs and software-pipelines.
So a kernel here only has to be *correct* and *pipelinable*: every loop is a
``label: ... LOOP ck.dim < cj.dim2, label`` body whose trip count is fixed by
constants set just before it (CCLR/CSET/CADD), whose counter register is touched
only by the body's cursor moves, GATHERs and the LOOP (all operations that can
stay in stage 0), and whose other coordinate registers are moved only by CADD.

The pieces:

* :class:`Code` collects the lines and hands out unique labels.
* :class:`Stream` is one coordinate register walking a list of coordinates: each
  GATHER or SCATTER through it first moves it to the next coordinate of its walk,
  one operation per dimension that changes (CADD in a loop body, CSET elsewhere).
* :func:`slot_streams` update a row in place: each element is GATHERed and
  SCATTERed at one coordinate by one of several cursors taking turns.
* :func:`elementwise` maps a vector to a vector (registers or rows, in place or
  not) with :func:`repeat`, each element computed by the caller's operations.
* :func:`repeat` emits ``element(k)`` for ``k = 0 .. count-1``: a straight-line
  prologue of ``peel`` elements, then a counted loop of ``unroll`` elements per
  iteration, then the remainder, straight-line.  The loop body is written once,
  for the loop's first iteration; it is checked to be identical for the second
  (same registers, same moves).  The counter is a GATHER-only stream whose last
  move in the body advances along one dimension, so that move becomes the LOOP
  itself; failing one, the limit register counts itself.
"""

import re
import struct
from dataclasses import dataclass

from sim.isa.coord import Coord
from sim.isa.encoding import DIM_SHORT, NDIMS

from .operands import NCREGS, Regs, Row, coord, registers_of

__all__ = ["Code", "Stream", "slot_streams", "repeat", "elementwise", "float_bits", "bits_float"]

_LABEL = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: CADD's immediate range (docs/isa.md section 3, C lane).
_CADD_MIN, _CADD_MAX = -2048, 2047


def _r(reg):
    return f"r{reg}"


def float_bits(value):
    """Binary32 bits of ``value`` rounded to nearest (a constant a kernel loads)."""
    return struct.unpack("<I", struct.pack("<f", value))[0]


def bits_float(bits):
    """The binary32 value of 32-bit ``bits``, exactly, as a Python float."""
    return struct.unpack("<f", struct.pack("<I", bits & 0xFFFF_FFFF))[0]


class Code:
    """Serial assembly under construction: :attr:`lines`, one operation (or label) each.

    ``label`` is the prefix of every label this code defines; two kernels in one
    program need different prefixes.
    """

    def __init__(self, label):
        if not _LABEL.match(label):
            raise ValueError(f"label prefix {label!r} is not an assembly label")
        self.label = label
        self.lines = []
        self.in_loop = False          # writing a loop body: cursors move relatively
        self._labels = 0

    def op(self, text):
        self.lines.append(text)

    def d(self, mnemonic, rd, *sources):
        """A D-lane operation: ``MNEMONIC rd, rs1[, rs2]`` on data registers."""
        self.op(f"{mnemonic} " + ", ".join(_r(x) for x in (rd, *sources)))

    def load(self, rd, bits):
        """``rd`` = the 32-bit pattern ``bits``: LI, and LIH if the high half is not the
        low half's sign extension."""
        bits &= 0xFFFF_FFFF
        low = bits & 0xFFFF
        self.op(f"LI {_r(rd)}, {low - 0x10000 if low & 0x8000 else low}")
        if (bits >> 16) != (0xFFFF if low & 0x8000 else 0):
            self.op(f"LIH {_r(rd)}, {bits >> 16:#06x}")

    def load_float(self, rd, value):
        """``rd`` = ``value`` rounded to binary32."""
        self.load(rd, float_bits(value))

    def new_label(self, what="loop"):
        self._labels += 1
        return f"{self.label}_{what}{self._labels}"

    def mark(self, label):
        self.lines.append(f"{label}:")

    def capture(self):
        """Start writing into a fresh list; :meth:`release` returns it and resumes the old one."""
        saved, self.lines = self.lines, []
        return saved

    def release(self, saved):
        captured, self.lines = self.lines, saved
        return captured


class Stream:
    """Coordinate register ``creg`` walking ``coords``, one GATHER or SCATTER per coordinate.

    Created at its first coordinate (CCLR, then a CSET per nonzero dimension).
    ``index`` is the position in the walk of the next access; ``position`` where the
    register stands.
    """

    def __init__(self, code, creg, coords):
        if not 0 <= creg < NCREGS:
            raise ValueError(f"c{creg} is not a coordinate register")
        self.code = code
        self.creg = creg
        self.coords = [coord(c) for c in coords]
        if not self.coords:
            raise ValueError("a stream walks at least one coordinate")
        self.index = 0
        self.position = self.coords[0]
        self.scatters = 0
        code.op(f"CCLR c{creg}")
        for dim, value in enumerate(self.position):
            if value:
                code.op(f"CSET c{creg}.{DIM_SHORT[dim]}, {value}")

    def _moves(self, target):
        """``(dim, delta)`` for every dimension in which ``target`` differs from the position."""
        return [(dim, t - p) for dim, (p, t) in enumerate(zip(self.position, target)) if t != p]

    def goto(self, target, skip_dim=None):
        """Move to ``target``, one operation per dimension that changes: CADD inside a loop
        body (the same move every iteration), CSET elsewhere (the coordinate stays a
        constant the compiler can see, e.g. for the next loop's trip count).  No move
        along ``skip_dim``: the caller's LOOP does it."""
        for dim, delta in self._moves(target):
            if dim == skip_dim:
                delta -= 1
                if not delta:
                    continue
            if not self.code.in_loop:
                self.code.op(f"CSET c{self.creg}.{DIM_SHORT[dim]}, {target[dim]}")
                continue
            if not _CADD_MIN <= delta <= _CADD_MAX:
                raise ValueError(f"c{self.creg}: a move of {delta} along {DIM_SHORT[dim]} is "
                                 f"beyond CADD's range")
            self.code.op(f"CADD c{self.creg}.{DIM_SHORT[dim]}, {delta}")
        self.position = Coord(target)

    def _next(self):
        if self.index >= len(self.coords):
            raise ValueError(f"c{self.creg}: the walk has only {len(self.coords)} coordinates")
        self.goto(self.coords[self.index])
        self.index += 1

    def gather(self, rd):
        self._next()
        self.code.op(f"GATHER {_r(rd)}, [c{self.creg}]")

    def scatter(self, rs):
        self.scatters += 1
        self._next()
        self.code.op(f"SCATTER [c{self.creg}], {_r(rs)}")

    def state(self):
        return self.index, self.position, self.scatters

    def restore(self, state):
        self.index, self.position, self.scatters = state


def _delta(a, b):
    return tuple(y - x for x, y in zip(a, b))


def _shifted(c, delta, times=1):
    return Coord(tuple(x + times * d for x, d in zip(c, delta)))   # CoordError if out of range


def repeat(code, count, element, *, streams=(), limit=None, unroll=1, peel=0, loop=True):
    """Emit ``element(k)`` for every ``k`` in ``0 .. count-1``, looping where it can.

    Elements ``0 .. peel-1`` are straight-line; then, if ``loop`` and at least two
    iterations of ``unroll`` elements remain, a counted loop whose body is
    ``element(k)`` for the loop's first iteration (``element`` must choose its
    registers from ``k mod unroll`` only, and touch memory only through
    ``streams``); then the remaining elements, straight-line.  ``limit`` is the
    coordinate register that holds the loop's bound.  ``element`` is called more
    than once for the loop body, so it must not keep state of its own beyond what
    ``k`` determines.  Raises ValueError if the body is not the same for every
    iteration.
    """
    if unroll < 1 or peel < 0:
        raise ValueError(f"repeat: unroll must be at least 1 and peel at least 0, not "
                         f"{unroll} and {peel}")
    k = 0
    while k < min(peel, count):
        element(k)
        k += 1
    iterations = (count - k) // unroll
    if loop and streams and iterations >= 2:
        _counted_loop(code, k, iterations, element, list(streams), limit, unroll)
        k += iterations * unroll
    while k < count:
        element(k)
        k += 1


def _capture(code, element, first, unroll):
    saved, code.in_loop = code.capture(), True
    for k in range(first, first + unroll):
        element(k)
    code.in_loop = False
    return code.release(saved)


@dataclass(frozen=True)
class _Walk:
    """What one stream does in one iteration: ``accesses``, of them ``scatters``, and the
    ``period``, its displacement from one iteration to the next."""
    accesses: int
    scatters: int
    period: tuple


#: When no stream can count a loop, the limit register counts in one dimension up to
#: the bound it holds in another.
_SELF_COUNT, _SELF_BOUND = DIM_SHORT.index("sc"), DIM_SHORT.index("sn")


def _counted_loop(code, first, iterations, element, streams, limit, unroll):
    """The loop of :func:`repeat`: ``iterations`` times the elements ``first .. first+unroll-1``.

    Invariant: each stream enters an iteration standing on the first coordinate it
    accesses in it, so the body's CADDs are the same every time and the moves at
    its end go one period further.
    """
    if limit is None:
        raise ValueError("a counted loop needs a coordinate register for its limit")
    walks = _step_measure(code, first, element, streams, unroll, iterations)
    starts = [s.state() for s in streams]
    body = _capture(code, element, first, unroll)
    ends = [s.position for s in streams]
    _step_check_second_iteration(code, first, element, streams, unroll, starts, walks, body)
    counter, dim, bound_creg, bound_dim = _step_bound(code, streams, starts, ends, walks, limit,
                                                      iterations)
    label = code.new_label()
    code.mark(label)
    code.lines += body
    code.in_loop = True
    for s, end, start, walk in zip(streams, ends, starts, walks):
        s.position = end
        s.goto(_shifted(start[1], walk.period), skip_dim=dim if s is counter else None)
    code.in_loop = False
    code.op(f"LOOP c{counter.creg if counter else limit}.{DIM_SHORT[dim]} < "
            f"c{bound_creg}.{DIM_SHORT[bound_dim]}, {label}")
    # After the loop each stream stands where an iteration `iterations` would start.
    for s, (index, position, scatters), walk in zip(streams, starts, walks):
        s.restore((index + iterations * walk.accesses, _shifted(position, walk.period, iterations),
                   scatters + iterations * walk.scatters))


def _step_measure(code, first, element, streams, unroll, iterations):
    """Write the body once to see what each stream does in it, then move each stream
    onto its first coordinate of the loop (before the loop's label)."""
    entry = [s.state() for s in streams]
    _capture(code, element, first, unroll)
    walks = []
    for s, (index, position, scatters) in zip(streams, entry):
        accesses, writes = s.index - index, s.scatters - scatters
        s.restore((index, position, scatters))
        if accesses:
            s.goto(s.coords[index])
            walks.append(_Walk(accesses, writes, _periodic(s, index, accesses, iterations)))
        else:
            walks.append(_Walk(0, 0, (0,) * NDIMS))
    return walks


def _step_check_second_iteration(code, first, element, streams, unroll, starts, walks, body):
    """The body written for the second iteration must be the same text."""
    for s, (index, position, scatters), walk in zip(streams, starts, walks):
        s.restore((index + walk.accesses, _shifted(position, walk.period),
                   scatters + walk.scatters))
    second = _capture(code, element, first + unroll, unroll)
    for s, state in zip(streams, starts):
        s.restore(state)
    if second != body:
        raise ValueError(f"{code.label}: a loop body differs between iterations (registers "
                         f"must depend on k mod unroll only)")


def _step_bound(code, streams, starts, ends, walks, limit, iterations):
    """Choose the counter and set the bound: ``(counter stream or None, its dimension,
    bound register, bound dimension)``.

    The counter is the first stream that only GATHERs (its accesses start the body's
    dependence chains, so the compiler can keep them in stage 0 with the LOOP) and
    whose move at the end of the body advances along a dimension: that move's last
    +1 is the LOOP, and the bound is the stream's coordinate after the last iteration.
    Failing one, the limit register counts itself: ``LOOP cL.sc < cL.sn``.
    """
    for s, (_, start, _), end, walk in zip(streams, starts, ends, walks):
        if walk.scatters:
            continue
        for dim in range(NDIMS):
            if walk.period[dim] >= 1 and start[dim] + walk.period[dim] - end[dim] >= 1:
                bound = start[dim] + iterations * walk.period[dim]
                if bound > 2047:
                    raise ValueError(f"c{s.creg}.{DIM_SHORT[dim]} would count to {bound}, "
                                     f"beyond 2047")
                code.op(f"CSET c{limit}.{DIM_SHORT[dim]}, {bound}")
                return s, dim, limit, dim
    code.op(f"CSET c{limit}.{DIM_SHORT[_SELF_COUNT]}, 0")
    code.op(f"CSET c{limit}.{DIM_SHORT[_SELF_BOUND]}, {iterations}")
    return None, _SELF_COUNT, limit, _SELF_BOUND


def _periodic(s, index, n, iterations):
    """The displacement per iteration of a stream making ``n`` accesses from ``index``;
    ValueError unless every iteration's coordinates are the first's, shifted by it."""
    if index + iterations * n > len(s.coords):
        raise ValueError(f"c{s.creg}: the loop walks past the end of the stream")
    shift = _delta(s.coords[index], s.coords[index + n])
    for i in range(1, iterations):
        for a in range(n):
            if s.coords[index + i * n + a] != _shifted(s.coords[index + a], shift, i):
                raise ValueError(f"c{s.creg}: the walk is not the same in every iteration "
                                 f"(access {index + i * n + a})")
    return shift


def slot_streams(code, cregs, coords):
    """Streams that update ``coords`` in place, element ``k`` by stream ``k mod len(cregs)``.

    Each stream GATHERs and SCATTERs its elements at one coordinate (its walk lists
    each coordinate twice, so the second access does not move), then steps to its
    next element: one cursor move per element, the least an update can cost, and
    while one element is in flight its cursor waits while the others work.
    """
    width = len(cregs)
    return [Stream(code, creg, [c for c in coords[u::width] for _ in range(2)])
            for u, creg in enumerate(cregs)]


def elementwise(code, x, out, body, *, scratch, temps=0, unroll=1):
    """``out[k]`` = what ``body`` computes from ``x[k]``, for every ``k``.

    ``x`` and ``out``: :class:`Regs` or :class:`Row` of one length, or the same
    (in place).  ``body(k, src, dst, t)`` emits the operations that compute
    register ``dst`` from register ``src`` (they may be the same register) with
    the temporaries ``t``, and must choose any other register from
    ``k mod unroll`` only.  A row is read by GATHER into ``dst`` (or a value
    register) and written by SCATTER from it; a row updated in place goes through
    :func:`slot_streams`, else each row has a cursor of its own.  Element ``k``
    uses the ``k mod unroll``-th of ``unroll`` sets of ``temps`` temporaries, so
    that many elements can be in flight at once; rows make a counted loop of
    ``unroll`` elements per iteration.
    """
    if len(x) != len(out):
        raise ValueError(f"input of {len(x)} elements, output of {len(out)}")
    if isinstance(x, Regs) and isinstance(out, Regs) and x != out and set(x) & set(out):
        raise ValueError("the output registers overlap the input's without being the same")
    scratch = scratch.without(registers_of(x, out))
    looping = isinstance(x, Row) and isinstance(out, Row)
    in_place = looping and x == out
    width = min(unroll, len(x))
    values, scratch = scratch.take(width if isinstance(out, Row) else 0, "element registers")
    sets = []
    for _ in range(width):
        t, scratch = scratch.take(temps, "element temporaries")
        sets.append(t)
    cursors = width if in_place else (isinstance(x, Row) + isinstance(out, Row))
    cregs, scratch = scratch.take_cregs(cursors + looping, "element cursors")
    if in_place:
        slots = slot_streams(code, cregs[:width], x.coords())
        streams = slots
        read = write = lambda k: slots[k % width]
    else:
        free = list(cregs)
        reader = Stream(code, free.pop(0), x.coords()) if isinstance(x, Row) else None
        writer = Stream(code, free.pop(0), out.coords()) if isinstance(out, Row) else None
        streams = [s for s in (reader, writer) if s]
        read, write = (lambda k: reader), (lambda k: writer)

    def element(k):
        dst = out[k] if isinstance(out, Regs) else values[k % width]
        if read(k):
            read(k).gather(dst)
            src = dst
        else:
            src = x[k]
        body(k, src, dst, sets[k % width])
        if write(k):
            write(k).scatter(dst)

    repeat(code, len(x), element, streams=streams, limit=cregs[-1] if looping else None,
           unroll=width, loop=looping)
