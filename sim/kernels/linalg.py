"""Linear algebra kernels: dot, saxpy, matrix-vector and matrix products, reductions (sum, max, sum of squares).

Why rotating chains: a float operation has latency F (4 on the default core), so
a sum written as one chain of MACs stalls F - 1 cycles per element.  The
reductions here split the elements over ``chains`` accumulators, element ``k``
into chain ``k mod chains`` in increasing ``k``, and combine the chains at the
end by a pairwise tree (:func:`tree_order`).  Each chain starts as its first
element (or first product, by MUL), so no accumulator is ever zeroed.  Pass
``chains >= F`` for full rate; the default is the default core's F.

Every kernel returns serial assembly lines (:mod:`sim.kernels.serial`); operands
are register vectors or rows/matrices in memory (:mod:`sim.kernels.operands`).
The exact operation order of each kernel, its error bound and its lane bound are
in docs/kernels.md.
"""

from dataclasses import dataclass

from sim.isa.encoding import CoreConfig

from .operands import Matrix, Regs, Row, registers_of
from .serial import Code, Stream, repeat, slot_streams

__all__ = ["DEFAULT_CHAINS", "DEFAULT_TIMING", "COLUMN_BLOCK", "MATVEC_TEMPS", "tree_order", "dot",
           "saxpy", "matvec", "gemm", "reduce_sum", "reduce_max", "sum_squares", "load", "store"]

#: The timing table kernels are written for unless told otherwise: the default core's.
DEFAULT_TIMING = CoreConfig().timing
#: Accumulators per reduction: the default core's float latency F.
DEFAULT_CHAINS = DEFAULT_TIMING.float_op


def tree_order(count):
    """The pairwise combine of ``count`` partial results, as ``(left, right)`` index pairs.

    Level by level, neighbours are combined into the left one (0+1, 2+3, ...; an
    odd one out waits for the next level), until index 0 holds the result.
    """
    pairs, alive = [], list(range(count))
    while len(alive) > 1:
        nxt = []
        for i in range(0, len(alive) - 1, 2):
            pairs.append((alive[i], alive[i + 1]))
            nxt.append(alive[i])
        if len(alive) % 2:
            nxt.append(alive[-1])
        alive = nxt
    return pairs


def _length(*operands):
    lengths = {len(v) for v in operands}
    if len(lengths) != 1:
        raise ValueError(f"operands of different lengths: {sorted(lengths)}")
    return lengths.pop()


def _check_operand(v, name):
    if not isinstance(v, (Regs, Row)):
        raise TypeError(f"{name} must be Regs or Row, not {type(v).__name__}")


def _combine(code, op, current, accs, out):
    """Combine the chains' registers ``current`` into ``out`` in :func:`tree_order`.

    Intermediate results go to the chains' accumulators ``accs`` (a chain that is
    still its first element may be an input register, never written).
    """
    if len(current) == 1:
        if current[0] != out:
            code.d("MOV", out, current[0])
        return
    pairs = tree_order(len(current))
    regs = list(current)
    for n, (a, b) in enumerate(pairs):
        target = out if n == len(pairs) - 1 else accs[a]
        code.d(op, target, regs[a], regs[b])
        regs[a] = target


class _Chains:
    """Element ``k`` of a reduction goes to accumulator ``k mod len(accs)``."""

    def __init__(self, accs):
        self.accs = accs

    def __getitem__(self, k):
        return self.accs[k % len(self.accs)]

    def used(self, count):
        return list(self.accs[:min(count, len(self.accs))])


class _Source:
    """Element ``k`` of an operand as a register: a register of a :class:`Regs`, or, for
    a :class:`Row`, the temporary ``temps[k mod len(temps)]`` after a GATHER through a
    cursor ``creg`` walking it."""

    def __init__(self, code, v, temps, creg):
        self.v, self.temps = v, temps
        self.stream = Stream(code, creg, v.coords()) if isinstance(v, Row) else None

    def __call__(self, k):
        if self.stream is None:
            return self.v[k]
        t = self.temps[k % len(self.temps)]
        self.stream.gather(t)
        return t


def dot(x, y, out, *, scratch, chains=DEFAULT_CHAINS, label="dot"):
    """``out`` = sum of ``x[k] * y[k]``: MUL/MAC into rotating chains, then the tree.

    ``x`` and ``y``: each a :class:`Regs` or a :class:`Row`.  Two rows: a counted
    loop of ``chains`` elements per iteration; with a register vector the code
    is unrolled.  Uses ``chains`` accumulators and a temporary per chain and row.
    """
    _check_operand(x, "x")
    _check_operand(y, "y")
    n = _length(x, y)
    code = Code(label)
    scratch = scratch.without(registers_of(x, y))
    accs, scratch = scratch.take(min(chains, n), "dot accumulators")
    looping = isinstance(x, Row) and isinstance(y, Row)
    cregs, scratch = scratch.take_cregs(isinstance(x, Row) + isinstance(y, Row) + looping,
                                        "dot cursors")
    free = list(cregs)
    sources = []
    for v in (x, y):
        temps, scratch = scratch.take(len(accs) if isinstance(v, Row) else 0, "dot temporaries")
        sources.append(_Source(code, v, temps, free.pop(0) if isinstance(v, Row) else None))
    chain = _Chains(accs)

    def element(k):
        a, b = (source(k) for source in sources)
        code.d("MUL" if k < len(accs) else "MAC", chain[k], a, b)

    repeat(code, n, element, streams=[s.stream for s in sources if s.stream],
           limit=free[0] if looping else None, unroll=len(accs), peel=len(accs), loop=looping)
    _combine(code, "ADD", chain.used(n), accs, out)
    return code.lines


def saxpy(a, x, y, *, scratch, unroll=DEFAULT_CHAINS, label="saxpy"):
    """``y[k]`` = ``y[k] + a * x[k]`` (one MAC: two roundings), in place.

    ``a``: a register.  ``x``: Regs or Row.  ``y``: Regs (updated in its
    registers) or Row (GATHER, MAC, SCATTER at one coordinate, by ``unroll``
    cursors taking turns: :func:`~sim.kernels.serial.slot_streams`).  Two rows: a
    counted loop of ``unroll`` elements per iteration, each with its own
    temporaries, counted by x's cursor.
    """
    _check_operand(x, "x")
    _check_operand(y, "y")
    n = _length(x, y)
    if isinstance(y, Regs) and a in y:
        raise ValueError(f"a (r{a}) is one of y's registers: it would change under the update")
    if isinstance(x, Regs) and isinstance(y, Regs) and set(x) & set(y):
        raise ValueError("x and y share registers")
    code = Code(label)
    scratch = scratch.without([a, *registers_of(x, y)])
    looping = isinstance(x, Row) and isinstance(y, Row)
    width = min(unroll, n) if looping else 1
    tx, scratch = scratch.take(width if isinstance(x, Row) else 0, "saxpy temporaries")
    ty, scratch = scratch.take(width if isinstance(y, Row) else 0, "saxpy temporaries")
    ncur = isinstance(x, Row) + (width if isinstance(y, Row) else 0) + looping
    cregs, scratch = scratch.take_cregs(ncur, "saxpy cursors")
    free = list(cregs)
    x_value = _Source(code, x, tx, free.pop(0) if isinstance(x, Row) else None)
    slots = []
    if isinstance(y, Row):
        slots = slot_streams(code, free[:width], y.coords())
        free = free[width:]

    def element(k):
        xv = x_value(k)
        if isinstance(y, Regs):
            code.d("MAC", y[k], a, xv)
        else:
            t, slot = ty[k % width], slots[k % width]
            slot.gather(t)
            code.d("MAC", t, a, xv)
            slot.scatter(t)

    streams = [s for s in (x_value.stream, *slots) if s]
    repeat(code, n, element, streams=streams, limit=free[0] if looping else None,
           unroll=width, loop=looping)
    return code.lines


def _column_walk(w, blocks):
    """The coordinates of ``w`` in the column form's order: for each block of rows, column by
    column, the block's rows."""
    return [w.at(i, j) for rows in blocks for j in range(w.cols) for i in rows]


def _blocks(count, size):
    return [range(b, min(count, b + size)) for b in range(0, count, size)]


#: Rows the column form computes at once when ``y`` is a row: accumulators the register
#: file can spare beside a kernel's temporaries, and ``M / (M + 1)`` of the D lane.
COLUMN_BLOCK = 16
#: Registers the gathered matrix elements take in turn.  Each is written by one GATHER
#: and read by one MAC a cycle later, but a register reused too soon ties the
#: iterations of a pipelined loop together: with 10 the compiler's modulo schedule
#: of a 16-row column reaches the resource bound (II 17), with 4 to 8 it does not.
MATVEC_TEMPS = 10


def matvec(w, x, y, *, scratch, block=None, temps=MATVEC_TEMPS, unroll=1, timing=DEFAULT_TIMING,
           label="matvec"):
    """``y`` = ``w x`` for a :class:`Matrix` ``w`` in memory.

    Two forms, chosen by where the vectors are:

    * ``x`` a Row (column form): ``y[i]`` accumulates ``w[i][j] * x[j]`` column by
      column, a counted loop over the columns, the rows unrolled in its body; the
      first column by MUL.  ``y`` Regs: the accumulators are ``y`` itself (all
      ``w.rows`` at once).  ``y`` a Row: the rows go in blocks of ``block``
      accumulators (default :data:`COLUMN_BLOCK`), each block SCATTERed to ``y``.
    * ``x`` Regs, ``y`` a Row (row form): a counted loop over groups of ``block``
      rows (default :data:`DEFAULT_CHAINS`: one chain per row, so ``block >= F``
      for full rate), each row's products in column order (the first by MUL),
      then SCATTERed to ``y``.

    Both forms compute each ``y[i]`` in the same order.  ``temps`` registers take
    the gathered matrix elements in turn; ``unroll`` columns per iteration in the
    column form (each with its own x register).  ``timing``: the target's Timing
    table; in the column form, a GATHER latency above 2 has each ``x[j]`` gathered
    into a register of its own and copied (MOV) to the one the MACs read.  Why:
    the column's loop runs at II = rows + 1 (its GATHERs), and the next column's
    GATHER overwrites ``x[j]``, so all the column's MACs must read it within the
    ``II - latency + 1`` cycles from its arrival: ``rows`` of them only if the
    latency is at most 2.  The copy is ready a cycle after its MOV, and the next
    column's MOV comes II cycles later, after every MAC has read it.
    """
    if not isinstance(w, Matrix):
        raise TypeError(f"w must be a Matrix, not {type(w).__name__}")
    _check_operand(x, "x")
    _check_operand(y, "y")
    if len(x) != w.cols or len(y) != w.rows:
        raise ValueError(f"a {w.rows} x {w.cols} matrix takes x of {w.cols} and gives y of "
                         f"{w.rows}, not {len(x)} and {len(y)}")
    if isinstance(x, Regs) and isinstance(y, Regs):
        raise ValueError("matvec needs x or y in memory: store() one of them first")
    code = Code(label)
    scratch = scratch.without(registers_of(x, y))
    if isinstance(x, Row):
        _matvec_columns(code, w, x, y, scratch, temps, block or COLUMN_BLOCK, unroll,
                        copy_x=timing.gather > _X_LATENCY_LIMIT)
    else:
        _matvec_rows(code, w, x, y, scratch, temps, block or DEFAULT_CHAINS)
    return code.lines


#: The largest GATHER latency at which the column form's MACs read ``x[j]`` where it
#: was gathered (see :func:`matvec`).
_X_LATENCY_LIMIT = 2


def _matvec_columns(code, w, x, y, scratch, temps, block, unroll, copy_x):
    blocks = [range(w.rows)] if isinstance(y, Regs) else _blocks(w.rows, block)
    accs = y if isinstance(y, Regs) else None
    if accs is None:
        accs, scratch = scratch.take(min(block, w.rows), "matvec accumulators")
    wt, scratch = scratch.take(min(temps, max(map(len, blocks))), "matvec temporaries")
    xt, scratch = scratch.take(unroll, "matvec x registers")
    xg, scratch = scratch.take(1 if copy_x else 0, "matvec x register gathered")
    cregs, scratch = scratch.take_cregs(3 + (1 if isinstance(y, Row) else 0), "matvec cursors")
    x_read = Stream(code, cregs[0], x.coords() * len(blocks))
    w_read = Stream(code, cregs[1], _column_walk(w, blocks))
    y_write = Stream(code, cregs[3], y.coords()) if isinstance(y, Row) else None
    for rows in blocks:
        acc = {i: accs[n] for n, i in enumerate(rows)}

        def element(j, rows=rows, acc=acc):
            xv = xt[j % unroll]
            if copy_x:
                x_read.gather(xg[0])
                code.d("MOV", xv, xg[0])
            else:
                x_read.gather(xv)
            for n, i in enumerate(rows):
                t = wt[n % len(wt)]
                w_read.gather(t)
                code.d("MUL" if j == 0 else "MAC", acc[i], t, xv)

        repeat(code, w.cols, element, streams=[x_read, w_read], limit=cregs[2], unroll=unroll,
               peel=1)
        if y_write:
            for i in rows:
                y_write.scatter(acc[i])


def _matvec_rows(code, w, x, y, scratch, temps, block):
    groups = _blocks(w.rows, block)
    accs, scratch = scratch.take(min(block, w.rows), "matvec accumulators")
    wt, scratch = scratch.take(min(temps, len(groups[0]) * w.cols), "matvec temporaries")
    cregs, scratch = scratch.take_cregs(3, "matvec cursors")
    y_write = Stream(code, cregs[0], y.coords())
    w_read = Stream(code, cregs[1], [w.at(i, j) for rows in groups for j in range(w.cols)
                                     for i in rows])

    def element(g):
        rows = groups[g]
        for j in range(w.cols):
            for n, i in enumerate(rows):
                t = wt[(j * len(rows) + n) % len(wt)]
                w_read.gather(t)
                code.d("MUL" if j == 0 else "MAC", accs[n], t, x[j])
        for n, _ in enumerate(rows):
            y_write.scatter(accs[n])

    full = w.rows // len(accs)               # the loop takes the full groups only
    repeat(code, full, element, streams=[w_read, y_write], limit=cregs[2])
    if full < len(groups):
        element(full)


def gemm(a, b, c, *, scratch, block=None, temps=MATVEC_TEMPS, timing=DEFAULT_TIMING,
         label="gemm"):
    """``c`` = ``a b`` for matrices in memory: one column-form :func:`matvec` per column of ``b``.

    Each column of ``b`` is a matvec of its own (for ``timing``), so the program
    repeats its code once per column.
    """
    if not all(isinstance(m, Matrix) for m in (a, b, c)):
        raise TypeError("gemm takes three Matrix operands")
    if a.cols != b.rows or (c.rows, c.cols) != (a.rows, b.cols):
        raise ValueError(f"shapes do not match: {a.rows}x{a.cols} times {b.rows}x{b.cols} "
                         f"into {c.rows}x{c.cols}")
    lines = []
    for n in range(b.cols):
        lines += matvec(a, b.column(n), c.column(n), scratch=scratch, block=block, temps=temps,
                        timing=timing, label=f"{label}_{n}")
    return lines


@dataclass(frozen=True)
class _Fold:
    """A reduction: ``start`` (a D op on the first element, or None: the element itself
    starts its chain), ``step`` (ADD or MAX: ``acc = step(acc, v)``; MAC: ``acc += v*v``)
    and ``combine``, the op of the final tree."""
    start: object
    step: str
    combine: str

    def add(self, code, acc, current, v):
        if self.step == "MAC":
            code.d("MAC", acc, v, v)
        else:
            code.d(self.step, acc, current, v)


_SUM = _Fold(None, "ADD", "ADD")
_MAX = _Fold(None, "MAX", "MAX")
_SQUARES = _Fold("MUL", "MAC", "ADD")


def _reduce(fold, x, out, scratch, chains, label):
    """Reduce ``x`` into ``out``: element ``k`` joins chain ``k mod chains``, then the tree."""
    _check_operand(x, "x")
    n = len(x)
    code = Code(label)
    scratch = scratch.without(registers_of(x))
    accs, scratch = scratch.take(min(chains, n), f"{label} accumulators")
    chain = _Chains(accs)
    if isinstance(x, Regs):
        current = list(accs)

        def element(k):
            c = k % len(accs)
            if k >= len(accs):
                fold.add(code, accs[c], current[c], x[k])
                current[c] = accs[c]
            elif fold.start:
                code.d(fold.start, accs[c], x[k], x[k])
            else:
                current[c] = x[k]            # the chain is its first element, in place

        repeat(code, n, element, loop=False)
        _combine(code, fold.combine, current[:len(accs)], accs, out)
        return code.lines
    temps, scratch = scratch.take(len(accs), f"{label} temporaries")
    cregs, scratch = scratch.take_cregs(2, f"{label} cursors")
    read = Stream(code, cregs[0], x.coords())

    def element(k):
        acc, t = chain[k], temps[k % len(accs)]
        if k >= len(accs):
            read.gather(t)
            fold.add(code, acc, acc, t)
        elif fold.start:
            read.gather(t)
            code.d(fold.start, acc, t, t)
        else:
            read.gather(acc)

    repeat(code, n, element, streams=[read], limit=cregs[1], unroll=len(accs), peel=len(accs))
    _combine(code, fold.combine, chain.used(n), accs, out)
    return code.lines


def reduce_sum(x, out, *, scratch, chains=DEFAULT_CHAINS, label="sum"):
    """``out`` = the sum of ``x`` (Regs or Row): ADD chains, then the tree."""
    return _reduce(_SUM, x, out, scratch, chains, label)


def reduce_max(x, out, *, scratch, chains=DEFAULT_CHAINS, label="max"):
    """``out`` = the largest element of ``x`` (Regs or Row): MAX chains, then the tree (exact)."""
    return _reduce(_MAX, x, out, scratch, chains, label)


def sum_squares(x, out, *, scratch, chains=DEFAULT_CHAINS, label="sumsq"):
    """``out`` = the sum of ``x[k] * x[k]`` (Regs or Row): MUL then MAC chains, then the tree."""
    return _reduce(_SQUARES, x, out, scratch, chains, label)


def _transfer(row, regs, scratch, label, scatter):
    if len(row) != len(regs):
        raise ValueError(f"{label}: a row of {len(row)} and {len(regs)} registers")
    code = Code(label)
    (creg,), _ = scratch.take_cregs(1, f"{label} cursor")
    stream = Stream(code, creg, row.coords())
    for reg in regs:
        (stream.scatter if scatter else stream.gather)(reg)
    return code.lines


def load(row, regs, *, scratch, label="load"):
    """``regs[k]`` = ``row[k]``: one GATHER per element (unrolled)."""
    return _transfer(row, regs, scratch, label, scatter=False)


def store(regs, row, *, scratch, label="store"):
    """``row[k]`` = ``regs[k]``: one SCATTER per element (unrolled)."""
    return _transfer(row, regs, scratch, label, scatter=True)
