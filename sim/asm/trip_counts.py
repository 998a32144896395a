"""Trip counts of LOOPs known at compile time: constant coordinates propagated over the blocks.

Why: a software pipeline of S stages runs its kernel T - (S - 1) times, so it is only
correct for a loop that runs at least S times.  The compiler pipelines a loop when
it can prove that, or when the programmer promises it (``.mintrip``).

Each dimension of each coordinate register is a constant or unknown at the entry of
every block (nothing is assumed about the state a program starts in): CSET and CCLR
make constants, CADD and LOOP add to them, CMOV copies, CPUT makes an unknown; where
paths join, two different values give an unknown.  A loop ``LOOP ck.dim < cj.dim2``
over a straight-line body that changes ``ck.dim`` only by CADD and the LOOP (by
``delta`` in all per iteration) and never writes ``cj.dim2``, entered with
``ck.dim = v`` and ``cj.dim2 = L``, runs ``max(1, ceil((L - v) / delta))`` times:
iteration ``n`` ends with ``ck.dim = v + (n + 1) * delta`` and the next runs while
that is below ``L``.
"""

from sim.isa.encoding import NDIMS, COp

__all__ = ["coordinate_constants", "trip_count"]

_UNKNOWN = None


def _signed12(value):
    return value - 0x1000 if value & 0x800 else value


def _transfer(state, ops):
    state = dict(state)
    for op in ops:
        if op.lane != "C":
            continue
        f = op.fields
        if op.op == COp.CSET:
            state[(f["ck"], f["dim"])] = f["imm11"]
        elif op.op in (COp.CADD, COp.LOOP):
            key = (f["ck"], f["dim"])
            delta = _signed12(f["imm12"]) if op.op == COp.CADD else 1
            state[key] = _UNKNOWN if state[key] is _UNKNOWN else state[key] + delta
        elif op.op == COp.CPUT:
            state[(f["ck"], f["dim"])] = _UNKNOWN
        elif op.op == COp.CMOV:
            for d in range(NDIMS):
                state[(f["ck"], d)] = state[(f["cj"], d)]
        elif op.op == COp.CCLR:
            for d in range(NDIMS):
                state[(f["ck"], d)] = 0
    return state


def _meet(a, b):
    return {k: (a[k] if a[k] == b[k] else _UNKNOWN) for k in a}


def coordinate_constants(serial):
    """``(entry, exit)``: for each block (by index in ``serial.blocks``) the state
    ``{(k, d): value or None}`` at its entry and exit, None for an unreachable block."""
    blocks = serial.blocks
    index = {b.start: i for i, b in enumerate(blocks)}
    unknown = {(k, d): _UNKNOWN for k in range(8) for d in range(NDIMS)}
    entry = [None] * len(blocks)
    exit_ = [None] * len(blocks)
    entry[0] = unknown
    work = [0]
    while work:
        i = work.pop()
        exit_[i] = _transfer(entry[i], blocks[i].ops)
        succ = []
        term = blocks[i].terminator
        if term is not None and term.target is not None:
            succ.append(index[min(term.target, serial.length)])
        if blocks[i].falls_through and i + 1 < len(blocks):
            succ.append(i + 1)
        for j in succ:
            new = exit_[i] if entry[j] is None else _meet(entry[j], exit_[i])
            if new != entry[j]:
                entry[j] = new
                work.append(j)
    return entry, exit_


def trip_count(body, state):
    """The number of times a loop body (ops ending with its LOOP) runs when entered in
    coordinate ``state``; None if that is not known at compile time."""
    loop = body[-1]
    if state is None or loop.lane != "C" or loop.op != COp.LOOP:
        return None
    counter = (loop.fields["ck"], loop.fields["dim"])
    limit = (loop.fields["cj"], loop.fields["dim2"])
    delta = 0
    for op in body:
        if limit in {(k, d) for _, k, d in op.creg_writes}:
            return None
        if counter in {(k, d) for _, k, d in op.creg_writes}:
            if op.op == COp.CADD:
                delta += _signed12(op.fields["imm12"])
            elif op.op == COp.LOOP:
                delta += 1
            else:
                return None
    start, end = state[counter], state[limit]
    if start is None or end is None or delta < 1:
        return None
    return max(1, -(-(end - start) // delta))
