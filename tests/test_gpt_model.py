"""sim/gpt: the GPT's shape, its weight layout and image, the float64 reference, sampling and generation.

Expected values come from the issue's definition of the model (docs/gpt.md),
from hand calculation (the tiny models below, xorshift32 from seed 1), from a
straightforward whole-sequence implementation written here (no KV cache), and,
where numpy is installed (the ``train`` extra), from the training script's own
numpy model; never from the code under test.  Tests that need numpy skip,
saying so, without it.
"""

import ast
import hashlib
import importlib.util
import math
import pathlib
import random
import struct

import pytest

from sim.cli.main import main as vtpu_main
from sim.golden.memory import CoordinateMemory
from sim.image.memory_image import read_image, write_image
from sim.isa.coord import format_coord, morton_key, parse_coord
from sim.gpt import model
from sim.gpt.model import (BOS, LAYOUT, PARAMETERS, WEIGHTS_PATH, Layout, Matrix, read_weights,
                           write_weights)
from sim.gpt.reference import (KVCache, Xorshift32, argmax, forward, generate, generate_names,
                               inverse_cdf)

ROOT = pathlib.Path(__file__).resolve().parent.parent

# The shape, as the issue states it: name -> (rows, columns), W[out][in].
SHAPES = {
    "wte": (27, 16), "wpe": (16, 16),
    "layer0.attn_wq": (16, 16), "layer0.attn_wk": (16, 16),
    "layer0.attn_wv": (16, 16), "layer0.attn_wo": (16, 16),
    "layer0.mlp_fc1": (64, 16), "layer0.mlp_fc2": (16, 64),
    "lm_head": (27, 16),
}


def zeros():
    return {name: [[0.0] * cols for _ in range(rows)] for name, (rows, cols) in SHAPES.items()}


def random_weights(seed, std=0.3):
    rng = random.Random(seed)
    return {name: [[rng.gauss(0.0, std) for _ in range(cols)] for _ in range(rows)]
            for name, (rows, cols) in SHAPES.items()}


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


@pytest.fixture(scope="module")
def trained():
    return read_weights()


# -- an independent implementation: the whole sequence at once, no cache ------------------

def naive_logits(w, tokens):
    """Logits at every position of ``tokens``, each position attending to all earlier ones."""
    def matvec(m, x):
        return [math.fsum(m[o][i] * x[i] for i in range(len(x))) for o in range(len(m))]

    def norm(x):
        return [v / math.sqrt(math.fsum(u * u for u in x) / len(x) + 1e-5) for v in x]

    xs = [norm([a + b for a, b in zip(w["wte"][t], w["wpe"][p])]) for p, t in enumerate(tokens)]
    hs = [norm(x) for x in xs]
    qs = [matvec(w["layer0.attn_wq"], h) for h in hs]
    ks = [matvec(w["layer0.attn_wk"], h) for h in hs]
    vs = [matvec(w["layer0.attn_wv"], h) for h in hs]
    out = []
    for p in range(len(tokens)):
        mixed = [0.0] * 16
        for head in range(4):
            ch = range(4 * head, 4 * head + 4)
            scores = [math.fsum(qs[p][c] * ks[s][c] for c in ch) / 2.0 for s in range(p + 1)]
            e = [math.exp(v - max(scores)) for v in scores]
            weights = [v / math.fsum(e) for v in e]
            for c in ch:
                mixed[c] = math.fsum(weights[s] * vs[s][c] for s in range(p + 1))
        x = [a + b for a, b in zip(xs[p], matvec(w["layer0.attn_wo"], mixed))]
        hidden = [max(0.0, v) for v in matvec(w["layer0.mlp_fc1"], norm(x))]
        x = [a + b for a, b in zip(x, matvec(w["layer0.mlp_fc2"], hidden))]
        out.append(matvec(w["lm_head"], x))
    return out


def reference_logits(w, tokens):
    cache = KVCache()
    return [forward(w, t, p, cache) for p, t in enumerate(tokens)]


def assert_close(a, b, tol):
    for row_a, row_b in zip(a, b, strict=True):
        for x, y in zip(row_a, row_b, strict=True):
            assert abs(x - y) <= tol * (1 + abs(y)), (x, y)


# -- the training data ---------------------------------------------------------------------

def test_training_data_is_the_makemore_names_list():
    data = (ROOT / "data" / "names.txt").read_bytes()
    assert hashlib.sha256(data).hexdigest() == (
        "0a30b5557f192f32ab962680889aac5f6fda0f4cecf40a6d0b5694f58ea8cc4d")
    names = data.decode("ascii").split("\n")
    assert len(names) == 32033
    assert all(n.isalpha() and n.islower() and 1 <= len(n) <= 15 for n in names)
    readme = (ROOT / "data" / "README.md").read_text()
    assert "github.com/karpathy/makemore" in readme and "MIT" in readme
    assert "Andrej Karpathy" in readme


# -- the shape and the layout --------------------------------------------------------------

def test_shape_is_microgpts():
    assert (model.VOCAB_SIZE, model.BOS, model.N_EMBD, model.N_HEAD, model.HEAD_DIM,
            model.N_LAYER, model.BLOCK_SIZE, model.MLP_HIDDEN) == (27, 26, 16, 4, 4, 1, 16, 64)
    assert {m.name: (m.rows, m.columns) for m in PARAMETERS} == SHAPES
    assert sum(m.size for m in PARAMETERS) == 27 * 16 * 2 + 16 * 16 * 5 + 64 * 16 * 2 == 4192


def test_tokens():
    assert model.encode("abz") == [0, 1, 25]
    assert model.decode([4, 12, 12, 0]) == "emma"
    for bad in ("Emma", "a b", "é"):
        with pytest.raises(ValueError):
            model.encode(bad)
    with pytest.raises(ValueError):
        model.decode([0, BOS])


@pytest.mark.parametrize("name, i, j, coord", [
    # from the layout table of docs/gpt.md: storage row = first row + (j//16)*rows + i
    ("wte", 0, 0, "0.0.0/0.0.0/0.0.0"),
    ("wte", 26, 15, "26.0.0/0.0.0/0.0.15"),
    ("wpe", 3, 7, "35.0.0/0.0.0/0.0.7"),
    ("layer0.attn_wq", 0, 1, "48.0.0/0.0.0/0.0.1"),
    ("layer0.attn_wk", 15, 0, "79.0.0/0.0.0/0.0.0"),
    ("layer0.attn_wv", 1, 2, "81.0.0/0.0.0/0.0.2"),
    ("layer0.attn_wo", 2, 3, "98.0.0/0.0.0/0.0.3"),
    ("layer0.mlp_fc1", 63, 15, "175.0.0/0.0.0/0.0.15"),
    ("layer0.mlp_fc2", 0, 63, "224.0.0/0.0.0/0.0.15"),
    ("layer0.mlp_fc2", 1, 17, "193.0.0/0.0.0/0.0.1"),
    ("layer0.mlp_fc2", 15, 63, "239.0.0/0.0.0/0.0.15"),
    ("lm_head", 26, 15, "266.0.0/0.0.0/0.0.15"),
    ("k_cache", 5, 9, "389.0.0/0.0.0/0.0.9"),
    ("v_cache", 15, 15, "415.0.0/0.0.0/0.0.15"),
    ("control", 0, 0, "432.0.0/0.0.0/0.0.0"),
    ("names", 63, 15, "511.0.0/0.0.0/0.0.15"),
])
def test_documented_coordinates(name, i, j, coord):
    assert format_coord(LAYOUT[name].coord(i, j)) == coord
    assert LAYOUT.owner(parse_coord(coord))[1:] == (i, j)
    assert LAYOUT.owner(parse_coord(coord))[0].name == name


def test_every_element_has_its_own_coordinate_in_the_box():
    seen = {}
    for m in LAYOUT:
        for i, j in m.elements():
            c = m.coord(i, j)
            assert c not in seen, f"{m.name}[{i}][{j}] and {seen[c]} share {c}"
            seen[c] = (m.name, i, j)
            assert c[0] < 512 and c[8] < 16 and not any(c[1:8])
    assert sum(1 for c in seen if LAYOUT.owner(c)[0] in PARAMETERS) == 4192
    assert LAYOUT.owner(parse_coord("300.0.0/0.0.0/0.0.0")) is None       # between the regions
    assert LAYOUT.owner(parse_coord("0.0.0/0.0.0/0.1.0")) is None         # outside the box


def test_layout_refuses_overlap_and_leaving_the_box():
    with pytest.raises(ValueError, match="both use storage row 3"):
        Layout([Matrix("a", 4, 16, 0), Matrix("b", 1, 16, 3)])
    with pytest.raises(ValueError, match="leave the box"):
        Layout([Matrix("a", 2, 32, 510)])
    with pytest.raises(ValueError, match="two matrices"):
        Layout([Matrix("a", 1, 1, 0), Matrix("a", 1, 1, 1)])
    with pytest.raises(ValueError):
        Matrix("a", 0, 16, 0)
    with pytest.raises(ValueError):
        Matrix("a", 1, 16, -1)
    with pytest.raises(TypeError):
        Matrix("a", 1.0, 16, 0)
    with pytest.raises(IndexError):
        LAYOUT["wte"].coord(27, 0)


def test_the_whole_box_fits_the_gpts_memory():
    """Weights and every working word together: 512 x 16 = 8192 coordinates in 8192 entries."""
    memory = CoordinateMemory(11, 11, 4)
    for row in range(512):
        for column in range(16):
            memory.scatter(morton_key((row, 0, 0, 0, 0, 0, 0, 0, column), 11), 1)
    assert len(memory.entries()) == 8192


# -- the weights image ---------------------------------------------------------------------

def test_weights_image_loads_into_the_gpts_memory_and_into_a_dict(trained):
    image = read_image(WEIGHTS_PATH)
    assert image.geometry == (11, 11, 4)
    memory = CoordinateMemory(11, 11, 4)
    memory.load(image.entries)                    # no MEM_FULL
    plain = dict(image.entries)
    assert memory.entries() == plain
    assert len(plain) == 4192
    for name, (rows, cols) in SHAPES.items():
        first = {"wte": 0, "wpe": 32, "layer0.attn_wq": 48, "layer0.attn_wk": 64,
                 "layer0.attn_wv": 80, "layer0.attn_wo": 96, "layer0.mlp_fc1": 112,
                 "layer0.mlp_fc2": 176, "lm_head": 240}[name]
        for i in range(rows):
            for j in range(cols):
                key = morton_key((first + (j // 16) * rows + i, 0, 0, 0, 0, 0, 0, 0, j % 16), 11)
                bits = struct.unpack("<I", struct.pack("<f", trained[name][i][j]))[0]
                assert plain[key] == bits


def test_trained_weights_are_float32_and_not_degenerate(trained):
    assert set(trained) == set(SHAPES)
    for name, rows in trained.items():
        flat = [w for row in rows for w in row]
        assert all(math.isfinite(w) and f32(w) == w for w in flat)
        assert len(set(flat)) > len(flat) // 2, f"{name} looks untrained"


def test_image_round_trip_gives_the_float32_values(tmp_path):
    w = random_weights(1)
    w["wte"][0][0] = 0.1                         # not a binary32 value: rounded once
    path = tmp_path / "w.phext"
    write_weights(path, w)
    back = read_weights(path)
    assert back == {n: [[f32(x) for x in row] for row in rows] for n, rows in w.items()}
    assert back["wte"][0][0] == struct.unpack("<f", bytes.fromhex("cdcccc3d"))[0]
    write_weights(path, back)
    assert read_weights(path) == back


def test_write_weights_refuses_bad_weights(tmp_path):
    w = zeros()
    del w["lm_head"]
    with pytest.raises(ValueError, match="missing"):
        write_weights(tmp_path / "w.phext", w)
    w = zeros()
    w["wpe"].pop()
    with pytest.raises(ValueError, match="wpe must be 16 x 16"):
        write_weights(tmp_path / "w.phext", w)
    w = zeros()
    w["wte"][1][2] = float("nan")
    with pytest.raises(ValueError, match=r"wte\[1\]\[2\]"):
        write_weights(tmp_path / "w.phext", w)
    w = zeros()
    w["wte"][1][2] = 1e39
    with pytest.raises(ValueError, match="beyond binary32"):
        write_weights(tmp_path / "w.phext", w)
    assert not (tmp_path / "w.phext").exists()


def test_read_weights_refuses_missing_and_foreign_entries(tmp_path):
    entries = model.weight_entries(zeros())
    path = tmp_path / "w.phext"
    write_image(path, entries[:-1], dim_bits=11, set_bits=11, ways=4)
    with pytest.raises(ValueError, match=r"no entry for lm_head\[26\]\[15\] at 266.0.0/0.0.0/0.0.15"):
        read_weights(path)
    write_image(path, entries + [(morton_key((384, 0, 0, 0, 0, 0, 0, 0, 0), 11), 7)],
                dim_bits=11, set_bits=11, ways=4)
    with pytest.raises(ValueError, match="384.0.0/0.0.0/0.0.0 is not a weight"):
        read_weights(path)
    write_image(path, [], dim_bits=6, set_bits=6, ways=2)
    with pytest.raises(ValueError, match="dim_bits=6"):
        read_weights(path)


def test_vtpu_image_dump_shows_the_model(capsys, trained):
    assert vtpu_main(["image", "dump", WEIGHTS_PATH]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "# vtpu-image 1: dim_bits=11 set_bits=11 ways=4 entries=4192"
    assert len(lines) == 1 + 4192
    fc2 = [line.split() for line in lines[1:] if line.split()[1] == "193.0.0/0.0.0/0.0.1"]
    assert len(fc2) == 1
    assert float(fc2[0][3]) == pytest.approx(trained["layer0.mlp_fc2"][1][17], rel=1e-8)


# -- the forward pass ----------------------------------------------------------------------

def test_forward_agrees_with_the_whole_sequence_implementation():
    w = random_weights(2)
    tokens = [BOS] + [random.Random(3).randrange(27) for _ in range(15)]
    assert_close(reference_logits(w, tokens), naive_logits(w, tokens), 1e-12)


def test_forward_agrees_on_the_trained_weights(trained):
    tokens = [BOS] + model.encode("christopher")
    assert_close(reference_logits(trained, tokens), naive_logits(trained, tokens), 1e-12)


def r(a):
    """rmsnorm of ``a`` times a unit vector of 16 channels: ``a / sqrt(a*a/16 + 1e-5)``."""
    return a / math.sqrt(a * a / 16 + 1e-5)


def test_hand_checked_embedding_norm_and_head():
    w = zeros()
    w["wte"][5][0] = 3.0                          # attention and MLP add nothing: Wo = fc2 = 0
    for k in range(27):
        w["lm_head"][k][0] = float(k)
    logits = forward(w, 5, 0, KVCache())
    assert logits == pytest.approx([k * 3 / math.sqrt(9 / 16 + 1e-5) for k in range(27)], rel=1e-15)


def identity_head(w):
    for c in range(16):
        w["lm_head"][c][c] = 1.0


def test_hand_checked_uniform_attention_averages_the_cached_values():
    w = zeros()
    w["wte"][0][0] = 4.0
    w["wte"][1][1] = 4.0
    for c in range(16):                           # Wq = 0: equal scores; Wv = Wo = identity
        w["layer0.attn_wv"][c][c] = w["layer0.attn_wo"][c][c] = 1.0
    identity_head(w)
    cache = KVCache()
    first = forward(w, 0, 0, cache)
    assert first[:2] == pytest.approx([r(4) + r(r(4)), 0.0], rel=1e-14)
    second = forward(w, 1, 1, cache)
    assert second[:2] == pytest.approx([r(r(4)) / 2, r(4) + r(r(4)) / 2], rel=1e-14)
    assert second[2:] == [0.0] * 25
    assert len(cache) == 2


def test_hand_checked_attention_scale_is_one_over_sqrt_head_dim():
    w = zeros()
    w["wte"][0][0] = 4.0
    w["wte"][1][1] = 4.0
    for c in range(16):
        w["layer0.attn_wq"][c][c] = w["layer0.attn_wk"][c][c] = 1.0
        w["layer0.attn_wv"][c][c] = w["layer0.attn_wo"][c][c] = 1.0
    identity_head(w)
    cache = KVCache()
    forward(w, 0, 0, cache)
    logits = forward(w, 1, 1, cache)
    s = r(r(4))                                  # q1 = k1 = v1 = s e1, k0 = v0 = s e0
    w1 = 1 / (1 + math.exp(-s * s / 2))          # scores 0 and s*s / sqrt(4), head 0
    assert logits[:2] == pytest.approx([(1 - w1) * s, r(4) + w1 * s], rel=1e-12)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_hand_checked_relu_mlp(sign):
    w = zeros()
    w["wte"][0][0] = 4.0 * sign
    w["layer0.mlp_fc1"][0][0] = 1.0               # hidden 0 = relu(+x0), hidden 1 = relu(-x0)
    w["layer0.mlp_fc1"][1][0] = -1.0
    w["layer0.mlp_fc2"][2][0] = 1.0               # out 2 = hidden 0, out 3 = hidden 1
    w["layer0.mlp_fc2"][3][1] = 1.0
    identity_head(w)
    logits = forward(w, 0, 0, KVCache())
    expected = [sign * r(4), 0.0, r(r(4)) if sign > 0 else 0.0, r(r(4)) if sign < 0 else 0.0]
    assert logits[:4] == pytest.approx(expected, rel=1e-14)


def test_forward_refuses_positions_out_of_order():
    cache = KVCache()
    with pytest.raises(ValueError):
        forward(zeros(), BOS, 1, cache)
    for p in range(16):
        forward(zeros(), BOS, p, cache)
    with pytest.raises(ValueError):
        forward(zeros(), BOS, 16, cache)


# -- sampling ------------------------------------------------------------------------------

def test_xorshift32_by_hand():
    rng = Xorshift32(1)
    # x = 1; x ^= x << 13 -> 0x2001; x ^= x >> 17 -> 0x2001; x ^= x << 5 -> 0x2001 ^ 0x40020
    assert rng.next() == 0x42021 == 270369
    # 0x42021 ^ 0x84042000 = 0x84000021; ^ (>> 17: 0x4200) = 0x84004221; ^ (<< 5: 0x80084420)
    assert rng.next() == 0x04080601 == 67634689
    assert rng.state == 0x04080601
    rng = Xorshift32(1)
    assert rng.uniform() == (270369 >> 8) / 2 ** 24 == 1056 / 16777216
    for bad in (0, 1 << 32, -1, True):
        with pytest.raises(ValueError):
            Xorshift32(bad)


def test_inverse_cdf_by_hand():
    probs = [0.25, 0.25, 0.5]                     # running sums 0.25, 0.5, 1.0
    assert [inverse_cdf(probs, u) for u in (0.0, 0.2, 0.25, 0.49, 0.5, 0.75, 0.99)] == [
        0, 0, 1, 1, 2, 2, 2]
    assert inverse_cdf([1.0, 1.0, 2.0], 0.5) == 2   # unnormalized: threshold 0.5 * 4 = 2
    assert inverse_cdf([0.0, 0.0, 3.0], 0.0) == 2   # zero-probability tokens are never drawn
    assert inverse_cdf([0.5, 0.5], 1.0) == 1        # both running sums <= 1: clamped to the last
    assert inverse_cdf([0.5, 0.5, 0.0], 0.999) == 1


def test_argmax_takes_the_lowest_index_on_ties():
    assert argmax([1.0, 3.0, 3.0, 2.0]) == 1
    assert argmax([0.0] * 27) == 0
    assert argmax([-5.0, -1.0]) == 1


class Scripted:
    """An rng that hands out given values of u, in order."""

    def __init__(self, values):
        self.values = list(values)

    def uniform(self):
        return self.values.pop(0)


def two_token_model():
    """Every step: logits 0 for 'a', ln 3 for 'b', -4000 for the rest (x = r(1) e0 throughout)."""
    w = zeros()
    for t in range(27):
        w["wte"][t][0] = 1.0
    w["lm_head"][1][0] = math.log(3) / r(1)
    for k in range(2, 27):
        w["lm_head"][k][0] = -1e3
    return w


def test_sampling_draws_by_inverse_cdf_of_softmax_over_temperature():
    w = two_token_model()
    # temperature 1: probabilities 1/4, 3/4; 'a' exactly when u < 1/4
    us = [0.0, 0.2499, 0.2501, 0.9] * 4
    expected = [0 if u < 0.25 else 1 for u in us]
    assert generate(w, rng=Scripted(us), temperature=1.0) == expected
    # temperature 0.5: logits 0, 2 ln 3: probabilities 1/10, 9/10
    us = [0.05, 0.0999, 0.1001, 0.5] * 4
    expected = [0 if u < 0.1 else 1 for u in us]
    assert generate(w, rng=Scripted(us), temperature=0.5) == expected


def position_model(stop_at):
    """Greedy: 'h' at positions before ``stop_at``, BOS from there (wpe[p] = 4 e_p)."""
    w = zeros()
    for p in range(16):
        w["wpe"][p][p] = 4.0
        for k in range(16):
            if k != stop_at:
                w["lm_head"][7][k] = 1.0
    if stop_at < 16:
        w["lm_head"][BOS][stop_at] = 2.0
    return w


def test_generation_stops_at_bos():
    assert generate(position_model(3)) == [7, 7, 7]
    assert generate_names(position_model(0), 2) == ["", ""]
    assert generate_names(position_model(3), 1, seed=5, temperature=0.01) == ["hhh"]


def test_generation_stops_at_the_block_size():
    assert generate(zeros()) == [0] * 16          # all logits 0: argmax 'a', never BOS
    assert generate_names(position_model(16), 1) == ["h" * 16]


def test_generate_refuses_bad_arguments(trained):
    with pytest.raises(ValueError):
        generate(trained, temperature=0.0)
    with pytest.raises(ValueError):
        generate_names(trained, -1)
    with pytest.raises(ValueError):
        generate_names(trained, 1, seed=0)


def test_greedy_generation_is_deterministic(trained):
    names = generate_names(trained, 3)
    assert names == generate_names(trained, 3)
    assert names[0] == names[1] == names[2]


def test_seeded_sampling_is_deterministic_and_one_stream(trained):
    names = generate_names(trained, 8, seed=12345)
    assert names == generate_names(trained, 8, seed=12345)
    assert names != generate_names(trained, 8, seed=12346)
    rng = Xorshift32(12345)
    by_hand = [model.decode(generate(trained, rng=rng)) for _ in range(8)]
    assert by_hand == names
    hot = generate_names(trained, 8, seed=12345, temperature=1.0)
    assert hot != names


@pytest.mark.parametrize("seed", [None, 1, 2024])
def test_names_look_like_names(trained, seed):
    for name in generate_names(trained, 20, seed=seed):
        assert name.isalpha() and name.islower() and name.isascii(), name
        assert 1 <= len(name) <= 15, name


# -- numpy: only in the training script ----------------------------------------------------

def test_only_the_training_script_imports_numpy():
    offenders = []
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT)
        if rel.parts[0].startswith(".") or rel == pathlib.Path("tools/train_gpt.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n.split(".")[0] == "numpy" for n in names):
                offenders.append(str(rel))
    assert offenders == []


@pytest.fixture(scope="module")
def train_gpt():
    """The training script as a module; its numpy (``train_gpt.np``) serves the tests too."""
    pytest.importorskip("numpy", reason="numpy (pip install -e '.[train]') runs the training script")
    spec = importlib.util.spec_from_file_location("train_gpt", ROOT / "tools" / "train_gpt.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_training_gradients_match_finite_differences(train_gpt):
    np = train_gpt.np
    rng = np.random.default_rng(7)
    params = {n: 3 * w for n, w in train_gpt.init_params(rng).items()}   # larger: real attention
    batch = train_gpt.batch_arrays(["emma", "olivia", "bob", "christopher"])
    _, grads = train_gpt.loss_and_grads(params, *batch)
    h = 1e-6
    for name, w in params.items():
        picks = [tuple(int(rng.integers(0, s)) for s in w.shape) for _ in range(6)]
        if name == "wte":
            picks.append((model.encode("o")[0], 3))      # a token the batch uses
        for idx in picks:
            old = w[idx]
            w[idx] = old + h
            up = train_gpt.loss(params, *batch)
            w[idx] = old - h
            down = train_gpt.loss(params, *batch)
            w[idx] = old
            numeric = (up - down) / (2 * h)
            assert grads[name][idx] == pytest.approx(numeric, rel=1e-5, abs=1e-8), (name, idx)


def test_training_model_forward_equals_the_reference(train_gpt):
    np = train_gpt.np
    w = random_weights(4)
    params = {n: np.array(rows) for n, rows in w.items()}
    inputs, _, _ = train_gpt.batch_arrays(["stephanie"])
    logits, _ = train_gpt.forward(params, inputs)
    assert_close(reference_logits(w, inputs[0].tolist()), logits[0].tolist(), 1e-12)


def test_training_is_deterministic_and_its_image_holds_the_float32_weights(train_gpt, tmp_path):
    np = train_gpt.np
    names = train_gpt.load_names()
    assert len(names) == 32033
    runs = [train_gpt.train(names, steps=30, batch=8, seed=3, lr=1e-2, holdout=100)
            for _ in range(2)]
    (a, report), (b, _) = runs
    assert all(np.array_equal(a[n], b[n]) for n in a)
    assert report["train_loss"] < math.log(27)    # it learns something in 30 steps
    path = tmp_path / "w.phext"
    trained32 = {n: w.astype(np.float32) for n, w in a.items()}
    write_weights(path, {n: w.tolist() for n, w in trained32.items()})
    back = read_weights(path)
    assert all(np.array_equal(np.array(back[n], dtype=np.float32), trained32[n]) for n in a)
