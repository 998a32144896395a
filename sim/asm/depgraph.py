"""The dependence graph of a block or loop body: which operation must come after which.

Why: packing operations into SIWs is only correct if every operation still sees
what it saw in the serial program.  Under parallel semantics (docs/isa.md section 3:
all lanes of an SIW read the state before it) that is exactly: an edge ``a -> b``
with ``latency`` L and ``distance`` D says that ``b`` of iteration ``n + D`` must
retire at least L cycles after ``a`` of iteration ``n`` (D is 0 in straight-line code).

* RAW (``b`` reads what ``a`` wrote): L is ``a``'s latency from the core's Timing
  table for a data register, 1 for a coordinate register or memory (visible to the
  next SIW).  So a reader never shares the writer's SIW.
* WAR (``b`` overwrites what ``a`` read): L = 0, the same SIW is fine.
* WAW (both write): L = ``a``'s latency, so the later write lands last and the
  hardware, which waits until a register it writes is ready, does not stall; two
  writes of one data register never share an SIW (illegal-SIW rule 4).
* Memory: writes (SCATTER, ERASE) stay in order among themselves; a read and a
  write are ordered unless ``AddressModel`` proves their coordinates differ.
* Control: in a block, every operation precedes the LOOP, JUMP or HALT that ends
  it (L = 0: it may share its SIW).  In a loop body the LOOP is placed by the
  modulo scheduler instead.

In a loop body the same rules give loop-carried edges (D >= 1) from the last access
of each resource in one iteration to the first ones of the next.
"""

from dataclasses import dataclass

from .addresses import AddressModel

__all__ = ["Edge", "dependence_edges", "register_names"]

#: A coordinate register's new value is visible to the next SIW.
_COORD_LATENCY = 1
#: A memory write is visible to a GATHER in the next SIW (docs/isa.md section 7).
_MEMORY_LATENCY = 1


@dataclass(frozen=True)
class Edge:
    """``dst`` of iteration ``n + distance`` retires at least ``latency`` cycles after
    ``src`` of iteration ``n`` (positions in the op list); ``kind`` RAW, WAR, WAW,
    MEM or CTRL; ``resource`` what they share (for listings and tests)."""
    src: int
    dst: int
    latency: int
    distance: int
    kind: str
    resource: object = None

    def __post_init__(self):
        if self.latency < 0 or self.distance < 0:
            raise ValueError(f"an edge needs latency and distance >= 0: {self}")
        if self.distance == 0 and self.src >= self.dst:
            raise ValueError(f"a dependence within an iteration goes forward: {self}")


def register_names(ops):
    """The default naming: ``(position, field) -> ("r", register)`` for every data
    register operand."""
    names = {}
    for pos, op in enumerate(ops):
        for field, reg in op.reads:
            names[(pos, field)] = ("r", reg)
        if op.writes:
            names[(pos, op.writes[0])] = ("r", op.writes[1])
    return names


def _accesses(ops, timing, names):
    """resource -> [(position, reads, writes, latency of the write)] in op order."""
    table = {}

    def add(resource, pos, reads, writes, latency):
        entries = table.setdefault(resource, [])
        if entries and entries[-1][0] == pos:
            _, r, w, lat = entries[-1]
            entries[-1] = (pos, r or reads, w or writes, max(lat, latency))
        else:
            entries.append((pos, reads, writes, latency))

    for pos, op in enumerate(ops):
        for field, _ in op.reads:
            add(names[(pos, field)], pos, True, False, 0)
        if op.writes:
            add(names[(pos, op.writes[0])], pos, False, True, op.latency(timing))
        for res in op.creg_reads:
            add(res, pos, True, False, 0)
        for res in op.creg_writes:
            add(res, pos, False, True, _COORD_LATENCY)
    return table


def _resource_edges(resource, accesses, loop, carried):
    """Edges for one register or coordinate dimension from its accesses in op order."""
    edges = []
    last_writer, last_latency, readers = None, 0, []
    exposed = []                  # reads before the first write (they see the previous iteration)
    first_writer = None
    for pos, reads, writes, latency in accesses:
        if reads:
            if last_writer is None:
                exposed.append(pos)
            else:
                edges.append(Edge(last_writer, pos, last_latency, 0, "RAW", resource))
            readers.append(pos)
        if writes:
            if last_writer is not None:
                edges.append(Edge(last_writer, pos, last_latency, 0, "WAW", resource))
            edges += [Edge(r, pos, 0, 0, "WAR", resource) for r in readers if r != pos]
            if first_writer is None:
                first_writer = pos
            last_writer, last_latency, readers = pos, latency, []
    if loop and carried and last_writer is not None:
        edges += [Edge(last_writer, r, last_latency, 1, "RAW", resource) for r in exposed]
        edges.append(Edge(last_writer, first_writer, last_latency, 1, "WAW", resource))
        edges += [Edge(r, first_writer, 0, 1, "WAR", resource) for r in readers]
    return edges


def _memory_edges(ops, loop, max_distance, entry):
    model = AddressModel(ops, loop, entry)
    mem = [pos for pos, op in enumerate(ops) if op.memory is not None]
    writes = [pos for pos in mem if ops[pos].memory == "write"]
    edges = [Edge(a, b, _MEMORY_LATENCY, 0, "MEM", "memory") for a, b in zip(writes, writes[1:])]
    if loop and writes and (max_distance is None or max_distance >= 1):
        edges.append(Edge(writes[-1], writes[0], _MEMORY_LATENCY, 1, "MEM", "memory"))
    for x, a in enumerate(mem):
        for b in mem[x + 1:]:
            kinds = (ops[a].memory, ops[b].memory)
            if kinds == ("read", "read") or kinds == ("write", "write"):
                continue
            if model.may_meet(a, b, 0):
                edges.append(Edge(a, b, _MEMORY_LATENCY if kinds[0] == "write" else 0, 0,
                                  "MEM", "memory"))
    if loop:
        for a in mem:
            for b in mem:
                kinds = (ops[a].memory, ops[b].memory)
                if kinds == ("read", "read") or kinds == ("write", "write"):
                    continue
                dist = model.first_meeting(a, b, max_distance)
                if dist is not None:
                    edges.append(Edge(a, b, _MEMORY_LATENCY if kinds[0] == "write" else 0, dist,
                                      "MEM", "memory"))
    return edges


def dependence_edges(ops, timing, *, loop=False, names=None, expanded=frozenset(),
                     max_distance=None, entry=None):
    """Every dependence among ``ops`` (a list of :class:`sim.asm.ops.Op`), merged so that
    each ``(src, dst, distance)`` has one edge of the largest latency.

    ``timing``: the target's :class:`sim.isa.encoding.Timing`.  ``loop``: ``ops`` is a
    loop body ending with its LOOP; add loop-carried edges and no control edges.
    ``names``: ``(position, field) -> resource`` for data registers (default
    :func:`register_names`); renaming gives distinct values distinct names.
    ``expanded``: names whose loop-carried WAR and WAW edges modulo variable expansion
    removes (each iteration writes its own copy).  ``max_distance``: loop-carried
    memory dependences beyond this many iterations cannot happen (trip count - 1).
    ``entry``: coordinate dimensions known on entry, ``{(k, d): value or None}``
    (``sim/asm/trip_counts.py``), which let more memory accesses be told apart.
    """
    if names is None:
        names = register_names(ops)
    edges = []
    for resource, accesses in _accesses(ops, timing, names).items():
        edges += _resource_edges(resource, accesses, loop, resource not in expanded)
    edges += _memory_edges(ops, loop, max_distance, entry)
    if not loop and ops and ops[-1].is_control:
        last = len(ops) - 1
        edges += [Edge(pos, last, 0, 0, "CTRL") for pos in range(last)]
    merged = {}
    for e in edges:
        key = (e.src, e.dst, e.distance)
        if key not in merged or merged[key].latency < e.latency:
            merged[key] = e
    return sorted(merged.values(), key=lambda e: (e.src, e.dst, e.distance))
