# amaranth: UnusedElaboratable=no
"""Both register files (hdl/regfile.py) against a plain model of their ports.

The model: ``depth`` registers; a read port shows the register's value as of
the start of the cycle (this cycle's writes are seen from the next); of two
enabled write ports naming the same register, the higher-numbered one wins.  The
flip-flop file and the LUT RAM file with its live value table must both behave
exactly so, read port by read port, cycle by cycle: the LUT RAM file's
``storage`` is only an observation shadow, so its read ports are what is checked.
The block RAM file takes ``steps`` clocks per cycle (its ``phase`` input); the
bench holds a cycle's addresses and writes through them and checks the reads in
the cycle's last clock, with one, two and three copies (so reads of every slot).
"""

import pytest
from amaranth.sim import Simulator
from hypothesis import HealthCheck, given, settings, strategies as st

from hdl.regfile import REGFILE_KINDS, BlockRamRegisterFile, LutRamRegisterFile, make_register_file

WIDTH, DEPTH, READS, WRITES = 8, 8, 3, 3

#: Block RAM files: (steps, copies), each at its smallest number of steps but one.
BRAM = {"bram_1copy": (5, 1), "bram_2copies": (4, 2), "bram_3copies": (3, 3),
        "bram_1copy_slow": (7, 1)}
KINDS = sorted(REGFILE_KINDS) + sorted(BRAM)


def make(kind, init):
    if kind in BRAM:
        steps, copies = BRAM[kind]
        return BlockRamRegisterFile(WIDTH, DEPTH, READS, WRITES, steps=steps, copies=copies,
                                    init=init)
    return make_register_file(kind, WIDTH, DEPTH, READS, WRITES, init=init)


def cycles(depth=DEPTH, reads=READS, writes=WRITES, width=WIDTH):
    """One cycle: the read addresses and, per write port, (en, addr, data)."""
    write = st.tuples(st.booleans(), st.integers(0, depth - 1), st.integers(0, (1 << width) - 1))
    return st.tuples(st.lists(st.integers(0, depth - 1), min_size=reads, max_size=reads),
                     st.lists(write, min_size=writes, max_size=writes))


def run(kind, trace, init=()):
    rf = make(kind, init)
    steps = getattr(rf, "steps", 1)
    model = list(init) + [0] * (DEPTH - len(init))
    seen = []

    async def bench(ctx):
        for reads, writes in trace:
            for phase in range(steps - 1):          # the clocks before a cycle's last
                if steps > 1:
                    ctx.set(rf.phase, phase)
                for port, addr in zip(rf.read, reads):
                    ctx.set(port.addr, addr)
                await ctx.tick()
            if steps > 1:
                ctx.set(rf.phase, steps - 1)
            for port, addr in zip(rf.read, reads):
                ctx.set(port.addr, addr)
            for port, (en, addr, data) in zip(rf.write, writes):
                ctx.set(port.en, en)
                ctx.set(port.addr, addr)
                ctx.set(port.data, data)
            got = [ctx.get(port.data) for port in rf.read]
            want = [model[a] for a in reads]
            seen.append((got, want))
            for en, addr, data in writes:            # in port order: the last one wins
                if en:
                    model[addr] = data
            await ctx.tick()
        assert [ctx.get(s) for s in rf.storage] == model

    sim = Simulator(rf)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    for i, (got, want) in enumerate(seen):
        assert got == want, f"{kind}: cycle {i}: read ports gave {got}, model {want}"


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trace=st.lists(cycles(), min_size=1, max_size=40))
def test_register_file_matches_model(kind, trace):
    run(kind, trace)


@pytest.mark.parametrize("kind", KINDS)
def test_same_register_written_by_two_ports_keeps_the_higher_port(kind):
    trace = [([5, 5, 0], [(True, 5, 0x11), (False, 0, 0), (True, 5, 0x33)]),
             ([5, 5, 5], [(True, 5, 0x44), (True, 5, 0x55), (False, 5, 0x66)]),
             ([5, 0, 1], [(False, 0, 0)] * 3)]
    run(kind, trace)


@pytest.mark.parametrize("kind", KINDS)
def test_initial_values(kind):
    run(kind, [([0, 1, 7], [(False, 0, 0)] * 3), ([2, 3, 4], [(True, 2, 9), (False, 0, 0), (False, 0, 0)]),
               ([2, 3, 4], [(False, 0, 0)] * 3)], init=[10, 11, 12, 13, 14])


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown register file kind 'bram'"):
        make_register_file("bram", 32, 32, 1, 1)


def test_block_ram_file_refuses_too_few_steps():
    with pytest.raises(ValueError, match="5 reads on 2 copies and 4 writes need at least 5 steps, not 4"):
        BlockRamRegisterFile(32, 32, 5, 4, steps=4, copies=2)


def test_lutram_file_needs_a_write_port():
    with pytest.raises(ValueError, match="at least one write port"):
        LutRamRegisterFile(32, 32, 1, 0)
