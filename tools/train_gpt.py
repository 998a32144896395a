"""Train the GPT of sim/gpt/model.py on data/names.txt and write its weights image, sim/gpt/weights.phext.

Why here and why numpy: training is an offline step whose output, the weights
image, is committed; nothing that runs the model needs it, so numpy (the
``train`` extra: ``pip install -e '.[train]'``) is allowed in this file only.
The gradients are written out by hand (:func:`loss_and_grads`, checked against
finite differences in tests/test_gpt_model.py): the model is small enough that
every step of its backward pass fits on a screen, and no autograd library is
needed.

The recipe is microgpt's, with small batches: weights drawn from N(0, 0.08**2);
each step takes ``--batch`` names (BOS + letters + BOS, at most 16 positions)
and minimizes the mean cross-entropy of the next token over all their
positions; Adam with beta1 0.85, beta2 0.99, eps 1e-8 and a learning rate
falling linearly from ``--lr`` to 0.  The names are shuffled once by ``--seed``,
which also draws the initial weights, so a run is deterministic on a given
machine.  The last ``--holdout`` names of the shuffled list are kept out of
training to report a validation loss.

    python tools/train_gpt.py                  # train, report, write sim/gpt/weights.phext
    python tools/train_gpt.py --steps 200 -o /tmp/w.phext
"""

import argparse
import os
import sys
import time

import numpy as np

from sim.gpt.model import (BLOCK_SIZE, BOS, HEAD_DIM, N_EMBD, N_HEAD, PARAMETERS, RMS_EPS,
                           WEIGHTS_PATH, encode, read_weights, write_weights)
from sim.gpt.reference import DEFAULT_TEMPERATURE, generate_names

__all__ = ["DATA_PATH", "load_names", "init_params", "batch_arrays", "forward", "loss",
           "loss_and_grads", "Adam", "train", "main"]

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: The training data (data/README.md).
DATA_PATH = os.path.join(ROOT, "data", "names.txt")

INIT_STD = 0.08
BETA1, BETA2, ADAM_EPS = 0.85, 0.99, 1e-8


def load_names(path=DATA_PATH):
    """The names of a file, one per line; each must fit the block (at most BLOCK_SIZE - 1 letters)."""
    with open(path, encoding="ascii") as f:
        names = [line.strip() for line in f if line.strip()]
    for name in names:
        encode(name)
        if len(name) >= BLOCK_SIZE:
            raise ValueError(f"{path}: {name!r} has {len(name)} letters; at most "
                             f"{BLOCK_SIZE - 1} fit the block with BOS")
    return names


def init_params(rng):
    """``{name: float64 array [out, in]}``, every weight from N(0, INIT_STD**2), in PARAMETERS order."""
    return {m.name: rng.normal(0.0, INIT_STD, size=(m.rows, m.columns)) for m in PARAMETERS}


def batch_arrays(names):
    """``(inputs, targets, mask)``, each ``[batch, T]``: BOS + letters as inputs, letters + BOS as targets.

    ``T`` is the longest name's length + 1; shorter names are padded with BOS
    and masked (causal attention keeps padding out of the real positions).
    """
    seqs = [[BOS] + encode(name) + [BOS] for name in names]
    width = max(len(s) for s in seqs) - 1
    inputs = np.full((len(seqs), width), BOS, dtype=np.int64)
    targets = np.full((len(seqs), width), BOS, dtype=np.int64)
    mask = np.zeros((len(seqs), width))
    for b, s in enumerate(seqs):
        n = len(s) - 1
        inputs[b, :n] = s[:-1]
        targets[b, :n] = s[1:]
        mask[b, :n] = 1.0
    return inputs, targets, mask


# -- the model: forward, then backward in reverse order ------------------------------------

def _rmsnorm(x):
    scale = (np.mean(x * x, axis=-1, keepdims=True) + RMS_EPS) ** -0.5
    return x * scale, scale


def _rmsnorm_back(dy, x, scale):
    """d/dx of ``x * scale(x)``: ``scale * dy - x * scale**3 * mean(dy * x)``."""
    return scale * dy - x * scale ** 3 * np.mean(dy * x, axis=-1, keepdims=True)


def _heads(a):
    """``[B, T, C]`` to ``[B, H, T, D]``."""
    b, t, _ = a.shape
    return a.reshape(b, t, N_HEAD, HEAD_DIM).transpose(0, 2, 1, 3)


def _merge(a):
    """``[B, H, T, D]`` to ``[B, T, C]``."""
    b, _, t, _ = a.shape
    return a.transpose(0, 2, 1, 3).reshape(b, t, N_EMBD)


def forward(params, inputs):
    """Logits ``[B, T, VOCAB_SIZE]`` for every position, and the activations the backward pass needs."""
    p = params
    t = inputs.shape[1]
    emb = p["wte"][inputs] + p["wpe"][:t]
    x0, s0 = _rmsnorm(emb)
    h1, s1 = _rmsnorm(x0)
    q, k, v = (_heads(h1 @ p[f"layer0.attn_w{n}"].T) for n in "qkv")
    causal = np.tril(np.ones((t, t), dtype=bool))
    scores = np.where(causal, q @ k.transpose(0, 1, 3, 2) / np.sqrt(HEAD_DIM), -np.inf)
    att = np.exp(scores - scores.max(axis=-1, keepdims=True))
    att /= att.sum(axis=-1, keepdims=True)
    o = _merge(att @ v)
    x1 = x0 + o @ p["layer0.attn_wo"].T
    h2, s2 = _rmsnorm(x1)
    f = h2 @ p["layer0.mlp_fc1"].T
    g = np.maximum(f, 0.0)
    x2 = x1 + g @ p["layer0.mlp_fc2"].T
    logits = x2 @ p["lm_head"].T
    acts = dict(inputs=inputs, emb=emb, x0=x0, s0=s0, h1=h1, s1=s1, q=q, k=k, v=v, att=att,
                o=o, x1=x1, h2=h2, s2=s2, f=f, g=g, x2=x2)
    return logits, acts


def _log_probs(logits):
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def loss(params, inputs, targets, mask):
    """Mean cross-entropy of the targets over the unmasked positions."""
    logits, _ = forward(params, inputs)
    picked = np.take_along_axis(_log_probs(logits), targets[..., None], axis=-1)[..., 0]
    return float(-(picked * mask).sum() / mask.sum())


def loss_and_grads(params, inputs, targets, mask):
    """``(loss, {name: d loss / d weight})``: the forward pass, then each step's gradient in reverse."""
    p = params
    logits, a = forward(params, inputs)
    logp = _log_probs(logits)
    picked = np.take_along_axis(logp, targets[..., None], axis=-1)[..., 0]
    count = mask.sum()
    value = float(-(picked * mask).sum() / count)

    g = {}
    dlogits = np.exp(logp)
    np.put_along_axis(dlogits, targets[..., None],
                      np.take_along_axis(dlogits, targets[..., None], axis=-1) - 1.0, axis=-1)
    dlogits *= (mask / count)[..., None]
    g["lm_head"] = np.einsum("btv,btc->vc", dlogits, a["x2"])
    dx2 = dlogits @ p["lm_head"]
    # x2 = x1 + fc2 relu(fc1 h2)
    g["layer0.mlp_fc2"] = np.einsum("bto,bti->oi", dx2, a["g"])
    df = (dx2 @ p["layer0.mlp_fc2"]) * (a["f"] > 0)
    g["layer0.mlp_fc1"] = np.einsum("bto,bti->oi", df, a["h2"])
    dx1 = dx2 + _rmsnorm_back(df @ p["layer0.mlp_fc1"], a["x1"], a["s2"])
    # x1 = x0 + Wo merge(att v)
    g["layer0.attn_wo"] = np.einsum("bto,bti->oi", dx1, a["o"])
    do = _heads(dx1 @ p["layer0.attn_wo"])
    att = a["att"]
    datt = do @ a["v"].transpose(0, 1, 3, 2)
    dv = att.transpose(0, 1, 3, 2) @ do
    dscores = att * (datt - (datt * att).sum(axis=-1, keepdims=True)) / np.sqrt(HEAD_DIM)
    dq = dscores @ a["k"]
    dk = dscores.transpose(0, 1, 3, 2) @ a["q"]
    dh1 = 0.0
    for n, d in zip("qkv", (dq, dk, dv)):
        d = _merge(d)
        g[f"layer0.attn_w{n}"] = np.einsum("bto,bti->oi", d, a["h1"])
        dh1 = dh1 + d @ p[f"layer0.attn_w{n}"]
    dx0 = dx1 + _rmsnorm_back(dh1, a["x0"], a["s1"])
    # x0 = rmsnorm(wte[token] + wpe[pos])
    demb = _rmsnorm_back(dx0, a["emb"], a["s0"])
    g["wte"] = np.zeros_like(p["wte"])
    np.add.at(g["wte"], a["inputs"], demb)
    g["wpe"] = np.zeros_like(p["wpe"])
    g["wpe"][:demb.shape[1]] = demb.sum(axis=0)
    return value, g


class Adam:
    """Adam with bias correction (beta1 0.85, beta2 0.99, eps 1e-8, as microgpt)."""

    def __init__(self, params):
        self.m = {n: np.zeros_like(w) for n, w in params.items()}
        self.v = {n: np.zeros_like(w) for n, w in params.items()}
        self.t = 0

    def step(self, params, grads, lr):
        self.t += 1
        for n, w in params.items():
            self.m[n] = BETA1 * self.m[n] + (1 - BETA1) * grads[n]
            self.v[n] = BETA2 * self.v[n] + (1 - BETA2) * grads[n] ** 2
            m_hat = self.m[n] / (1 - BETA1 ** self.t)
            v_hat = self.v[n] / (1 - BETA2 ** self.t)
            w -= lr * m_hat / (np.sqrt(v_hat) + ADAM_EPS)


def train(names, *, steps, batch, seed, lr, holdout=0, log=None, log_every=500):
    """Train from ``seed``; return ``(params, report)``.

    ``report`` holds ``train_loss`` (mean over the last tenth of the steps),
    ``val_loss`` (on the ``holdout`` names, or None) and ``seconds``.
    """
    if steps < 1 or batch < 1 or not 0 <= holdout < len(names):
        raise ValueError(f"need steps >= 1, batch >= 1, 0 <= holdout < {len(names)} names")
    rng = np.random.default_rng(seed)
    order = list(names)
    rng.shuffle(order)
    train_names, val_names = order[:len(order) - holdout], order[len(order) - holdout:]
    params = init_params(rng)
    adam = Adam(params)
    losses = []
    start = time.perf_counter()
    for step in range(steps):
        first = step * batch
        chunk = [train_names[(first + i) % len(train_names)] for i in range(batch)]
        value, grads = loss_and_grads(params, *batch_arrays(chunk))
        adam.step(params, grads, lr * (1 - step / steps))
        losses.append(value)
        if log is not None and (step + 1) % log_every == 0:
            log(f"step {step + 1:6d}/{steps}  loss {np.mean(losses[-log_every:]):.4f}")
    tail = losses[-max(1, steps // 10):]
    val = None
    if val_names:
        val = loss(params, *batch_arrays(val_names))
    return params, dict(train_loss=float(np.mean(tail)), val_loss=val,
                        seconds=time.perf_counter() - start)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=8000)
    ap.add_argument("--batch", type=int, default=32, help="names per step")
    ap.add_argument("--lr", type=float, default=1e-2, help="initial learning rate (decays linearly to 0)")
    ap.add_argument("--seed", type=int, default=42, help="shuffle and initialization seed")
    ap.add_argument("--holdout", type=int, default=1000, help="names kept out for the validation loss")
    ap.add_argument("--data", default=DATA_PATH)
    ap.add_argument("-o", "--out", default=WEIGHTS_PATH, help="the weights image to write")
    ap.add_argument("--samples", type=int, default=10, help="names to sample after training")
    ap.add_argument("--sample-seed", type=int, default=1, help="xorshift32 seed of the samples")
    ap.add_argument("--temperature", type=float, default=DEFAULT_TEMPERATURE)
    args = ap.parse_args(argv)

    names = load_names(args.data)
    params, report = train(names, steps=args.steps, batch=args.batch, seed=args.seed, lr=args.lr,
                           holdout=args.holdout, log=print)
    weights = {n: w.astype(np.float32).tolist() for n, w in params.items()}
    size = write_weights(args.out, weights)
    stored = read_weights(args.out)
    if stored != weights:
        raise SystemExit(f"{args.out} did not read back as the trained float32 weights")
    print(f"{len(names)} names ({args.holdout} held out), {args.steps} steps of {args.batch}, "
          f"seed {args.seed}, {report['seconds']:.0f} s")
    print(f"train loss {report['train_loss']:.4f} (last tenth of the steps)"
          + ("" if report["val_loss"] is None else f", validation loss {report['val_loss']:.4f}"))
    print(f"wrote {args.out} ({size} bytes, {sum(m.size for m in PARAMETERS)} weights)")
    print("greedy:", generate_names(stored, 1)[0])
    print(f"samples (seed {args.sample_seed}, temperature {args.temperature}):",
          " ".join(generate_names(stored, args.samples, seed=args.sample_seed,
                                  temperature=args.temperature)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
