"""List scheduling of straight-line code: a block's operations packed into SIWs.

Why a list scheduler: it is the simplest packer that honours every dependence
(``sim/asm/depgraph.py``) and one operation per lane per SIW, and it fills each
cycle with the operations on the longest remaining path first, so a block
finishes as early as its dependences and lanes allow.  Cycle by cycle, an
operation is ready once every predecessor ``p`` has been placed at a cycle ``t_p``
with ``t_p + latency <= cycle`` (latency 0: the same SIW, placed earlier in that
cycle); among the ready ones whose lane is still free, the one with the greatest
height (longest latency path to the end of the block) goes first, ties in serial
order.  A cycle in which nothing is ready stays empty: the emitted code has no SIW
there and the core's interlock waits instead (docs/isa.md section 7).
"""

__all__ = ["list_schedule", "heights"]


def heights(n, edges):
    """Longest latency path from each of ``n`` operations to the end.  Straight-line
    edges (distance 0) always go forward in serial order, so one backward pass does."""
    height = [0] * n
    succ = [[] for _ in range(n)]
    for e in edges:
        if e.distance == 0:
            if e.src >= e.dst:
                raise ValueError(f"a straight-line dependence goes backwards: {e}")
            succ[e.src].append((e.dst, e.latency))
    for x in reversed(range(n)):
        height[x] = max([0] + [lat + height[y] for y, lat in succ[x]])
    return height


def list_schedule(lanes, edges, earliest=None):
    """The cycle of each operation: ``lanes[i]`` is operation ``i``'s lane, ``edges`` its
    dependences (:class:`sim.asm.depgraph.Edge`, distance 0), ``earliest[i]`` a cycle
    before which it may not go (default 0; e.g. a register still in flight at entry)."""
    n = len(lanes)
    if earliest is None:
        earliest = [0] * n
    preds = [[] for _ in range(n)]
    for e in edges:
        if e.distance != 0:
            raise ValueError("list scheduling takes straight-line dependences only")
        preds[e.dst].append((e.src, e.latency))
    height = heights(n, edges)
    order = sorted(range(n), key=lambda x: (-height[x], x))
    times = [None] * n
    left = n
    cycle = 0
    while left:
        used = set()
        placed = True
        while placed:
            placed = False
            for x in order:
                if times[x] is not None or lanes[x] in used or earliest[x] > cycle:
                    continue
                if all(times[p] is not None and times[p] + lat <= cycle for p, lat in preds[x]):
                    times[x] = cycle
                    used.add(lanes[x])
                    left -= 1
                    placed = True
                    break
        cycle += 1
    return times
