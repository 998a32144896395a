"""The kernel compiler: a serial Sentron program in, packed and software-pipelined assembly out.

Why: writing SIWs by hand means tracking every latency and lane at once; the
compiler lets a programmer write one operation per line in serial order (a valid
``.vasm`` program whose meaning is its run one operation per SIW) and packs it.

    compiled = compile_serial(text, CoreConfig(), filename="dot.vasm")
    compiled.asm       # ordinary assembly text, one SIW per line
    compiled.listing   # addresses, slots, predicted waits, source line of every operation
    compiled.words     # the assembled SIWs
    compiled.stats     # operations, SIWs, and per loop II, stages and bounds

Every block (``sim/asm/serial.py``) is list-scheduled (``list_scheduler.py``) over
its dependence graph (``depgraph.py``).  A LOOP over a straight-line body whose trip
count is known (``trip_counts.py``) or promised (``.mintrip``) is software-pipelined
(``pipeline.py``, ``modulo_scheduler.py``, ``registers.py``) when that is faster.
Every latency comes from the target's ``CoreConfig.timing`` (docs/isa.md section 7).
The result is emitted as text (``emit.py``), assembled, and its waits predicted
(``stalls.py``).  Without ``.scratch`` registers the compiled program writes only
registers the serial program writes.  docs/compiler.md is the user's guide.

Equivalence: a compiled program that does not fault ends in the serial program's
state (registers, coordinate registers, memory, halted; pc after the same HALT),
scratch registers aside.  Programs that fault are outside that promise (the fault
may come at another point), as are loops whose ``.mintrip`` promise is broken.
"""

from dataclasses import dataclass, field

from sim.asm.assembler import assemble
from sim.isa.encoding import COp, CoreConfig

from .depgraph import dependence_edges
from .emit import Heading, Label, PackedSIW, Slot, assembly_text, listing_text
from .list_scheduler import list_schedule
from .modulo_scheduler import recurrence_bound, resource_bound
from .pipeline import pipeline_loop
from .serial import CompileError, read_serial
from .stalls import loop_cycles, predict_stalls, straight_line
from .trip_counts import coordinate_constants, trip_count

__all__ = ["compile_serial", "compile_file", "CompiledProgram", "CompileStats", "LoopStats",
           "CompileError"]


@dataclass(frozen=True)
class LoopStats:
    """What the compiler did with one LOOP.

    ``label`` and ``line`` name it; ``ops`` operations per iteration; ``trip_count``
    if known at compile time, ``min_trip`` if promised; ``pipelined``; ``reason`` why
    not; ``ii`` the initiation interval (cycles per iteration) of the pipeline,
    ``resource_bound`` and ``recurrence_bound`` its two lower bounds (computed for
    every loop), ``stages``, ``unroll`` (kernel copies), ``renaming`` ("none",
    "separate", "expand"); ``cycles_per_iteration`` predicted in the steady state.
    """
    label: str
    line: int
    ops: int
    trip_count: int | None
    min_trip: int | None
    pipelined: bool
    reason: str | None
    ii: int | None
    resource_bound: int
    recurrence_bound: int
    stages: int
    unroll: int
    renaming: str
    cycles_per_iteration: float

    @property
    def bound(self):
        """The larger lower bound on II: no schedule of this body beats it."""
        return max(self.resource_bound, self.recurrence_bound)

    def describe(self):
        head = f"loop '{self.label}' (line {self.line}), {self.ops} ops/iteration"
        trips = (f"trip count {self.trip_count}" if self.trip_count is not None else
                 f"trip count >= {self.min_trip}" if self.min_trip is not None else
                 "trip count unknown")
        bounds = f"bounds: resource {self.resource_bound}, recurrence {self.recurrence_bound}"
        if self.pipelined:
            return (f"{head}, {trips}: pipelined, II {self.ii} ({bounds}), {self.stages} stages, "
                    f"kernel x{self.unroll}, renaming {self.renaming}")
        return (f"{head}, {trips}: not pipelined ({self.reason}); "
                f"{self.cycles_per_iteration:g} cycles/iteration ({bounds})")


@dataclass(frozen=True)
class CompileStats:
    """``ops`` operations in the serial program, ``serial_siws`` its SIWs, ``siws`` the
    compiled program's SIWs, ``loops`` a :class:`LoopStats` per LOOP."""
    ops: int
    serial_siws: int
    siws: int
    loops: tuple = ()

    def as_dict(self):
        return {"ops": self.ops, "serial_siws": self.serial_siws, "siws": self.siws,
                "loops": [dict(vars(loop), bound=loop.bound) for loop in self.loops]}


@dataclass
class CompiledProgram:
    """A compiled program: ``asm`` (assembly text), ``listing``, ``words``, ``stats``,
    ``program`` (the assembler's Program of ``asm``), ``config`` it was compiled for,
    ``scratch`` registers it may have written, ``waits[a]``: ``(low, high)`` cycles the
    SIW at address ``a`` is predicted to wait before it retires (None: unreachable),
    ``slots[a]``: the :class:`sim.asm.emit.Slot` s of that SIW, each with the serial
    operation it came from (``slot.op.index``, ``.line``), ``cycles[a]``: ``(block,
    cycle)``, the serial block it was compiled from and the cycle the scheduler put it
    in, from the start of that block's code (in a pipeline, pass ``p``'s row ``r`` is
    cycle ``p * II + r``)."""
    asm: str
    listing: str
    words: list
    stats: CompileStats
    program: object
    config: CoreConfig
    scratch: tuple
    waits: list
    slots: list = field(default_factory=list)
    cycles: list = field(default_factory=list)


# ---------------------------------------------------------------------------- blocks

def _residues(siws, timing, ready=None, exit_penalty=0):
    """Registers still in flight after ``siws`` (lists of Ops) run straight from cycle 0
    with ``ready`` in flight: register -> cycles after the next SIW could retire."""
    if not siws:
        return dict(ready or {})
    penalties = [0] * (len(siws) - 1) + [exit_penalty]
    _, ready_after, earliest = straight_line(siws, timing, ready, penalties)
    return {r: t - earliest for r, t in ready_after.items() if t > earliest}


def _list_siws(ops, timing, ready, entry=None):
    """``ops`` list-scheduled (entered with coordinate dimensions ``entry`` known): a list
    of PackedSIW in cycle order."""
    if not ops:
        return []
    edges = dependence_edges(ops, timing, entry=entry)
    earliest = []
    for op in ops:
        regs = [reg for _, reg in op.reads] + ([op.writes[1]] if op.writes else [])
        earliest.append(max([0] + [ready.get(r, 0) for r in regs]))
    times = list_schedule([op.lane for op in ops], edges, earliest)
    by_cycle = {}
    for op, t in zip(ops, times):
        by_cycle.setdefault(t, []).append(Slot(op))
    return [PackedSIW(by_cycle[t], t) for t in sorted(by_cycle)]


def _ops_of(siws):
    return [[s.op for s in siw.slots] for siw in siws]


class _Compilation:
    """One run of the compiler over a serial program (the state compile_serial needs)."""

    def __init__(self, serial, config, pipeline):
        self.serial = serial
        self.config = config
        self.timing = config.timing
        self.pipeline = pipeline
        self.entry, self.exit = coordinate_constants(serial)
        self.targets = {}                     # serial address -> how many branches aim at it
        for op in serial.ops:
            if op.target is not None:
                a = min(op.target, serial.length)
                self.targets[a] = self.targets.get(a, 0) + 1
        self.label_of = {}                    # serial address -> label name used for targets
        taken = set(serial.labels)
        for block in serial.blocks:
            if block.labels:
                self.label_of[block.start] = block.labels[0]
            elif block.start in self.targets:
                name = f"L{block.start:04d}"
                while name in taken:
                    name += "_"
                taken.add(name)
                block.labels.append(name)
                self.label_of[block.start] = name

    def target_text(self, address):
        return self.label_of[min(address, self.serial.length)]

    def _is_loop(self, block):
        """A LOOP back to the block's own start, the only branch there: a candidate
        for pipelining (entered only by falling into it)."""
        term = block.terminator
        return (term is not None and term.op == COp.LOOP and term.target == block.start
                and self.targets.get(block.start) == 1)

    def run(self):
        items, loops = [], []
        ready = {}
        blocks = self.serial.blocks
        for i, block in enumerate(blocks):
            if i > 0 and not blocks[i - 1].falls_through:
                ready = {}
            if self._is_loop(block):
                region, report = self._loop(i, block, ready)
                loops.append(report)
            else:
                region = [Label(name) for name in block.labels] + \
                    _list_siws(block.ops, self.timing, ready, self.entry[i])
            for siw in region:
                if isinstance(siw, PackedSIW):
                    siw.block = i
            items += region
            term = block.terminator
            exit_penalty = self.timing.loop_exit if term is not None and term.op == COp.LOOP else 0
            ready = _residues(_ops_of([x for x in region if isinstance(x, PackedSIW)]), self.timing,
                              ready, exit_penalty)
        return items, tuple(loops)

    def _loop(self, i, block, ready):
        """The code of a loop block (pipelined or not) and its LoopStats."""
        body = block.ops
        timing = self.timing
        label = block.labels[0]
        plain = _list_siws(body, timing, ready, self.entry[i])
        back = _residues(_ops_of(plain), timing, ready)
        merged = {r: max(ready.get(r, 0), back.get(r, 0)) for r in set(ready) | set(back)}
        if merged != ready:
            other = _list_siws(body, timing, merged, self.entry[i])
            if loop_cycles(_ops_of(other), timing, merged) < loop_cycles(_ops_of(plain), timing,
                                                                         merged):
                plain = other
        plain_cycles = loop_cycles(_ops_of(plain), timing, merged)
        fall_in = None
        if i > 0 and self.serial.blocks[i - 1].falls_through:
            fall_in = self.exit[i - 1]
        trips = trip_count(body, fall_in)
        min_trip = self.serial.mintrip.get(body[-1].index)
        edges = dependence_edges(body, timing, loop=True, entry=fall_in)
        res, rec = resource_bound([op.lane for op in body]), recurrence_bound(len(body), edges)
        loop, reason = None, "pipelining switched off"
        if self.pipeline:
            loop, reason = pipeline_loop(body, timing, trip_count=trips, min_trip=min_trip,
                                         scratch=self.serial.scratch, worse_than=plain_cycles,
                                         entry=fall_in)
        title = f"loop '{label}' (line {body[-1].line})"
        if loop is None:
            region = [Heading(f"{title}: not pipelined, {reason}")]
            region += [Label(name) for name in block.labels] + plain
            report = LoopStats(label, body[-1].line, len(body), trips, min_trip, False, reason, None,
                               res, rec, 1, 1, "none", plain_cycles)
            return region, report
        region = loop.items(block.labels, title)
        report = LoopStats(label, body[-1].line, len(body), trips, min_trip, True, None, loop.ii,
                           loop.resource_bound, loop.recurrence_bound, loop.stages, loop.unroll,
                           loop.plan.mode, loop.cycles_per_iteration)
        return region, report


def _header(serial, config, stats):
    lines = [f"compiled by vtpu asm --schedule from {serial.filename} for {config!r}",
             f"{stats.ops} operations: {stats.serial_siws} SIWs serial, {stats.siws} SIWs packed"]
    if serial.scratch:
        lines.append("scratch registers: " + ", ".join(f"r{r}" for r in serial.scratch))
    lines += [loop.describe() for loop in stats.loops]
    return lines


def compile_serial(text, config=None, filename="<input>", scratch=(), pipeline=True):
    """Compile serial program ``text`` for ``config`` (default: the default core).

    ``scratch``: registers (ints) the compiler may use for renaming, besides those the
    ``.scratch`` directives declare.  ``pipeline`` False only packs blocks.  Raises
    :class:`CompileError` (an AsmError: ``file:line:col: error: cause``) for a
    program it cannot take, e.g. two operations on one line.
    """
    config = config if config is not None else CoreConfig()
    serial = read_serial(text, config, filename, scratch)
    compilation = _Compilation(serial, config, pipeline)
    items, loops = compilation.run()
    siws = [x for x in items if isinstance(x, PackedSIW)]
    if len(siws) > config.prog_depth:
        if pipeline:
            return compile_serial(text, config, filename, scratch, pipeline=False)
        raise CompileError(filename, 1, 1, f"the compiled program has {len(siws)} SIWs; program "
                           f"memory holds {config.prog_depth}")
    stats = CompileStats(len(serial.ops), serial.length, len(siws), loops)
    header = _header(serial, config, stats)
    asm = assembly_text(items, compilation.target_text, header)
    program = assemble(asm, filename)
    waits = predict_stalls(program.words, config.timing)
    listing = listing_text(items, program.words, waits, compilation.target_text, header)
    return CompiledProgram(asm, listing, program.words, stats, program, config, serial.scratch,
                           waits, [siw.slots for siw in siws],
                           [(siw.block, siw.cycle) for siw in siws])


def compile_file(path, config=None, scratch=(), pipeline=True):
    """Compile the serial program in the file at ``path`` (errors name it as given)."""
    with open(path, encoding="utf-8") as f:
        return compile_serial(f.read(), config, str(path), scratch, pipeline)
