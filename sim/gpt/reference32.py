"""The GPT program's arithmetic in plain-Python binary32, operation for operation in the program's order.

Why a second reference: the float64 one (``sim/gpt/reference.py``) says what
the model computes; this one says what the *core* computes.  Every rounding
the program makes (sim/gpt/program.py) is made here, in the same order, by
composing ``sim/kernels/reference.py`` (each kernel's binary32 arithmetic in
its documented order), so its logits must equal the golden model's bit for
bit, and its names the core's.  Written from the program's documented order
(docs/gpt.md section 7), not from its generated code:

* the embedding ``wte[token] + wpe[pos]``, then the kernels' RMSNorm twice;
* a tile job ``out[i] = init[i]``, then ``out[i] = MAC(out[i], W[i][j], x[j])``
  for ``j = 0..15`` (``init`` +0, or the residual); fc2's four tiles continue one
  chain from the residual, reading ``max(hidden, +0)``;
* attention per head: ``s = MUL(q0, k0)``, three MACs; ``e = exp((s - max) / 2)``
  (the kernel's exp with ``log2 e / 2`` as its first constant); ``sum`` in
  position order from +0; ``r = reciprocal(sum)``; ``o = MAC(o, MUL(e, r), v)``
  from +0 in position order;
* lm_head's 27 logits padded to 32 with -inf; the argmax by the kernels' masks;
  sampling ``z = MUL(logit, 1/T)``, ``e = exp(z - MUL(max logit, 1/T))``,
  ``total`` in order from +0, ``u = (x >> 8) * 2**-24``, the count of running
  sums ``<= MUL(u, total)`` (bit patterns compared as integers).
"""

import math
import struct

from sim.kernels import reference as k32
from sim.kernels.softmax import EXP_CLAMP, EXP_COEFFS

from .model import BLOCK_SIZE, BOS, HEAD_DIM, MLP_HIDDEN, N_EMBD, N_HEAD, VOCAB_SIZE, decode
from .reference import KVCache

__all__ = ["LOGIT_SLOTS", "forward", "KVCache", "choose_greedy", "choose_sample", "generate",
           "generate_names", "inv_temperature"]

#: Logits as the program holds them: 27, padded with -inf to two rows of 16.
LOGIT_SLOTS = 32
_HALF_LOG2E_BITS = 0x3FB8AA3B - (1 << 23)
_MASK32 = 0xFFFF_FFFF


def _exp(x, log2e_bits=0x3FB8AA3B):
    """The kernels' exp of ``x`` with ``log2e_bits`` as its first constant."""
    t = k32.fmax(k32.mul(x, k32.from_bits(log2e_bits)), k32.from_bits(EXP_CLAMP))
    n = k32.ftoi(k32.sub(t, 0.5))
    f = k32.sub(t, k32.itof(n))
    c = [k32.from_bits(b) for b in EXP_COEFFS]
    p = c[-1]
    for ck in reversed(c[:-1]):
        p = k32.mac(ck, p, f)
    return k32.mul(p, k32.from_bits(((n << 23) + EXP_COEFFS[0]) & _MASK32))


def _tile(w, rows, columns, init, x, acc=None):
    """``out[i] = init[i]``, then a MAC per column ``j`` of ``W[rows[i]][columns[j]] * x[j]``."""
    out = list(init) if acc is None else acc
    for n, i in enumerate(rows):
        for j, xj in zip(columns, x):
            out[n] = k32.mac(out[n], w[i][j] if i < len(w) else 0.0, xj)
    return out


def _attention(q, cache):
    """The four heads' outputs over positions 0..pos, in the program's order."""
    out = [0.0] * N_EMBD
    for h in range(N_HEAD):
        lo = h * HEAD_DIM
        scores = []
        for k in cache.keys:
            s = k32.mul(q[lo], k[lo])
            for c in range(1, HEAD_DIM):
                s = k32.mac(s, q[lo + c], k[lo + c])
            scores.append(s)
        top = -math.inf
        for s in scores:
            top = k32.fmax(top, s)
        e = [_exp(k32.sub(s, top), _HALF_LOG2E_BITS) for s in scores]
        total = 0.0
        for v in e:
            total = k32.add(total, v)
        r = k32.reciprocal(total)
        for c in range(lo, lo + HEAD_DIM):
            acc = 0.0
            for et, v in zip(e, cache.values):
                acc = k32.mac(acc, k32.mul(et, r), v[c])
            out[c] = acc
    return out


def forward(weights, token, pos, cache):
    """The program's 32 logit slots (27 logits, then -inf) after ``token`` at ``pos``.

    ``weights`` as :func:`sim.gpt.model.read_weights` gives them (binary32 values).
    """
    if pos != len(cache) or not 0 <= pos < BLOCK_SIZE:
        raise ValueError(f"position {pos} with {len(cache)} cached")
    e = [k32.add(a, b) for a, b in zip(weights["wte"][token], weights["wpe"][pos])]
    residual = k32.rmsnorm(e)
    normed = k32.rmsnorm(residual)
    zero = [0.0] * N_EMBD
    channels = range(N_EMBD)
    q = _tile(weights["layer0.attn_wq"], channels, channels, zero, normed)
    cache.keys.append(_tile(weights["layer0.attn_wk"], channels, channels, zero, normed))
    cache.values.append(_tile(weights["layer0.attn_wv"], channels, channels, zero, normed))
    attended = _attention(q, cache)
    residual = _tile(weights["layer0.attn_wo"], channels, channels, residual, attended)
    normed = k32.rmsnorm(residual)
    hidden = _tile(weights["layer0.mlp_fc1"], range(MLP_HIDDEN), channels, [0.0] * MLP_HIDDEN,
                   normed)
    acc = list(residual)
    for c in range(MLP_HIDDEN // N_EMBD):
        x = [k32.fmax(h, 0.0) for h in hidden[16 * c:16 * c + 16]]
        acc = _tile(weights["layer0.mlp_fc2"], channels, range(16 * c, 16 * c + 16), None, x, acc)
    init = [0.0] * VOCAB_SIZE + [-math.inf] * (LOGIT_SLOTS - VOCAB_SIZE)
    return _tile(weights["lm_head"], range(LOGIT_SLOTS), channels, init, acc)


def _argmax(slots):
    """``(index, largest)`` by the program's masks: ``idx ^= (k ^ idx) & SRA(best - x, 31)``."""
    best, idx = -math.inf, 0
    for k, x in enumerate(slots):
        if k32.bits(k32.sub(best, x)) >> 31:
            idx = k
        best = k32.fmax(best, x)
    return idx, best


def choose_greedy(slots):
    return _argmax(slots)[0]


def inv_temperature(temperature):
    """``1/T`` rounded to binary32, as the host writes it."""
    return struct.unpack("<f", struct.pack("<f", 1.0 / temperature))[0]


def choose_sample(slots, state, inv_t):
    """``(token, new state)``: one xorshift32 step and the inverse CDF, in the program's order."""
    top = k32.mul(_argmax(slots)[1], inv_t)
    e = [_exp(k32.sub(k32.mul(x, inv_t), top)) for x in slots]
    total = 0.0
    for v in e:
        total = k32.add(total, v)
    state = k32.xorshift(state)
    u = k32.mul(k32.itof(state >> 8), 2.0 ** -24)
    target = k32.bits(k32.mul(u, total))
    count, running = len(slots), 0.0
    for v in e:
        running = k32.add(running, v)
        if ((target - k32.bits(running)) & _MASK32) >> 31:
            count -= 1
    return count, state


def generate(weights, *, state=None, inv_t=None, logits=None):
    """One name's tokens and the generator state after it; greedy without ``state``.

    ``logits``, a list, gets each step's 27 logits.
    """
    cache = KVCache()
    token, out = BOS, []
    for pos in range(BLOCK_SIZE):
        slots = forward(weights, token, pos, cache)
        if logits is not None:
            logits.append(slots[:VOCAB_SIZE])
        if state is None:
            token = choose_greedy(slots)
        else:
            token, state = choose_sample(slots, state, inv_t)
        if token == BOS:
            break
        out.append(token)
    return out, state


def generate_names(weights, samples, *, seed=None, temperature=0.5):
    """``samples`` names as the core makes them: greedy without ``seed``."""
    state, inv_t = seed, (inv_temperature(temperature) if seed is not None else None)
    names = []
    for _ in range(samples):
        tokens, state = generate(weights, state=state, inv_t=inv_t)
        names.append(decode(tokens))
    return names
