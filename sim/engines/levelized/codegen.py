"""Python code for Amaranth values and statements, leaner than pysim's own: the code generator of the levelized engine.

Why: the levelized engine (:mod:`sim.engines.levelized`) evaluates a whole
design's comb logic in one function, so what each value costs there is what a
clock costs.  These classes are pysim's own compilers (``amaranth.sim._pyrtl``,
Amaranth 0.5) with what that function needs and a few economies:

* a signal computed earlier in the same function is read from its local
  variable (``names``), any other from its simulator state, bound once in the
  function's closure (:func:`function`);
* each subexpression is computed once per scope of the generated code: the same
  value object, or the same code, names one local variable
  (:class:`ScopedEmitter`);
* no mask where a value needs none (*exact* values, :class:`ValueCompiler`); a
  two-way choice is a conditional expression rather than a ``match``; a
  reduction over bits of one value is one mask and a bit count; a replicate is a
  multiplication;
* a statement compiler that compiles only the statements of one node.

Every rule keeps pysim's value bit for bit; tests/test_levelized.py checks them
on random designs against pysim itself.
"""

from amaranth.hdl import Const, Signal
from amaranth.hdl._ast import Concat, Operator, Slice
from amaranth.sim._pyrtl import (_LHSValueCompiler, _PythonEmitter, _RHSValueCompiler,
                                 _StatementCompiler, _ValueCompiler)

__all__ = ["ScopedEmitter", "ValueCompiler", "StatementCompiler", "function"]


class ScopedEmitter(_PythonEmitter):
    """Amaranth's code emitter that also remembers, per indentation scope, which
    local variable holds the value of each piece of code already emitted."""

    def __init__(self):
        super().__init__()
        self._level = 2             # inside make() and run() (function)
        self._scopes = [{}]
        self.slots = set()          # slot indices the code names (bound once, outside run)
        self._alive = []            # every value whose id() is a key (see remember_value)

    def slot(self, index):
        """The name of the simulator's state of signal slot ``index``."""
        self.slots.add(index)
        return f"s_{index}"

    def indent(self):
        """Amaranth's indentation context, also a scope: variables remembered in
        it are forgotten at its end (they may not have been computed)."""
        return _Scope(self, super().indent())

    def known(self, key):
        """The variable remembered for ``key`` in scope, or None."""
        for scope in reversed(self._scopes):
            name = scope.get(key)
            if name is not None:
                return name
        return None

    def remember(self, key, name):
        """``name`` holds the value of ``key`` (code, or another key) from here to
        the end of the current scope."""
        self._scopes[-1][key] = name

    def remember_value(self, value, name):
        """``name`` holds the value of the Amaranth value ``value`` (Values are not
        hashable, so the key is its id()).  The emitter keeps ``value`` alive for
        as long as it lives: a temporary value (the ``Cat`` of a memory port's
        write enables) freed after it is compiled would hand its id to the next
        temporary, which would then take the first one's code."""
        self._alive.append(value)
        self.remember(("id", id(value)), name)

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
    """A scope of :class:`ScopedEmitter` around Amaranth's indentation context."""

    def __init__(self, emitter, indent):
        self.emitter, self.inner = emitter, indent

    def __enter__(self):
        self.emitter._scopes.append({})
        return self.inner.__enter__()

    def __exit__(self, *exc):
        self.emitter._scopes.pop()
        return self.inner.__exit__(*exc)


class ValueCompiler(_RHSValueCompiler):
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
            self.emitter.remember_value(value, code)
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


class StatementCompiler(_StatementCompiler):
    """Amaranth's statement compiler restricted to one node of ``graph``: the
    assignments to its signals (``only``: slot indices), or with ``effects``
    its prints and assertions; with no ``graph``, every statement."""

    def __init__(self, state, emitter, names, graph):
        _ValueCompiler.__init__(self, state, emitter)
        self.rhs = ValueCompiler(state, emitter, names)
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


#: Unary reductions: how the terms of several values combine, the value of an
#: empty operand, one value's term (its bits taken: ``bits``, under ``mask``).
_REDUCTIONS = {
    "r^": (" ^ ", "0", "({bits}.bit_count() & 1)"),
    "r|": (" | ", "0", "(+(0 != {bits}))"),
    "r&": (" & ", "1", "(+({mask} == {bits}))"),
}


#: Binary operators: Python's operator on the exact operands, as Amaranth
#: compiles them; a comparison with a unary plus, so that it is an int, not a
#: bool (which would show as True in a signal's value).
_BINARY = {op: f"({{}} {op} {{}})" for op in ("+", "-", "*", "&", "|", "^", "<<", ">>")}
_BINARY.update({op: f"(+({{}} {op} {{}}))" for op in ("==", "!=", "<", "<=", ">", ">=")})
_BINARY.update({"//": "zdiv({}, {})", "%": "zmod({}, {})"})


def _exact(value):
    """Whether the code for ``value`` gives the exact integer (see ValueCompiler):
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


def function(state, emitter, name, **names):
    """The code ``emitter`` holds as a function of no arguments, the simulator
    states it names (``s_<slot>``, :meth:`ScopedEmitter.slot`) bound once, in its
    closure; ``names``: further globals of the code."""
    body = emitter.flush() or "        pass\n"
    code = ("def make(slots, pending_add):\n"
            + "".join(f"    s_{i} = slots[{i}]\n" for i in sorted(emitter.slots))
            + "    def run():\n" + body + "    return run\n")
    env = {**_ValueCompiler.helpers, **_StatementCompiler.helpers, **names}
    exec(compile(code, f"<{name}>", "exec"), env)
    return env["make"](state.slots, state.pending.add)
