"""The GPT's shape, its parameters, and where each weight and working word lives in coordinate memory.

Why one module: the training script (``tools/train_gpt.py``), the plain-Python
reference (``sim/gpt/reference.py``), the GPT program that runs on the core and
the host that loads its weights and reads its names must agree on every number
here; written once, they cannot drift apart.  docs/gpt.md explains the model
and the layout.

The model is shaped like Karpathy's microgpt: 27 tokens (``a``..``z`` are 0..25,
``BOS`` is 26), 16 embedding channels, 4 heads of 4, 1 layer, 16 positions, an
MLP of 64, RMSNorm without weights, no biases; every matrix is ``W[out][in]``
and applies as ``y = W x``.

The layout: every matrix is stored as rows of :data:`ROW_WIDTH` (16) words, all
of them stacked in one row space.  A storage row is the **library** dimension,
a column the **scroll** dimension, every other dimension 0: weight ``(i, j)`` of
a matrix whose first storage row is ``f`` stands at library
``f + (j//16)*rows + i``, scroll ``j % 16``: a matrix wider than 16 columns is
a stack of 16-column tiles (``mlp_fc2``'s 64 columns are 4 tiles of 16 x 16),
so every 16 x 16 tile of every matrix is 16 consecutive storage rows and one
matrix-vector code serves them all (sim/gpt/program.py).  All of it, weights
and the program's working data, lies in one aligned two-dimensional box:
library 0..511 by scroll 0..15, 8192 coordinates, exactly the capacity of the
memory the GPT runs on (:data:`DIM_BITS`, :data:`SET_BITS`, :data:`WAYS`).  Why
those two dimensions: the set index (docs/isa.md section 5) makes every aligned
box over any two dimensions fit up to capacity, so this box fills the memory
exactly.
"""

import math
import os
import struct
from dataclasses import dataclass

from sim.image.memory_image import read_image, write_image
from sim.isa.coord import Coord, format_coord, morton_coord, morton_key
from sim.isa.encoding import NDIMS

__all__ = [
    "VOCAB_SIZE", "BOS", "LETTERS", "N_EMBD", "N_HEAD", "HEAD_DIM", "N_LAYER", "BLOCK_SIZE",
    "MLP_HIDDEN", "RMS_EPS",
    "encode", "decode",
    "DIM_BITS", "SET_BITS", "WAYS", "ROW_DIM", "COLUMN_DIM", "ROW_WIDTH", "BOX_ROWS",
    "Matrix", "Layout", "PARAMETERS", "WORKING", "LAYOUT", "CONTROL_WORDS",
    "core_config", "WEIGHTS_PATH", "check_weights", "weight_entries", "write_weights", "read_weights",
]

# -- the shape ---------------------------------------------------------------------------

#: Tokens: the 26 letters and BOS, which starts every name and ends it.
VOCAB_SIZE = 27
#: The token that begins and ends a name.
BOS = 26
#: The letters, in token order: token ``t < 26`` is ``LETTERS[t]``.
LETTERS = "abcdefghijklmnopqrstuvwxyz"
#: Embedding channels (the width of the residual stream).
N_EMBD = 16
#: Attention heads; each sees :data:`HEAD_DIM` channels.
N_HEAD = 4
HEAD_DIM = N_EMBD // N_HEAD
#: Transformer layers.
N_LAYER = 1
#: Positions: the longest context, and the most tokens one generation produces.
BLOCK_SIZE = 16
#: Hidden units of the MLP.
MLP_HIDDEN = 64
#: RMSNorm's epsilon: ``x * (mean(x*x) + RMS_EPS) ** -0.5``.
RMS_EPS = 1e-5


def encode(name):
    """The tokens of a name's letters (without BOS); ValueError for anything but a..z."""
    tokens = []
    for ch in name:
        index = LETTERS.find(ch)
        if index < 0:
            raise ValueError(f"{name!r}: {ch!r} is not a letter a..z")
        tokens.append(index)
    return tokens


def decode(tokens):
    """The name of letter tokens (0..25); ValueError for BOS or anything else."""
    for t in tokens:
        if isinstance(t, bool) or not isinstance(t, int) or not 0 <= t < len(LETTERS):
            raise ValueError(f"token {t!r} is not a letter token 0..{len(LETTERS) - 1}")
    return "".join(LETTERS[t] for t in tokens)


# -- the memory and its box --------------------------------------------------------------

#: The memory the GPT runs on (the ULX3S configuration after issue 11 item 1):
#: 11-bit dimensions, 2**11 sets of 4 ways, 8192 entries.  The weights image is
#: written for it.
DIM_BITS = 11
SET_BITS = 11
WAYS = 4
#: The float latency of the ULX3S's pipelined core, which the GPT's program is
#: scheduled for.
FLOAT_LATENCY = 7
#: The dimension of storage rows (library) and of columns (scroll).
ROW_DIM = 0
COLUMN_DIM = NDIMS - 1
#: Words in a storage row: scroll 0..15.
ROW_WIDTH = 16
#: Storage rows in the box: library 0..511, so the box holds 512 * 16 = 8192 words.
BOX_ROWS = 512


@dataclass(frozen=True)
class Matrix:
    """A ``rows`` x ``columns`` matrix stored as rows of 16 words from storage row ``first_row``.

    A matrix wider than :data:`ROW_WIDTH` is ``chunks`` tiles of 16 columns, one
    after the other: columns 0..15 of every row in the first ``rows`` storage
    rows, columns 16..31 in the next ``rows``, and so on.
    """
    name: str
    rows: int
    columns: int
    first_row: int

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"a matrix needs a name, not {self.name!r}")
        for field in ("rows", "columns", "first_row"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{self.name}: {field} must be an int, not {value!r}")
        if self.rows < 1 or self.columns < 1:
            raise ValueError(f"{self.name}: shape {self.rows} x {self.columns} is empty")
        if self.first_row < 0:
            raise ValueError(f"{self.name}: first_row {self.first_row} is negative")

    @property
    def chunks(self):
        """Tiles of 16 columns: ``ceil(columns / 16)``."""
        return -(-self.columns // ROW_WIDTH)

    @property
    def storage_rows(self):
        return self.rows * self.chunks

    @property
    def end_row(self):
        """One past the last storage row."""
        return self.first_row + self.storage_rows

    @property
    def size(self):
        return self.rows * self.columns

    def place(self, i, j):
        """``(storage row, column)`` of element ``(i, j)``."""
        if not (0 <= i < self.rows and 0 <= j < self.columns):
            raise IndexError(f"{self.name}[{i}][{j}] is outside {self.rows} x {self.columns}")
        return self.first_row + (j // ROW_WIDTH) * self.rows + i, j % ROW_WIDTH

    def coord(self, i, j):
        """The coordinate of element ``(i, j)``: library = storage row, scroll = column."""
        row, column = self.place(i, j)
        dims = [0] * NDIMS
        dims[ROW_DIM] = row
        dims[COLUMN_DIM] = column
        return Coord(dims, DIM_BITS)

    def key(self, i, j):
        """The Morton key of element ``(i, j)``."""
        return morton_key(self.coord(i, j), DIM_BITS)

    def elements(self):
        """``(i, j)`` of every element in storage order (row-major)."""
        return ((i, j) for i in range(self.rows) for j in range(self.columns))


class Layout:
    """Named matrices in the box's row space: each inside it, none overlapping another."""

    def __init__(self, matrices, rows=BOX_ROWS):
        if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
            raise ValueError(f"a layout needs a positive number of rows, not {rows!r}")
        self.rows = rows
        self._by_name = {}
        taken = {}
        for m in matrices:
            if not isinstance(m, Matrix):
                raise TypeError(f"{m!r} is not a Matrix")
            if m.name in self._by_name:
                raise ValueError(f"two matrices named {m.name!r}")
            if m.end_row > rows:
                raise ValueError(f"{m.name}: storage rows {m.first_row}..{m.end_row - 1} "
                                 f"leave the box's rows 0..{rows - 1}")
            for row in range(m.first_row, m.end_row):
                if row in taken:
                    raise ValueError(f"{m.name} and {taken[row]} both use storage row {row}")
                taken[row] = m.name
            self._by_name[m.name] = m

    def __getitem__(self, name):
        return self._by_name[name]

    def __iter__(self):
        return iter(self._by_name.values())

    def __len__(self):
        return len(self._by_name)

    def owner(self, coord):
        """``(matrix, i, j)`` of the element at a coordinate, or None outside every matrix."""
        coord = tuple(coord)
        if any(v for d, v in enumerate(coord) if d not in (ROW_DIM, COLUMN_DIM)):
            return None
        row, column = coord[ROW_DIM], coord[COLUMN_DIM]
        for m in self:
            if m.first_row <= row < m.end_row:
                chunk, i = divmod(row - m.first_row, m.rows)
                j = chunk * ROW_WIDTH + column
                return (m, i, j) if column < ROW_WIDTH and j < m.columns else None
        return None


#: The weights, in the order of the forward pass; names are microgpt's.  Each
#: starts at a storage row that is a multiple of 16, so a row reads as
#: "matrix start + row".
PARAMETERS = (
    Matrix("wte", VOCAB_SIZE, N_EMBD, 0),              # token embedding, one row per token
    Matrix("wpe", BLOCK_SIZE, N_EMBD, 32),             # position embedding, one row per position
    Matrix("layer0.attn_wq", N_EMBD, N_EMBD, 48),
    Matrix("layer0.attn_wk", N_EMBD, N_EMBD, 64),
    Matrix("layer0.attn_wv", N_EMBD, N_EMBD, 80),
    Matrix("layer0.attn_wo", N_EMBD, N_EMBD, 96),
    Matrix("layer0.mlp_fc1", MLP_HIDDEN, N_EMBD, 112),  # 16 -> 64
    Matrix("layer0.mlp_fc2", N_EMBD, MLP_HIDDEN, 176),  # 64 -> 16: 4 tiles of 16 x 16
    Matrix("lm_head", VOCAB_SIZE, N_EMBD, 240),
)

#: The GPT program's working data, in the same box (rows 384..511); the program
#: (issue 11 item 5) decides how it uses ``scratch``.  Nothing here is in the
#: weights image: an absent entry reads as 0.
WORKING = (
    Matrix("k_cache", BLOCK_SIZE, N_EMBD, 384),        # row = position, column = channel
    Matrix("v_cache", BLOCK_SIZE, N_EMBD, 400),
    Matrix("scratch", 16, ROW_WIDTH, 416),              # activations, MLP hidden, logits, probabilities
    Matrix("control", 1, ROW_WIDTH, 432),               # CONTROL_WORDS
    Matrix("tables", 2, ROW_WIDTH, 433),                # the program's job table and head maxima
    Matrix("names", 64, BLOCK_SIZE, 448),               # row = sample, column = token; BOS ends a name
)

#: The words of the control row, by column: the host writes ``seed`` (xorshift32
#: state, nonzero; the program keeps the stream's state there),
#: ``inv_temperature`` (binary32 ``1/T``: the core has no divide), ``samples``
#: (names wanted, 1..64) and ``greedy`` (1: argmax, 0: sample); the program
#: writes ``generated`` (names finished).  The rest of the row is reserved.
CONTROL_WORDS = ("seed", "inv_temperature", "samples", "generated", "greedy")

LAYOUT = Layout(PARAMETERS + WORKING)


def core_config():
    """The core the GPT runs on, the ULX3S's (boards/ulx3s.py): the ISA's default but
    for its memory (:data:`DIM_BITS`, :data:`SET_BITS`, :data:`WAYS`: 8192 entries)
    and its timing, the pipelined core's at float latency :data:`FLOAT_LATENCY`
    (docs/isa.md section 7).

    The one place the GPT's program, tools, tests and benchmarks take it from.
    """
    from sim.isa.encoding import CoreConfig, Timing
    return CoreConfig(dim_bits=DIM_BITS, set_bits=SET_BITS, ways=WAYS).with_timing(
        Timing.pipelined(FLOAT_LATENCY))


# -- the weights image -------------------------------------------------------------------

#: The trained weights (tools/train_gpt.py writes them; package data).
WEIGHTS_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights.phext")


def check_weights(weights):
    """Raise ValueError unless ``weights`` maps every parameter name to a finite matrix of its shape.

    ``weights`` is ``{name: [[float, ...], ...]}`` (``W[out][in]``); extra names are refused too.
    """
    names = [m.name for m in PARAMETERS]
    if set(weights) != set(names):
        missing = [n for n in names if n not in weights]
        extra = sorted(set(weights) - set(names))
        raise ValueError(f"weights must hold exactly {', '.join(names)}; "
                         f"missing {missing or 'none'}, extra {extra or 'none'}")
    for m in PARAMETERS:
        rows = weights[m.name]
        if len(rows) != m.rows or any(len(row) != m.columns for row in rows):
            raise ValueError(f"{m.name} must be {m.rows} x {m.columns}")
        for i, row in enumerate(rows):
            for j, w in enumerate(row):
                if not math.isfinite(w):
                    raise ValueError(f"{m.name}[{i}][{j}] = {w!r} is not a finite number")


def _f32_bits(value):
    return struct.unpack("<I", struct.pack("<f", value))[0]


def _f32_value(bits):
    return struct.unpack("<f", struct.pack("<I", bits))[0]


def weight_entries(weights):
    """The image entries ``(key, float32 bits)`` of ``weights``: parameters in order, row-major.

    Each weight is rounded to binary32 (exact for values that are binary32 already).
    """
    check_weights(weights)
    entries = []
    for m in PARAMETERS:
        rows = weights[m.name]
        for i, j in m.elements():
            try:
                bits = _f32_bits(rows[i][j])
            except OverflowError:
                raise ValueError(f"{m.name}[{i}][{j}] = {rows[i][j]!r} is beyond binary32") from None
            entries.append((m.key(i, j), bits))
    return entries


def write_weights(path, weights):
    """Write ``weights`` as a memory image for the GPT's memory (atomic; see write_image)."""
    return write_image(path, weight_entries(weights), dim_bits=DIM_BITS, set_bits=SET_BITS,
                       ways=WAYS)


def read_weights(path=WEIGHTS_PATH):
    """The weights in an image, ``{name: [[float, ...], ...]}`` with binary32 values as floats.

    Raises ValueError unless the image is for 11-bit coordinates and holds exactly
    one entry at every weight's coordinate and nothing else (ImageError, a
    ValueError, for a damaged file).
    """
    image = read_image(path)
    if image.dim_bits != DIM_BITS:
        raise ValueError(f"{path}: an image for dim_bits={image.dim_bits}; the GPT's weights "
                         f"have dim_bits={DIM_BITS}")
    weights = {m.name: [[None] * m.columns for _ in range(m.rows)] for m in PARAMETERS}
    parameter_names = set(weights)
    for key, bits in image.entries:
        coord = morton_coord(key, DIM_BITS)
        found = LAYOUT.owner(coord)
        if found is None or found[0].name not in parameter_names:
            raise ValueError(f"{path}: entry at {format_coord(coord)} is not a weight's coordinate")
        m, i, j = found
        weights[m.name][i][j] = _f32_value(bits)
    for m in PARAMETERS:
        for i, j in m.elements():
            if weights[m.name][i][j] is None:
                raise ValueError(f"{path}: no entry for {m.name}[{i}][{j}] at "
                                 f"{format_coord(m.coord(i, j))}")
    return weights
