"""The levelized simulator engine: Amaranth's pysim engine whose processes are compiled by :mod:`.codegen` in :mod:`.graph`'s order.

Why: see the package docstring (:mod:`sim.engines.levelized`).  This module
makes the processes: one function for all comb logic, its nodes in dependency
order (combinational loops iterated until they settle), and one function per
clock domain for the clocked logic; and wires them to the simulator's signal
states with the same wakers Amaranth's own processes use.
"""

__all__ = ["LevelizedEngine", "SettleError", "available", "make_simulator", "value_reader",
           "MAX_LOOP_PASSES"]

try:
    from amaranth.hdl import Cat, Signal, Value
    from amaranth.hdl._ast import Assign
    from amaranth.hdl._mem import MemoryInstance
    from amaranth.hdl._xfrm import LHSMaskCollector
    from amaranth.sim._pyrtl import PyRTLProcess, edge_waker
    from amaranth.sim.pysim import PySimEngine, _PyEngineState

    from .codegen import ScopedEmitter, StatementCompiler, ValueCompiler, function
    from .graph import CombGraph, fragments
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
    emitter = ScopedEmitter()
    rhs = ValueCompiler(state, emitter, {})
    codes = [rhs.sign(Value.cast(v)) for v in values]
    emitter.append(f"return [{', '.join(codes)}]")
    return function(state, emitter, "levelized reader")


if PySimEngine is None:
    LevelizedEngine = None
else:
    class LevelizedEngine(PySimEngine):
        """Amaranth's ``PySimEngine`` with the processes of :func:`_compile`: use it
        as ``Simulator(design, engine=LevelizedEngine)`` (or :func:`make_simulator`)."""

        def __init__(self, design):
            # PySimEngine.__init__ but for the processes (tests/test_levelized.py
            # checks that the two set the same attributes).
            self._design = design
            self._state = _PyEngineState()
            self._processes = _compile(self._state, design.fragment)
            self._testbenches = []
            self._delta_cycles = 0
            self._vcd_writers = []
            self._active_triggers = set()


def _compile(state, top):
    """Every process of the design: one per clock domain for the clocked logic,
    one levelized process for all comb logic."""
    processes = {_clocked_process(state, domain, parts)
                 for domain, parts in _clock_domains(fragments(top))}
    graph = CombGraph(state, top)
    if graph.nodes:
        processes.add(_comb_process(state, graph))
    return processes


def _comb_process(state, graph):
    """One process computing every comb signal of ``graph``, level by level."""
    process = PyRTLProcess(is_comb=True)
    components, deps = graph.levels()
    emitter = ScopedEmitter()
    names = {}                      # slot index -> local variable of its settled value
    compiler = StatementCompiler(state, emitter, names, graph)
    for component in components:
        if len(component) == 1 and component[0] not in deps[id(component[0])]:
            _emit_node(state, emitter, compiler, component[0])
        else:
            _emit_loop(state, emitter, compiler, component, names)
        for node in component:
            for i in node.signals:
                names[i] = f"next_{i}"
    _emit_publish(state, emitter, {i: graph.masks.get(i, ~0) for i in graph.driver})
    process.run = function(state, emitter, "levelized comb", SettleError=SettleError)

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


def _clock_domains(design_fragments):
    """``(domain, [(fragment, domain name), ...])`` for each clock domain
    (ClockDomain object) some fragment has statements or memory ports in."""
    domains = {}
    for fragment in design_fragments:
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
    emitter = ScopedEmitter()
    compiler = StatementCompiler(state, emitter, {}, None)
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
    process.run = function(state, emitter, f"levelized {domain.name}")
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
    """One node's code: each of its signals (``next_<slot>``) starts at its
    initial value, unless the node begins by assigning it whole, then takes the
    node's statements (or its memory read)."""
    first = next((stmt for stmt in node.stmts
                  if compiler.graph.wanted(stmt, node.signals, node.effects)), None)
    whole = (state.get_signal(first.lhs) if type(first) is Assign
             and type(first.lhs) is Signal else None)
    for i in sorted(node.signals):
        if i != whole:
            emitter.append(f"next_{i} = {state.slots[i].signal.init}")
    if node.port is not None:
        port = node.port
        addr = compiler.rhs.mask(port._addr)
        memory = emitter.slot(state.get_memory(node.memory))
        data = emitter.def_var("read_data", f"{memory}.read({addr})")
        compiler.lhs(port._data)(data)
    else:
        compiler.only, compiler.effects = node.signals, node.effects
        compiler.on_statements(node.stmts)
