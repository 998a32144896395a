"""Every example runs to the result its comment block documents.

Expected values are worked out here from what each example says it computes
(the data it defines, the Morton key's definition, IEEE binary32 facts), never
copied from a run.
"""

import struct
from pathlib import Path

import pytest

from sim.asm import assemble_file
from sim.encoding import CoreConfig, Fault
from sim.engine import make_engine

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
ALL = sorted(p.name for p in EXAMPLES.glob("*.vasm"))


def key(lb=0, sf=0, sr=0, cn=0, vm=0, bk=0, ch=0, sn=0, sc=0):
    """The Morton key by its definition: bit i of dimension d is key bit 9*i + d."""
    dims = (lb, sf, sr, cn, vm, bk, ch, sn, sc)
    return sum(((v >> i) & 1) << (9 * i + d) for d, v in enumerate(dims) for i in range(11))


def f32(x):
    return struct.unpack("<I", struct.pack("<f", x))[0]


def run(name, max_cycles=1_000_000):
    program = assemble_file(EXAMPLES / name)
    engine = make_engine("golden", CoreConfig())
    engine.load_program(program.words)
    return program, engine.run(max_cycles)


def assert_clean_halt(state):
    assert state.halted and state.fault == Fault.NONE, (state.fault, state.fault_pc)


@pytest.mark.parametrize("name", ALL)
def test_every_example_documents_itself(name):
    text = (EXAMPLES / name).read_text()
    head = text.split("\n\n", 1)[0].splitlines()
    assert head and all(line.startswith("#") for line in head), "starts with a comment block"
    assert "result" in text.split("\n\n", 1)[0].lower(), "the comment block documents the result"


def test_the_expected_examples_exist():
    assert {"micro_vtpu.vasm", "dot_product.vasm", "saxpy.vasm", "reduction.vasm",
            "memory_full.vasm"} <= set(ALL)


def test_micro_vtpu():
    _, s = run("micro_vtpu.vasm")
    assert_clean_halt(s)
    assert s.regs[2] == 42                                   # bonding
    assert s.regs[3:6] == (1, 257, 512)                      # love
    assert (key(lb=1), key(lb=1, sc=1), key(lb=2)) == (1, 257, 512)
    assert s.regs[8] == f32(1.5 + 2.25) and s.regs[9] == 7  # performance
    assert s.cregs[4] == (0, 0, 0, 0, 0, 0, 0, 0, 2)
    assert s.entries() == {key(lb=1): 42, key(sc=1): 7}      # persistence


def vectors():
    """x[i] = i + 1, y[i] = 8 - i at (lb 1 or 2, section j, scroll k), i = 4j + k."""
    for i in range(8):
        j, k = divmod(i, 4)
        yield i, j, k, float(i + 1), float(8 - i)


def test_dot_product():
    _, s = run("dot_product.vasm")
    assert_clean_halt(s)
    dot = sum(x * y for _, _, _, x, y in vectors())
    assert dot == 120.0
    assert s.regs[10] == f32(dot)
    expected = {key(lb=1, sn=j, sc=k): f32(x) for _, j, k, x, _ in vectors()}
    expected.update({key(lb=2, sn=j, sc=k): f32(y) for _, j, k, _, y in vectors()})
    expected[key(sf=1)] = f32(dot)
    assert s.entries() == expected


def test_saxpy():
    _, s = run("saxpy.vasm")
    assert_clean_halt(s)
    a = 2.5
    expected = {key(lb=1, sn=j, sc=k): f32(x) for _, j, k, x, _ in vectors()}
    expected.update({key(lb=2, sn=j, sc=k): f32(a * x + y) for _, j, k, x, y in vectors()})
    assert s.entries() == expected
    assert [struct.unpack("<f", struct.pack("<I", expected[key(lb=2, sn=j, sc=k)]))[0]
            for _, j, k, _, _ in vectors()] == [10.5, 12.0, 13.5, 15.0, 16.5, 18.0, 19.5, 21.0]


def gray_walk():
    """The coordinates reduction.vasm visits, by its comment: 8 passes of 64 steps;
    step s (1..63) adds 1 to dimension trailing_zeros(s) (lb..bk), step 64 to ch."""
    dims = [0] * 9
    for _ in range(8):
        for s in range(1, 65):
            yield tuple(dims)
            d = 6 if s == 64 else (s & -s).bit_length() - 1
            dims[d] += 1


def test_reduction():
    _, s = run("reduction.vasm")
    assert_clean_halt(s)
    walk = list(gray_walk())
    assert len(set(walk)) == 512
    total = 512 * 513 // 2
    assert s.regs[1] == f32(float(total))
    expected = {key(*c): f32(float(n + 1)) for n, c in enumerate(walk)}
    expected[key(sn=1)] = f32(float(total))
    assert s.entries() == expected
    # The walk fills 128 sets exactly (4 ways each): nothing faulted on the way.
    sets = {}
    for c in walk:
        sets[key(*c) & 0xFF] = sets.get(key(*c) & 0xFF, 0) + 1
    assert len(sets) == 128 and set(sets.values()) == {4}
    # The point of the example: all three lanes busy nearly every cycle.
    assert s.ops / s.cycles >= 2.9, s.ops / s.cycles


def test_memory_full():
    program, s = run("memory_full.vasm")
    assert s.halted and s.fault == Fault.MEM_FULL
    assert s.fault_pc == s.pc == program.labels["fill"] == 5
    # The faulting SIW committed nothing: not the IADD, not the LOOP's increment.
    assert s.regs[1] == 4
    assert s.cregs[0] == (1, 0, 0, 0, 0, 0, 0, 0, 4)
    assert s.entries() == {key(lb=1, sc=k): k for k in range(4)}
    # All four in set 1 (library bit 0 is key bit 0; scroll bits are at 8 and above).
    assert {k & 0xFF for k in s.entries()} == {1}
    assert [slot[0] for slot in s.memory[1]] == [key(lb=1, sc=k) for k in range(4)]


def test_readme_assembly_sample_assembles_and_runs():
    readme = (EXAMPLES.parent / "README.md").read_text()
    sample = readme.split("```asm\n", 1)[1].split("```", 1)[0]
    from sim.asm import assemble
    engine = make_engine("golden", CoreConfig())
    engine.load_program(assemble(sample, "README.md").words)
    s = engine.run(10_000)
    assert_clean_halt(s)
    assert s.cregs[0] == (1, 0, 0, 0, 0, 0, 0, 0, 4)    # the LOOP ran the scroll to its limit
