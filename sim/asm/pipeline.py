"""Software pipelining of one LOOP: a modulo schedule turned into prologue, kernel and epilogue.

Why its own module: the modulo scheduler (``sim/asm/modulo_scheduler.py``) only
finds times; making code of them needs the ISA's LOOP semantics and the registers.

The loop is ``label: body ... LOOP ck.dim < cj.dim2, label``, a straight-line body
entered only by falling into it.  With a modulo schedule of II cycles and S stages,
iteration ``n`` runs operation ``x`` in pass ``n + stage(x)``, row ``t(x) mod II``.
The *prologue* is passes ``0 .. P-1`` (only the iterations that have begun), the
*kernel* a pass in which every stage is busy, run again and again, and the
*epilogue* the passes after the last iteration's stage 0 (only the iterations not
yet finished).  Rows with no operation are left out: the core's interlock waits
there if anything is still in flight.

Correct with the ISA's LOOP, because:

* the LOOP is pinned to the kernel's last row in stage 0, so the LOOP of iteration
  ``n`` ends the pass that starts iteration ``n``'s stage 0 and branches back while
  iteration ``n + 1`` exists: the kernel runs T - P times for a trip count T;
* in the prologue, and in all but the last copy of an unrolled kernel, the LOOP is
  known to branch back, so it becomes ``CADD ck.dim, 1``, its effect on the counter;
* all operations that touch a coordinate register the body writes sit in one stage
  (the counter's in stage 0, with the LOOP): a GATHER [ck] has no offset, so an
  operation of iteration ``n`` in another stage would see ``ck`` of another
  iteration.  Coordinate registers the body only reads are the same in every
  iteration and may be read in any stage;
* the dependences, with their loop-carried distances, hold between the passes.

So the kernel needs T >= P + 1 >= S: a loop is pipelined only if its trip count is
known at compile time (``sim/asm/trip_counts.py``) or promised by ``.mintrip``.  A
kernel unrolled ``u`` times for modulo variable expansion (``sim/asm/registers.py``)
needs a known T; the prologue then takes ``(T - S + 1) mod u`` extra passes so the
kernel runs a whole number of times.
"""

import math
from dataclasses import dataclass

from sim.isa.encoding import COp

from .depgraph import dependence_edges
from .emit import Heading, Label, PackedSIW, Slot
from .modulo_scheduler import modulo_schedule, recurrence_bound, resource_bound
from .registers import allocate, plan_names
from .stalls import loop_cycles

__all__ = ["PipelinedLoop", "pipeline_loop", "stage_constraints"]

#: How far above its lower bound the search for II goes before it gives up.
_II_SEARCH = 32
#: How far above its lower bound the modulo scheduler's depth-first search also runs:
#: near the bound some lane is (nearly) full, where the iterative search can fail.
_DEPTH_FIRST_II = 2


def stage_constraints(body):
    """``(stage_zero, groups)``: positions that must sit in stage 0 (the LOOP and every
    operation touching its counter's coordinate register, or one joined to it), and
    the other sets of positions that must share a stage (those touching one
    coordinate register the body writes; an operation touching two joins them)."""
    written = {k for op in body for _, k, _ in op.creg_writes}
    parent = {k: k for k in written}

    def find(k):
        while parent[k] != k:
            k = parent[k]
        return k

    for op in body:
        regs = sorted(op.coordinate_registers & written)
        for k in regs[1:]:
            parent[find(k)] = find(regs[0])
    groups = {}
    for pos, op in enumerate(body):
        for k in op.coordinate_registers & written:
            groups.setdefault(find(k), set()).add(pos)
    loop_pos = len(body) - 1
    stage_zero = groups.pop(find(body[loop_pos].fields["ck"]), set()) | {loop_pos}
    return stage_zero, [g for _, g in sorted(groups.items())]


@dataclass
class PipelinedLoop:
    """A software-pipelined loop: ``body`` (ops, LOOP last), its modulo ``schedule``,
    the renaming ``plan`` and ``register_for`` of :func:`sim.asm.registers.allocate`,
    ``unroll`` kernel copies, ``trip_count`` (None: only ``min_trip`` is known),
    ``prologue`` passes, the bounds II came from, and ``cycles_per_iteration``
    predicted in the steady state (set by :func:`pipeline_loop`)."""
    body: list
    schedule: object
    plan: object
    register_for: object
    unroll: int
    trip_count: int | None
    min_trip: int
    prologue: int
    resource_bound: int
    recurrence_bound: int
    cycles_per_iteration: float = 0.0

    @property
    def ii(self):
        return self.schedule.ii

    @property
    def stages(self):
        return self.schedule.stages

    @property
    def kernel_runs(self):
        """How many times the kernel runs (None if the trip count is not known)."""
        if self.trip_count is None:
            return None
        return (self.trip_count - self.prologue) // self.unroll

    def _slot(self, pos, iteration, text, branch):
        op = self.body[pos]
        fields = [f for f, _ in op.reads] + ([op.writes[0]] if op.writes else [])
        registers = {f: self.register_for(pos, f, iteration) for f in fields}
        if registers != {f: op.fields[f] for f in fields}:
            op = op.renamed(registers)
        if op.lane == "C" and op.op == COp.LOOP and not branch:
            op = op.loop_as_cadd()
        return Slot(op, self.schedule.stage(pos), text)

    def _rows(self, slots_of_row, cycle):
        """The non-empty rows of a pass that starts in ``cycle``."""
        out = []
        for row in range(self.ii):
            slots = slots_of_row(row)
            if slots:
                out.append(PackedSIW(slots, cycle + row))
        return out

    def _pass(self, p, text_of, branch=False, valid=lambda s, n: True, at=None):
        """The SIWs of pass ``p`` (absolute): stage ``s`` of iteration ``p - s``; ``at``
        the pass's place in the code (default ``p``), for the scheduled cycles."""
        def slots(row):
            out = []
            for pos in range(len(self.body)):
                if self.schedule.row(pos) != row:
                    continue
                s = self.schedule.stage(pos)
                n = p - s
                if n < 0 or not valid(s, n):
                    continue
                out.append(self._slot(pos, n, text_of(s, n), branch))
            return out
        return self._rows(slots, (p if at is None else at) * self.ii)

    def items(self, labels, title):
        """Headings, the loop's ``labels`` (on the kernel's first SIW) and its SIWs."""
        S, P, u, T = self.stages, self.prologue, self.unroll, self.trip_count
        out = [Heading(f"{title}: prologue, {P} pass{'es' if P != 1 else ''}")]
        for p in range(P):
            out += self._pass(p, lambda s, n: str(n))
        runs = f"runs {self.kernel_runs} times" if T is not None else \
            f"runs (trip count - {P}) times, trip count >= {self.min_trip}"
        out.append(Heading(f"{title}: kernel, {u} pass{'es' if u != 1 else ''} of II {self.ii}, "
                           f"{runs}"))
        out += [Label(name) for name in labels]
        for c in range(u):
            out += self._pass(P + c, lambda s, n, c=c: "i" + (f"{c - s:+d}" if c != s else ""),
                              branch=c == u - 1)
        out.append(Heading(f"{title}: epilogue, {S - 1} pass{'es' if S != 2 else ''}"))
        for e in range(S - 1):
            at = P + u + e                  # after one pass through the kernel
            if T is not None:
                out += self._pass(T + e, lambda s, n: str(n), valid=lambda s, n: n < T, at=at)
            else:
                # Pass e after the kernel holds stage s >= e + 1 of iteration last - (s - e - 1).
                def text(s, n, e=e):
                    back = s - e - 1
                    return "last" + (f"-{back}" if back else "")
                out += self._pass(S - 1 + e, text, valid=lambda s, n, e=e: s >= e + 1, at=at)
        return out

    def kernel_siws(self):
        """The kernel's SIWs (lists of Ops), all its copies."""
        out = []
        for c in range(self.unroll):
            out += self._pass(self.prologue + c, lambda s, n: "", branch=c == self.unroll - 1)
        return [[slot.op for slot in siw.slots] for siw in out]

    def cost(self):
        """What makes one pipeline better than another: predicted cycles of all
        iterations when the trip count is known, else cycles per iteration (the loop
        may run far more often than promised); then fewer stages."""
        if self.trip_count is None:
            return (self.cycles_per_iteration, self.stages)
        return ((self.trip_count + self.stages - 1) * self.cycles_per_iteration, self.stages)


def pipeline_loop(body, timing, *, trip_count=None, min_trip=None, scratch=(), worse_than=None,
                  entry=None):
    """The best :class:`PipelinedLoop` for ``body`` (ops, LOOP last) or ``(None, reason)``.

    ``trip_count``: the known trip count, else ``min_trip`` the promised minimum (one
    of them is needed).  ``scratch``: registers free for renaming.  ``worse_than``:
    cycles per iteration of the plain schedule; an II at or above it is not tried.
    ``entry``: the coordinate dimensions known before the first iteration.  Returns ``(loop, reason)``: the loop (or None) and why not, if not.
    """
    if trip_count is None and min_trip is None:
        return None, "trip count unknown at compile time (.mintrip N promises one)"
    lanes = [op.lane for op in body]
    n = len(body)
    least = trip_count if trip_count is not None else min_trip
    modes = ["none"]
    if scratch:
        modes.append("separate")
        if trip_count is not None:
            modes.append("expand")
    stage_zero, groups = stage_constraints(body)
    best, reason = None, None
    for mode in modes:
        plan = plan_names(body, mode)
        edges = dependence_edges(body, timing, loop=True, names=plan.names, expanded=plan.expanded,
                                 max_distance=None if trip_count is None else trip_count - 1,
                                 entry=entry)
        res, rec = resource_bound(lanes), recurrence_bound(n, edges)
        low = max(res, rec)
        high = low + _II_SEARCH
        if worse_than is not None:
            high = min(high, math.ceil(worse_than))
        for ii in range(low, high):
            schedule = modulo_schedule(lanes, edges, ii, pinned={n - 1: ii - 1},
                                       stage_zero=stage_zero, groups=groups,
                                       depth_first=ii < low + _DEPTH_FIRST_II)
            if schedule is None:
                continue
            alloc = allocate(plan, body, schedule, timing, scratch, trip_count)
            if alloc is None:
                reason = reason or f"not enough scratch registers at II {ii}"
                continue
            unroll, register_for = alloc
            if least < schedule.stages + unroll - 1:
                reason = reason or (f"{schedule.stages} stages need at least "
                                    f"{schedule.stages + unroll - 1} iterations, the loop runs "
                                    f"{'at least ' if trip_count is None else ''}{least}")
                continue
            prologue = schedule.stages - 1
            if trip_count is not None:
                prologue += (trip_count - schedule.stages + 1) % unroll
            loop = PipelinedLoop(body, schedule, plan, register_for, unroll, trip_count,
                                 least, prologue, res, rec)
            loop.cycles_per_iteration = loop_cycles(loop.kernel_siws(), timing) / unroll
            if best is None or loop.cost() < best.cost():
                best = loop
            break
        else:
            if reason is None:
                reason = f"no modulo schedule below II {high}" if worse_than is None else \
                    f"no modulo schedule faster than the plain loop ({worse_than:g} cycles)"
    if best is not None and worse_than is not None:
        plain = (trip_count * worse_than, 0) if trip_count is not None else (worse_than, 0)
        if best.cost() >= plain:
            return None, (f"the pipeline ({best.cost()[0]:g} cycles) is no faster than the "
                          f"plain loop ({plain[0]:g})")
    return best, (None if best is not None else reason)
