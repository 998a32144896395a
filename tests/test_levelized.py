# amaranth: UnusedElaboratable=no
"""The levelized simulator engine (sim/engines/levelized.py) against Amaranth's own.

The engine changes how the simulator computes combinational logic, never what:
so every test runs one design on both engines with the same stimulus and
compares.  Random designs (expressions of every operator on signed and unsigned
signals, chains of comb signals, If/Switch with don't-care patterns, slice,
part and concatenation targets, registers, memories) check the compiler rule by
rule; the default Sentron core running a random program, every named signal in
every clock, checks the design that matters; and the loops check that a loop that
settles settles to Amaranth's value and one that does not raises.
"""

import random

import pytest
from amaranth.hdl import Array, Cat, ClockDomain, Const, Module, Mux, Shape, Signal, Value
from amaranth.lib.memory import Memory
from amaranth.sim import Simulator
from amaranth.sim.pysim import PySimEngine
from hypothesis import HealthCheck, given, settings, strategies as st

from sim.engines import levelized
from sim.engines.levelized import LevelizedEngine, SettleError

pytestmark = pytest.mark.skipif(not levelized.available(),
                                reason="this Amaranth's simulator lacks the internals")


# ---------------------------------------------------------------- random designs

def _shape(rng, max_width=10):
    return Shape(rng.randint(1, max_width), rng.random() < 0.4)


def _signal(rng, shape, name, **kwargs):
    """A signal of ``shape`` with a random initial value."""
    low = -(1 << (shape.width - 1)) if shape.signed else 0
    return Signal(shape, name=name, init=rng.randrange(low, low + (1 << shape.width)), **kwargs)


def _expr(rng, pool, depth):
    """A random expression over the values in ``pool``."""
    if depth == 0 or rng.random() < 0.2:
        if rng.random() < 0.15:
            shape = _shape(rng)
            return Const(rng.randrange(-(1 << shape.width), 1 << shape.width), shape)
        return rng.choice(pool)
    a = _expr(rng, pool, depth - 1)
    kind = rng.randrange(16)
    if kind == 0:
        return rng.choice([~a, -a, a.bool(), a.any(), a.all(), a.xor(), a.as_signed(),
                           a.as_unsigned(), +a])
    if kind in (1, 2, 3):
        b = _expr(rng, pool, depth - 1)
        op = rng.choice(["+", "-", "*", "&", "|", "^", "==", "!=", "<", "<=", ">", ">=",
                         "//", "%"])
        return {"+": a + b, "-": a - b, "*": a * b, "&": a & b, "|": a | b, "^": a ^ b,
                "==": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b,
                ">=": a >= b, "//": a // b, "%": a % b}[op]
    if kind == 4:
        amount = _expr(rng, pool, depth - 1).as_unsigned()[:3]
        return a << amount if rng.random() < 0.5 else a >> amount
    if kind == 5:
        return a << rng.randrange(4) if rng.random() < 0.5 else a >> rng.randrange(4)
    if kind == 6:
        start = rng.randrange(len(a))
        return a[start:rng.randint(start + 1, len(a))]
    if kind == 7:
        offset = _expr(rng, pool, depth - 1).as_unsigned()[:3]
        width = rng.randint(1, 4)
        return a.bit_select(offset, width) if rng.random() < 0.5 else a.word_select(offset[:2],
                                                                                   width)
    if kind == 8:
        parts = [a] + [_expr(rng, pool, depth - 1) for _ in range(rng.randrange(3))]
        return Cat(*parts)
    if kind == 9:
        return a.replicate(rng.randint(1, 4))
    if kind == 10:
        # A reduction over bits picked from a few values (an XOR tree of key bits).
        b = _expr(rng, pool, depth - 1)
        bits = [v[rng.randrange(len(v))] for v in (a, b) for _ in range(rng.randint(1, 4))]
        return getattr(Cat(*bits), rng.choice(["xor", "any", "all"]))()
    if kind in (11, 12):
        sel = _expr(rng, pool, depth - 1)
        return Mux(sel if rng.random() < 0.5 else sel[0], a, _expr(rng, pool, depth - 1))
    if kind == 13:
        items = [a] + [_expr(rng, pool, depth - 1) for _ in range(rng.randint(1, 4))]
        return Value.cast(Array(items)[_expr(rng, pool, depth - 1).as_unsigned()[:3]])
    if kind == 14:
        return a.shift_left(rng.randrange(3)) if rng.random() < 0.5 else a.rotate_right(
            rng.randrange(5))
    # Zero-width values among others.
    return rng.choice([Cat(a[0:0], a), Cat(a, Cat()), (a[0:0] == 0) + a])


def _random_design(rng):
    """A module with input signals, comb wires reading inputs and earlier wires,
    registers and a small memory; returns (module, inputs, observed)."""
    m = Module()
    m.domains.sync = sync = ClockDomain("sync", async_reset=rng.random() < 0.3)
    inputs = [Signal(_shape(rng), name=f"in{k}") for k in range(rng.randint(2, 4))]
    pool = list(inputs)
    inputs.append(sync.rst)                 # reset now and then (one vector in two)
    observed = []
    regs = [_signal(rng, _shape(rng), f"reg{k}", reset_less=k == 1) for k in range(2)]
    pool += regs
    for k in range(rng.randint(3, 8)):
        w = _signal(rng, _shape(rng, 16), f"w{k}")
        e = _expr(rng, pool, rng.randint(1, 3))
        kind = rng.randrange(6)
        if kind == 0:
            m.d.comb += w.eq(e)
        elif kind == 1:                     # slices of w assigned apart (like a struct's fields)
            cut = rng.randrange(len(w))
            m.d.comb += [w[:cut].eq(e), w[cut:].eq(_expr(rng, pool, 2))]
        elif kind == 2:
            with m.If(_expr(rng, pool, 2).bool()):
                m.d.comb += w.eq(e)
            with m.Elif(_expr(rng, pool, 1).bool()):
                m.d.comb += w[rng.randrange(len(w)):].eq(_expr(rng, pool, 2))
        elif kind == 3:
            test = _expr(rng, pool, 1).as_unsigned().replicate(3)[:3]
            with m.Switch(test):
                with m.Case("1-0"):
                    m.d.comb += w.eq(e)
                with m.Case(1, 2):
                    m.d.comb += w.eq(_expr(rng, pool, 2))
                with m.Default():
                    pass
        elif kind == 4:                     # one assignment to two signals
            other = Signal(_shape(rng), name=f"x{k}")
            m.d.comb += Cat(w, other).eq(e)
            observed.append(other)
        else:                               # a part select on the left
            offset = _expr(rng, pool, 1).as_unsigned()[:2]
            m.d.comb += w.bit_select(offset, rng.randint(1, len(w))).eq(e)
        pool.append(w)
        observed.append(w)
    for r in regs:
        with m.If(_expr(rng, pool, 1).bool()):
            m.d.sync += r.eq(_expr(rng, pool, 2))
    mem = Memory(shape=8, depth=4, init=[rng.randrange(256) for _ in range(4)])
    m.submodules.mem = mem
    wr = mem.write_port()
    m.d.comb += [wr.addr.eq(_expr(rng, pool, 1)), wr.data.eq(_expr(rng, pool, 2)),
                 wr.en.eq(_expr(rng, pool, 1))]
    rd_async = mem.read_port(domain="comb")
    rd_sync = mem.read_port(transparent_for=(wr,))
    m.d.comb += [rd_async.addr.eq(_expr(rng, pool, 1)), rd_sync.addr.eq(_expr(rng, pool, 1))]
    tail = Signal(12, name="tail")
    m.d.comb += tail.eq(_expr(rng, pool + [rd_async.data, rd_sync.data], 2))
    observed += regs + [rd_async.data, rd_sync.data, tail]
    return m, inputs, observed


def _trace(build, engine, stimulus):
    """Observed values after each input vector of ``stimulus`` (set, read, clock)."""
    m, inputs, observed = build()
    sim = Simulator(m, engine=engine)
    sim.add_clock(1e-6)
    out = []

    async def bench(ctx):
        for vector in stimulus:
            for sig, value in zip(inputs, vector):
                ctx.set(sig, value)
            out.append([ctx.get(s) for s in observed])
            await ctx.tick()
            out.append([ctx.get(s) for s in observed])
    sim.add_testbench(bench)
    sim.run()
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2 ** 32 - 1))
def test_random_designs_compute_what_amaranth_computes(seed):
    def build():
        return _random_design(random.Random(seed))
    _m, inputs, _obs = build()
    rng = random.Random(seed ^ 0x5A5A)
    stimulus = [[rng.randrange(-(1 << (len(s) - 1)), 1 << (len(s) - 1)) if s.shape().signed
                 else rng.randrange(1 << len(s)) for s in inputs] for _ in range(12)]
    assert _trace(build, LevelizedEngine, stimulus) == _trace(build, PySimEngine, stimulus)


def test_temporary_values_never_share_code():
    """The compiler remembers each compiled value's code by the value's id(); the
    engine compiles temporaries (the Cat of a write port's enable bits, one per
    port), and a freed temporary's id is handed to the next one.  Each must keep
    its own code (CI once lost a float write of the LUT RAM register file, whose
    second write port had taken the first port's enables)."""
    from amaranth.sim.pysim import _PyEngineState
    from sim.engines.levelized.codegen import ScopedEmitter, ValueCompiler
    rhs = ValueCompiler(_PyEngineState(), ScopedEmitter(), {})
    signals = [Signal(4, name=f"en{k}") for k in range(40)]
    codes = []
    for s in signals:               # each temporary freed before the next is made
        codes.append(rhs.mask(Cat(s[0], s[1])))
        codes.append(rhs.mask(Cat(bit.replicate(2) for bit in s)))
    assert len(set(codes)) == 2 * len(signals)


def test_a_memory_with_many_granular_write_ports_as_in_amaranth():
    """Eight write ports with byte enables on one memory, random addresses, data
    and enables: every port's own enables reach its own write."""
    ports = 8

    def build():
        m = Module()
        mem = Memory(shape=16, depth=8, init=[])
        m.submodules.mem = mem
        inputs, observed = [], []
        for k in range(ports):
            wr = mem.write_port(granularity=8)
            addr, data, en = (Signal(3, name=f"a{k}"), Signal(16, name=f"d{k}"),
                              Signal(2, name=f"e{k}"))
            m.d.comb += [wr.addr.eq(addr), wr.data.eq(data), wr.en.eq(en)]
            inputs += [addr, data, en]
        for k in range(8):
            rd = mem.read_port(domain="comb")
            m.d.comb += rd.addr.eq(k)
            observed.append(rd.data)
        return m, inputs, observed

    _m, inputs, _obs = build()
    rng = random.Random(13)
    stimulus = [[rng.randrange(1 << len(s)) if not s.name.startswith("a") else
                 rng.randrange(8) for s in inputs] for _ in range(40)]
    got = _trace(build, LevelizedEngine, stimulus)
    assert got == _trace(build, PySimEngine, stimulus)
    assert any(any(row) for row in got)


def test_one_process_settles_a_chain_in_one_pass():
    """A chain of comb signals through several modules: one evaluation per change,
    where Amaranth's engine needs a delta cycle per link."""
    links = 12

    def build():
        top = Module()
        a = Signal(8, name="a")
        prev = a
        for k in range(links):
            sub = Module()
            nxt = Signal(8, name=f"s{k}")
            sub.d.comb += nxt.eq(prev + 1)
            top.submodules[f"m{k}"] = sub
            prev = nxt
        return top, [a], [prev]

    deltas = {}
    for engine in (LevelizedEngine, PySimEngine):
        m, (a,), (end,) = build()
        sim = Simulator(m, engine=engine)

        async def bench(ctx):
            eng = sim._engine
            before = eng._delta_cycles
            ctx.set(a, 7)
            deltas[engine] = eng._delta_cycles - before
            assert ctx.get(end) == 7 + links
        sim.add_testbench(bench)
        sim.run()
    # One delta cycle commits the input, one evaluates, one finds nothing left to do.
    assert deltas[LevelizedEngine] <= 3 < links < deltas[PySimEngine]


def test_a_loop_through_one_signal_settles_as_in_amaranth():
    """Fields of one signal computed from other fields of it: a loop for a
    per-signal graph, which the engine iterates to the same value."""
    def build():
        m = Module()
        a = Signal(4, name="a")
        s = Signal(12, name="s")
        m.d.comb += [s[0:4].eq(a), s[4:8].eq(s[0:4] + 3), s[8:12].eq(s[4:8] ^ s[0:4])]
        m.d.sync += Signal().eq(1)          # a clock domain for the bench
        return m, [a], [s]
    stimulus = [[v] for v in (0, 5, 15, 9)]
    got = _trace(build, LevelizedEngine, stimulus)
    assert got == _trace(build, PySimEngine, stimulus)
    assert got[0] == [0 | 3 << 4 | 3 << 8]


def test_a_loop_that_does_not_settle_raises():
    m = Module()
    a = Signal()
    b = Signal()
    m.d.comb += b.eq(Mux(a, ~b, b))        # settles while a is 0, toggles once it is 1
    sim = Simulator(m, engine=LevelizedEngine)

    async def bench(ctx):
        ctx.set(a, 1)
    sim.add_testbench(bench)
    with pytest.raises(SettleError, match="did not settle"):
        sim.run()


def test_the_engine_sets_up_what_amaranths_engine_sets_up():
    """LevelizedEngine.__init__ stands in for PySimEngine.__init__: the same
    attributes, so that the rest of PySimEngine works on it."""
    m = Module()
    a, b = Signal(), Signal()
    m.d.comb += b.eq(a)
    ours, theirs = (Simulator(m, engine=e)._engine for e in (LevelizedEngine, PySimEngine))
    assert sorted(vars(ours)) == sorted(vars(theirs))


def test_a_comb_signal_cannot_be_set_by_a_testbench():
    from amaranth.hdl import DriverConflict
    m = Module()
    a, b = Signal(), Signal()
    m.d.comb += b.eq(a)
    sim = Simulator(m, engine=LevelizedEngine)

    async def bench(ctx):
        ctx.set(b, 1)
    sim.add_testbench(bench)
    with pytest.raises(DriverConflict):
        sim.run()


# ---------------------------------------------------------------- the Sentron core

def _named_signals(sim):
    """{(fragment path, name): slot} for every named signal of the simulated design."""
    design, state = sim._design, sim._engine._state
    out = {}
    for fragment, info in design.fragments.items():
        for signal, name in info.signal_names.items():
            out[(info.name, name)] = state.slots[state.get_signal(signal)]
    return out


def test_the_core_runs_a_program_clock_for_clock_as_on_amaranths_engine():
    """A random program on the default core (hdl/core.py, flip-flop register
    files), every named signal of the design compared in every clock."""
    from hdl.core import Sentron
    from sim.engines.rtl_driver import DebugDriver
    from sim.isa.encoding import CoreConfig
    from support.progs import generate

    program = generate(11, CoreConfig(), size=30)
    traces = {}
    for engine in (LevelizedEngine, PySimEngine):
        core = Sentron(CoreConfig())
        driver = DebugDriver(core)
        sim = Simulator(core, engine=engine)
        sim.add_clock(1e-6)
        slots = _named_signals(sim)
        keys = sorted(slots, key=repr)
        trace = traces[engine] = []

        async def on_cycle(ctx):
            trace.append([slots[k].curr for k in keys])

        async def bench(ctx):
            await driver.load_program(ctx, program.words)
            await driver.write_memory(ctx, program.memory)
            await driver.run(ctx, max_cycles=program.max_cycles + 16, on_cycle=on_cycle)
        sim.add_testbench(bench)
        sim.run()
        traces[engine, "keys"] = keys
    assert traces[LevelizedEngine, "keys"] == traces[PySimEngine, "keys"]
    assert len(traces[PySimEngine]) > 20
    for cycle, (got, want) in enumerate(zip(traces[LevelizedEngine], traces[PySimEngine])):
        if got != want:
            keys = traces[PySimEngine, "keys"]
            diff = [(keys[i], g, w) for i, (g, w) in enumerate(zip(got, want)) if g != w]
            pytest.fail(f"clock {cycle}: {diff[:5]}")
    assert len(traces[LevelizedEngine]) == len(traces[PySimEngine])
