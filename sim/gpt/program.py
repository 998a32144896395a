"""The GPT's whole generation loop as one Sentron program: BOS in, names out, built from the kernels and compiled.

Why one program on the core: issue 11 asks that the host only load the program,
the weights image and the control words, run, and read the names back from
coordinate memory.  So every step of microgpt's generation runs here: the
embedding, the three RMSNorms, the 14 matrix-vector tiles, causal attention over
the KV cache, the sampling (temperature, softmax, xorshift32, inverse CDF) or
greedy argmax, writing each token to the names region, stopping at BOS or at
the block size, and looping over the samples.

Why this shape (docs/gpt.md section 7 explains it with the cycle counts):

* The ISA has no subroutine call, and the program memory holds 1024 SIWs, so
  the matrix-vector code is written **once** and run as 14 *jobs*, one per
  16 x 16 weight tile: the tiles of ``attn_wq`` .. ``lm_head`` are consecutive
  16-row blocks from row 48 (sim/gpt/model.py), so job ``k`` reads tile
  ``48 + 16k``.  A job table (one packed word per job, written by the program
  at its start) says which row is the job's input ``x``, which row its
  accumulators start from (a zero row, or the residual: ``x + W y`` in one MAC
  chain), where its 16 results go (for the key and value tiles: the KV-cache
  row of the position) and whether ReLU applies.  A job is ``y = init; y += W[:, j]
  x[j]`` column by column, a counted LOOP of 16 that the compiler pipelines.
* The jobs run in three *segments* (0..2: q, k, v; 3: Wo; 4..13: fc1, fc2,
  lm_head), each after its own preamble: the embedding and two RMSNorms, the
  attention, one RMSNorm.  A LOOP over the segments dispatches to the preamble
  by comparing the segment number (LOOP as a conditional branch); the two
  RMSNorm preambles share one RMSNorm loop.
* Data-dependent control is CPUT + LOOP only: the attention's loops over
  positions ``0..pos`` get their bounds by CPUT from the position, the greedy
  flag picks argmax or sampling by a LOOP, and a BOS token ends the position
  loop by setting the position to its last value.

Coordinates: ``c7`` holds the loop state (``lb`` position, ``sf`` sample,
``sr`` token, ``sn`` segment, ``bk`` job), ``c6`` the constant bounds; ``c0..c5``
are the phases' cursors.  Every float operation's order is mirrored by
``sim/gpt/reference32.py``.
"""

import struct
from dataclasses import dataclass

from sim.asm.compiler import compile_serial
from sim.kernels.norm import rmsnorm
from sim.kernels.operands import Regs, Scratch
from sim.kernels.sampling import xorshift
from sim.kernels.serial import Code, float_bits
from sim.kernels.softmax import (EXP_COEFFS, EXP_CLAMP, LOG2E, RECIPROCAL_MAGIC, RECIPROCAL_STEPS,
                                 _ExpConstants, _exp_ops, _reciprocal_ops)

from .model import (BLOCK_SIZE, BOS, HEAD_DIM, LAYOUT, N_EMBD, N_HEAD, ROW_WIDTH, VOCAB_SIZE,
                    core_config)

__all__ = ["ROWS", "TILE_FIRST_ROW", "JOBS", "SEGMENTS", "LOGIT_SLOTS", "NEG_INF_BITS",
           "Job", "serial_program", "build_program", "job_word"]

_CONTROL = LAYOUT["control"].first_row
_SCRATCH = LAYOUT["scratch"].first_row
_TABLES = LAYOUT["tables"].first_row

#: The program's rows in the working region (docs/gpt.md section 2 and 7).
ROWS = {
    "q": _SCRATCH + 0,          # the query of the current position
    "residual": _SCRATCH + 1,   # the residual stream x
    "normed": _SCRATCH + 2,     # rmsnorm(x), the input of q/k/v and fc1
    "attended": _SCRATCH + 3,   # the attention's output, the input of Wo
    "hidden": _SCRATCH + 4,     # 4 rows: relu(fc1 h), 64 units
    "logits": _SCRATCH + 8,     # 2 rows: 32 logits (27..31 are -inf)
    "scores": _SCRATCH + 10,    # 4 rows, one per head: score, then exp, of position t at column t
    "zero": _SCRATCH + 14,      # never written: reads as 0, the start of a plain product
    "mask": _SCRATCH + 15,      # -inf at columns 11..15: the start of lm_head's second tile
    "jobs": _TABLES + 0,        # the job table, one word per job
    "head_max": _TABLES + 1,    # the maximum score of each head
    "k_cache": LAYOUT["k_cache"].first_row,
    "v_cache": LAYOUT["v_cache"].first_row,
    "names": LAYOUT["names"].first_row,
    "control": _CONTROL,
    "logit_dump": 272,          # with dump_logits: the logits of position p at rows 272 + 2p, +1
}
#: The first weight tile the jobs read: attn_wq's.  Job k reads rows 48 + 16k .. + 15.
TILE_FIRST_ROW = LAYOUT["layer0.attn_wq"].first_row
#: Logits as the program holds them: 27 tokens, padded to two rows of 16 with -inf.
LOGIT_SLOTS = 2 * ROW_WIDTH
NEG_INF_BITS = 0xFF800000
_CONTROL_COLUMN = {"seed": 0, "inv_temperature": 1, "samples": 2, "generated": 3, "greedy": 4}


@dataclass(frozen=True)
class Job:
    """One 16 x 16 matrix-vector tile: ``out = init + W max(x, floor)``.

    ``x`` and ``init`` are rows of the scratch region, ``out`` a row of the
    working region (from the KV cache on); ``relu_x``: ``floor`` is +0 (fc2 reads
    fc1's output through ReLU), else -inf (``x`` as it is); ``at_position``:
    ``out`` + the position (the KV cache).
    """
    name: str
    x: int
    init: int
    out: int
    relu_x: bool = False
    at_position: bool = False


def _jobs():
    r = ROWS
    jobs = [Job("q", r["normed"], r["zero"], r["q"]),
            Job("k", r["normed"], r["zero"], r["k_cache"], at_position=True),
            Job("v", r["normed"], r["zero"], r["v_cache"], at_position=True),
            Job("wo", r["attended"], r["residual"], r["residual"])]
    jobs += [Job(f"fc1_{c}", r["normed"], r["zero"], r["hidden"] + c) for c in range(4)]
    jobs += [Job(f"fc2_{c}", r["hidden"] + c, r["residual"], r["residual"], relu_x=True)
             for c in range(4)]
    jobs += [Job("lm_head_0", r["residual"], r["zero"], r["logits"]),
             Job("lm_head_1", r["residual"], r["mask"], r["logits"] + 1)]
    return tuple(jobs)


#: The 14 jobs, in the order of the tiles.
JOBS = _jobs()
#: The segments: the jobs each runs (after its preamble).
SEGMENTS = ((0, 3), (3, 4), (4, 14))

#: A job word: x (4 bits) and init (4 bits) as rows after the scratch region's first,
#: out (6 bits) after the KV cache's first, then relu_x (bit 14) and at_position (bit 15).
_SCRATCH_FIELD, _OUT_FIELD = 4, 6
_OUT_BASE = LAYOUT["k_cache"].first_row


def job_word(job):
    """The 16-bit table word of a job (one LI loads it)."""
    x, init, out = job.x - _SCRATCH, job.init - _SCRATCH, job.out - _OUT_BASE
    if not (0 <= x < 16 and 0 <= init < 16 and 0 <= out < 1 << _OUT_FIELD):
        raise ValueError(f"job {job.name}: rows {job.x}, {job.init}, {job.out} do not fit its word")
    return x | init << 4 | out << 8 | int(job.relu_x) << 14 | int(job.at_position) << 15


# c7 state, c6 constants
_STATE, _CONST = 7, 6
#: c6's constant bounds, by dimension.
_BOUND = {"lb": BLOCK_SIZE, "sr": 2, "cn": 4, "vm": len(SEGMENTS), "sc": ROWS["normed"] + 1}
_NORMED_END = "sc"         # c6.sc: one past the normed row (the RMSNorm loop's bound)
_ACC = Regs.span(0, 16)


class _Writer(Code):
    """Serial lines with short helpers for the cursors of this program."""

    def at(self, creg, row, column=0):
        """Put ``creg`` on ``row.0.0/0.0.0/0.0.column``."""
        self.op(f"CCLR c{creg}")
        self.op(f"CSET c{creg}.lb, {row}")
        if column:
            self.op(f"CSET c{creg}.sc, {column}")

    def row_in(self, creg, reg):
        """``creg`` on the row held in register ``reg``, column 0."""
        self.op(f"CCLR c{creg}")
        self.op(f"CPUT c{creg}.lb, r{reg}")

    def gather_row(self, creg, regs):
        """``regs[k]`` = column k of the row ``creg`` stands on (column 0), by CSET."""
        for k, reg in enumerate(regs):
            if k:
                self.op(f"CSET c{creg}.sc, {k}")
            self.op(f"GATHER r{reg}, [c{creg}]")

    def gather_row_from(self, creg, regs, first):
        """``regs[k]`` = column ``first + k`` of the row ``creg`` stands on (at ``first``)."""
        for k, reg in enumerate(regs):
            if k:
                self.op(f"CSET c{creg}.sc, {first + k}")
            self.op(f"GATHER r{reg}, [c{creg}]")

    def scatter_row(self, creg, regs):
        for k, reg in enumerate(regs):
            if k:
                self.op(f"CSET c{creg}.sc, {k}")
            self.op(f"SCATTER [c{creg}], r{reg}")


def _step_init(w):
    """Constants, the job table, the mask row; the sample count from the control row."""
    w.op(f"CCLR c{_CONST}")
    for dim, value in _BOUND.items():
        w.op(f"CSET c{_CONST}.{dim}, {value}")
    w.at(0, ROWS["control"], _CONTROL_COLUMN["samples"])
    w.op("GATHER r0, [c0]")
    w.op(f"CPUT c{_CONST}.sf, r0")
    w.at(1, ROWS["jobs"])
    for k, job in enumerate(JOBS):
        reg = 1 + k % 8
        w.load(reg, job_word(job))
        if k:
            w.op(f"CSET c1.sc, {k}")
        w.op(f"SCATTER [c1], r{reg}")
    w.load(9, NEG_INF_BITS)
    w.at(1, ROWS["mask"])
    for column in range(VOCAB_SIZE - ROW_WIDTH, ROW_WIDTH):
        w.op(f"CSET c1.sc, {column}")
        w.op("SCATTER [c1], r9")
    w.op(f"CCLR c{_STATE}")


def _step_dispatch(w):
    """Segment 0 to the embedding, 1 to the attention, 2 falls into the MLP's preamble."""
    w.op(f"CMOV c5, c{_STATE}")
    w.op(f"LOOP c5.sn < c{_CONST}.sr, gpt_embed")        # segment + 1 < 2
    w.op(f"LOOP c5.sn < c{_CONST}.cn, gpt_attention")    # segment + 2 < 4


def _step_mlp_preamble(w):
    """Segment 2's preamble: one RMSNorm of the residual, into the normed row."""
    w.op(f"CSET c{_CONST}.ch, {SEGMENTS[2][1]}")
    w.at(4, ROWS["normed"])
    w.op("JUMP gpt_load")


def _step_embed(w):
    """Segment 0's preamble: residual = wte[token] + wpe[pos] (a counted loop), then two
    RMSNorms: the first is stored as the residual, the second as the normed row."""
    w.mark("gpt_embed")
    w.op(f"CSET c{_CONST}.ch, {SEGMENTS[0][1]}")
    w.op(f"CGET r16, c{_STATE}.sr")
    w.row_in(0, 16)
    w.op(f"CGET r17, c{_STATE}.lb")
    w.load(18, LAYOUT["wpe"].first_row)
    w.d("IADD", 17, 17, 18)
    w.row_in(1, 17)
    w.at(2, ROWS["residual"])
    w.mark("gpt_embed_column")
    w.op("GATHER r0, [c0]")
    w.op("GATHER r1, [c1]")
    w.d("ADD", 0, 0, 1)
    w.op("SCATTER [c2], r0")
    w.op("CADD c1.sc, 1")
    w.op("CADD c2.sc, 1")
    w.op(f"LOOP c0.sc < c{_CONST}.lb, gpt_embed_column")
    w.at(4, ROWS["residual"])


def _step_norm(w):
    """x = the residual row; then x = rmsnorm(x), stored at c4's row, once per row up to
    the normed row (the embedding stores residual then normed, the MLP's preamble
    normed only)."""
    w.mark("gpt_load")
    w.at(0, ROWS["residual"])
    w.gather_row(0, _ACC)
    w.mark("gpt_norm")
    w.lines += rmsnorm(_ACC, _ACC, scratch=Scratch(range(16, 32)), label="gpt_rms")
    for k in range(N_EMBD):
        w.op(f"SCATTER [c4], r{k}")
        w.op(f"CADD c4.sc, {1 if k < N_EMBD - 1 else -(N_EMBD - 1)}")
    w.op(f"LOOP c4.lb < c{_CONST}.{_NORMED_END}, gpt_norm")


def _field(w, out, word, shift, bits, base, t):
    """``out`` = ``((word >> shift) & (2**bits - 1)) + base``, with temporary ``t``."""
    w.load(t, shift)
    w.d("SHR", out, word, t)
    w.load(t, (1 << bits) - 1)
    w.d("AND", out, out, t)
    if base:
        w.load(t, base)
        w.d("IADD", out, out, t)


def _step_jobs(w):
    """The job loop: ``y = init + W_k max(x, floor)`` for the segment's jobs, then the
    next segment.  Registers: y in r0..r15, tile elements r16..r25, x gathered r26,
    ``max(x, floor)`` r29 and its copy r30 (the MACs' operand; ``t``'s and ``row``'s
    registers, free during the column loop), floor r27.

    Why the copy: the 16 MACs of a column read ``max(x, floor)`` over 16 cycles, and
    the next column's MAX may overwrite it only after the last of them; its result
    comes a float latency after the MAX, so without a second register the loop could
    not start a column more often than every F + 16 cycles.  MAX into r29 and MOV to
    r30 let the next column's MAX run while this column's MACs read r30."""
    word, t, row = 28, 29, 30
    x, x_max, x_mac = 26, 29, 30
    w.mark("gpt_job")
    w.op(f"CGET r31, c{_STATE}.bk")
    w.at(0, ROWS["jobs"])
    w.op("CPUT c0.sc, r31")
    w.op(f"GATHER r{word}, [c0]")
    w.load(t, 4)
    w.d("SHL", row, 31, t)
    w.load(t, TILE_FIRST_ROW)
    w.d("IADD", row, row, t)
    w.row_in(1, row)                                   # c1: the tile, column 0
    _field(w, row, word, 0, _SCRATCH_FIELD, _SCRATCH, t)
    w.row_in(2, row)                                   # c2: x
    _field(w, row, word, 4, _SCRATCH_FIELD, _SCRATCH, t)
    w.row_in(3, row)                                   # c3: init
    # floor = relu_x ? +0 : -inf, as (relu_x - 1) & bits(-inf)
    _field(w, 27, word, 14, 1, 0, t)
    w.load(t, 1)
    w.d("ISUB", 27, 27, t)
    w.load(t, NEG_INF_BITS)
    w.d("AND", 27, 27, t)
    w.gather_row(3, _ACC)
    w.mark("gpt_column")
    w.op(f"GATHER r{x}, [c2]")
    w.d("MAX", x_max, x, 27)
    w.d("MOV", x_mac, x_max)
    for i in range(N_EMBD):
        e = 16 + i % 10
        w.op(f"GATHER r{e}, [c1]")
        w.d("MAC", i, e, x_mac)
        if i < N_EMBD - 1:
            w.op("CADD c1.lb, 1")
    w.op(f"CADD c1.lb, {-(N_EMBD - 1)}")
    w.op("CADD c1.sc, 1")
    w.op(f"LOOP c2.sc < c{_CONST}.lb, gpt_column")
    # out row = field + the KV cache's first row, plus the position if at_position
    _field(w, row, word, 8, _OUT_FIELD, _OUT_BASE, t)
    _field(w, 31, word, 15, 1, 0, t)
    w.load(t, 0)
    w.d("ISUB", 31, t, 31)                             # 0 or all ones
    w.op(f"CGET r{t}, c{_STATE}.lb")
    w.d("AND", 31, 31, t)
    w.d("IADD", row, row, 31)
    w.row_in(3, row)                                   # c3: out
    w.scatter_row(3, _ACC)
    w.op(f"LOOP c{_STATE}.bk < c{_CONST}.ch, gpt_job")
    w.op(f"LOOP c{_STATE}.sn < c{_CONST}.vm, gpt_segment")


#: exp's first constant halved: ``exp((s - max) / 2)`` for the scores ``s = q . k``
#: (the attention's scale 1/sqrt(4), exact as a power of two).
_HALF_LOG2E = LOG2E - (1 << 23)


def _step_attention(w):
    """Segment 1's preamble: causal attention of the 4 heads over positions 0..pos.

    Pass 1: scores ``s[h][t] = q_h . k_h[t]`` and each head's maximum; pass 2, two
    heads at a time: ``e = exp((s - max) / 2)`` in place and each head's sum; pass
    3: ``o = sum_t e v_t``, then ``o * (1/sum)``.  The loops' bounds come from the
    position by CPUT.
    """
    w.mark("gpt_attention")
    w.op(f"CSET c{_CONST}.ch, {SEGMENTS[1][1]}")
    w.at(0, ROWS["q"])
    w.gather_row(0, _ACC)
    # bounds in c5: lb = k row bound, sf = v row bound, sr = pos + 1, sn = the scores' end
    w.op(f"CGET r31, c{_STATE}.lb")
    w.op("CCLR c5")
    for dim, base in (("lb", ROWS["k_cache"] + 1), ("sf", ROWS["v_cache"] + 1), ("sr", 1)):
        w.load(30, base)
        w.d("IADD", 30, 31, 30)
        w.op(f"CPUT c5.{dim}, r30")
    w.op(f"CSET c5.sn, {ROWS['scores'] + N_HEAD}")
    heads = range(N_HEAD)
    maxima, scores = [20 + h for h in heads], [24 + h for h in heads]
    k_temps = (16, 17, 18, 19, 28, 29, 30, 31)
    for m in maxima:
        w.load(m, NEG_INF_BITS)
    w.at(1, ROWS["k_cache"])
    w.at(2, ROWS["scores"])
    w.mark("gpt_att_scores")
    for c in range(N_EMBD):
        h, t = c // HEAD_DIM, k_temps[c % len(k_temps)]
        w.op(f"GATHER r{t}, [c1]")
        w.d("MUL" if c % HEAD_DIM == 0 else "MAC", scores[h], c, t)
        if c < N_EMBD - 1:
            w.op("CADD c1.sc, 1")
    w.op(f"CADD c1.sc, {-(N_EMBD - 1)}")
    for h in heads:
        w.d("MAX", maxima[h], maxima[h], scores[h])
        w.op(f"SCATTER [c2], r{scores[h]}")
        w.op(f"CADD c2.lb, {1 if h < N_HEAD - 1 else -(N_HEAD - 1)}")
    w.op("CADD c2.sc, 1")
    w.op("LOOP c1.lb < c5.lb, gpt_att_scores")
    w.at(3, ROWS["head_max"])
    w.scatter_row(3, maxima)
    # pass 2: two heads per inner loop over the positions; the reciprocals of their sums
    # to the head_max row's columns 4..7.  c2 reads the scores and c1, a copy of it,
    # stores each e where c2 read its score, after both heads' GATHERs: with one
    # cursor, or a SCATTER before the other head's GATHER, the second head's GATHER
    # would wait for the first head's SCATTER, so for its whole exp.
    consts = _ExpConstants(w, Scratch(range(0, 11)))
    w.load(consts.log2e, _HALF_LOG2E)
    pair = (0, 1)
    sums, recips, magic, two, temp = (11, 12), (23, 24), 21, 22, 25
    temps = [tuple(range(13 + 4 * k, 17 + 4 * k)) for k in pair]
    w.load(magic, RECIPROCAL_MAGIC)
    w.load(two, float_bits(2.0))
    w.at(2, ROWS["scores"])
    w.at(3, ROWS["head_max"])
    w.at(4, ROWS["head_max"], N_HEAD)
    w.mark("gpt_att_pair")
    for k in pair:
        w.load(sums[k], 0)
    w.op("CSET c2.sc, 0")
    w.op("CMOV c1, c2")
    w.mark("gpt_att_exp")
    for k in pair:                 # both heads' GATHERs before either SCATTER
        a, n, _, _ = temps[k]
        w.op(f"GATHER r{a}, [c2]")
        w.op(f"GATHER r{n}, [c3]")
        w.op(f"CADD c2.lb, {1 if k == 0 else -1}")
        w.op(f"CADD c3.sc, {1 if k == 0 else -1}")
    for k in pair:
        a, n, _, _ = temps[k]
        w.d("SUB", a, a, n)
        _exp_ops(w, consts, a, a, temps[k])
        w.d("ADD", sums[k], sums[k], a)
    for k in pair:
        w.op(f"SCATTER [c1], r{temps[k][0]}")
        w.op(f"CADD c1.lb, {1 if k == 0 else -1}")
    w.op("CADD c1.sc, 1")
    w.op("LOOP c2.sc < c5.sr, gpt_att_exp")
    for k in pair:
        _reciprocal_ops(w, sums[k], recips[k], temp, magic, two, RECIPROCAL_STEPS)
        w.op(f"SCATTER [c4], r{recips[k]}")
        w.op("CADD c4.sc, 1")
    w.op("CADD c3.sc, 2")
    w.op("CADD c2.lb, 1")
    w.op("LOOP c2.lb < c5.sn, gpt_att_pair")
    # pass 3: o = sum_t (e[h][t] * (1/sum_h)) v[t]
    recips = [16 + h for h in heads]
    w.at(4, ROWS["head_max"], N_HEAD)
    w.gather_row_from(4, recips, N_HEAD)
    for c in range(N_EMBD):
        w.load(c, 0)
    weights = [20 + h for h in heads]
    v_temps = (24, 25, 26, 27, 28, 29, 30)
    w.at(1, ROWS["v_cache"])
    w.at(2, ROWS["scores"])
    w.mark("gpt_att_values")
    for h in heads:
        w.op(f"GATHER r{weights[h]}, [c2]")
        w.d("MUL", weights[h], weights[h], recips[h])
        w.op(f"CADD c2.lb, {1 if h < N_HEAD - 1 else -(N_HEAD - 1)}")
    w.op("CADD c2.sc, 1")
    for c in range(N_EMBD):
        t = v_temps[c % len(v_temps)]
        w.op(f"GATHER r{t}, [c1]")
        w.d("MAC", c, weights[c // HEAD_DIM], t)
        w.op(f"CADD c1.sc, {1 if c < N_EMBD - 1 else -(N_EMBD - 1)}")
    w.op("LOOP c1.lb < c5.sf, gpt_att_values")
    w.at(0, ROWS["attended"])
    w.scatter_row(0, _ACC)
    w.op("JUMP gpt_job")


def _logit_loop(w, label, creg, body, unroll, row_end=None, row_start=None):
    """``body(k)`` for the 32 logits in their two rows (``k`` = the element within the
    iteration's ``unroll``), ``creg`` walking them: an inner counted loop of
    ``16 / unroll`` iterations per row, an outer loop over the two rows (c5 holds the
    bounds); ``row_start()`` once ``creg`` stands on a row's first logit, ``row_end()``
    after each row."""
    w.at(creg, ROWS["logits"])
    w.op("CCLR c5")
    w.op(f"CSET c5.lb, {ROWS['logits'] + 2}")
    w.op(f"CSET c5.sc, {ROW_WIDTH}")
    w.mark(f"{label}_row")
    w.op(f"CSET c{creg}.sc, 0")
    if row_start:
        row_start()
    w.mark(f"{label}_column")
    for k in range(unroll):
        body(k)
        if k < unroll - 1:
            w.op(f"CADD c{creg}.sc, 1")
    w.op(f"LOOP c{creg}.sc < c5.sc, {label}_column")
    if row_end:
        row_end()
    w.op(f"LOOP c{creg}.lb < c5.lb, {label}_row")


def _step_dump_logits(w):
    """(The checking variant) copy the two logit rows to rows 272 + 2 pos and 273 + 2 pos."""
    w.op(f"CGET r0, c{_STATE}.lb")
    w.d("IADD", 0, 0, 0)
    w.load(1, ROWS["logit_dump"])
    w.d("IADD", 0, 0, 1)
    w.row_in(1, 0)

    def copy(_):
        w.op("GATHER r2, [c0]")
        w.op("SCATTER [c1], r2")
        w.op("CADD c1.sc, 1")

    def next_row():
        w.op("CADD c1.lb, 1")
        w.op(f"CADD c1.sc, {-ROW_WIDTH}")

    _logit_loop(w, "gpt_dump", 0, copy, 1, next_row)


def _step_choose(w):
    """The token into r0: the argmax of the logits if the control word ``greedy`` is
    nonzero, else a draw (which takes the largest logit from the argmax's pass)."""
    best, idx, k, one, shift, d, t = 1, 0, 2, 3, 4, 5, 6
    w.load(best, NEG_INF_BITS)
    w.load(idx, 0)
    w.load(k, -1)
    w.load(one, 1)
    w.load(shift, 31)

    def argmax_step(_):
        w.op("GATHER r7, [c1]")
        w.d("SUB", d, best, 7)
        w.d("SRA", d, d, shift)
        w.d("MAX", best, best, 7)
        w.d("IADD", k, k, one)
        w.d("XOR", t, k, idx)
        w.d("AND", t, t, d)
        w.d("XOR", idx, idx, t)

    _logit_loop(w, "gpt_argmax", 1, argmax_step, 1)
    w.at(0, ROWS["control"], _CONTROL_COLUMN["greedy"])
    w.op("GATHER r2, [c0]")
    w.op("CCLR c5")
    w.op("CPUT c5.lb, r2")
    w.op(f"LOOP c5.lb < c{_CONST}.sr, gpt_draw")          # greedy + 1 < 2: sample
    w.op("JUMP gpt_emit")
    _step_draw(w)


#: Logits per iteration of the sampling's exp loop: each exp in flight takes 4 registers,
#: and 4 of them fill the register file beside exp's constants; each exp is a chain of
#: about 15 float operations, so the more in flight the less the loop waits on one.
_DRAW_UNROLL = 4


def _step_draw(w):
    """Sampling: ``z = logit * (1/T)``; ``e = exp(z - max(logit) * (1/T))``; one xorshift32
    draw ``u``; the token is the number of running sums of ``e`` that are ``<= u * total``.
    The largest logit is in r1 (from the argmax)."""
    w.mark("gpt_draw")
    w.at(0, ROWS["control"], _CONTROL_COLUMN["inv_temperature"])
    w.op("GATHER r12, [c0]")                             # 1/T
    w.d("MUL", 13, 1, 12)                                # max z = max(logit) * (1/T)
    w.load(14, 0)                                        # total
    consts = _ExpConstants(w, Scratch(range(1, 12)))
    temps = [tuple(range(15 + 4 * k, 19 + 4 * k)) for k in range(_DRAW_UNROLL)]

    def exp_step(k):
        a = temps[k][0]
        w.op(f"GATHER r{a}, [c1]")
        w.d("MUL", a, a, 12)
        w.d("SUB", a, a, 13)
        _exp_ops(w, consts, a, a, temps[k])
        w.d("ADD", 14, 14, a)
        w.op(f"SCATTER [c2], r{a}")
        w.op("CADD c2.sc, 1")

    # c2 trails c1 over the same logits and stores each e where c1 read its logit: one
    # cursor for both would make each GATHER wait for the SCATTER before it (the
    # cursor's move between them), so for the whole exp of the logit before.
    _logit_loop(w, "gpt_exp", 1, exp_step, _DRAW_UNROLL, row_start=lambda: w.op("CMOV c2, c1"))
    # u from one xorshift32 step of the seed word
    w.at(0, ROWS["control"], _CONTROL_COLUMN["seed"])
    w.op("GATHER r1, [c0]")
    w.lines += xorshift(1, scratch=Scratch(range(2, 6)), label="gpt_xorshift")
    w.op("SCATTER [c0], r1")
    w.load(2, 8)
    w.d("SHR", 1, 1, 2)
    w.d("ITOF", 1, 1)
    w.load(2, float_bits(2.0 ** -24))
    w.d("MUL", 1, 1, 2)                                  # u, exact
    w.d("MUL", 2, 1, 14)                                 # target = u * total
    w.load(0, LOGIT_SLOTS)                               # count down from 32
    w.load(3, 0)                                         # running sum
    w.load(4, 31)

    def count_step(_):
        w.op("GATHER r5, [c1]")
        w.d("ADD", 3, 3, 5)
        w.d("ISUB", 6, 2, 3)
        w.d("SRA", 6, 6, 4)
        w.d("IADD", 0, 0, 6)

    _logit_loop(w, "gpt_cdf", 1, count_step, 1)


def _step_emit(w):
    """Write the token to names[sample][pos]; it is the next input; BOS ends the name."""
    w.mark("gpt_emit")
    w.op(f"CGET r1, c{_STATE}.sf")
    w.load(2, ROWS["names"])
    w.d("IADD", 1, 1, 2)
    w.row_in(0, 1)
    w.op(f"CGET r2, c{_STATE}.lb")
    w.op("CPUT c0.sc, r2")
    w.op("SCATTER [c0], r0")
    w.op(f"CPUT c{_STATE}.sr, r0")
    w.load(3, BOS)
    w.d("XOR", 3, 0, 3)                                  # 0 exactly for BOS
    w.load(4, 1)
    w.d("ISUB", 3, 3, 4)
    w.load(4, 31)
    w.d("SRA", 3, 3, 4)                                  # all ones for BOS
    w.load(4, BLOCK_SIZE - 1)
    w.d("AND", 3, 3, 4)
    w.d("OR", 2, 2, 3)                                   # BOS: the last position
    w.op(f"CPUT c{_STATE}.lb, r2")
    w.op(f"LOOP c{_STATE}.lb < c{_CONST}.lb, gpt_token")
    w.op(f"CGET r1, c{_STATE}.sf")
    w.load(2, 1)
    w.d("IADD", 1, 1, 2)
    w.at(0, ROWS["control"], _CONTROL_COLUMN["generated"])
    w.op("SCATTER [c0], r1")
    w.op(f"LOOP c{_STATE}.sf < c{_CONST}.sf, gpt_sample")
    w.op("HALT")


def serial_program(*, dump_logits=False):
    """The generation loop as serial assembly text (one operation per line)."""
    w = _Writer("gpt")
    _step_init(w)
    w.mark("gpt_sample")
    w.op(f"CSET c{_STATE}.lb, 0")
    w.op(f"CSET c{_STATE}.sr, {BOS}")
    w.mark("gpt_token")
    w.op(f"CSET c{_STATE}.sn, 0")
    w.op(f"CSET c{_STATE}.bk, 0")
    w.mark("gpt_segment")
    _step_dispatch(w)
    _step_mlp_preamble(w)
    _step_attention(w)
    _step_embed(w)
    _step_norm(w)
    _step_jobs(w)
    if dump_logits:
        _step_dump_logits(w)
    _step_choose(w)
    _step_emit(w)
    return "\n".join(w.lines) + "\n"


def build_program(config=None, *, dump_logits=False):
    """The compiled program (:class:`sim.asm.compiler.CompiledProgram`) for ``config``
    (default: the GPT's core, :func:`sim.gpt.model.core_config`)."""
    config = config if config is not None else core_config()
    compiled = compile_serial(serial_program(dump_logits=dump_logits), config,
                              filename="gpt.vasm")
    if len(compiled.words) > config.prog_depth:
        raise ValueError(f"the GPT program takes {len(compiled.words)} SIWs; the core holds "
                         f"{config.prog_depth}")
    return compiled
