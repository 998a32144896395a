"""Find the coordinate memory's set-index matrices and write them to sim/isa/set_index_table.py.

Why a search, and why a SAT solver: the set of a Morton key is ``M . key`` over
GF(2) (docs/isa.md section 5), and every aligned box over any two dimensions
fits up to the memory's capacity exactly when every *full-capacity* box (its
``2**(S+w)`` coordinates spread over ``2**S`` sets, ``w = log2(ways)``) maps
onto all sets: a rank condition on the columns of ``M`` (see
:mod:`sim.isa.placement`).  A greedy random search meets it for ``w = 2`` but not
for ``w = 1`` (two ways: the iCEBreaker's memory), where the choices of one level
constrain the next ones too tightly to guess; as a SAT problem it is small and
solved in seconds.  The encoding: one variable per bit of each free column; for
each column and each nonzero linear functional ``f`` on the set bits, a
variable for the parity ``f . column`` (a chain of XORs); and for each
full-capacity box and each ``f``, the clause "some column of the box has
parity 1 under ``f``", which says that no functional vanishes on the box's
columns, i.e. they have full rank.  Key bits ``0..S-1`` are fixed to the
identity columns (so the tag stays ``key >> S``); levels from ``S + w`` on never
matter and take the plain fold (:func:`sim.isa.placement.set_index_columns`).

The solver (CaDiCaL from python-sat: ``pip install python-sat``) is
deterministic, so a run reproduces the committed table.  Each solution is
checked by the rank condition itself, independently of the encoding, before
it is written.  ``w = 1`` is impossible for ``S = 3`` (the solver proves it; a
hand proof is in docs/isa.md section 5), so ``S = 3`` gets ``w = 2``, as do
``S >= 11``, where ``w = 1`` takes minutes and no configuration needs it.

    python tools/placement_search.py            # writes sim/isa/set_index_table.py
    python tools/placement_search.py --check    # only checks that file against a new run
"""

import argparse
import os
import sys
import time

from sim.isa.encoding import NDIMS

__all__ = ["TARGETS", "OUTPUT_PATH", "solve", "first_unfit_box", "table_text", "main"]

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUTPUT_PATH = os.path.join(ROOT, "sim", "isa", "set_index_table.py")

#: set_bits -> w (log2 of the fewest ways for which every box must fit).
TARGETS = {s: (2 if s == 3 or s >= 11 else 1) for s in range(1, 13)}


def solve(set_bits, ways_log2):
    """The free columns (key bits ``set_bits .. 9*levels - 1``) of a matrix meeting the
    fit condition, as ints, or None if none exists."""
    from pysat.solvers import Solver

    levels = set_bits + ways_log2
    nvars = [0]

    def new_var():
        nvars[0] += 1
        return nvars[0]

    true = new_var()
    clauses = [[true]]
    columns = []                      # per key bit: a literal per set bit
    for k in range(NDIMS * levels):
        if k < set_bits:
            columns.append([true if j == k else -true for j in range(set_bits)])
        else:
            columns.append([new_var() for _ in range(set_bits)])
    parity = []                       # parity[k][f]: literal of f . column k
    for bits in columns:
        p = {0: -true}
        for f in range(1, 1 << set_bits):
            top = f.bit_length() - 1
            a, b = p[f ^ (1 << top)], bits[top]
            y = new_var()
            clauses += [[-y, a, b], [-y, -a, -b], [y, -a, b], [y, a, -b]]
            p[f] = y
        parity.append(p)
    for box in _full_boxes(set_bits, ways_log2):
        for f in range(1, 1 << set_bits):
            clauses.append([parity[k][f] for k in box])
    with Solver(name="cadical153", bootstrap_with=clauses) as solver:
        if not solver.solve():
            return None
        model = set(lit for lit in solver.get_model() if lit > 0)
    value = lambda lit: lit == true or (lit > 0 and lit in model)
    return tuple(sum(1 << j for j, lit in enumerate(bits) if value(lit))
                 for bits in columns[set_bits:])


def _full_boxes(set_bits, ways_log2):
    """Key bits of every full-capacity box: a levels of dimension d, the rest of e."""
    size = set_bits + ways_log2
    for d in range(NDIMS):
        for e in range(NDIMS):
            if e == d:
                continue
            for a in range(size + 1):
                if a == size and e != (d + 1) % NDIMS:
                    continue          # the one-dimensional box once per d
                yield ([NDIMS * i + d for i in range(a)] +
                       [NDIMS * i + e for i in range(size - a)])


def _rank(vectors):
    """Rank over GF(2) of ints taken as bit vectors."""
    basis = []
    for v in vectors:
        for b in basis:
            v = min(v, v ^ b)
        if v:
            basis.append(v)
    return len(basis)


def first_unfit_box(columns, set_bits, ways_log2):
    """The first box ``(d, e, a, b)`` with ``a + b <= S + w`` whose columns have rank
    below ``a + b - w`` (more than ``2**w`` of its coordinates in one set), or None.
    Checks every such box, not only the full-capacity ones the encoding uses."""
    levels = set_bits + ways_log2
    for d in range(NDIMS):
        for e in range(NDIMS):
            for a in range(levels + 1):
                for b in range(1 if e == d else levels - a + 1):
                    cols = ([columns[NDIMS * i + d] for i in range(a)] +
                            [columns[NDIMS * i + e] for i in range(b)])
                    if _rank(cols) < a + b - ways_log2:
                        return (d, e, a, b)
    return None


def table_text(table):
    """The text of sim/isa/set_index_table.py for ``{set_bits: (w, columns)}``."""
    lines = [
        '"""The set-index matrices of the coordinate memory: data written by tools/placement_search.py.',
        "",
        "Do not edit: regenerate with ``python tools/placement_search.py``.  The meaning of",
        "the numbers, and the fit condition each row meets, is in :mod:`sim.isa.placement`",
        "and docs/isa.md section 5.",
        '"""',
        "",
        '__all__ = ["SET_INDEX_TABLE"]',
        "",
        "#: ``SET_INDEX_TABLE[S] = (w, columns)``: ``columns[k - S]`` is the set-bit mask",
        "#: of key bit ``k``, for ``S <= k < 9 * (S + w)``.",
        "SET_INDEX_TABLE = {",
    ]
    for s, (w, cols) in sorted(table.items()):
        lines.append(f"    {s}: ({w}, (")
        width = max(1, (s + 3) // 4)
        per_line = max(1, 88 // (width + 5))
        for i in range(0, len(cols), per_line):
            lines.append("        " + " ".join(f"0x{c:0{width}x}," for c in cols[i:i + per_line]))
        lines.append("    )),")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="compare a new run with the committed table instead of writing it")
    parser.add_argument("-o", "--output", default=OUTPUT_PATH)
    args = parser.parse_args(argv)
    table = {}
    for s, w in TARGETS.items():
        start = time.time()
        cols = solve(s, w)
        if cols is None:
            sys.exit(f"placement_search: no matrix for set_bits={s} with w={w}")
        failure = first_unfit_box(tuple(1 << k for k in range(s)) + cols, s, w)
        if failure:
            sys.exit(f"placement_search: set_bits={s}: the solution does not fit the box "
                     f"(d, e, a, b) = {failure}")
        table[s] = (w, cols)
        print(f"set_bits={s:2} w={w}: {len(cols)} columns, {time.time() - start:.1f} s", flush=True)
    text = table_text(table)
    if args.check:
        with open(args.output) as f:
            same = f.read() == text
        print("the committed table is reproduced" if same else "the committed table differs")
        return 0 if same else 1
    with open(args.output, "w") as f:
        f.write(text)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
