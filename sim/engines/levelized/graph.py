"""The comb logic of an Amaranth design as a graph of per-signal nodes, in dependency order: the levelized engine's schedule.

Why: the levelized engine (:mod:`sim.engines.levelized`) computes every comb
signal once per evaluation, each after the signals it reads.  Fragments are too
coarse for that order (the core's modules feed each other both ways), and a
fragment's statements are often one big ``If`` over many signals; so a node is
the comb statements of one fragment that assign one signal (or the few that one
``Cat`` assigns together), filtered out of its statements when compiled, or one
asynchronous memory read port.  :meth:`CombGraph.levels` orders the nodes.
"""

from amaranth.hdl._ast import (Assign, Concat, Operator, Part, SignalSet, Slice, Switch,
                               SwitchValue)
from amaranth.hdl._mem import MemoryInstance
from amaranth.hdl._xfrm import LHSMaskCollector

__all__ = ["CombGraph", "Node", "fragments"]


class Node:
    """One unit of comb logic: signals of one fragment and the statements that
    drive them; or a memory's asynchronous read port; or a fragment's prints and
    assertions (``effects``).

    ``signals``: the slot indices it drives; ``stmts``: the fragment's whole comb
    statement list, of which it compiles its own (:meth:`CombGraph.wanted`);
    ``reads``: the slot indices it reads; ``port``, ``memory``: the read port
    (``MemoryInstance._ReadPort``) and its ``MemoryData``.
    """
    __slots__ = ("signals", "stmts", "reads", "port", "memory", "effects")

    def __init__(self, signals, stmts=(), reads=(), port=None, memory=None, effects=False):
        self.signals = signals
        self.stmts = stmts
        self.reads = set(reads)
        self.port = port
        self.memory = memory
        self.effects = effects


def fragments(fragment):
    """``fragment`` and every fragment below it, parents first."""
    stack = [fragment]
    while stack:
        f = stack.pop()
        yield f
        stack.extend(sub for sub, _name, _loc in reversed(f.subfragments))


class CombGraph:
    """The comb nodes of the design under fragment ``top``, for the simulator
    state ``state`` (whose slot indices name the signals).

    ``nodes``; ``driver``: slot index -> the node that drives it; ``masks``: slot
    index -> the bits of it that are assigned (the rest keep their initial value).
    """

    def __init__(self, state, top):
        self.state = state
        self.nodes = []
        self.driver = {}            # slot index -> its node
        self.masks = {}             # slot index -> bits assigned
        self._lhs = {}              # id(stmt) -> frozenset of slot indices
        self._effects = {}          # id(stmt) -> holds a Print or Property
        for fragment in fragments(top):
            self._add_fragment(fragment)

    def lhs_of(self, stmt):
        """Slot indices of every signal ``stmt`` assigns (cached)."""
        found = self._lhs.get(id(stmt))
        if found is None:
            found = self._lhs[id(stmt)] = frozenset(
                self.state.get_signal(s) for s in stmt._lhs_signals())
        return found

    def has_effects(self, stmt):
        """``stmt`` is, or holds, a Print or a Property (cached)."""
        found = self._effects.get(id(stmt))
        if found is None:
            if isinstance(stmt, Switch):
                found = any(self.has_effects(s) for _p, body, _l in stmt.cases for s in body)
            else:
                found = not isinstance(stmt, Assign)
            self._effects[id(stmt)] = found
        return found

    def wanted(self, stmt, only, effects):
        """Whether the node of signals ``only`` (or of ``effects``) compiles ``stmt``."""
        if isinstance(stmt, Assign):
            return bool(self.lhs_of(stmt) & only)
        if isinstance(stmt, Switch):
            return bool(self.lhs_of(stmt) & only) or (effects and self.has_effects(stmt))
        return effects

    def _add_fragment(self, fragment):
        """The nodes of one fragment's comb statements and comb memory read ports."""
        index = self.state.get_signal
        stmts = fragment.statements.get("comb", [])
        # Signals assigned by one statement (a Cat on the left) share a node.
        parent = {}

        def find(i):
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        def join(stmt_list):
            for stmt in stmt_list:
                if isinstance(stmt, Assign):
                    lhs = sorted(self.lhs_of(stmt))
                    for i in lhs:
                        parent.setdefault(i, i)
                    for i in lhs[1:]:
                        parent[find(i)] = find(lhs[0])
                elif isinstance(stmt, Switch):
                    for _patterns, body, _loc in stmt.cases:
                        join(body)
        join(stmts)
        groups = {}
        for i in sorted(parent):
            groups.setdefault(find(i), []).append(i)
        for members in groups.values():
            only = frozenset(members)
            self._add(Node(only, stmts, self._reads(stmts, only, False)))
        if any(self.has_effects(stmt) for stmt in stmts):
            self._add(Node(frozenset(), stmts, self._reads(stmts, frozenset(), True),
                           effects=True))
        masks = LHSMaskCollector()
        masks.visit_stmt(stmts)
        if isinstance(fragment, MemoryInstance):
            for port in fragment._read_ports:
                if port._domain == "comb":
                    masks.visit_value(port._data, ~0)
                    self._add(Node(frozenset(index(s) for s in port._data._lhs_signals()),
                                   reads=(index(s) for s in port._addr._rhs_signals()),
                                   port=port, memory=fragment._data))
        for signal, mask in masks.masks():
            if signal.shape().signed and (mask & 1 << (len(signal) - 1)):
                mask |= -1 << len(signal)
            self.masks[index(signal)] = mask

    def _add(self, node):
        self.nodes.append(node)
        for i in node.signals:
            self.driver[i] = node

    def _reads(self, stmts, only, effects):
        """Slot indices read by the statements of the node of ``only`` (or of
        ``effects``): right-hand sides, the tests of the switches they sit in,
        and offsets on the left; not the assigned signals themselves."""
        index = self.state.get_signal
        reads = set()
        for stmt in stmts:
            if not self.wanted(stmt, only, effects):
                continue
            if isinstance(stmt, Assign):
                reads.update(index(s) for s in stmt.rhs._rhs_signals())
                reads.update(index(s) for s in _lhs_reads(stmt.lhs))
            elif isinstance(stmt, Switch):
                reads.update(index(s) for s in stmt.test._rhs_signals())
                for _patterns, body, _loc in stmt.cases:
                    reads |= self._reads(body, only, effects)
            else:
                reads.update(index(s) for s in stmt._rhs_signals())
        return reads

    def levels(self):
        """``(components, deps)``: the nodes' strongly connected components, each
        after every one it reads (Tarjan's algorithm, without recursion: the core
        has chains thousands of nodes long), and ``deps``: id(node) -> the nodes
        it reads.  A component of several nodes, or of one that reads itself, is
        a combinational loop."""
        deps = {id(n): [self.driver[i] for i in sorted(n.reads) if i in self.driver]
                for n in self.nodes}
        order, low, on_stack, stack, out = {}, {}, set(), [], []

        def visit(node):
            order[id(node)] = low[id(node)] = len(order)
            stack.append(node)
            on_stack.add(id(node))
            work.append((node, iter(deps[id(node)])))

        for root in self.nodes:
            if id(root) in order:
                continue
            work = []
            visit(root)
            while work:
                node, pending = work[-1]
                for dep in pending:
                    if id(dep) not in order:
                        visit(dep)
                        break
                    if id(dep) in on_stack:
                        low[id(node)] = min(low[id(node)], order[id(dep)])
                else:
                    work.pop()
                    if work:
                        up = work[-1][0]
                        low[id(up)] = min(low[id(up)], low[id(node)])
                    if low[id(node)] == order[id(node)]:
                        component = []
                        while True:
                            member = stack.pop()
                            on_stack.discard(id(member))
                            component.append(member)
                            if member is node:
                                break
                        out.append(component[::-1])
        return out, deps


def _lhs_reads(value):
    """Signals an assignment target reads: Part offsets, SwitchValue tests."""
    if isinstance(value, (Slice,)):
        return _lhs_reads(value.value)
    if isinstance(value, Part):
        return _lhs_reads(value.value) | value.offset._rhs_signals()
    if isinstance(value, Concat):
        out = SignalSet()
        for part in value.parts:
            out |= _lhs_reads(part)
        return out
    if isinstance(value, Operator):
        out = SignalSet()
        for op in value.operands:
            out |= _lhs_reads(op)
        return out
    if isinstance(value, SwitchValue):
        out = value.test._rhs_signals()
        for _patterns, case in value.cases:
            out |= _lhs_reads(case)
        return out
    return SignalSet()

