"""Which memory accesses of a block or loop body can meet: symbolic coordinates.

Why: the compiler keeps GATHER, SCATTER and ERASE in program order unless it can
prove that two of them touch different coordinates.  That proof is what lets a
loop load ``y[k+1]`` while it stores ``y[k]``, and so what makes a loop over a row
of scrolls pipeline at all.

Each dimension of each coordinate register is followed through the operations as
``(symbol, offset)``: a constant (symbol None) after CSET or CCLR or where the
entry value is known (``sim/asm/trip_counts.py`` propagates them), its unknown
value at the entry of the code plus an offset after CADD and LOOP, or a fresh
unknown after CPUT.  In a loop body a dimension that only CADD and LOOP change moves
by the same *stride* every iteration, so its value in iteration ``n`` is ``entry +
n*stride + offset`` (with a known entry value, all dimensions of one stride share a
symbol and differ by their offsets); one that the body sets outright (CSET, CPUT,
CMOV, CCLR) is an unknown of each iteration until it is set.  Two accesses provably miss each other if some
dimension of their coordinates is provably different.  Memory writes are never
reordered among themselves (a SCATTER of a new coordinate takes the lowest free way
of its set, so their order is visible), only reads against writes.
"""

from sim.isa.encoding import NDIMS, COp

__all__ = ["AddressModel"]

_ENTRY, _LINEAR, _ITER, _FRESH = "entry", "linear", "iter", "fresh"


def _signed12(value):
    return value - 0x1000 if value & 0x800 else value


class AddressModel:
    """The symbolic coordinate of every memory access in ``ops`` (a block, or with
    ``loop`` True the body of a loop, executed again and again), entered with the
    coordinate dimensions ``entry`` ``{(k, d): value or None}`` (None: unknown; in a
    loop, the values before its first iteration).

    :meth:`may_meet` and :meth:`first_meeting` answer, for two accesses, whether they
    can touch the same coordinate in the same iteration or ``distance`` iterations
    apart.
    """

    def __init__(self, ops, loop=False, entry=None):
        self.loop = loop
        self.strides = {}
        linear = self._linear_dims(ops) if loop else {}
        entry = entry or {}
        state = {}
        for k in range(8):
            for d in range(NDIMS):
                known = entry.get((k, d))
                if loop and (k, d) not in linear:
                    state[(k, d)] = ((_ITER, k, d), 0)
                elif known is None:
                    state[(k, d)] = ((_ENTRY, k, d), 0)
                    self.strides[(_ENTRY, k, d)] = linear.get((k, d), 0)
                elif linear.get((k, d), 0) == 0:
                    state[(k, d)] = (None, known)
                else:
                    stride = linear[(k, d)]
                    state[(k, d)] = ((_LINEAR, stride), known)
                    self.strides[(_LINEAR, stride)] = stride
        #: position in ``ops`` -> tuple of NDIMS (symbol, offset) pairs
        self.address = {}
        for pos, op in enumerate(ops):
            if op.memory is not None:
                k = op.address_register
                self.address[pos] = tuple(state[(k, d)] for d in range(NDIMS))
            if op.lane == "C":
                self._step(op, pos, state)

    @staticmethod
    def _linear_dims(ops):
        """``{(k, d): stride}`` for the dimensions the body changes only by CADD and LOOP."""
        stride = {(k, d): 0 for k in range(8) for d in range(NDIMS)}
        absolute = set()
        for op in ops:
            if op.lane != "C":
                continue
            f = op.fields
            if op.op == COp.CADD:
                stride[(f["ck"], f["dim"])] += _signed12(f["imm12"])
            elif op.op == COp.LOOP:
                stride[(f["ck"], f["dim"])] += 1
            else:
                absolute.update((k, d) for _, k, d in op.creg_writes)
        return {key: value for key, value in stride.items() if key not in absolute}

    @staticmethod
    def _step(op, pos, state):
        f = op.fields
        if op.op == COp.CSET:
            state[(f["ck"], f["dim"])] = (None, f["imm11"])
        elif op.op in (COp.CADD, COp.LOOP):
            delta = _signed12(f["imm12"]) if op.op == COp.CADD else 1
            sym, off = state[(f["ck"], f["dim"])]
            state[(f["ck"], f["dim"])] = (sym, off + delta)
        elif op.op == COp.CPUT:
            state[(f["ck"], f["dim"])] = ((_FRESH, pos), 0)
        elif op.op == COp.CMOV:
            for d in range(NDIMS):
                state[(f["ck"], d)] = state[(f["cj"], d)]
        elif op.op == COp.CCLR:
            for d in range(NDIMS):
                state[(f["ck"], d)] = (None, 0)

    # ------------------------------------------------------------------ questions

    def _dim_meets(self, a, b, distance):
        """For one dimension: False if provably different, else True, when ``b`` is
        evaluated ``distance`` iterations after ``a``.  Either may also return an int:
        the one distance at which they are equal (a linear dimension)."""
        (sa, oa), (sb, ob) = a, b
        if sa is None and sb is None:
            return oa == ob
        if sa != sb:
            return True
        if sa[0] in (_ENTRY, _LINEAR):
            # a = E + oa + n*s, b = E + ob + (n + distance)*s
            return oa == ob + distance * self.strides.get(sa, 0)
        if distance == 0:
            return oa == ob
        return True                      # an unknown of each iteration

    def may_meet(self, i, j, distance=0):
        """Can access ``i`` (position in ``ops``) and access ``j``, ``distance``
        iterations later, touch the same coordinate?"""
        return all(self._dim_meets(a, b, distance)
                   for a, b in zip(self.address[i], self.address[j]))

    def first_meeting(self, i, j, max_distance=None):
        """The smallest distance ``>= 1`` at which access ``j`` (that many iterations after
        ``i``) can touch ``i``'s coordinate, or None if never (up to ``max_distance``)."""
        fixed = None
        for (sa, oa), (sb, ob) in zip(self.address[i], self.address[j]):
            if sa is None and sb is None:
                if oa != ob:
                    return None
            elif sa == sb and sa[0] in (_ENTRY, _LINEAR):
                stride = self.strides.get(sa, 0)
                if stride == 0:
                    if oa != ob:
                        return None
                else:
                    dist, rem = divmod(oa - ob, stride)
                    if rem or dist < 1 or (fixed is not None and fixed != dist):
                        return None
                    fixed = dist
        found = 1 if fixed is None else fixed
        if max_distance is not None and found > max_distance:
            return None
        return found
