"""The GPT in plain Python floats: the forward pass with a KV cache, sampling, and the generation loop.

Why plain Python and float64: this is the anchor the rest is measured against,
the "same forward pass in plain Python" of the benchmarks and the float64
reference that the core's float32 logits must stay close to; it needs nothing
but the standard library, so anyone can read and run it.  The step order is
microgpt's (sim/gpt/model.py gives the shape):

    x = rmsnorm(wte[token] + wpe[pos])
    x = x + Wo attention(rmsnorm(x))          (4 causal heads over the KV cache)
    x = x + fc2 relu(fc1 rmsnorm(x))
    logits = lm_head x

Sampling uses exactly the rule the core uses, so that names from the core and
from here are equal wherever float differences do not flip a choice: a
:class:`Xorshift32` stream gives ``u`` in [0, 1), and the token is found by the
inverse CDF (:func:`inverse_cdf`) of ``softmax(logits / temperature)``.  Greedy
generation takes :func:`argmax` (lowest index on ties) instead.
"""

import math

from .model import BLOCK_SIZE, BOS, HEAD_DIM, N_HEAD, RMS_EPS, check_weights, decode

__all__ = [
    "DEFAULT_TEMPERATURE",
    "linear", "rmsnorm", "softmax", "KVCache", "forward",
    "Xorshift32", "inverse_cdf", "argmax", "generate", "generate_names",
]

#: microgpt's sampling temperature.
DEFAULT_TEMPERATURE = 0.5


def linear(x, w):
    """``y = W x`` for ``W[out][in]``: each output the float64 sum of its row's products."""
    return [sum(wi * xi for wi, xi in zip(row, x)) for row in w]


def rmsnorm(x):
    """``x * (mean(x*x) + eps) ** -0.5`` (no weights)."""
    ms = sum(xi * xi for xi in x) / len(x)
    scale = (ms + RMS_EPS) ** -0.5
    return [xi * scale for xi in x]


def softmax(values):
    """``exp(v - max) / sum``: the maximum subtracted first, so no exp overflows."""
    top = max(values)
    exps = [math.exp(v - top) for v in values]
    total = sum(exps)
    return [e / total for e in exps]


class KVCache:
    """The keys and values of the positions seen so far (one layer): ``keys[pos][channel]``."""

    def __init__(self):
        self.keys = []
        self.values = []

    def __len__(self):
        return len(self.keys)


def forward(weights, token, pos, cache):
    """The logits after ``token`` at position ``pos``; appends this position's key and value to ``cache``.

    ``pos`` must be the cache's length (positions come in order, from 0) and
    below the block size.  ``weights`` as :func:`sim.gpt.model.read_weights` returns them.
    """
    if pos != len(cache) or not 0 <= pos < BLOCK_SIZE:
        raise ValueError(f"position {pos}: the cache holds {len(cache)} positions "
                         f"and the block has {BLOCK_SIZE}")
    x = [t + p for t, p in zip(weights["wte"][token], weights["wpe"][pos])]
    x = rmsnorm(x)

    residual = x
    x = rmsnorm(x)
    q = linear(x, weights["layer0.attn_wq"])
    cache.keys.append(linear(x, weights["layer0.attn_wk"]))
    cache.values.append(linear(x, weights["layer0.attn_wv"]))
    attended = []
    for h in range(N_HEAD):
        lo = h * HEAD_DIM
        q_h = q[lo:lo + HEAD_DIM]
        scores = [sum(qi * ki for qi, ki in zip(q_h, k[lo:lo + HEAD_DIM])) / HEAD_DIM ** 0.5
                  for k in cache.keys]
        att = softmax(scores)
        attended += [sum(a * v[lo + c] for a, v in zip(att, cache.values)) for c in range(HEAD_DIM)]
    x = [a + r for a, r in zip(linear(attended, weights["layer0.attn_wo"]), residual)]

    residual = x
    x = rmsnorm(x)
    hidden = [max(0.0, h) for h in linear(x, weights["layer0.mlp_fc1"])]
    x = [m + r for m, r in zip(linear(hidden, weights["layer0.mlp_fc2"]), residual)]

    return linear(x, weights["lm_head"])


class Xorshift32:
    """Marsaglia's xorshift32 (13, 17, 5) on a nonzero 32-bit state: the core's random numbers.

    Each draw first steps the state, then uses it: ``u = (x >> 8) * 2**-24``, the
    state's top 24 bits as a fraction in [0, 1), exact in binary32.
    """

    def __init__(self, seed):
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 < seed < 1 << 32:
            raise ValueError(f"an xorshift32 seed is 1..2**32-1, not {seed!r}")
        self.state = seed

    def next(self):
        """Step the state and return it."""
        x = self.state
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.state = x
        return x

    def uniform(self):
        """Step, and return ``(x >> 8) * 2**-24``."""
        return (self.next() >> 8) * 2.0 ** -24


def inverse_cdf(probs, u):
    """The index drawn by ``u`` in [0, 1): how many running sums of ``probs`` are ``<= u * total``.

    ``total`` is the last running sum, so ``probs`` need not be normalized.  The
    count is clamped to the last index (rounding can put ``u * total`` at the top).
    """
    running = []
    total = 0.0
    for p in probs:
        total += p
        running.append(total)
    threshold = u * total
    return min(sum(1 for c in running if c <= threshold), len(probs) - 1)


def argmax(values):
    """The index of the largest value, the lowest such index on ties."""
    best = 0
    for k, v in enumerate(values):
        if v > values[best]:
            best = k
    return best


def generate(weights, *, rng=None, temperature=DEFAULT_TEMPERATURE):
    """One name's tokens (without BOS): BOS in, then a token per position until BOS or the block size.

    With ``rng`` (an :class:`Xorshift32`), each token is drawn from
    ``softmax(logits / temperature)`` by :func:`inverse_cdf`; without, it is the
    :func:`argmax` of the logits.  At most :data:`BLOCK_SIZE` tokens come out.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, not {temperature!r}")
    cache = KVCache()
    token = BOS
    out = []
    for pos in range(BLOCK_SIZE):
        logits = forward(weights, token, pos, cache)
        if rng is None:
            token = argmax(logits)
        else:
            token = inverse_cdf(softmax([v / temperature for v in logits]), rng.uniform())
        if token == BOS:
            break
        out.append(token)
    return out


def generate_names(weights, samples, *, seed=None, temperature=DEFAULT_TEMPERATURE):
    """``samples`` names: greedy without ``seed``, else drawn from one xorshift32 stream seeded ``seed``.

    The stream runs on across names (the second name starts from the state the
    first one left).
    """
    check_weights(weights)
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 0:
        raise ValueError(f"samples must be a count, not {samples!r}")
    rng = None if seed is None else Xorshift32(seed)
    return [decode(generate(weights, rng=rng, temperature=temperature)) for _ in range(samples)]
