"""Where a kernel's data lives: register vectors, rows and matrices in coordinate memory, free registers.

Why these and not addresses: the Sentron has no register-indexed addressing and no
address arithmetic, only coordinates.  A kernel therefore has two kinds of
operand.  A *register vector* (:class:`Regs`) names its registers in the
instructions, so code over it is unrolled, one element per instruction.  A
*row* (:class:`Row`) or *matrix* (:class:`Matrix`) in coordinate memory is walked
by a coordinate register, so code over it can loop.  Both memory shapes are
affine: element ``k`` of a row is its base moved ``k * stride`` along one
dimension, element ``(i, j)`` of a matrix its base moved ``i`` row steps and
``j`` column steps, each step along one dimension.  A walk between neighbours
then costs one CADD per dimension that changes (docs/kernels.md, "Layouts").

:class:`Scratch` lists the registers a kernel may overwrite; a kernel takes what
it needs from it and raises ValueError if it is too small.
"""

from dataclasses import dataclass

from sim.isa.coord import Coord, parse_coord
from sim.isa.encoding import DIM_SHORT, NDIMS

__all__ = ["NREGS", "NCREGS", "Regs", "Row", "Matrix", "Scratch", "coord", "dim_number",
           "registers_of"]

#: Data registers r0..r31 and coordinate registers c0..c7 (docs/isa.md section 2).
NREGS = 32
NCREGS = 8


def coord(value):
    """A :class:`Coord` from its text form ``lb.sf.sr/cn.vm.bk/ch.sn.sc`` or nine numbers."""
    if isinstance(value, Coord):
        return value
    if isinstance(value, str):
        return parse_coord(value)
    return Coord(value)


def dim_number(dim):
    """The index 0..8 of a dimension given by its short name (``"sc"``) or number."""
    if isinstance(dim, int) and 0 <= dim < NDIMS:
        return dim
    if dim in DIM_SHORT:
        return DIM_SHORT.index(dim)
    raise ValueError(f"{dim!r} is not a dimension: one of {', '.join(DIM_SHORT)} or 0..8")


def _moved(base, dim, amount):
    dims = list(base)
    dims[dim] += amount
    return Coord(dims)            # CoordError (a ValueError) if it leaves 0..2047


class Regs(tuple):
    """A vector held in data registers: element ``k`` is register ``self[k]``.

    Distinct register numbers 0..31.  ``Regs.span(8, 4)`` is r8, r9, r10, r11.
    """

    def __new__(cls, regs):
        return super().__new__(cls, _registers(regs, NREGS, "r", "a register vector"))

    @classmethod
    def span(cls, first, length):
        return cls(range(first, first + length))

    def __repr__(self):
        return "Regs(" + ", ".join(f"r{r}" for r in self) + ")"


@dataclass(frozen=True)
class Row:
    """A vector in coordinate memory: element ``k`` at ``base`` moved ``k * stride`` along ``dim``.

    ``Row("1.0.0/0.0.0/0.0.0", 64)`` is 64 values at scrolls 0..63 of library 1.
    Every element must be a valid coordinate; a loop over a row also moves its
    cursor one element past the end, which must be valid too (checked when the
    code is written).
    """
    base: Coord
    length: int
    dim: int = DIM_SHORT.index("sc")
    stride: int = 1

    def __init__(self, base, length, dim="sc", stride=1):
        object.__setattr__(self, "base", coord(base))
        object.__setattr__(self, "length", int(length))
        object.__setattr__(self, "dim", dim_number(dim))
        object.__setattr__(self, "stride", int(stride))
        if self.length < 1:
            raise ValueError(f"a row has at least one element, not {self.length}")
        if self.stride < 1:
            raise ValueError(f"a row's stride is at least 1, not {self.stride}")
        self.at(self.length - 1)

    def __len__(self):
        return self.length

    def at(self, k):
        """The coordinate of element ``k`` (``k`` may lie past the end; CoordError if invalid)."""
        return _moved(self.base, self.dim, k * self.stride)

    def coords(self):
        return [self.at(k) for k in range(self.length)]


@dataclass(frozen=True)
class Matrix:
    """A matrix in coordinate memory: ``(i, j)`` at ``base`` + ``i`` row steps + ``j`` column steps.

    A step is ``(dim, stride)``: one dimension and a positive amount.  The usual
    layouts, all on one dimension so that a walk costs one CADD per element:
    :meth:`column_major` (a column is contiguous: the walk of the column-form
    matrix-vector product) and :meth:`row_major`; :meth:`grid` puts rows and
    columns on two dimensions (``matrix.0.0/0.0.0/0.row.col`` style), which reads
    well in an image dump but costs a second CADD wherever a walk turns a corner.
    """
    base: Coord
    rows: int
    cols: int
    row_step: tuple
    col_step: tuple

    def __init__(self, base, rows, cols, row_step=("sn", 1), col_step=("sc", 1)):
        object.__setattr__(self, "base", coord(base))
        object.__setattr__(self, "rows", int(rows))
        object.__setattr__(self, "cols", int(cols))
        steps = []
        for name, (dim, stride) in (("row", row_step), ("column", col_step)):
            if int(stride) < 1:
                raise ValueError(f"the {name} step's stride is at least 1, not {stride}")
            steps.append((dim_number(dim), int(stride)))
        object.__setattr__(self, "row_step", steps[0])
        object.__setattr__(self, "col_step", steps[1])
        if self.rows < 1 or self.cols < 1:
            raise ValueError(f"a matrix has at least one row and column, not {rows} x {cols}")
        (rd, rs), (cd, cs) = self.row_step, self.col_step
        if rd == cd and not (cs >= self.rows * rs or rs >= self.cols * cs):
            raise ValueError(f"row step {rs} and column step {cs} along one dimension make "
                             f"elements of a {self.rows} x {self.cols} matrix overlap")
        self.at(self.rows - 1, self.cols - 1)

    @classmethod
    def column_major(cls, base, rows, cols, dim="sc"):
        """``(i, j)`` at ``base`` + ``j * rows + i`` along ``dim``."""
        return cls(base, rows, cols, row_step=(dim, 1), col_step=(dim, rows))

    @classmethod
    def row_major(cls, base, rows, cols, dim="sc"):
        """``(i, j)`` at ``base`` + ``i * cols + j`` along ``dim``."""
        return cls(base, rows, cols, row_step=(dim, cols), col_step=(dim, 1))

    @classmethod
    def grid(cls, base, rows, cols, row_dim="sn", col_dim="sc"):
        """``(i, j)`` at ``base`` + ``i`` along ``row_dim`` + ``j`` along ``col_dim``."""
        return cls(base, rows, cols, row_step=(row_dim, 1), col_step=(col_dim, 1))

    def at(self, i, j):
        """The coordinate of element ``(i, j)`` (may lie outside the matrix; CoordError if invalid)."""
        (rd, rs), (cd, cs) = self.row_step, self.col_step
        return _moved(_moved(self.base, rd, i * rs), cd, j * cs)

    def transpose(self):
        """The same memory seen as the transposed matrix."""
        return Matrix(self.base, self.cols, self.rows, row_step=self.col_step,
                      col_step=self.row_step)

    def row(self, i):
        return Row(self.at(i, 0), self.cols, self.col_step[0], self.col_step[1])

    def column(self, j):
        return Row(self.at(0, j), self.rows, self.row_step[0], self.row_step[1])

    def coords(self):
        """Every element's coordinate, row by row."""
        return [self.at(i, j) for i in range(self.rows) for j in range(self.cols)]


def registers_of(*operands):
    """The data registers of the register vectors among ``operands`` (a row has none)."""
    return [reg for v in operands if isinstance(v, Regs) for reg in v]


def _registers(values, limit, kind, what):
    """``values`` as a tuple of distinct register numbers ``0 .. limit-1``, else ValueError."""
    values = tuple(int(v) for v in values)
    for v in values:
        if not 0 <= v < limit:
            raise ValueError(f"{what}: {kind}{v} is not a register ({kind}0..{kind}{limit - 1})")
    if len(set(values)) != len(values):
        raise ValueError(f"{what} names a register twice: {values}")
    return values


@dataclass(frozen=True)
class Scratch:
    """Registers a kernel may overwrite: data registers ``regs`` and coordinate registers ``cregs``.

    ``take`` and ``take_cregs`` return what they took and the scratch that is left,
    so nested kernels share one pool without overlapping.
    """
    regs: tuple = ()
    cregs: tuple = ()

    def __init__(self, regs=(), cregs=()):
        object.__setattr__(self, "regs", _registers(regs, NREGS, "r", "scratch"))
        object.__setattr__(self, "cregs", _registers(cregs, NCREGS, "c", "scratch"))

    def take(self, count, what="registers"):
        """``count`` data registers (as :class:`Regs`) and the rest."""
        if count > len(self.regs):
            raise ValueError(f"{what}: needs {count} free data registers, the scratch has "
                             f"{len(self.regs)}")
        return Regs(self.regs[:count]), Scratch(self.regs[count:], self.cregs)

    def take_cregs(self, count, what="cursors"):
        """``count`` coordinate registers and the rest."""
        if count > len(self.cregs):
            raise ValueError(f"{what}: needs {count} free coordinate registers, the scratch "
                             f"has {len(self.cregs)}")
        return self.cregs[:count], Scratch(self.regs, self.cregs[count:])

    def without(self, regs):
        """This scratch less the data registers ``regs`` (inputs a kernel must not overwrite)."""
        regs = set(regs)
        return Scratch([r for r in self.regs if r not in regs], self.cregs)
