"""The GPT running on the core (sim/gpt/program.py): logits, names, engines, the command.

What is checked, and against what (docs/gpt.md section 9):

* the logits of every step, as bit patterns, against the binary32 mirror of the
  program's order (sim/gpt/reference32.py), on the golden model;
* those logits against the float64 reference (sim/gpt/reference.py) within
  :data:`FLOAT64_BOUND`;
* the names: greedy and sampled, golden against reference32, against the float64
  reference (equal unless a draw falls within rounding of a CDF boundary), and
  the fast engine, the RTL and the board behind the host link against golden
  (the RTL and the board at a cycle limit: they run a few hundred cycles a second).
"""

import json
import math

import pytest

from sim.engines.interface import EngineUnavailableError, make_engine
from sim.gpt import reference, reference32
from sim.gpt.host import (control_entries, generate_on, gpt_image_entries, read_logits,
                          read_names)
from sim.gpt.model import BOS, VOCAB_SIZE, core_config, read_weights
from sim.gpt.program import JOBS, build_program, job_word, serial_program
from sim.isa.encoding import CoreConfig
from sim.kernels.reference import bits, from_bits

#: |logit (core, binary32) - logit (float64)| allowed: docs/gpt.md section 9 derives it.
FLOAT64_BOUND = 2e-4


@pytest.fixture(scope="module")
def weights():
    return read_weights()


@pytest.fixture(scope="module")
def program():
    return build_program()


@pytest.fixture(scope="module")
def dumping():
    return build_program(dump_logits=True)


def _golden(words, control, samples, max_cycles=100_000_000):
    return generate_on(make_engine("golden", core_config()), words, control, samples=samples,
                       max_cycles=max_cycles)


def _fast():
    try:
        return make_engine("fast", core_config())
    except EngineUnavailableError as e:
        pytest.skip(str(e))


def test_config_is_the_gpt_memory_on_the_ulx3s_core():
    from boards import ulx3s
    config = core_config()
    assert (config.dim_bits, config.set_bits, config.ways) == (11, 11, 4)
    assert config.sets * config.ways == 8192
    assert config.prog_depth == CoreConfig().prog_depth
    # The pipelined core's table, float latency 7 (docs/isa.md section 7), the ULX3S's.
    assert (config.timing.first_retire, config.timing.gather, config.float_latency) == (7, 4, 7)
    assert config.as_dict() == ulx3s.CONFIG.as_dict()


def test_program_fits_the_program_memory(program):
    assert len(program.words) <= 1024
    assert len(build_program(dump_logits=True).words) <= 1024
    ops = [line for line in serial_program().splitlines() if line and not line.endswith(":")]
    assert len(ops) <= 1024               # the compiler's input is itself a program


def test_job_words_pack_their_rows():
    word = job_word(JOBS[1])              # k: normed row in, zero row init, the KV cache + pos
    assert word & 15 == JOBS[1].x - 416 and (word >> 4) & 15 == JOBS[1].init - 416
    assert (word >> 8) & 63 == 0 and word >> 15 == 1
    assert [j.name for j in JOBS][:4] == ["q", "k", "v", "wo"] and len(JOBS) == 14


def test_logits_are_bit_identical_to_the_binary32_reference(weights, dumping):
    """Greedy (8 steps) and a sampled name (seed 7): all 27 logits of every step."""
    for greedy, seed in ((True, 1), (False, 7)):
        control = control_entries(samples=1, seed=seed, temperature=0.5, greedy=greedy)
        run = _golden(dumping.words, control, 1)
        assert run.state.halted and run.state.fault.name == "NONE"
        expected = []
        tokens, _ = reference32.generate(weights, state=None if greedy else seed,
                                         inv_t=None if greedy else 2.0, logits=expected)
        assert run.names == [reference32.decode(tokens)]
        assert len(expected) >= 5
        entries = run.state.entries()
        for pos, logits in enumerate(expected):
            assert read_logits(entries, pos) == [bits(v) for v in logits], pos


def test_logits_agree_with_float64_within_the_bound(weights):
    """reference32 is the core's arithmetic (previous test); its logits along three
    sampled names stay within FLOAT64_BOUND of the float64 forward pass."""
    worst = 0.0
    state = 3
    for _ in range(3):
        cache32, cache64 = reference32.KVCache(), reference.KVCache()
        token = BOS
        for pos in range(16):
            l32 = reference32.forward(weights, token, pos, cache32)[:VOCAB_SIZE]
            l64 = reference.forward(weights, token, pos, cache64)
            worst = max(worst, max(abs(a - b) for a, b in zip(l32, l64)))
            token, state = reference32.choose_sample(l32 + [-math.inf] * 5, state, 2.0)
            if token == BOS:
                break
    assert 0 < worst <= FLOAT64_BOUND


def test_greedy_name_on_golden_is_the_references(weights, program):
    run = _golden(program.words, control_entries(samples=1, greedy=True), 1)
    assert run.names == reference32.generate_names(weights, 1) == \
        reference.generate_names(weights, 1) == ["annalie"]
    assert run.tokens == 8


def _float64_names_or_close_draws(weights, samples, seed, temperature):
    """The float64 reference's names, and the smallest distance of a draw's ``u`` from a
    CDF boundary (as a fraction of the total) up to the first name that differs."""
    rng = reference.Xorshift32(seed)
    names, closest = [], 1.0
    for _ in range(samples):
        cache, token, out = reference.KVCache(), BOS, []
        for pos in range(16):
            probs = reference.softmax([v / temperature for v in
                                       reference.forward(weights, token, pos, cache)])
            u = rng.uniform()
            running = 0.0
            for p in probs:
                running += p
                closest = min(closest, abs(running / sum(probs) - u))
            token = reference.inverse_cdf(probs, u)
            if token == BOS:
                break
            out.append(token)
        names.append(reference.decode(out))
    return names, closest


def test_sampled_names_on_golden_equal_both_references(weights, program):
    control = control_entries(samples=3, seed=1, temperature=0.5)
    run = _golden(program.words, control, 3)
    assert run.names == reference32.generate_names(weights, 3, seed=1, temperature=0.5)
    names64, closest = _float64_names_or_close_draws(weights, 3, 1, 0.5)
    # equal unless some draw lies within the float32/float64 difference of a boundary
    assert run.names == names64 or closest < 1e-5
    assert run.names == ["aaran", "adelon", "abrise"]


@pytest.mark.slow
def test_ten_sampled_names_equal_the_float64_reference(weights, program):
    run = _golden(program.words, control_entries(samples=10, seed=1, temperature=0.5), 10)
    names64, closest = _float64_names_or_close_draws(weights, 10, 1, 0.5)
    assert run.names == names64 or closest < 1e-5
    assert run.names == reference32.generate_names(weights, 10, seed=1, temperature=0.5)


@pytest.mark.parametrize("F, samples", [(12, 3), (8, 1), (16, 1)])
def test_the_program_compiled_for_the_pipelined_core_gives_the_same_names(weights, F, samples):
    """Compiled for Timing.pipelined(F) (docs/isa.md section 7) and run on the golden model
    with that table: the binary32 reference's names, since only the timing changed."""
    from sim.isa.encoding import Timing
    config = core_config().with_timing(Timing.pipelined(F))
    compiled = build_program(config)
    assert len(compiled.words) <= config.prog_depth
    run = generate_on(make_engine("golden", config), compiled.words,
                      control_entries(samples=samples, seed=1, temperature=0.5), samples=samples,
                      max_cycles=100_000_000)
    assert run.names == reference32.generate_names(weights, samples, seed=1, temperature=0.5)


def test_fast_engine_gives_the_golden_names(program):
    for control, samples in ((control_entries(samples=1, greedy=True), 1),
                             (control_entries(samples=3, seed=1, temperature=0.5), 3),
                             (control_entries(samples=2, seed=99, temperature=1.0), 2)):
        golden = _golden(program.words, control, samples)
        fast = generate_on(_fast(), program.words, control, samples=samples)
        assert fast.names == golden.names
        assert (fast.state.cycles, fast.state.ops) == (golden.state.cycles, golden.state.ops)


def _same_state_at(engine_name, program, cycles):
    """Run ``engine_name`` until the host stops it at ``cycles``, then golden to the cycle
    it stopped at: the same registers, coordinates, memory, pc and counters."""
    control = control_entries(samples=1, greedy=True)
    other = make_engine(engine_name, core_config())
    other.load_program(program.words)
    other.write_memory(gpt_image_entries(control))
    o = other.run(cycles)
    if hasattr(other, "close"):
        other.close()
    golden = make_engine("golden", core_config())
    golden.load_program(program.words)
    golden.write_memory(gpt_image_entries(control))
    g = golden.run(o.cycles)
    assert o.siws > 0 and o.cycles >= cycles
    assert o.diff(g) == []
    return g


def test_rtl_matches_golden_at_a_cycle_limit(program):
    """The start, the embedding and the first RMSNorm: the RTL's state equals golden's."""
    state = _same_state_at("rtl", program, 400)
    assert state.pc > 0


@pytest.mark.slow
def test_rtl_first_greedy_token_matches_golden(program):
    """The whole first step (about 7,800 cycles) on the RTL: the same first token."""
    state = _same_state_at("rtl", program, 8000)
    assert read_names(state.entries(), 1) == ["a"]       # annalie's first letter


@pytest.mark.slow
def test_board_behind_the_host_link_matches_golden_at_a_cycle_limit(program):
    _same_state_at("board-sim", program, 300)


def test_vtpu_gpt_prints_names_and_figures(capsys, weights):
    from sim.cli.main import main
    assert main(["gpt", "--samples", "2", "--seed", "5", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["names"] == reference32.generate_names(weights, 2, seed=5, temperature=0.5)
    assert report["tokens"] == sum(len(n) + 1 for n in report["names"])
    assert report["cycles_per_token"] == pytest.approx(report["cycles"] / report["tokens"], abs=0.1)
    assert report["tokens_per_second_at_board_clock"] == pytest.approx(
        40e6 / report["cycles_per_token"], rel=1e-3)      # the ULX3S's clock, one per cycle
    assert main(["gpt", "--greedy", "--samples", "1"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "annalie" and "ops/cycle" in out and "tokens/s" in out


def test_vtpu_gpt_saves_program_and_image_for_vtpu_run(tmp_path, capsys, program):
    from sim.asm.progfile import load_program_file
    from sim.cli.main import main
    from sim.image.memory_image import read_image
    vasm, phext = tmp_path / "gpt.vasm", tmp_path / "gpt.phext"
    assert main(["gpt", "--greedy", "--samples", "1", "--save-program", str(vasm),
                 "--save-image", str(phext)]) == 0
    assert load_program_file(str(vasm)).words == program.words
    image = read_image(str(phext))
    assert image.geometry == (11, 11, 4)
    assert list(image.entries) == gpt_image_entries(control_entries(samples=1, greedy=True))
    # what vtpu run would load and run, here on golden: the greedy name
    engine = make_engine("golden", core_config())
    engine.load_program(program.words)
    engine.write_memory(image.entries)
    assert read_names(engine.run(10_000_000).entries(), 1) == ["annalie"]


def test_control_words_are_checked():
    with pytest.raises(ValueError):
        control_entries(samples=0, greedy=True)
    with pytest.raises(ValueError):
        control_entries(samples=65, greedy=True)
    with pytest.raises(ValueError):
        control_entries(samples=1, seed=0, temperature=0.5)
    with pytest.raises(ValueError):
        control_entries(samples=1, temperature=0.0)
    words = dict(control_entries(samples=3, seed=9, temperature=0.25))
    assert sorted(words.values()) == sorted([9, 3, 0, bits(4.0)])
    assert from_bits(bits(4.0)) == 4.0
