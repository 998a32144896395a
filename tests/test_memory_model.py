"""sim/golden/memory.py: contents against a plain dict, placement against docs/isa.md section 5."""

import pytest
from hypothesis import given, settings, strategies as st

from sim.isa.coord import morton_key
from sim.golden.memory import CoordinateMemory, MemoryFullError
from tests.support.placement import keys_in_set, spec_set

# Keys of set 5 with 8 set bits (99-bit keys): tags 0..4, low bits 5 ^ (M_high . tag).
K0, K1, K2, K3, K4 = keys_in_set(5, 5, 8, 99)


def test_set_is_the_matrix_times_the_key_and_lowest_free_way():
    m = CoordinateMemory(dim_bits=11, set_bits=8, ways=4)
    assert {spec_set(k, 8, 99) for k in (K0, K1, K2, K3, K4)} == {5}
    assert K0 == 5 and [k >> 8 for k in (K1, K2, K3, K4)] == [1, 2, 3, 4]
    # keys K0, K1, K2 all fall in set 5; they fill ways 0, 1, 2 in order
    for i, key in enumerate((K0, K1, K2)):
        m.scatter(key, 100 + i)
    s = m.slots()
    assert len(s) == 256 and all(len(ways) == 4 for ways in s)
    assert s[5] == ((K0, 100), (K1, 101), (K2, 102), None)
    assert all(s[i] == (None,) * 4 for i in range(256) if i != 5)


def test_update_keeps_its_way():
    m = CoordinateMemory(11, 8, 4)
    m.scatter(K0, 1)
    m.scatter(K1, 2)
    m.scatter(K0, 3)
    assert m.slots()[5] == ((K0, 3), (K1, 2), None, None)


def test_erase_frees_and_new_key_takes_lowest_free_way():
    m = CoordinateMemory(11, 8, 4)
    for i, key in enumerate((K0, K1, K2, K3)):
        m.scatter(key, i)
    m.erase(K1)
    m.erase(K0)
    assert m.slots()[5] == (None, None, (K2, 2), (K3, 3))
    m.scatter(K4, 9)                   # lowest free way is 0
    assert m.slots()[5] == ((K4, 9), None, (K2, 2), (K3, 3))
    m.erase(12345)                     # absent: nothing happens
    assert m.slots()[5] == ((K4, 9), None, (K2, 2), (K3, 3))


def test_full_set_faults_and_changes_nothing():
    m = CoordinateMemory(11, 8, 2)
    m.scatter(K0, 1)
    m.scatter(K1, 2)
    before = m.slots()
    assert m.would_fault(K2) and not m.would_fault(K0) and not m.would_fault(6)
    with pytest.raises(MemoryFullError) as info:
        m.scatter(K2, 3)
    assert info.value.key == K2 and info.value.set_index == 5
    assert m.slots() == before
    m.scatter(K1, 7)                   # an update of a present key still works
    assert m.gather(K1) == 7


def test_gather_absent_is_zero_and_changes_nothing():
    m = CoordinateMemory(11, 8, 4)
    assert m.gather(morton_key((1, 0, 0, 0, 0, 0, 0, 0, 1))) == 0
    assert m.entries() == {}


def test_morton_neighbours_use_neighbouring_sets():
    m = CoordinateMemory(11, 8, 4)
    k1 = morton_key((1, 0, 0, 0, 0, 0, 0, 0, 0))      # key 1
    k2 = morton_key((0, 1, 0, 0, 0, 0, 0, 0, 0))      # key 2
    m.scatter(k1, 11)
    m.scatter(k2, 22)
    assert m.slots()[1][0] == (1, 11) and m.slots()[2][0] == (2, 22)


def test_zero_set_bits_is_one_fully_associative_set():
    m = CoordinateMemory(2, 0, 3)
    for k in (7, 3, 100):
        m.scatter(k, k)
    assert m.slots() == (((7, 7), (3, 3), (100, 100)),)
    assert m.would_fault(1)


def test_load_names_failing_entry_and_coordinate():
    m = CoordinateMemory(11, 8, 1)
    same = spec_set(256, 8, 99)                  # the key below 256 in key 256's set
    assert same not in (1, 3)
    entries = [(1, 10), (same, 20), (256, 30), (3, 40)]
    with pytest.raises(MemoryFullError) as info:
        m.load(entries)
    assert info.value.index == 2 and info.value.key == 256
    assert "entry 2" in str(info.value)
    assert "0.0.0/0.0.0/0.0.1" in str(info.value)          # key 256's coordinate
    assert m.entries() == {1: 10, same: 20}                 # entries before it stay


def test_bad_inputs_are_rejected():
    m = CoordinateMemory(2, 2, 2)
    with pytest.raises(ValueError):
        m.scatter(1 << 18, 0)          # key wider than 9*2 bits
    with pytest.raises(ValueError):
        m.scatter(0, 1 << 32)
    with pytest.raises(ValueError, match="entry 1"):
        m.load([(1, 1), (2, -1)])


# A small geometry so random keys collide in sets often.
DIM_BITS, SET_BITS, WAYS = 2, 2, 2
ops = st.lists(st.tuples(st.sampled_from(["scatter", "erase", "gather"]),
                         st.integers(0, 31), st.integers(0, 2 ** 32 - 1)), max_size=60)


@settings(max_examples=400)
@given(ops)
def test_agrees_with_dict_model(program):
    m = CoordinateMemory(DIM_BITS, SET_BITS, WAYS)
    model = {}
    for op, key, value in program:
        set_index = spec_set(key, SET_BITS, 9 * DIM_BITS)
        occupied = sum(1 for k in model if spec_set(k, SET_BITS, 9 * DIM_BITS) == set_index)
        must_fault = op == "scatter" and key not in model and occupied >= WAYS
        assert m.would_fault(key) == (key not in model and occupied >= WAYS)
        if op == "scatter":
            if must_fault:
                before = m.slots()
                with pytest.raises(MemoryFullError):
                    m.scatter(key, value)
                assert m.slots() == before
            else:
                m.scatter(key, value)
                model[key] = value
        elif op == "erase":
            m.erase(key)
            model.pop(key, None)
        else:
            assert m.gather(key) == model.get(key, 0)
        assert m.entries() == model
        # each stored entry sits in its own set, once
        for s, ways in enumerate(m.slots()):
            assert len(ways) == WAYS
            for slot in ways:
                assert slot is None or spec_set(slot[0], SET_BITS, 9 * DIM_BITS) == s
