"""Stalls a program will meet, predicted from its words and the core's Timing table.

Why: the compiler packs code so that the core's interlock (docs/isa.md section 7)
seldom waits, and says where it will.  This module is how it says it, for any
program: it applies the timing model to the program's control-flow graph instead
of to one run, so its prediction holds for every run from a fresh start.

The core retires SIW ``k + 1`` at ``max(t_k + 1 + p_k, ready(r))`` over the
registers it reads or writes.  Relative to ``t_k + 1 + p_k`` (the cycle it could
retire in), a register's *residue* is how much later it becomes ready, at least 0.
After an SIW that waited ``w`` cycles, a register it writes with latency ``l`` has
residue ``l - 1 - p`` on the edge with penalty ``p``; any other register's residue
drops by ``w + 1 + p``.  Residues are tracked as intervals ``[low, high]`` (exact on
a straight path, widened where paths join) until nothing changes, and each SIW's
wait lies in ``[max low, max high]`` over the registers it touches.
"""

from sim.asm.disasm import decode_siw
from sim.isa.encoding import COp

from .ops import Op

__all__ = ["siw_ops", "straight_line", "loop_cycles", "predict_stalls"]


def siw_ops(word):
    """The :class:`sim.asm.ops.Op` of each non-NOP slot of ``word``."""
    return [Op(lane, op, fields) for lane, (op, fields) in decode_siw(word).items() if op.value]


def _touched(ops):
    regs = set()
    for op in ops:
        regs.update(reg for _, reg in op.reads)
        if op.writes:
            regs.add(op.writes[1])
    return regs


def straight_line(siws, timing, ready=None, penalties=None):
    """Retire cycles of ``siws`` (lists of Ops) run in order from cycle 0, the first
    retiring no earlier than 0: ``(cycles, ready, next)`` with ``ready`` the cycle
    from which each register written is ready and ``next`` the earliest cycle of an
    SIW after them.  ``ready`` on entry: registers still in flight; ``penalties[k]``:
    the ``p_k`` after SIW ``k`` (default 0)."""
    ready = dict(ready or {})
    earliest = 0
    cycles = []
    for k, ops in enumerate(siws):
        t = max([earliest] + [ready.get(r, 0) for r in _touched(ops)])
        for op in ops:
            if op.writes:
                ready[op.writes[1]] = t + op.latency(timing)
        cycles.append(t)
        earliest = t + 1 + (penalties[k] if penalties else 0)
    return cycles, ready, earliest


def loop_cycles(siws, timing, ready=None):
    """Cycles per pass of a loop whose body is ``siws`` (lists of Ops), branching back
    every time, in the steady state (entered with ``ready`` in flight)."""
    if not siws:
        return 0
    reps = 4
    cycles, _, _ = straight_line(list(siws) * reps, timing, ready)
    return cycles[(reps - 1) * len(siws)] - cycles[(reps - 2) * len(siws)]


def _successors(address, ops, length, timing):
    """``(address, penalty)`` of each SIW that can follow the one at ``address``."""
    out = []
    control = next((op for op in ops if op.is_control), None)
    if control is None:
        out.append((address + 1, 0))
    elif control.op == COp.JUMP:
        out.append((control.target, 0))
    elif control.op == COp.LOOP:
        out += [(control.target, 0), (address + 1, timing.loop_exit)]
    return [(a, p) for a, p in out if a < length]


def _join(a, b):
    out = {}
    for r in set(a) | set(b):
        la, ha = a.get(r, (0, 0))
        lb, hb = b.get(r, (0, 0))
        out[r] = (min(la, lb), max(ha, hb))
    return {r: v for r, v in out.items() if v != (0, 0)}


def predict_stalls(words, timing):
    """For each address, ``(low, high)``: the cycles the SIW there waits whenever it
    retires in a run started at address 0 (None if no run reaches it).  Faults are
    not modelled (a faulting SIW ends the run)."""
    n = len(words)
    ops = [siw_ops(w) for w in words]
    touched = [_touched(o) for o in ops]
    state = [None] * n
    if n:
        state[0] = {}
    work = [0] if n else []
    while work:
        a = work.pop()
        res = state[a]
        low = max([0] + [res.get(r, (0, 0))[0] for r in touched[a]])
        high = max([0] + [res.get(r, (0, 0))[1] for r in touched[a]])
        for b, p in _successors(a, ops[a], n, timing):
            out = {}
            for r, (lo, hi) in res.items():
                lo, hi = max(0, lo - high - 1 - p), max(0, hi - low - 1 - p)
                if hi:
                    out[r] = (lo, hi)
            for op in ops[a]:
                if op.writes:
                    lat = max(0, op.latency(timing) - 1 - p)
                    if lat:
                        out[op.writes[1]] = (lat, lat)
                    else:
                        out.pop(op.writes[1], None)
            new = out if state[b] is None else _join(state[b], out)
            if new != state[b]:
                state[b] = new
                work.append(b)
    result = []
    for a in range(n):
        if state[a] is None:
            result.append(None)
            continue
        res = state[a]
        result.append((max([0] + [res.get(r, (0, 0))[0] for r in touched[a]]),
                       max([0] + [res.get(r, (0, 0))[1] for r in touched[a]])))
    return result
