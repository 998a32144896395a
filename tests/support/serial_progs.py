"""Random *serial* Sentron programs: the stimulus of the kernel compiler's equivalence property.

A serial program has one operation per line (docs/compiler.md); run as it is, one
operation per SIW, it is the reference its compiled form must agree with.  The
generator follows the ideas of ``tests/support/progs.py`` (a small register pool so
that dependences are dense; every lane; float and integer operations; termination
by construction) but writes assembly text, and aims at what a compiler can get
wrong: RAW, WAR and WAW on data registers and coordinate dimensions, memory
accesses that may or may not meet, MAC and LIH reading their destination, LOOPs
whose trip count is known (CSET counter and limit), promised (``.mintrip`` with the
limit set by CPUT) or nested, forward JUMPs over dead code, and declared scratch
registers.

Termination: every loop counts a dimension of ``c6`` up to a dimension of ``c7``
that no other operation writes, nested loops use other dimensions, branches other
than LOOP go forward.  Programs may still fault (a coordinate out of range, a full
memory set); the property discards those, since faulting programs are outside the
compiler's promise.
"""

from hypothesis import strategies as st

from sim.isa.coord import Coord, morton_key
from sim.isa.encoding import DIM_SHORT, NDIMS, CoreConfig, Timing

__all__ = ["serial_programs", "CONFIGS", "SCRATCH"]

#: The scratch registers a program may declare; the generator never uses them.
SCRATCH = tuple(range(24, 32))

#: Targets: the default core; other latencies (the Timing table, as a deeper pipeline
#: might have them); the pipelined core's table (docs/isa.md section 7); a long float
#: latency; a small memory; no float unit (6-bit dims).
CONFIGS = (
    CoreConfig(),
    CoreConfig(float_latency=2, timing=Timing(float_op=2, gather=2, coord_read=3, loop_exit=3,
                                              first_retire=3)),
    CoreConfig(float_latency=12, timing=Timing.pipelined(12)),
    CoreConfig(float_latency=7),
    CoreConfig(set_bits=2, ways=8),
    CoreConfig(dim_bits=6, set_bits=6, ways=2, prog_depth=256, float_latency=0),
)

_FLOAT_OPS = ("ADD", "SUB", "MUL", "MAC", "MIN", "MAX")
_INT_OPS = ("IADD", "ISUB", "AND", "OR", "XOR", "SHL", "SHR", "SRA")
_FLOATS = ("1.5", "-2.0", "0.25", "3.0", "-0.0", "100.0", "inf", "nan", "1e-40", "7.75")
_COUNTER, _LIMIT = 6, 7
#: Registers of the kernel-shaped loops' chains (the other operations use r0..r15).
_CHAIN_REGS = tuple(range(16, 24))


class _Writer:
    """Draws lines of one program."""

    def __init__(self, draw, config):
        self.draw = draw
        self.config = config
        self.lines = []
        self.labels = 0
        pool = draw(st.lists(st.integers(0, 15), min_size=3, max_size=10, unique=True))
        self.regs = pool
        self.loop_dims = []
        self.memory = {}                 # key -> value to load before the run

    def reg(self):
        return f"r{self.draw(st.sampled_from(self.regs))}"

    def label(self):
        self.labels += 1
        return f"L{self.labels}"

    def small(self):
        return self.draw(st.integers(0, 3))

    def dim(self):
        return DIM_SHORT[self.draw(st.integers(0, 8))]

    # -- operations (each appends one line, or two for LI + CPUT)

    def d_op(self):
        kinds = ["int", "li", "lih", "mov", "li32"]
        if self.config.has_float:
            kinds += ["float", "float", "fli", "itof", "ftoi"]
        kind = self.draw(st.sampled_from(kinds))
        rd, a, b = self.reg(), self.reg(), self.reg()
        if kind == "float":
            self.lines.append(f"{self.draw(st.sampled_from(_FLOAT_OPS))} {rd}, {a}, {b}")
        elif kind == "int":
            self.lines.append(f"{self.draw(st.sampled_from(_INT_OPS))} {rd}, {a}, {b}")
        elif kind == "li":
            self.lines.append(f"LI {rd}, {self.draw(st.integers(-40, 40))}")
        elif kind == "lih":
            self.lines.append(f"LIH {rd}, 0x{self.draw(st.integers(0, 0xFFFF)):04x}")
        elif kind == "mov":
            self.lines.append(f"MOV {rd}, {a}")
        elif kind == "li32":
            self.lines.append(f"LI32 {rd}, {self.draw(st.integers(-(1 << 31), (1 << 32) - 1))}")
        elif kind == "fli":
            self.lines.append(f"FLI {rd}, {self.draw(st.sampled_from(_FLOATS))}")
        else:
            self.lines.append(f"{kind.upper()} {rd}, {a}")

    def s_op(self):
        k = self.draw(st.integers(0, _COUNTER))
        kind = self.draw(st.sampled_from(("GATHER", "SCATTER", "SCATTER", "ERASE")))
        if kind == "GATHER":
            self.lines.append(f"GATHER {self.reg()}, [c{k}]")
        elif kind == "SCATTER":
            self.lines.append(f"SCATTER [c{k}], {self.reg()}")
        else:
            self.lines.append(f"ERASE [c{k}]")

    def c_op(self):
        k = self.draw(st.integers(0, 5))
        j = self.draw(st.integers(0, 7))
        kind = self.draw(st.sampled_from(("CSET", "CADD", "CADD", "CMOV", "CCLR", "CGET", "KEY",
                                          "CPUT")))
        if kind == "CSET":
            self.lines.append(f"CSET c{k}.{self.dim()}, {self.small()}")
        elif kind == "CADD":
            self.lines.append(f"CADD c{k}.{self.dim()}, {self.draw(st.integers(1, 2))}")
        elif kind == "CMOV":
            self.lines.append(f"CMOV c{k}, c{j}")
        elif kind == "CCLR":
            self.lines.append(f"CCLR c{k}")
        elif kind == "CGET":
            self.lines.append(f"CGET {self.reg()}, c{j}.{self.dim()}")
        elif kind == "KEY":
            self.lines.append(f"KEY {self.reg()}, c{j}")
        else:
            r = self.reg()
            self.lines.append(f"LI {r}, {self.small()}")
            self.lines.append(f"CPUT c{k}.{self.dim()}, {r}")

    def straight(self, low=1, high=8):
        for _ in range(self.draw(st.integers(low, high))):
            lane = self.draw(st.sampled_from("DDSCC"))
            {"D": self.d_op, "S": self.s_op, "C": self.c_op}[lane]()

    # -- structure

    def loop(self, depth):
        used = {d for pair in self.loop_dims for d in pair}
        free = [d for d in range(9) if d not in used]
        counter = self.draw(st.sampled_from(free))
        limit = self.draw(st.sampled_from(free))
        trips = self.draw(st.integers(1, 6))
        start = self.draw(st.integers(0, 2))
        self.lines.append(f"CSET c{_COUNTER}.{DIM_SHORT[counter]}, {start}")
        if self.draw(st.booleans()):
            self.lines.append(f"CSET c{_LIMIT}.{DIM_SHORT[limit]}, {start + trips}")
        else:
            # The limit from a register: unknown to the compiler unless promised.
            r = self.reg()
            self.lines.append(f"LI {r}, {start + trips}")
            self.lines.append(f"CPUT c{_LIMIT}.{DIM_SHORT[limit]}, {r}")
            if self.draw(st.booleans()):
                self.lines.append(f".mintrip {self.draw(st.integers(1, trips))}")
        name = self.label()
        self.lines.append(f"{name}:")
        self.loop_dims.append((counter, limit))
        self.straight(1, 10)
        if depth < 1 and self.draw(st.integers(0, 4)) == 0:
            self.loop(depth + 1)
            self.straight(0, 3)
        self.loop_dims.pop()
        self.lines.append(f"LOOP c{_COUNTER}.{DIM_SHORT[counter]} < c{_LIMIT}.{DIM_SHORT[limit]}, "
                          f"{name}")

    def stream(self):
        """A loop shaped like a kernel: a few chains GATHER, compute, SCATTER through
        cursors stepping by CADD, among other operations, so that iterations overlap.
        A chain may read its loaded value late (a lifetime longer than II), or store
        one step ahead of where it loads, so that the next iteration loads what this
        one stored (a dependence through memory across iterations)."""
        used = {d for pair in self.loop_dims for d in pair}
        free = [d for d in range(9) if d not in used]
        counter = self.draw(st.sampled_from(free))
        limit = self.draw(st.sampled_from(free))
        trips = self.draw(st.integers(3, 12))
        self.lines.append(f"CSET c{_COUNTER}.{DIM_SHORT[counter]}, 0")
        self.lines.append(f"CSET c{_LIMIT}.{DIM_SHORT[limit]}, {trips}")
        chains = []
        cregs = self.draw(st.permutations(range(6)))
        known = self.draw(st.integers(0, 3)) > 0
        for c in range(self.draw(st.integers(1, 3))):
            # Each chain its own cursors (a store may share its load's), so that chains overlap.
            src = cregs[2 * c]
            dst = cregs[2 * c + 1] if self.draw(st.integers(0, 3)) else src
            step = self.dim()
            if known:
                # Known, distinct coordinates: the compiler can tell the chains apart, and
                # the memory is loaded with values where the chain reads.
                for k in {src, dst}:
                    sc = self.draw(st.integers(0, 3))
                    self.lines.append(f"CLI c{k}, {k}.0.0/0.0.0/0.0.{sc}")
                    if k == src:
                        self.preload(k, sc, DIM_SHORT.index(step), trips + 1)
            if dst != src and self.draw(st.integers(0, 2)) == 0:
                self.lines.append(f"CMOV c{dst}, c{src}")
                self.lines.append(f"CADD c{dst}.{step}, 1")
            chains.append((src, dst, step))
        name = self.label()
        self.lines.append(f"{name}:")
        ops = self.float_ops() if self.config.has_float else _INT_OPS
        chain_regs = self.draw(st.permutations(_CHAIN_REGS))
        for n, (src, dst, step) in enumerate(chains):
            a, b, c = (f"r{r}" for r in chain_regs[3 * (n % 2): 3 * (n % 2) + 3])
            self.lines.append(f"GATHER {a}, [c{src}]")
            self.lines.append(f"{self.draw(st.sampled_from(ops))} {b}, {a}, {self.reg()}")
            if self.draw(st.booleans()):
                self.lines.append(f"{self.draw(st.sampled_from(ops))} {c}, {b}, {a}")
                b = c
            self.lines.append(f"SCATTER [c{dst}], {b}")
            self.lines.append(f"CADD c{src}.{step}, 1")
            if dst != src:
                self.lines.append(f"CADD c{dst}.{step if self.draw(st.integers(0, 3)) else self.dim()}, 1")
            if self.draw(st.booleans()):
                self.straight(1, 2)
        self.lines.append(f"LOOP c{_COUNTER}.{DIM_SHORT[counter]} < c{_LIMIT}.{DIM_SHORT[limit]}, "
                          f"{name}")

    def preload(self, lb, sc, step, count):
        """Values at ``lb.0.0/0.0.0/0.0.sc`` and the next ``count - 1`` coordinates along
        dimension ``step``, so that GATHERs there read something other than 0."""
        for i in range(count):
            dims = [0] * NDIMS
            dims[0], dims[8] = lb, sc
            dims[step] += i
            key = morton_key(Coord(dims, self.config.dim_bits), self.config.dim_bits)
            self.memory[key] = self.draw(st.integers(0, (1 << 32) - 1))

    def float_ops(self):
        return _FLOAT_OPS + ("IADD", "XOR")

    def jump_over(self):
        name = self.label()
        self.lines.append(f"JUMP {name}")
        self.straight(0, 3)
        self.lines.append(f"{name}:")

    def program(self):
        if self.draw(st.booleans()):
            self.lines.append(".scratch r24-r31")
        for r in self.regs:
            if self.draw(st.integers(0, 2)) == 0:
                value = self.draw(st.sampled_from(_FLOATS)) if self.config.has_float else None
                self.lines.append(f"FLI r{r}, {value}" if value else f"LI r{r}, {self.small()}")
        for _ in range(self.draw(st.integers(1, 4))):
            kind = self.draw(st.sampled_from(("straight", "loop", "loop", "stream", "stream",
                                              "jump")))
            if kind == "straight":
                self.straight()
            elif kind == "loop":
                self.loop(0)
            elif kind == "stream":
                self.stream()
            else:
                self.jump_over()
        self.straight(0, 3)
        self.lines.append("HALT")
        return "\n".join(("" if line.endswith(":") else "    ") + line for line in self.lines) + "\n"


@st.composite
def serial_programs(draw, configs=CONFIGS):
    """``(text, config, memory)``: a random serial program, the core it is for, and
    ``(key, value)`` entries to load into the coordinate memory before it runs."""
    config = draw(st.sampled_from(configs))
    writer = _Writer(draw, config)
    text = writer.program()
    return text, config, tuple(writer.memory.items())
