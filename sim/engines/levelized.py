"""Amaranth's Python simulator with the design's combinational logic levelized: settled in one pass.

Why
---
Amaranth 0.5's simulator (``amaranth.sim.pysim``) compiles the combinational
statements of each fragment (each elaborated module) into one Python function,
and runs every function whose inputs changed once per *delta cycle*; reading a
signal, a function sees its value from before the delta cycle.  So a value that
passes through ``n`` combinational signals in a row settles only after ``n``
delta cycles, and every delta cycle re-runs each whole fragment any of whose
inputs just changed.  In the Sentron core (``hdl/core.py``) a clock edge takes
about fifteen delta cycles and the decoder, the coordinate memory and the float
unit's multiplier are each run four to six times per clock.  The generated code
also repeats shared subexpressions (an ``illegal`` flag used by ten outputs is
computed ten times).

:class:`LevelizedEngine` is the same simulator with another compiler for the
combinational part (``comb`` statements and asynchronous memory reads of every
fragment; everything clocked is compiled by Amaranth's own compiler, as before):

1. **Per-signal nodes.**  The comb statements of a fragment are split per
   driven signal (signals assigned together by one ``Cat`` on the left stay
   together): a node is the statements that assign its signals, ``If``/``Switch``
   structure kept (a case that assigns none of them stays, empty, because the
   first matching case wins).
2. **Levelized.**  The nodes of the whole design are ordered so that each comes
   after every node whose signals it reads (Tarjan's strongly connected
   components).  One Python function evaluates them in that order, each read of
   an earlier node's signal taking the value just computed; so one run settles
   the whole design.  A node that (through others) reads its own signals, a
   combinational loop, is iterated until nothing changes, as the delta cycles
   would (``SettleError`` if it does not settle).
3. **Shared subexpressions computed once** (per scope of the generated code):
   each subexpression's code names a local variable the first time it occurs.

Signals change at the same simulated times, with the same values, as with
Amaranth's own compiler; a clock edge costs two delta cycles (the registers,
then the logic).  Only the number of delta cycles and of evaluations differs,
which a test bench cannot observe.

Relies on pysim's private compiler classes (Amaranth 0.5): :func:`available`
says whether they are there; the RTL engine falls back to the plain simulator if
not.
"""


__all__ = ["LevelizedEngine", "SettleError", "available", "make_simulator", "value_reader"]

try:
    from amaranth.hdl import Cat, Const, Signal, Value
    from amaranth.hdl._ast import (Assign, Concat, Operator, Part, Print, Property, SignalSet,
                                   Slice, Switch, SwitchValue)
    from amaranth.hdl._mem import MemoryInstance
    from amaranth.hdl._xfrm import LHSMaskCollector
    from amaranth.sim._pyrtl import (PyRTLProcess, _LHSValueCompiler, _PythonEmitter,
                                     _RHSValueCompiler, _StatementCompiler, _ValueCompiler,
                                     edge_waker)
    from amaranth.sim.pysim import PySimEngine, _PyEngineState
except ImportError:                      # another Amaranth: the plain simulator only
    PySimEngine = None

#: Passes through a combinational loop before :class:`SettleError`.
MAX_LOOP_PASSES = 1000


class SettleError(RuntimeError):
    """A combinational loop of the design did not settle."""


def available():
    """True if this Amaranth's simulator has the internals the engine builds on."""
    return PySimEngine is not None


def make_simulator(toplevel):
    """An ``amaranth.sim.Simulator`` of ``toplevel`` on :class:`LevelizedEngine` if
    :func:`available`, else on Amaranth's own engine."""
    from amaranth.sim import Simulator
    if available():
        return Simulator(toplevel, engine=LevelizedEngine)
    return Simulator(toplevel)


def value_reader(state, values):
    """A function of no arguments that returns the current value of each of
    ``values`` (Amaranth values), as ``ctx.get`` would, read straight from the
    simulator state ``state`` (``_PyEngineState`` of either engine): one compiled
    expression for all instead of ``ctx.get``'s interpretation of each."""
    emitter = _ScopedEmitter()
    rhs = _SettledRHS(state, emitter, {})
    codes = [rhs.sign(Value.cast(v)) for v in values]
    emitter.append(f"return [{', '.join(codes)}]")
    return _function(state, emitter, "levelized reader")


if PySimEngine is not None:

    class LevelizedEngine(PySimEngine):
        """``amaranth.sim.pysim.PySimEngine`` whose comb logic is one levelized
        process (see the module docstring); pass it as ``Simulator(design,
        engine=LevelizedEngine)``."""

        def __init__(self, design):
            # PySimEngine.__init__, with the fragments compiled by _compile below.
            self._design = design
            self._state = _PyEngineState()
            self._processes = _compile(self._state, design.fragment)
            self._testbenches = []
            self._delta_cycles = 0
            self._vcd_writers = []
            self._active_triggers = set()

    class _ScopedEmitter(_PythonEmitter):
        """Amaranth's code emitter that also remembers, per indentation scope, which
        local variable holds the value of each piece of code already emitted."""

        def __init__(self):
            super().__init__()
            self._level = 2             # inside make() and run() (_function)
            self._scopes = [{}]
            self.slots = set()          # slot indices the code names (bound once, outside run)

        def slot(self, index):
            """The name of the simulator's state of signal slot ``index``."""
            self.slots.add(index)
            return f"s_{index}"

        def indent(self):
            return _Scope(self, super().indent())

        def known(self, key):
            """The variable remembered for ``key`` in scope, or None."""
            for scope in reversed(self._scopes):
                name = scope.get(key)
                if name is not None:
                    return name
            return None

        def remember(self, key, name):
            self._scopes[-1][key] = name

        def shared(self, code):
            """A variable holding ``code``'s value (emitted now, or earlier in scope)."""
            if code.isidentifier():
                return code
            name = self.known(code)
            if name is None:
                name = self.def_var("v", code)
                self.remember(code, name)
            return name

    class _Scope:
        def __init__(self, emitter, indent):
            self.emitter, self.inner = emitter, indent

        def __enter__(self):
            self.emitter._scopes.append({})
            return self.inner.__enter__()

        def __exit__(self, *exc):
            self.emitter._scopes.pop()
            return self.inner.__exit__(*exc)

    class _SettledRHS(_RHSValueCompiler):
        """Amaranth's right-hand side compiler, reading each comb signal as already
        settled in this run (``names``: slot index -> local variable) and others
        from their slot; every subexpression (the same object, or the same code)
        computed once per scope; and no mask where the value needs none.

        Amaranth's code for a value ``v`` only promises that its low ``len(v)``
        bits are right, so every use masks (or sign-extends) it again.  Most values
        are *exact*, though: the integer itself, in ``0 .. 2**len - 1`` or, if
        signed, sign-extended (signals, constants, comparisons, masked slices, and
        arithmetic, whose Amaranth shape holds the exact result).  The names of
        exact values are kept in :attr:`exact`; using one needs no mask.
        """

        def __init__(self, state, emitter, names):
            super().__init__(state, emitter, mode="curr")
            self.names = names
            self.exact = set()          # code (variable names, literals) of exact values

        def on_value(self, value):
            if type(value) is Const or type(value) is Signal:
                code = super().on_value(value)
            else:
                key = ("id", id(value))
                code = self.emitter.known(key)
                if code is not None:
                    return code
                code = self.emitter.shared(super().on_value(value))
                self.emitter.remember(key, code)
            if _exact(value):             # (None: the operand's code, already known)
                self.exact.add(code)
            return code

        def on_Signal(self, value):
            index = self.state.get_signal(value)
            name = self.names.get(index)
            if name is None:
                return self.emitter.shared(f"{self.emitter.slot(index)}.curr")
            return name

        def mask(self, value):
            """``value``'s bits as an unsigned integer."""
            code = self(value)
            if code in self.exact and not value.shape().signed:
                return code
            return f"({(1 << len(value)) - 1:#x} & {code})"

        def sign(self, value):
            """``value`` as the exact integer (sign-extended if signed)."""
            code = self(value)
            if code in self.exact:
                return code
            return super().sign(value)

        def on_Operator(self, value):
            # Amaranth's on_Operator, with the masks of exact operands left out.
            ops, op = value.operands, value.operator
            if op in _REDUCTIONS:
                return self._reduction(op, ops[0])
            if len(ops) == 1:
                arg, = ops
                if op == "~" and not arg.shape().signed:
                    return f"({(1 << len(arg)) - 1:#x} ^ {self.mask(arg)})"
                if op == "~":
                    return f"(~{self.sign(arg)})"
                if op == "-":
                    return f"(-{self.sign(arg)})"
                if op == "b":
                    return f"(+(0 != {self.mask(arg)}))"
                if _same_integer(value):
                    return self(arg)
                if op == "u":
                    return self.mask(arg)
                if op == "s":
                    return f"sign({self.mask(arg)}, {-1 << (len(arg) - 1):#x})"
            elif len(ops) == 2 and op in _BINARY:
                lhs, rhs = ops
                return _BINARY[op].format(self.sign(lhs), self.sign(rhs))
            return super().on_Operator(value)

        def on_Part(self, value):
            # Amaranth's on_Part.  A part may read above its value's top bit, so it
            # takes the integer Amaranth's own code would give there (_amaranth_code).
            offset = f"({value.stride} * {self.mask(value.offset)})"
            return f"({(1 << value.width) - 1:#x} & ({self._amaranth_code(value.value)} >> {offset}))"

        def _amaranth_code(self, value):
            """Code for the integer Amaranth's compiler computes for ``value``: the same
            low ``len(value)`` bits as ours, and above them the same bits too.  Its
            code is exact (as ours) except for ``~`` (Python's ``~`` of the operand's
            bits) and the reinterpretations ``u`` and ``s`` (the operand's code)."""
            if type(value) is Operator and len(value.operands) == 1:
                arg, = value.operands
                if value.operator == "~":
                    return f"(~{self.mask(arg)})"
                if value.operator in ("u", "s"):
                    return self._amaranth_code(arg)
            return self(value)

        def on_Slice(self, value):
            base = value.value
            if not len(value):
                return "0"
            code = self(base)
            shifted = f"({code} >> {value.start})" if value.start else code
            if code in self.exact and not base.shape().signed and value.stop == len(base):
                return shifted
            return f"({(1 << len(value)) - 1:#x} & {shifted})"

        def on_SwitchValue(self, value):
            # A two-way choice on zero (a Mux, a two-entry Array on one bit) as a
            # conditional expression, both ways computed (no value's code can
            # raise); any other as Amaranth's match statement.
            choice = _two_way(value)
            if choice is None:
                return super().on_SwitchValue(value)
            if_zero, otherwise = choice
            return (f"({self.sign(otherwise)} if {self.mask(value.test)} "
                    f"else {self.sign(if_zero)})")

        def on_Concat(self, value):
            # Runs of one part (a replicate) are a multiplication by 0b...0001 0001.
            runs = []                   # [code, width, count]
            for part in value.parts:
                if not len(part):
                    continue
                code = self.mask(part)
                if runs and runs[-1][0] == code and runs[-1][1] == len(part):
                    runs[-1][2] += 1
                else:
                    runs.append([code, len(part), 1])
            terms, offset = [], 0
            for code, width, count in runs:
                if count > 1:
                    code = f"({code} * {sum(1 << (width * i) for i in range(count)):#x})"
                terms.append(f"({code} << {offset})" if offset else code)
                offset += width * count
            return f"({' | '.join(terms)})" if terms else "0"

        def _reduction(self, operator, arg):
            """A reduction does not depend on the order of its operand's bits, so the
            bits a concatenation takes from one value are reduced together, masked
            (an XOR tree over single bits of a key costs one mask and a bit count)."""
            masks = {}                  # code of a value -> mask of its bits taken
            for part in _concat_parts(arg):
                base, low, width = part, 0, len(part)
                if type(part) is Slice:
                    base, low, width = part.value, part.start, part.stop - part.start
                code = self(base)
                bits = ((1 << width) - 1) << low
                masks[code] = masks.get(code, 0) ^ bits if operator == "r^" else (
                    masks.get(code, 0) | bits)
            join, empty, term = _REDUCTIONS[operator]
            terms = [term.format(mask=f"{mask:#x}", bits=f"({mask:#x} & {code})")
                     for code, mask in masks.items()]
            return f"({join.join(terms)})" if terms else empty

    class _NodeStatements(_StatementCompiler):
        """Amaranth's statement compiler restricted to one node of ``graph``: the
        assignments to its signals (``only``: slot indices), or with ``effects``
        its prints and assertions; with no ``graph``, every statement."""

        def __init__(self, state, emitter, names, graph):
            _ValueCompiler.__init__(self, state, emitter)
            self.rhs = _SettledRHS(state, emitter, names)
            self.lhs = _LHSValueCompiler(state, emitter, rhs=self.rhs)
            self.graph = graph
            self.only = frozenset()
            self.effects = False

        def on_Assign(self, stmt):
            # A whole signal taking an exact value it can hold needs no mask.
            lhs, rhs = stmt.lhs, stmt.rhs
            if type(lhs) is Signal:
                code = self.rhs.sign(rhs)
                if code in self.rhs.exact and _holds(lhs.shape(), rhs.shape()):
                    self.emitter.append(f"next_{self.state.get_signal(lhs)} = {code}")
                    return
            super().on_Assign(stmt)

        def on_statements(self, stmts):
            before = len(self.emitter._buffer)
            for stmt in stmts:
                if self.graph is None or self.graph.wanted(stmt, self.only, self.effects):
                    self(stmt)
            if len(self.emitter._buffer) == before:
                self.emitter.append("pass")

    class _Node:
        """Comb signals of one fragment and the statements that drive them; or a
        memory's asynchronous read port; or a fragment's prints and assertions."""
        __slots__ = ("signals", "stmts", "reads", "port", "memory", "effects")

        def __init__(self, signals, stmts=(), reads=(), port=None, memory=None, effects=False):
            self.signals = signals      # slot indices driven
            self.stmts = stmts          # the fragment's comb list (filtered when compiled)
            self.reads = set(reads)     # slot indices read
            self.port = port            # MemoryInstance._ReadPort, for a memory read
            self.memory = memory        # its MemoryData
            self.effects = effects

    #: Unary reductions: how the terms of several values combine, the value of an
    #: empty operand, one value's term (its bits taken: ``bits``, under ``mask``).
    _REDUCTIONS = {
        "r^": (" ^ ", "0", "({bits}.bit_count() & 1)"),
        "r|": (" | ", "0", "(+(0 != {bits}))"),
        "r&": (" & ", "1", "(+({mask} == {bits}))"),
    }

    #: Binary operators whose code is Python's operator on the exact operands (as
    #: Amaranth compiles them).
    #: A comparison is Python's with a unary plus: an int, not a bool, which would
    #: show as True in a signal's value.
    _BINARY = {op: f"({{}} {op} {{}})" for op in ("+", "-", "*", "&", "|", "^", "<<", ">>")}
    _BINARY.update({op: f"(+({{}} {op} {{}}))" for op in ("==", "!=", "<", "<=", ">", ">=")})
    _BINARY.update({"//": "zdiv({}, {})", "%": "zmod({}, {})"})

    def _exact(value):
        """Whether the code for ``value`` gives the exact integer (see _SettledRHS):
        every value's does but ``//``'s and ``%``'s; None where the code is the
        operand's own (unary ``+``, ``u`` of an unsigned and ``s`` of a signed
        value), exact if the operand's is."""
        if type(value) is not Operator:
            return True
        if len(value.operands) == 1 and _same_integer(value):
            return None
        return value.operator not in ("//", "%")

    def _same_integer(value):
        """A unary operator whose result is its operand's integer unchanged."""
        op, (arg,) = value.operator, value.operands
        return op == "+" or (op == "u" and not arg.shape().signed) or (
            op == "s" and arg.shape().signed)

    def _two_way(value):
        """``(if_zero, otherwise)`` if the SwitchValue ``value`` takes one value when
        its test is zero and another for every other test, else None."""
        cases = value.cases
        if len(cases) != 2 or cases[0][0] is None:
            return None
        (first, if_first), (second, if_second) = cases
        zero = "0" * len(value.test)
        if first == (zero,) and (second is None or second == ("1",) and len(zero) == 1):
            return if_first, if_second
        return None

    def _holds(shape, other):
        """Every value of ``other`` (a Shape) is one of ``shape``."""
        if other.signed and not shape.signed:
            return False
        return other.width + (shape.signed and not other.signed) <= shape.width

    def _concat_parts(value):
        """The parts of a (nested) concatenation, lowest first; ``[value]`` otherwise."""
        if type(value) is not Concat:
            return [value]
        return [leaf for part in value.parts for leaf in _concat_parts(part)]

    def _fragments(fragment):
        stack = [fragment]
        while stack:
            f = stack.pop()
            yield f
            stack.extend(sub for sub, _name, _loc in reversed(f.subfragments))

    class _Graph:
        """The comb nodes of a design, what each reads, the assigned bits of each signal."""

        def __init__(self, state, top):
            self.state = state
            self.nodes = []
            self.driver = {}            # slot index -> its node
            self.masks = {}             # slot index -> bits assigned
            self._lhs = {}              # id(stmt) -> frozenset of slot indices
            self._effects = {}          # id(stmt) -> holds a Print or Property
            for fragment in _fragments(top):
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
                self._add(_Node(only, stmts, self._reads(stmts, only, False)))
            if any(self.has_effects(stmt) for stmt in stmts):
                self._add(_Node(frozenset(), stmts, self._reads(stmts, frozenset(), True),
                                effects=True))
            masks = LHSMaskCollector()
            masks.visit_stmt(stmts)
            if isinstance(fragment, MemoryInstance):
                for port in fragment._read_ports:
                    if port._domain == "comb":
                        masks.visit_value(port._data, ~0)
                        self._add(_Node(frozenset(index(s) for s in port._data._lhs_signals()),
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
            """The nodes' strongly connected components, each after those it reads
            (Tarjan's algorithm, iterative), and each node's dependencies."""
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

    def _compile(state, top):
        """Every process of the design: one per clock domain for the clocked logic,
        one levelized process for all comb logic."""
        fragments = list(_fragments(top))
        processes = {_clocked_process(state, domain, parts)
                     for domain, parts in _clock_domains(fragments)}
        graph = _Graph(state, top)
        if graph.nodes:
            processes.add(_comb_process(state, graph))
        return processes

    def _comb_process(state, graph):
        """One process computing every comb signal of ``graph``, level by level."""
        process = PyRTLProcess(is_comb=True)
        components, deps = graph.levels()
        emitter = _ScopedEmitter()
        names = {}                      # slot index -> local variable of its settled value
        compiler = _NodeStatements(state, emitter, names, graph)
        for component in components:
            if len(component) == 1 and component[0] not in deps[id(component[0])]:
                _emit_node(state, emitter, compiler, component[0])
            else:
                _emit_loop(state, emitter, compiler, component, names)
            for node in component:
                for i in node.signals:
                    names[i] = f"next_{i}"
        _emit_publish(state, emitter, {i: graph.masks.get(i, ~0) for i in graph.driver})
        process.run = _function(state, emitter, "levelized comb")

        def waker(curr, next):
            process.runnable = True
            return True

        def memory_waker():
            process.runnable = True
            return True
        for i in sorted({i for node in graph.nodes for i in node.reads} - set(graph.driver)):
            state.slots[i].add_waker(waker)
        for memory in {id(n.memory): n.memory for n in graph.nodes if n.memory is not None}.values():
            state.add_memory_waker(memory, memory_waker)
        for i in graph.driver:
            state.slots[i].is_comb = True
        return process

    def _clock_domains(fragments):
        """``(domain, [(fragment, domain name), ...])`` for each clock domain
        (ClockDomain object) some fragment has statements or memory ports in."""
        domains = {}
        for fragment in fragments:
            names = set(fragment.statements)
            if isinstance(fragment, MemoryInstance):
                names.update(p._domain for p in fragment._read_ports + fragment._write_ports)
            for name in sorted(names - {"comb"}):
                domain = fragment.domains[name]
                domains.setdefault(id(domain), (domain, []))[1].append((fragment, name))
        return list(domains.values())

    def _clocked_process(state, domain, parts):
        """One process for everything clocked by ``domain``: each fragment's
        statements, reset and memory ports, as Amaranth's compiler does them
        (fragment by fragment, every read being of the values before the edge),
        shared subexpressions computed once."""
        process = PyRTLProcess(is_comb=False)
        emitter = _ScopedEmitter()
        compiler = _NodeStatements(state, emitter, {}, None)
        rhs, lhs = compiler.rhs, compiler.lhs
        masks = {}
        for fragment, name in parts:
            stmts = fragment.statements.get(name, [])
            ports = [p for p in getattr(fragment, "_read_ports", []) if p._domain == name]
            collector = LHSMaskCollector()
            collector.visit_stmt(stmts)
            for port in ports:
                collector.visit_value(port._data, ~0)
            targets = []
            for signal, mask in collector.masks():
                i = state.get_signal(signal)
                emitter.append(f"next_{i} = {emitter.slot(i)}.next")
                if signal.shape().signed and (mask & 1 << (len(signal) - 1)):
                    mask |= -1 << len(signal)
                masks[i] = mask
                targets.append((i, signal))
            compiler.on_statements(stmts)
            if domain.rst is not None:
                emitter.append(f"if {rhs.mask(domain.rst)}:")
                with emitter.indent():
                    emitter.append("pass")
                    for i, signal in targets:
                        if not signal.reset_less:
                            emitter.append(f"next_{i} = {signal.init}")
            if isinstance(fragment, MemoryInstance):
                _emit_memory_ports(state, emitter, rhs, lhs, fragment, name, ports)
        _emit_publish(state, emitter, masks)
        process.run = _function(state, emitter, f"levelized {domain.name}")
        polarity = 1 if domain.clk_edge == "pos" else 0
        state.add_signal_waker(domain.clk, edge_waker(process, polarity))
        if domain.async_reset and domain.rst is not None:
            state.add_signal_waker(domain.rst, edge_waker(process, 1))
        return process

    def _emit_memory_ports(state, emitter, rhs, lhs, fragment, name, read_ports):
        """A memory's write ports, then its read ports, in ``name`` (Amaranth's code:
        a read sees the memory before this edge's writes, or, transparent, them)."""
        memory = emitter.slot(state.get_memory(fragment._data))
        writes = {}
        for index, port in enumerate(fragment._write_ports):
            if port._domain != name:
                continue
            addr = emitter.def_var("write_addr", rhs.mask(port._addr))
            data = emitter.def_var("write_data", rhs.mask(port._data))
            en = emitter.def_var("write_en", rhs.mask(
                Cat(bit.replicate(port._granularity) for bit in port._en)))
            emitter.append(f"{memory}.write({addr}, {data}, {en})")
            writes[index] = addr, data, en
        for port in read_ports:
            emitter.append(f"if {rhs.mask(port._en)}:")
            with emitter.indent():
                addr = emitter.def_var("read_addr", rhs.mask(port._addr))
                data = emitter.def_var("read_data", f"{memory}.read({addr})")
                for index in port._transparent_for:
                    waddr, wdata, wen = writes[index]
                    emitter.append(f"if {addr} == {waddr}:")
                    with emitter.indent():
                        emitter.append(f"{data} &= ~{wen}")
                        emitter.append(f"{data} |= {wdata} & {wen}")
                lhs(port._data)(data)

    def _emit_publish(state, emitter, masks):
        """Hand every ``next_<slot>`` to the simulator: what ``_PySignalState.update``
        does, inline where every bit is assigned (``masks``: slot -> bits)."""
        for i, mask in sorted(masks.items()):
            slot = emitter.slot(i)
            if mask in (-1, (1 << len(state.slots[i].signal)) - 1):
                emitter.append(f"if next_{i} != {slot}.next: {slot}.next = next_{i}; "
                               f"pending_add({slot})")
            else:
                emitter.append(f"{slot}.update(next_{i}, {mask})")

    def _function(state, emitter, name):
        """The emitted code as a function of no arguments, the simulator states it
        names (``s_<slot>``) bound once, in its closure."""
        body = emitter.flush() or "        pass\n"
        code = ("def make(slots, pending_add):\n"
                + "".join(f"    s_{i} = slots[{i}]\n" for i in sorted(emitter.slots))
                + "    def run():\n" + body + "    return run\n")
        env = {"SettleError": SettleError, **_ValueCompiler.helpers, **_StatementCompiler.helpers}
        exec(compile(code, f"<{name}>", "exec"), env)
        return env["make"](state.slots, state.pending.add)

    def _emit_loop(state, emitter, compiler, component, names):
        """A combinational loop: its nodes again and again, each pass reading the
        previous pass's values (from the last settled ones), until none changes."""
        signals = sorted(i for node in component for i in node.signals)
        for i in signals:
            emitter.append(f"prev_{i} = {emitter.slot(i)}.curr")
            names[i] = f"prev_{i}"
        emitter.append(f"for _ in range({MAX_LOOP_PASSES}):")
        with emitter.indent():
            for node in component:
                _emit_node(state, emitter, compiler, node)
            if signals:
                same = " and ".join(f"next_{i} == prev_{i}" for i in signals)
                emitter.append(f"if {same}:")
                with emitter.indent():
                    emitter.append("break")
                for i in signals:
                    emitter.append(f"prev_{i} = next_{i}")
            else:
                emitter.append("break")
        emitter.append("else:")
        with emitter.indent():
            what = ", ".join(state.slots[i].signal.name for i in signals[:8])
            emitter.append(f"raise SettleError({'a combinational loop did not settle: ' + what!r})")

    def _emit_node(state, emitter, compiler, node):
        # Each signal starts at its initial value, unless the node begins by
        # assigning it whole.
        first = next((stmt for stmt in node.stmts
                      if compiler.graph.wanted(stmt, node.signals, node.effects)), None)
        whole = (state.get_signal(first.lhs) if type(first) is Assign
                 and type(first.lhs) is Signal else None)
        for i in sorted(node.signals):
            if i != whole:
                emitter.append(f"next_{i} = {state.slots[i].signal.init}")
        if node.port is not None:
            port = node.port
            addr = f"({(1 << len(port._addr)) - 1:#x} & {compiler.rhs(port._addr)})"
            memory = emitter.slot(state.get_memory(node.memory))
            data = emitter.def_var("read_data", f"{memory}.read({addr})")
            compiler.lhs(port._data)(data)
        else:
            compiler.only, compiler.effects = node.signals, node.effects
            compiler.on_statements(node.stmts)
