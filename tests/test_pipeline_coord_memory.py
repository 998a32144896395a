"""The pipelined core's coordinate memory (hdl/pipeline/coord_memory.py), cycle by cycle, against the golden sim/golden/memory.py.

A sequence of S-lane operations is streamed through the memory the way the core
does: operation ``k`` presents its key, op and data in stage A in cycle ``k``
and is answered and committed (or not) in W in cycle ``k + MEMORY_STAGES``, so
every operation reads its set before the writes of the three ahead of it are
done (this exercises the patching of in-flight writes on every cycle).  In W the
answer is compared with the golden model *before* the operation, then the
operation is applied to the golden model if it commits.

The memory answers an operation as if the write of the one ahead of it were
done (it patches with W's write before W commits), so the core never commits
an operation right behind a write it drops: a write is dropped only when its
SIW faults, and the fault squashes every younger SIW.  :func:`check` keeps to
that contract (formal/pipeline_memory_proof.py assumes the same): such an
operation is not committed, and its answer is not compared.
"""

import gc
import warnings

import pytest
from hypothesis import given, settings, strategies as st, HealthCheck
from amaranth.hdl import UnusedElaboratable
from amaranth.sim import Simulator

from hdl.pipeline.coord_memory import MEMORY_STAGES, CoordinateMemory
from sim.isa.encoding import NDIMS, SOp
from sim.golden.memory import CoordinateMemory as GoldenMemory
from tests.support.placement import key_in_set
from tests.test_hdl_coord_memory import op_sequences   # the same random streams

NOP, GATHER, SCATTER, ERASE = SOp.NOP, SOp.GATHER, SOp.SCATTER, SOp.ERASE


def observe(dut, ops):
    """Stream ``ops`` = [(op, key, wdata, commit)] through ``dut``; return what W saw.

    Returns one ``(rdata, hit, full, slots)`` per op, ``slots`` being a tuple over
    ways of ``(key, value)`` or None (the golden model's slot form).
    """
    seen = []
    ops = list(ops)

    async def bench(ctx):
        for cycle in range(len(ops) + MEMORY_STAGES):
            if cycle < len(ops):
                op, key, wdata, _ = ops[cycle]
                ctx.set(dut.a_key, key)
                ctx.set(dut.a_op, op)
                ctx.set(dut.a_wdata, wdata)
            else:
                ctx.set(dut.a_op, NOP)
            in_w = cycle - MEMORY_STAGES
            if in_w >= 0:
                ctx.set(dut.w_commit, ops[in_w][3])
                slots = ctx.get(dut.w_slots)
                seen.append((ctx.get(dut.w_rdata), ctx.get(dut.w_hit), ctx.get(dut.w_full),
                             tuple((slots[w].key, slots[w].value) if slots[w].valid else None
                                   for w in range(dut.ways))))
            else:
                ctx.set(dut.w_commit, 0)
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return seen


def golden_expectations(gold, ops):
    """What the golden model says X must see for each op, applying committed ops."""
    want = []
    for op, key, wdata, commit in ops:
        full = op == SCATTER and gold.would_fault(key)
        want.append((gold.gather(key), int(key in gold.entries()), int(full),
                     gold.slots()[gold.set_of(key)]))
        if commit:
            if op == SCATTER and not full:
                gold.scatter(key, wdata)
            elif op == ERASE:
                gold.erase(key)
    return want


def as_the_core_streams(ops):
    """``ops`` with every op right behind a dropped SCATTER or ERASE uncommitted
    (the core squashes it), and the indices of those ops."""
    out, squashed = [], set()
    for i, (op, key, wdata, commit) in enumerate(ops):
        if out and out[-1][0] in (SCATTER, ERASE) and not out[-1][3]:
            commit = 0
            squashed.add(i)
        out.append((op, key, wdata, commit))
    return out, squashed


def check(dut, ops, init=()):
    ops, squashed = as_the_core_streams(ops)
    gold = GoldenMemory(dut.dim_bits, dut.set_bits, dut.ways)
    gold.load(init)
    want = golden_expectations(gold, ops)
    got = observe(dut, ops)
    for i, (g, w) in enumerate(zip(got, want)):
        if i not in squashed:
            assert g == w, f"op {i} {ops[i]}: hardware {g} != golden {w}"
    assert len(got) == len(want)


def test_the_streams_keep_to_the_cores_contract():
    ops = [(SCATTER, 1, 1, 0), (GATHER, 1, 0, 1), (ERASE, 2, 0, 0), (SCATTER, 3, 3, 0),
           (SCATTER, 4, 4, 1), (GATHER, 4, 0, 0), (SCATTER, 5, 5, 1)]
    out, squashed = as_the_core_streams(ops)
    assert squashed == {1, 3, 4, 5}     # op 3 is squashed, so op 4 is behind a dropped write
    assert [c for *_, c in out] == [0, 0, 0, 0, 0, 0, 1]


# -- directed tests (small config: dim_bits 2 -> 18-bit keys, 2 sets, 3 ways)

SMALL = dict(dim_bits=2, set_bits=1, ways=3)


def k(tag, s=0):
    return key_in_set(s, tag, SMALL["set_bits"], NDIMS * SMALL["dim_bits"])


def test_placement_takes_lowest_free_way_and_update_keeps_way():
    ops = [(SCATTER, k(5), 50, 1), (SCATTER, k(6), 60, 1), (SCATTER, k(7, 1), 71, 1),
           (SCATTER, k(5), 55, 1), (GATHER, k(5), 0, 1), (GATHER, k(6), 0, 1)]
    got = observe(CoordinateMemory(**SMALL), ops)
    # By hand: k(5) -> way 0, k(6) -> way 1 of set 0; k(7,1) -> way 0 of set 1;
    # the update of k(5) stays in way 0.
    assert got[4] == (55, 1, 0, ((k(5), 55), (k(6), 60), None))
    assert got[5][:2] == (60, 1)
    check(CoordinateMemory(**SMALL), ops)


def test_erase_frees_way_and_new_key_reuses_lowest():
    ops = [(SCATTER, k(1), 1, 1), (SCATTER, k(2), 2, 1), (SCATTER, k(3), 3, 1),
           (ERASE, k(2), 0, 1), (ERASE, k(2), 0, 1),        # second erase: absent, no-op
           (SCATTER, k(4), 4, 1), (GATHER, k(4), 0, 1), (GATHER, k(2), 0, 1)]
    got = observe(CoordinateMemory(**SMALL), ops)
    assert got[4][:2] == (0, 0)                               # k(2) already gone
    assert got[6] == (4, 1, 0, ((k(1), 1), (k(4), 4), (k(3), 3)))
    assert got[7][:2] == (0, 0)
    check(CoordinateMemory(**SMALL), ops)


def test_full_set_raises_w_full_and_writes_nothing_even_if_committed():
    ops = [(SCATTER, k(1), 1, 1), (SCATTER, k(2), 2, 1), (SCATTER, k(3), 3, 1),
           (SCATTER, k(4), 4, 1),                            # full: committed anyway
           (GATHER, k(4), 0, 1),                             # a GATHER never reports full
           (SCATTER, k(2), 22, 1),                           # update in a full set is fine
           (SCATTER, k(4, 1), 41, 1),                        # the other set is empty
           (GATHER, k(1), 0, 0)]
    got = observe(CoordinateMemory(**SMALL), ops)
    assert [g[2] for g in got] == [0, 0, 0, 1, 0, 0, 0, 0]
    assert got[4][:2] == (0, 0)
    assert got[7][3] == ((k(1), 1), (k(2), 22), (k(3), 3))
    check(CoordinateMemory(**SMALL), ops)


def test_uncommitted_ops_write_nothing():
    # A NOP behind each dropped write: the core never has an op there that commits.
    ops = [(SCATTER, k(1), 1, 0), (NOP, 0, 0, 0), (SCATTER, k(2), 2, 1), (ERASE, k(2), 0, 0),
           (NOP, 0, 0, 0), (GATHER, k(1), 0, 1), (GATHER, k(2), 0, 1)]
    got = observe(CoordinateMemory(**SMALL), ops)
    assert got[5] == (0, 0, 0, ((k(2), 2), None, None))
    assert got[6][:2] == (2, 1)


def test_back_to_back_ops_on_one_set_see_every_write_ahead_of_them():
    """Each op reads its set before the three ops ahead of it have written it (their
    writes are patched in): a write is seen by the very next op."""
    ops = [(SCATTER, k(1), 10, 1), (GATHER, k(1), 0, 1),     # write then read next cycle
           (SCATTER, k(2), 20, 1), (SCATTER, k(3), 30, 1),   # fill: second sees the first
           (ERASE, k(1), 0, 1), (SCATTER, k(9), 90, 1),      # reuse of way 0 at once
           (GATHER, k(9), 0, 1), (GATHER, k(1), 0, 1)]
    got = observe(CoordinateMemory(**SMALL), ops)
    assert got[1][:2] == (10, 1)
    assert got[3][3] == ((k(1), 10), (k(2), 20), None)
    assert got[6] == (90, 1, 0, ((k(9), 90), (k(2), 20), (k(3), 30)))
    assert got[7][:2] == (0, 0)
    check(CoordinateMemory(**SMALL), ops)


def test_init_is_placed_by_the_rule():
    init = [(k(1), 1), (k(2), 2), (k(1), 11), (k(3, 1), 3), (k(4), 4)]
    dut = CoordinateMemory(**SMALL, init=init)
    # By hand: set 0 gets k(1) (updated to 11), k(2), k(4); set 1 gets k(3,1).
    assert dut.image == [[(k(1), 11), (k(2), 2), (k(4), 4)], [(k(3, 1), 3), None, None]]
    ops = [(GATHER, k(1), 0, 1), (GATHER, k(3, 1), 0, 1), (SCATTER, k(5), 5, 1)]
    got = observe(dut, ops)
    assert got[0] == (11, 1, 0, ((k(1), 11), (k(2), 2), (k(4), 4)))
    assert got[1][:2] == (3, 1)
    assert got[2][2] == 1
    check(CoordinateMemory(**SMALL, init=init), ops, init)


def test_init_and_parameters_are_checked_by_the_shared_placement():
    """The pipelined memory places and checks its initial contents with the three-stage
    memory's code (hdl.coord_memory.SetAssociative, whose errors
    tests/test_hdl_coord_memory.py checks one by one)."""
    from hdl.coord_memory import SetAssociative
    assert issubclass(CoordinateMemory, SetAssociative)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)
        init = [(k(1), 1), (k(2), 2), (k(3), 3), (k(4), 4)]
        with pytest.raises(ValueError, match=rf"init entry 3 \(key {k(4):#x}\): set 0 is full"):
            CoordinateMemory(**SMALL, init=init)
        gc.collect()


# -- random op sequences against the golden model

@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_small_configs(data):
    dim_bits = data.draw(st.integers(2, 4), "dim_bits")
    set_bits = data.draw(st.integers(1, 3), "set_bits")
    ways = data.draw(st.integers(1, 3), "ways")
    ops = data.draw(op_sequences(dim_bits, set_bits, ways), "ops")
    check(CoordinateMemory(dim_bits, set_bits, ways), ops)


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_default_config(data):
    init = data.draw(st.lists(st.tuples(st.integers(0, 40), st.integers(0, 2**32 - 1)),
                              max_size=12), "init")
    ops = data.draw(op_sequences(11, 8, 4, max_size=80), "ops")
    dut = CoordinateMemory(11, 8, 4, init=init)
    check(dut, ops, init)


@pytest.mark.parametrize("dim_bits,set_bits,ways", [(1, 0, 2), (1, 9, 1)])
def test_edge_configs_no_set_bits_and_no_tag(dim_bits, set_bits, ways):
    """One set (no index bits) and keys that are all index (no tag bits) still work."""
    key_bits = NDIMS * dim_bits
    ops = [(SCATTER, 3, 1, 1), (SCATTER, 5, 2, 1), (SCATTER, 7, 3, 1), (GATHER, 5, 0, 1),
           (ERASE, 3, 0, 1), (SCATTER, (1 << key_bits) - 1, 4, 1), (GATHER, 3, 0, 1),
           (GATHER, (1 << key_bits) - 1, 0, 1)]
    check(CoordinateMemory(dim_bits, set_bits, ways), ops)
