"""sim/memory.py: contents against a plain dict, placement against docs/isa.md section 5."""

import pytest
from hypothesis import given, settings, strategies as st

from sim.coord import morton_key
from sim.memory import CoordinateMemory, MemoryFullError


def test_set_is_low_key_bits_and_lowest_free_way():
    m = CoordinateMemory(dim_bits=11, set_bits=8, ways=4)
    # keys 5, 5+256, 5+512 all fall in set 5; they fill ways 0, 1, 2 in order
    for i, key in enumerate((5, 261, 517)):
        m.scatter(key, 100 + i)
    s = m.slots()
    assert len(s) == 256 and all(len(ways) == 4 for ways in s)
    assert s[5] == ((5, 100), (261, 101), (517, 102), None)
    assert all(s[i] == (None,) * 4 for i in range(256) if i != 5)


def test_update_keeps_its_way():
    m = CoordinateMemory(11, 8, 4)
    m.scatter(5, 1)
    m.scatter(261, 2)
    m.scatter(5, 3)
    assert m.slots()[5] == ((5, 3), (261, 2), None, None)


def test_erase_frees_and_new_key_takes_lowest_free_way():
    m = CoordinateMemory(11, 8, 4)
    for i, key in enumerate((5, 261, 517, 773)):
        m.scatter(key, i)
    m.erase(261)
    m.erase(5)
    assert m.slots()[5] == (None, None, (517, 2), (773, 3))
    m.scatter(1029, 9)                 # lowest free way is 0
    assert m.slots()[5] == ((1029, 9), None, (517, 2), (773, 3))
    m.erase(12345)                     # absent: nothing happens
    assert m.slots()[5] == ((1029, 9), None, (517, 2), (773, 3))


def test_full_set_faults_and_changes_nothing():
    m = CoordinateMemory(11, 8, 2)
    m.scatter(5, 1)
    m.scatter(261, 2)
    before = m.slots()
    assert m.would_fault(517) and not m.would_fault(5) and not m.would_fault(6)
    with pytest.raises(MemoryFullError) as info:
        m.scatter(517, 3)
    assert info.value.key == 517 and info.value.set_index == 5
    assert m.slots() == before
    m.scatter(261, 7)                  # an update of a present key still works
    assert m.gather(261) == 7


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
    entries = [(1, 10), (2, 20), (257, 30), (3, 40)]      # 257 is set 1 again
    with pytest.raises(MemoryFullError) as info:
        m.load(entries)
    assert info.value.index == 2 and info.value.key == 257
    assert "entry 2" in str(info.value)
    assert "1.0.0/0.0.0/0.0.1" in str(info.value)          # key 257's coordinate
    assert m.entries() == {1: 10, 2: 20}                    # entries before it stay


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
        set_index = key % (1 << SET_BITS)
        occupied = sum(1 for k in model if k % (1 << SET_BITS) == set_index)
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
                assert slot is None or slot[0] % (1 << SET_BITS) == s
