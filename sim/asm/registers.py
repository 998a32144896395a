"""Register renaming in a pipelined loop: values, their lifetimes, and scratch registers.

Why: in a software pipeline, iteration ``n + 1`` writes a register while iteration
``n`` may still need the value it left there.  Kept in one register, a value must
die within II cycles of its definition, which can force a larger II.  With scratch
registers declared (``.scratch``), the compiler gives values their own registers:

* A *value* ("web") is a register's definitions and the uses they reach inside one
  iteration of the body, joined where one field is read and written (MAC's and
  LIH's ``rd``); ``ADD r1, r1, r2`` reads one value of r1 and writes the next.
  It is *carried* if it reaches the next iteration (a use before the register's
  first definition in the body reads the previous iteration's value); it is
  *live-out* if it holds the register's last definition in the body, so after the
  loop the register must hold the last iteration's copy of it.
* ``separate``: every value that is not live-out gets one scratch register of its
  own, so values that only shared a register name no longer wait for each other.
* ``expand`` (modulo variable expansion, trip count known): a value that is not
  carried gets ``q`` registers used in turn by successive iterations, ``q`` its
  lifetime divided by II, rounded up; the kernel is unrolled ``u`` times, ``u`` the
  largest ``q`` (every ``q`` rounded up to a divisor of ``u``).  A live-out value's
  copy for the last iteration is the register itself, so the loop ends with the
  serial program's value there.

Without scratch registers nothing is renamed and the compiler writes only
registers the serial program writes.
"""

from dataclasses import dataclass, field

__all__ = ["Web", "find_webs", "RenamingPlan", "plan_names", "allocate"]


@dataclass
class Web:
    """One value of data register ``register`` in a loop body: ``defs`` (positions) and
    ``occurrences`` (every ``(position, field)`` that names it, defs and uses)."""
    register: int
    defs: list = field(default_factory=list)
    uses: list = field(default_factory=list)
    occurrences: list = field(default_factory=list)
    carried: bool = False
    live_out: bool = False


def find_webs(ops):
    """The values of the data registers written in ``ops`` (a loop body):
    ``(webs, web_of)`` with ``web_of[(position, field)]`` the index of its web."""
    parent = []

    def new():
        parent.append(len(parent))
        return len(parent) - 1

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    current = {}                     # register -> web of its reaching definition
    exposed = {}                     # register -> [(position, field)] read before any write
    joins_exposed = {}               # register -> webs whose definition read an exposed value
    members = {}                     # raw web -> [(position, field, kind)]
    for pos, op in enumerate(ops):
        for fld, reg in op.reads:
            if reg in current:
                members[current[reg]].append((pos, fld, "use"))
            else:
                exposed.setdefault(reg, []).append((pos, fld))
        if op.writes:
            fld, reg = op.writes
            reads_own = fld in dict(op.reads)     # MAC, LIH: rd is read and written
            if reads_own and reg in current:
                w = current[reg]
            else:
                w = new()
                members[w] = []
                if reads_own:
                    joins_exposed.setdefault(reg, []).append(w)
            members[w].append((pos, fld, "def"))
            current[reg] = w
    carried = set()
    for reg, reads in exposed.items():
        if reg not in current:
            continue                      # read in the loop, never written: not a value here
        last = current[reg]
        members[last].extend((pos, fld, "use") for pos, fld in reads)
        carried.add(last)
        for w in joins_exposed.get(reg, []):
            parent[find(w)] = find(last)
    roots = {}
    webs = []
    web_of = {}
    for raw in sorted(members):
        root = find(raw)
        if root not in roots:
            roots[root] = len(webs)
            first_def = next(p for p, f, k in members[raw] if k == "def")
            reg = ops[first_def].writes[1]
            webs.append(Web(reg))
        web = webs[roots[root]]
        for pos, fld, kind in members[raw]:
            (web.defs if kind == "def" else web.uses).append(pos)
            web.occurrences.append((pos, fld))
            web_of[(pos, fld)] = roots[root]
        if raw in carried:
            web.carried = True
    for reg, raw in current.items():
        webs[roots[find(raw)]].live_out = True
    for web in webs:
        web.defs.sort()
        web.uses.sort()
    return webs, web_of


@dataclass
class RenamingPlan:
    """How a loop body's data registers are named for the dependence graph.

    ``mode``: "none", "separate" or "expand".  ``names``: ``(position, field) ->
    resource`` for :func:`sim.asm.depgraph.dependence_edges`; ``expanded``: the names
    whose copies rotate; ``renamed``: web index -> its name, for the webs that leave
    their register.
    """
    mode: str
    webs: list
    web_of: dict
    names: dict
    expanded: frozenset
    renamed: dict


def plan_names(ops, mode):
    """The :class:`RenamingPlan` of ``mode`` for a loop body ``ops``."""
    if mode not in ("none", "separate", "expand"):
        raise ValueError(f"renaming mode must be none, separate or expand, not {mode!r}")
    webs, web_of = find_webs(ops)
    renamed = {}
    for i, web in enumerate(webs):
        if mode == "separate" and not web.live_out:
            renamed[i] = ("web", i)
        elif mode == "expand" and not web.carried:
            renamed[i] = ("web", i)
    names = {}
    for pos, op in enumerate(ops):
        fields = list(op.reads) + ([op.writes] if op.writes else [])
        for fld, reg in fields:
            w = web_of.get((pos, fld))
            names[(pos, fld)] = renamed.get(w, ("r", reg)) if w is not None else ("r", reg)
    expanded = frozenset(renamed.values()) if mode == "expand" else frozenset()
    return RenamingPlan(mode, webs, web_of, names, expanded, renamed)


def _copies_needed(web, times, ops, ii, timing):
    start = min(times[p] for p in web.defs)
    end = max([times[p] for p in web.uses] +
              [times[p] + ops[p].latency(timing) for p in web.defs])
    return max(1, -(-(end - start) // ii))


def allocate(plan, ops, schedule, timing, scratch, trip_count=None):
    """Registers for the plan under a modulo ``schedule``: ``(unroll, register_for)`` with
    ``register_for(position, field, iteration)`` the register that occurrence uses in
    that iteration; None if the ``scratch`` registers do not suffice."""
    times, ii = schedule.times, schedule.ii
    copies = {}
    for w in plan.renamed:
        web = plan.webs[w]
        copies[w] = _copies_needed(web, times, ops, ii, timing) if plan.mode == "expand" else 1
    unroll = max(copies.values(), default=1)
    for w, q in copies.items():
        copies[w] = next(d for d in range(q, unroll + 1) if unroll % d == 0)
    if unroll > 1 and trip_count is None:
        return None
    pool = list(scratch)
    registers = {}
    for w in sorted(plan.renamed):
        web = plan.webs[w]
        mine = [web.register] if web.live_out else []
        need = copies[w] - len(mine)
        if need > len(pool):
            return None
        mine += [pool.pop(0) for _ in range(need)]
        registers[w] = mine
    # A live-out value's last-iteration copy is its own register (copy 0).
    anchor = {w: (trip_count - 1 if plan.webs[w].live_out and trip_count is not None else 0)
              for w in plan.renamed}

    def register_for(pos, fld, iteration):
        w = plan.web_of.get((pos, fld))
        if w is None or w not in registers:
            return ops[pos].fields[fld]
        regs = registers[w]
        return regs[(iteration - anchor[w]) % len(regs)]

    return unroll, register_for
