"""Iterative modulo scheduling (B. R. Rau, 1994) of a loop body: one timetable for all iterations.

Why: a LOOP body packed on its own leaves lanes idle while it waits for its own
results; a software pipeline starts iteration ``n + 1`` every II cycles while
iteration ``n`` is still in flight.  A modulo schedule gives every operation of the
body a time ``t``; iteration ``n`` runs it at ``n * II + t``.  It is valid when

* every dependence ``a -> b`` (latency L, distance D, ``sim/asm/depgraph.py``) holds
  across iterations: ``t_b + D * II >= t_a + L``;
* no two operations of one lane share a row ``t mod II`` (one operation per lane
  per SIW: the modulo reservation table);
* pinned operations keep their times (the LOOP: ``II - 1``, the last row of the
  kernel, in stage 0), operations that must sit in stage 0 have ``t < II``, each
  group of operations shares one stage ``t div II``, and no time is negative.

II starts at the larger of two lower bounds: the *resource bound* (the most
operations any one lane carries) and the *recurrence bound* (the smallest II for
which no dependence cycle asks for more than its distance allows: for a cycle of
total latency L and distance D, ``II >= ceil(L / D)``; e.g. a MAC accumulating into
one register is a cycle of latency F and distance 1).  At a given II the scheduler
places operations by decreasing height (the longest path to the end of the
iteration, loop-carried edges counted at ``L - D * II``) at the earliest time its
placed predecessors allow, in the first row whose lane is free; when no row in
``II`` consecutive times is free it takes a time anyway and evicts what conflicts,
which is placed again later.  A budget of steps bounds the search; the caller then
tries ``II + 1``.
"""

from dataclasses import dataclass

__all__ = ["ModuloSchedule", "resource_bound", "recurrence_bound", "modulo_schedule"]

_INF = float("inf")


@dataclass(frozen=True)
class ModuloSchedule:
    """``times[i]``: the time of operation ``i`` in its iteration (``>= 0``); an
    iteration ``n`` runs it in cycle ``n * ii + times[i]`` of the pipeline."""
    ii: int
    times: tuple

    def __post_init__(self):
        if self.ii < 1 or not self.times or min(self.times) < 0:
            raise ValueError(f"a modulo schedule needs II >= 1 and times >= 0, not {self}")

    @property
    def stages(self):
        """How many kernel passes one iteration spans."""
        return max(self.times) // self.ii + 1

    def stage(self, i):
        return self.times[i] // self.ii

    def row(self, i):
        return self.times[i] % self.ii


def resource_bound(lanes):
    """The most operations any one lane carries: no II below it fits them."""
    counts = {}
    for lane in lanes:
        counts[lane] = counts.get(lane, 0) + 1
    return max(counts.values(), default=1)


def _has_positive_cycle(n, edges, ii):
    """Bellman-Ford on weights ``latency - distance * ii``: some cycle is positive."""
    dist = [0] * n
    for _ in range(n + 1):
        changed = False
        for e in edges:
            w = e.latency - e.distance * ii
            if dist[e.src] + w > dist[e.dst]:
                dist[e.dst] = dist[e.src] + w
                changed = True
        if not changed:
            return False
    return True


def recurrence_bound(n, edges):
    """The smallest II >= 1 at which no dependence cycle of the ``n`` operations is
    positive (``max ceil(latency / distance)`` over the cycles)."""
    high = 1 + sum(e.latency for e in edges)
    if not _has_positive_cycle(n, edges, 1):
        return 1
    low = 1                                   # infeasible
    while high - low > 1:
        mid = (low + high) // 2
        if _has_positive_cycle(n, edges, mid):
            low = mid
        else:
            high = mid
    return high


def _windows(n, edges, ii, pinned, stage_zero):
    """``(earliest, latest)`` time of each operation implied by the pinned times, stage 0
    and ``t >= 0`` through the dependences; None if some window is empty."""
    low = [0] * n
    high = [_INF] * n
    for i in stage_zero:
        high[i] = ii - 1
    for i, t in pinned.items():
        low[i] = high[i] = t
    for _ in range(n + 2):
        changed = False
        for e in edges:
            w = e.latency - e.distance * ii
            if low[e.src] + w > low[e.dst]:
                low[e.dst] = low[e.src] + w
                changed = True
            if high[e.dst] - w < high[e.src]:
                high[e.src] = high[e.dst] - w
                changed = True
        if any(low[i] > high[i] for i in range(n)):
            return None
        if not changed:
            return low, high
    return None


def _heights(n, edges, ii):
    height = [0] * n
    for _ in range(n + 1):
        changed = False
        for e in edges:
            h = height[e.dst] + e.latency - e.distance * ii
            if h > height[e.src]:
                height[e.src] = h
                changed = True
        if not changed:
            break
    return height


def modulo_schedule(lanes, edges, ii, *, pinned=None, stage_zero=(), groups=(), budget=None):
    """A :class:`ModuloSchedule` at this ``ii`` for operations on ``lanes`` with
    dependences ``edges``, or None if the search finds none within its budget.

    ``pinned``: ``{operation: time}`` fixed times.  ``stage_zero``: operations that
    must have ``time < ii``.  ``groups``: sets of operations that must share a stage.
    """
    n = len(lanes)
    pinned = dict(pinned or {})
    if ii < 1:
        raise ValueError(f"II must be at least 1, not {ii}")
    for i, t in pinned.items():
        if not 0 <= t:
            raise ValueError(f"pinned time {t} of operation {i} is negative")
    windows = _windows(n, edges, ii, pinned, set(stage_zero) | set(pinned))
    if windows is None:
        return None
    low, high = windows
    group_of = {}
    for g, members in enumerate(groups):
        for i in members:
            group_of[i] = g
    preds = [[] for _ in range(n)]
    succs = [[] for _ in range(n)]
    for e in edges:
        w = e.latency - e.distance * ii
        preds[e.dst].append((e.src, w))
        succs[e.src].append((e.dst, w))
    height = _heights(n, edges, ii)
    times = {}
    table = {}                                # (lane, row) -> operation

    def place(i, t):
        times[i] = t
        table[(lanes[i], t % ii)] = i

    def evict(i):
        del table[(lanes[i], times[i] % ii)]
        del times[i]
        waiting.add(i)

    for i, t in pinned.items():
        if (lanes[i], t % ii) in table:
            return None
        place(i, t)
    waiting = set(range(n)) - set(pinned)
    last_tried = {}
    steps = budget if budget is not None else max(100, 40 * n)

    def group_stage(i):
        g = group_of.get(i)
        if g is None:
            return None
        for j in groups[g]:
            if j != i and j in times:
                return times[j] // ii
        return None

    def fits(i, t, stage):
        if table.get((lanes[i], t % ii)) is not None:
            return False
        return stage is None or t // ii == stage

    while waiting:
        if steps == 0:
            return None
        steps -= 1
        i = min(waiting, key=lambda x: (-height[x], x))
        waiting.discard(i)
        start = low[i]
        for p, w in preds[i]:
            if p in times:
                start = max(start, times[p] + w)
        stage = group_stage(i)
        end = min(high[i], start + ii - 1)
        chosen = None
        for t in range(int(start), int(end) + 1 if end != _INF else int(start) + ii):
            if fits(i, t, stage) and all(t + w <= times[s] for s, w in succs[i] if s in times):
                chosen = t
                break
        if chosen is None:
            for t in range(int(start), int(end) + 1 if end != _INF else int(start) + ii):
                if fits(i, t, stage):
                    chosen = t
                    break
        if chosen is None:
            # No free row: take a time anyway (later than last time, to make progress),
            # inside the operation's window and off the pinned rows, and evict conflicts.
            t = start if i not in last_tried or start > last_tried[i] else last_tried[i] + 1
            t = max(low[i], min(t, high[i]))
            candidates = [c for c in range(int(t), int(t) + ii) if c <= high[i]] + \
                [c for c in range(int(low[i]), int(t))]
            chosen = next((c for c in candidates
                           if table.get((lanes[i], c % ii)) not in pinned), None)
            if chosen is None:
                return None
        last_tried[i] = chosen
        occupant = table.get((lanes[i], chosen % ii))
        if occupant is not None:
            evict(occupant)
        g = group_of.get(i)
        if g is not None:
            for j in groups[g]:
                if j != i and j in times and times[j] // ii != chosen // ii:
                    if j in pinned:
                        return None
                    evict(j)
        for s, w in succs[i]:
            if s in times and s != i and chosen + w > times[s]:
                if s in pinned:
                    return None
                evict(s)
        for p, w in preds[i]:
            if p in times and p != i and times[p] + w > chosen:
                if p in pinned:
                    return None
                evict(p)
        place(i, chosen)
    schedule = ModuloSchedule(ii, tuple(times[i] for i in range(n)))
    _check(schedule, lanes, edges, pinned, stage_zero, groups)
    return schedule


def _check(schedule, lanes, edges, pinned, stage_zero, groups):
    """Every constraint of the module docstring holds (a failure is a bug here)."""
    ii, t = schedule.ii, schedule.times
    assert all(x >= 0 for x in t), t
    for e in edges:
        assert t[e.dst] + e.distance * ii >= t[e.src] + e.latency, (e, t)
    rows = [(lanes[i], t[i] % ii) for i in range(len(t))]
    assert len(set(rows)) == len(rows), rows
    for i, when in pinned.items():
        assert t[i] == when
    for i in stage_zero:
        assert t[i] < ii
    for members in groups:
        assert len({t[i] // ii for i in members}) <= 1
