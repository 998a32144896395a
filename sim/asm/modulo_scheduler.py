"""Modulo scheduling of a loop body (iterative, B. R. Rau 1994; then depth-first): one timetable for all iterations.

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
which is placed again later.  A budget of steps bounds the search.  Where it fails
(a lane full at this II, where evictions can go round and round), a depth-first
search with backtracking may follow (:func:`_depth_first`, its own budget); the
caller then tries ``II + 1``.
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


def modulo_schedule(lanes, edges, ii, *, pinned=None, stage_zero=(), groups=(), budget=None,
                    depth_first=True):
    """A :class:`ModuloSchedule` at this ``ii`` for operations on ``lanes`` with
    dependences ``edges``, or None if the search finds none within its budget.

    ``pinned``: ``{operation: time}`` fixed times.  ``stage_zero``: operations that
    must have ``time < ii``.  ``groups``: sets of operations that must share a stage.
    ``budget``: steps of the iterative search.  ``depth_first``: when it fails, run the
    depth-first search too (:data:`DEPTH_FIRST_BUDGET` steps).
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
    problem = _Problem(lanes, edges, ii, pinned, groups, low, high)
    times = _iterative(problem, budget)
    if times is None and depth_first:
        times = _depth_first(problem, DEPTH_FIRST_BUDGET)
    if times is None:
        return None
    schedule = ModuloSchedule(ii, tuple(times[i] for i in range(n)))
    _check(schedule, lanes, edges, pinned, stage_zero, groups)
    return schedule


class _Problem:
    """What both searches need: lanes, II, pinned times, the windows, the groups and the
    dependences as ``(other operation, weight)`` lists (``t_dst >= t_src + weight``)."""

    def __init__(self, lanes, edges, ii, pinned, groups, low, high):
        n = len(lanes)
        self.n, self.lanes, self.ii, self.pinned, self.groups = n, lanes, ii, pinned, groups
        self.low, self.high = low, high
        self.group_of = {}
        for g, members in enumerate(groups):
            for i in members:
                self.group_of[i] = g
        self.preds = [[] for _ in range(n)]
        self.succs = [[] for _ in range(n)]
        for e in edges:
            w = e.latency - e.distance * ii
            self.preds[e.dst].append((e.src, w))
            self.succs[e.src].append((e.dst, w))
        self.height = _heights(n, edges, ii)


def _iterative(problem, budget):
    """Rau's iterative search: ``{operation: time}``, or None when it gives up."""
    n, lanes, ii, pinned, groups = problem.n, problem.lanes, problem.ii, problem.pinned, problem.groups
    low, high, group_of = problem.low, problem.high, problem.group_of
    preds, succs, height = problem.preds, problem.succs, problem.height
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
    return times


#: Steps (tentative placements) of the depth-first search before it gives up.
DEPTH_FIRST_BUDGET = 3000
#: Stages of an operation's window the depth-first search tries.
_DEPTH_FIRST_SPAN = 3


def _depth_first(problem, budget):
    """A depth-first search with backtracking: ``{operation: time}``, or None.

    Why beside the iterative search: when every row of a lane is taken (a body at its
    resource bound) the iterative search can evict the same operations round and
    round.  This search places the operation with the fewest free times left, tries
    its times in order, narrows every other window through the dependences after
    each placement and backtracks on an empty one, until ``budget`` placements.
    """
    n, lanes, ii, pinned, groups = problem.n, problem.lanes, problem.ii, problem.pinned, problem.groups
    preds, succs, group_of, height = problem.preds, problem.succs, problem.group_of, problem.height
    times, table = {}, {}
    steps = [budget]

    def narrow(low, high, changed):
        """Tighten the windows through the dependences from ``changed``; False if one empties."""
        work, queued = list(changed), set(changed)
        while work:
            i = work.pop()
            queued.discard(i)
            for j, w in succs[i]:
                if low[i] + w > low[j]:
                    low[j] = low[i] + w
                    if low[j] > high[j]:
                        return False
                    if j not in queued:
                        queued.add(j)
                        work.append(j)
            for j, w in preds[i]:
                if high[i] - w < high[j]:
                    high[j] = high[i] - w
                    if low[j] > high[j]:
                        return False
                    if j not in queued:
                        queued.add(j)
                        work.append(j)
        return True

    def candidates(i, low, high):
        top = min(high[i], low[i] + _DEPTH_FIRST_SPAN * ii - 1)
        return [t for t in range(int(low[i]), int(top) + 1) if (lanes[i], t % ii) not in table]

    def place(low, high):
        if len(times) == n:
            return True
        steps[0] -= 1
        if steps[0] < 0:
            return False
        best, best_times = None, None
        width = {i: min(high[i] - low[i] + 1, _DEPTH_FIRST_SPAN * ii) for i in range(n)
                 if i not in times}
        for i in sorted(width, key=lambda i: (width[i], -height[i], i)):
            if best is not None and width[i] > len(best_times):
                break                     # no more than width[i] times: none can be fewer
            ts = candidates(i, low, high)
            if best is None or (len(ts), -height[i]) < (len(best_times), -height[best]):
                best, best_times = i, ts
                if not ts:
                    return False
        i = best
        g = group_of.get(i)
        others = [j for j in groups[g] if j != i and j not in times] if g is not None else []
        for t in best_times:
            lo, hi = list(low), list(high)
            lo[i] = hi[i] = t
            s = t // ii
            for j in others:
                lo[j], hi[j] = max(lo[j], s * ii), min(hi[j], s * ii + ii - 1)
            if any(lo[j] > hi[j] for j in others) or not narrow(lo, hi, [i] + others):
                continue
            times[i] = t
            table[(lanes[i], t % ii)] = i
            if place(lo, hi):
                return True
            del times[i], table[(lanes[i], t % ii)]
            if steps[0] < 0:
                return False
        return False

    low, high = list(problem.low), list(problem.high)
    for i, t in pinned.items():
        if (lanes[i], t % ii) in table:
            return None
        times[i] = t
        table[(lanes[i], t % ii)] = i
    return dict(times) if place(low, high) else None


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
