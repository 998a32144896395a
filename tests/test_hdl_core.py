"""The Sentron core (hdl/core.py) against the golden model, through the debug port.

Every program is run on both; the test compares the retire cycle, address and
fault of every SIW (the timing model of docs/isa.md section 7, observed on the
core's retire strobe) and the whole architectural state afterwards.  Because
building a simulator of the core takes seconds, each test runs many scenarios in
one simulation: between scenarios the registers and memory are cleared through
the debug port and the golden machine takes over the core's counters, so every
scenario starts from the same state on both sides.
"""

import traceback

import pytest

from hdl.core import Sentron
from hdl.cores import core_class
from hdl.debug import DebugCmd, DebugError
from sim.asm.assembler import assemble
from sim.isa.coord import Coord, format_coord, morton_coord, morton_key, parse_coord
from sim.isa.encoding import (C_FIELDS, C_SLOT, D_FIELDS, D_SLOT, NDIMS, S_FIELDS, S_SLOT, COp,
                          CoreConfig, DOp, Fault, SOp, Timing)
from sim.golden.machine import Machine
from support.placement import keys_in_set
from support.progs import generate
from sim.engines.rtl_driver import simulate

SMALL = CoreConfig(set_bits=2, ways=2)          # 8 slots: fills up, cheap to dump
#: The same on the pipelined core (hdl/pipeline/), float latency 8.
PIPELINE_SMALL = CoreConfig(set_bits=2, ways=2, float_latency=8).with_timing(Timing.pipelined(8))
#: Cycles from a run's fetch to its first retirement, counted from docs/isa.md
#: section 7's stage lists: F D X, and F D R X M N T W.
FETCH_TO_RETIRE = {"hdl.core": len("FDX") - 1, "hdl.pipeline.core": len("FDRXMNTW") - 1}
ZERO = (0,) * NDIMS


def words_of(src):
    return list(assemble(src).words)


def siw(d=0, s=0, c=0):
    return D_SLOT.put(d) | S_SLOT.put(s) | C_SLOT.put(c)


def key_of(text_or_dims, config):
    dims = text_or_dims
    if isinstance(dims, str):
        dims = parse_coord(dims, config.dim_bits)
    return morton_key(dims, config.dim_bits)


# ---------------------------------------------------------------------- the bench

class Bench:
    """Scenarios sharing one simulation of one core; see the module docstring."""

    def __init__(self, config, memory_init=()):
        self.config = config
        self.core = core_class(config)(config, memory_init)
        self.memory_init = tuple(memory_init)
        self.keys = {k for k, _ in memory_init}   # keys that may be stored in the core
        self.failures = []
        self.ctx = self.drv = None

    def run(self, scenarios):
        async def bench(ctx, drv):
            self.ctx, self.drv = ctx, drv
            for scenario in scenarios:
                try:
                    await scenario(self)
                except Exception:
                    self.failures.append(f"{scenario.__name__}:\n{traceback.format_exc()}")
                    await self.recover()
        simulate(self.core, bench)
        assert not self.failures, "\n".join(self.failures)

    async def recover(self):
        """After a failed scenario: make sure the core is idle again."""
        ctx, drv = self.ctx, self.drv
        ctx.set(drv.port.req_valid, 0)
        for _ in range(200):
            await ctx.tick()
            if not ctx.get(drv.port.running):
                return
        await drv.request(ctx, DebugCmd.HALT, check=False)
        for _ in range(200):
            await ctx.tick()

    # -- state on both sides

    async def fresh(self, words, memory=(), regs=None, cregs=None):
        """Clear the core, load ``words`` (and memory entries, registers) on both sides.

        Returns the golden machine, set to the same state with the core's counters.
        """
        ctx, drv = self.ctx, self.drv
        if self.config.sets * self.config.ways <= 64:
            # Small memories: erase whatever is stored, even after a failed scenario.
            self.keys |= {slot[0] for row in await drv.read_memory(ctx)
                          for slot in row if slot is not None}
        for key in sorted(self.keys):
            await drv.mem_erase(ctx, morton_coord(key, self.config.dim_bits))
        self.keys = set()
        regs = list(regs or [0] * 32)
        cregs = list(cregs or [ZERO] * 8)
        for i, v in enumerate(regs):
            await drv.write_reg(ctx, i, v)
        for i, c in enumerate(cregs):
            await drv.write_creg(ctx, i, c)
        await drv.load_program(ctx, words)
        await drv.write_memory(ctx, memory)
        m = Machine(self.config)
        m.load_program(words)
        m.write_memory(memory)
        m.regs = regs
        m.cregs = [Coord(c, self.config.dim_bits) for c in cregs]
        self.sync_counters(m)
        self.note_keys(m)
        return m

    def sync_counters(self, m):
        p = self.drv.port
        m.cycles, m.siws, m.ops = (self.ctx.get(p.cycles), self.ctx.get(p.siws),
                                   self.ctx.get(p.ops))
        # fault_pc survives runs that end without a fault (only ``fault`` is cleared).
        m.fault_pc = self.ctx.get(self.core.fault_pc_full)

    def note_keys(self, m, records=()):
        self.keys |= set(m.memory.entries())
        for rec in records:
            if rec.mem_op is not None:
                self.keys.add(rec.mem_op.key)

    async def compare(self, m, what, ignore=()):
        """The core's state equals the golden machine's (memory: the sets that matter)."""
        ctx, drv = self.ctx, self.drv
        golden = m.state()
        small = self.config.sets * self.config.ways <= 64
        rtl = await drv.state(ctx, memory=small)
        diff = [name for name in rtl.diff(golden) if name not in ignore + ("memory",)]
        assert not diff, f"{what}: {[(n, getattr(rtl, n), getattr(golden, n)) for n in diff]}"
        if small:
            assert rtl.memory == golden.memory, f"{what}: memory {rtl.memory} != {golden.memory}"
        else:
            sets = {k & (self.config.sets - 1) for k in self.keys}
            for s in sorted(sets):
                row = tuple([await drv.slot_read(ctx, s, w) for w in range(self.config.ways)])
                assert row == golden.memory[s], f"{what}: set {s}: {row} != {golden.memory[s]}"
        return rtl

    async def run_both(self, m, what, **run_args):
        """RUN on both; compare every retirement, then the state.  Returns the records."""
        events = await self.drv.run(self.ctx, **run_args)
        # In the first idle cycle every float result has landed (the drain).
        regs_at_end = [self.ctx.get(r) for r in self.core.regs]
        records = golden_run(m)
        assert regs_at_end == m.regs, f"{what}: registers when running dropped"
        self.note_keys(m, records)
        expected = [(r.pc, r.cycle, r.fault) for r in records]
        assert [tuple(e) for e in events] == expected, \
            f"{what}: retirements (pc, cycle, fault)\n core   {events}\n golden {expected}"
        await self.compare(m, what)
        return records

    async def program(self, what, src_or_words, memory=(), regs=None, cregs=None):
        words = words_of(src_or_words) if isinstance(src_or_words, str) else src_or_words
        m = await self.fresh(words, memory, regs, cregs)
        return m, await self.run_both(m, what)


def golden_run(m):
    m.start()
    records = []
    while m.running:
        records.append(m.retire())
    return records


# ---------------------------------------------------------------------- programs

def hazard_programs(F):
    """Float RAW at distances 1..F+1, WAW, LIH and MAC reading rd, CPUT of a float result."""
    out = []
    for dist in range(1, F + 2):
        fill = "\n".join("IADD r10, r11, r12" for _ in range(dist - 1))
        out.append((f"RAW distance {dist}", f"""
            FLI r1, 1.5
            FLI r2, 2.25
            ADD r3, r1, r2
            {fill}
            MUL r4, r3, r3
            SUB r5, r4, r3 | SCATTER [c0], r4
            HALT
        """))
        out.append((f"WAW distance {dist}", f"""
            FLI r1, 3.0
            MUL r3, r1, r1
            {fill}
            LI r3, 7
            MOV r4, r3
            HALT
        """))
        out.append((f"LIH after float, distance {dist}", f"""
            FLI r1, 1.0
            ADD r5, r1, r1
            {fill}
            LIH r5, 0x1234
            HALT
        """))
    out.append(("MAC chain", """
        FLI r1, 1.5
        FLI r2, -0.75
        MAC r6, r1, r2
        MAC r6, r1, r2
        MAC r6, r6, r6
        FTOI r7, r6 | CGET r8, c0.sc
        ITOF r9, r8
        HALT
    """))
    out.append(("float result read by S and C lanes", """
        LI r1, 3
        ITOF r2, r1
        FTOI r3, r2
        CPUT c1.sc, r3 | SCATTER [c0], r2
        GATHER r4, [c0] | KEY r5, c1
        MIN r6, r2, r4 | GATHER r7, [c1]
        MAX r8, r6, r2
        HALT
    """))
    out.append(("float op with HALT drains", """
        FLI r1, 2.0
        MUL r2, r1, r1 | HALT
    """))
    return out


DIRECTED = [
    ("integer ops", """
        LI32 r1, 0x80000001
        LI r2, -3
        IADD r3, r1, r2
        ISUB r4, r2, r1
        AND r5, r1, r2 | CSET c0.lb, 5
        OR r6, r1, r2
        XOR r7, r1, r2
        LI r8, 33
        SHL r9, r1, r8
        SHR r10, r1, r8
        SRA r11, r1, r8
        SRA r12, r2, r8
        MOV r13, r12
        HALT
    """),
    ("counted loop", """
        CSET c1.sc, 5
        FLI r1, 1.0
        loop: ADD r2, r2, r1 | LOOP c0.sc < c1.sc, loop
        CGET r3, c0.sc
        HALT
    """),
    ("nested loops and jumps", """
        CSET c1.sc, 3
        CSET c1.sn, 2
        outer: CSET c0.sc, 0
        inner: IADD r1, r1, r2 | LOOP c0.sc < c1.sc, inner
        LI r2, 1
        LOOP c0.sn < c1.sn, outer
        JUMP skip
        LI r20, 99
        skip: KEY r4, c0
        HALT
    """),
    ("loop not taken at once, then JUMP backward", """
        LOOP c0.sc < c1.sc, 0
        LI r1, 1
        JUMP done
        back: LI r3, 3
        HALT
        done: LI r2, 2
        JUMP back
    """),
    # The key's low bits are lb, sf, sr... bit 0: changing lb moves to another set,
    # so a D-stage lookup without forwarding would read the wrong set.
    ("memory: forwarding and transparency", """
        LI r1, 11
        LI r2, 22
        SCATTER [c0], r1 | CSET c0.lb, 1
        SCATTER [c0], r2
        GATHER r3, [c0] | CSET c0.lb, 0
        GATHER r4, [c0] | CMOV c2, c0
        GATHER r11, [c2] | CSET c2.sf, 1
        SCATTER [c2], r1 | CPUT c2.lb, r1
        GATHER r12, [c2] | CADD c2.lb, -11
        GATHER r13, [c2] | CMOV c2, c0
        SCATTER [c2], r2
        GATHER r5, [c0] | CCLR c2
        ERASE [c0]
        GATHER r6, [c0]
        GATHER r7, [c2]
        HALT
    """),
    ("coordinate ops, three lanes", """
        CSET c0.lb, 2047
        CADD c0.lb, -2047
        CADD c0.sf, 100
        LI r1, 1234 | CPUT c3.vm, r1 | GATHER r2, [c0]
        CGET r5, c3.vm
        KEY r6, c3
        IADD r7, r5, r6 | SCATTER [c3], r5 | CMOV c4, c3
        GATHER r8, [c4] | CGET r9, c0.sf | MOV r10, r8
        HALT
    """),
]


# ---------------------------------------------------------------------- scenarios

async def s_directed(b):
    for what, src in DIRECTED + hazard_programs(b.config.float_latency):
        await b.program(what, src)


async def s_random(b, seeds=range(6)):
    for seed in seeds:
        prog = generate(seed, b.config)
        m = await b.fresh(list(prog.words), prog.memory)
        await b.run_both(m, f"random program seed {seed}")


async def s_faults(b):
    cfg = b.config
    # PC_RANGE: running off the end, and a JUMP beyond L.
    await b.program("run off the end", "LI r1, 1\nLI r2, 2")
    await b.program("jump beyond L", "LI r1, 1\nJUMP 40\nHALT")
    # ILLEGAL_SIW, each rule; the SIWs before it commit.
    d_mov = lambda rd, rs1: D_FIELDS["op"].put(DOp.MOV) | D_FIELDS["rd"].put(rd) | D_FIELDS["rs1"].put(rs1)
    li5 = words_of("LI r1, 5")[0]
    for what, bad in [
        ("undefined D opcode", siw(d=20)),
        ("undefined C opcode", siw(c=12)),
        ("stray bit", siw(d=d_mov(2, 1) | D_FIELDS["rs2"].put(1))),
        ("dim above 8", siw(c=C_FIELDS["op"].put(COp.CGET) | C_FIELDS["dim"].put(9))),
        ("two lanes write r2", siw(d=d_mov(2, 1), s=S_FIELDS["op"].put(SOp.GATHER) | S_FIELDS["reg"].put(2))),
    ]:
        m, recs = await b.program(f"illegal: {what}", [li5, li5, bad, li5])
        assert recs[-1].fault == Fault.ILLEGAL_SIW and recs[-1].pc == 2
    # A faulting SIW commits nothing in any lane (first principles, not only agreement).
    m, recs = await b.program("COORD_RANGE commits nothing", """
        LI r1, 77
        LI r9, 99 | SCATTER [c0], r1 | CADD c0.sc, -1
        HALT
    """)
    ctx, drv = b.ctx, b.drv
    assert await drv.read_reg(ctx, 9) == 0
    assert await drv.mem_read(ctx, ZERO) == (0, False)
    assert ctx.get(drv.port.fault) == Fault.COORD_RANGE and ctx.get(drv.port.fault_pc) == 1
    # CPUT out of range, waiting for its float operand; LOOP leaving the range.
    await b.program("CPUT waits, then faults", """
        LI r1, 1
        SHL r1, r1, r1
        ITOF r2, r1
        LI r3, 0x4F00
        LIH r3, 0x4F00
        FTOI r4, r3
        CPUT c0.sc, r4
        HALT
    """)
    await b.program("LOOP past max", "CSET c0.sc, 2047\nCSET c1.sc, 2047\nLOOP c0.sc < c1.sc, 0\nHALT")
    # MEM_FULL (small memory): three keys of set 0 in two ways (tags 0, 1, 2: their
    # low bits are the tag's part of the set, docs/isa.md 5).
    if cfg.ways == 2 and cfg.set_bits == 2:
        set0 = [format_coord(morton_coord(k, cfg.dim_bits))
                for k in keys_in_set(0, 3, cfg.set_bits, cfg.key_bits)]
        m, recs = await b.program("MEM_FULL", "LI r1, 1\n" + "".join(
            f"CLI c0, {c}\nSCATTER [c0], r1\n" for c in set0) + "HALT\n")
        assert recs[-1].fault == Fault.MEM_FULL
        # Resume after the fault: the host erases an entry and runs again.
        await drv.mem_erase(ctx, ZERO)
        m.memory.erase(0)
        b.sync_counters(m)
        await b.run_both(m, "resume after MEM_FULL")
        m, recs = await b.program("COORD_RANGE beats MEM_FULL", """
            LI r1, 1
            SCATTER [c0], r1 | CSET c0.sc, 1
            SCATTER [c0], r1 | CSET c0.sc, 2
            SCATTER [c0], r1 | CADD c1.sc, -1
            HALT
        """)
        assert recs[-1].fault == Fault.COORD_RANGE


async def s_resume(b):
    """Fix the cause of a fault through the debug port and run again."""
    ctx, drv = b.ctx, b.drv
    words = words_of("LI r1, 1\nCPUT c0.sc, r2\nIADD r3, r1, r1\nHALT")
    m = await b.fresh(words, regs=[0, 0, 5000] + [0] * 29)
    recs = await b.run_both(m, "CPUT of 5000")
    assert recs[-1].fault == Fault.COORD_RANGE
    await drv.write_reg(ctx, 2, 9)
    m.regs[2] = 9
    b.sync_counters(m)
    await b.run_both(m, "resume after COORD_RANGE")
    # An illegal word replaced by the host.
    words = words_of("LI r1, 1\nLI r2, 2\nHALT")
    words[1] = siw(d=21)
    m = await b.fresh(words)
    await b.run_both(m, "illegal word")
    fixed = words_of("LI r2, 2")[0]
    await drv.request(ctx, DebugCmd.WRITE_PROG, 1, fixed)
    m.program[1] = fixed
    b.sync_counters(m)
    await b.run_both(m, "resume after fixing the word")
    assert await drv.read_prog(ctx, 1) == fixed


async def s_step(b):
    """STEP through a program with floats and a loop: one SIW per step, each retired
    FETCH_TO_RETIRE cycles after the step's first cycle s (s+2 on the three-stage
    core, s+7 on the pipelined one)."""
    ctx, drv = b.ctx, b.drv
    words = words_of("""
        CSET c1.sc, 2
        FLI r1, 1.5
        loop: MUL r2, r1, r1 | LOOP c0.sc < c1.sc, loop
        ADD r3, r2, r2
        HALT
    """)
    m = await b.fresh(words)
    for i in range(12):
        start = ctx.get(drv.port.cycles)
        events = await drv.step(ctx)
        m.step()
        rec_pc, rec_cycle = events[0].pc, events[0].cycle
        latency = FETCH_TO_RETIRE[type(b.core).__module__]
        assert len(events) == 1 and rec_cycle == start + latency, (i, events, start)
        await b.compare(m, f"step {i}")
        if m.fault != Fault.NONE or m.pc == len(words):
            break
    assert m.pc == len(words) and m.fault == Fault.NONE


async def s_halt_command(b):
    """HALT while running stops at an SIW boundary; RUN resumes where it stopped."""
    ctx, drv = b.ctx, b.drv
    words = words_of("""
        CSET c1.sc, 40
        FLI r1, 1.0
        loop: ADD r2, r2, r1 | LOOP c0.sc < c1.sc, loop
        HALT
    """)
    for offset in (2, 3, 5, 24):
        m = await b.fresh(words)
        start = ctx.get(drv.port.cycles)
        events = await drv.run(ctx, halt_at=start + offset)
        after = ctx.get(drv.port.cycles)
        assert after == start + offset + 1, (offset, start, after)
        # The golden model retires the same SIWs, and no more.
        m.start()
        expected = [m.retire() for _ in events]
        assert [tuple(e) for e in events] == [(r.pc, r.cycle, r.fault) for r in expected]
        m._running, m.halted, m.cycles = False, True, after
        await b.compare(m, f"halted at +{offset}")
        # Busy while running: a register read is refused and changes nothing.
        await drv.request(ctx, DebugCmd.RUN)
        r = await drv.request(ctx, DebugCmd.READ_REG, 2, check=False)
        assert r.error == DebugError.BUSY
        await drv._follow(ctx)
        records = golden_run(m)
        assert (await drv.state(ctx, memory=False)).regs == m.state().regs
        assert ctx.get(drv.port.siws) == m.siws and ctx.get(drv.port.cycles) == m.cycles
        assert m.fault == Fault.NONE and records[-1].ended


async def s_debug_port(b):
    """Range checks, memory commands, and MEM_WRITE into a full set."""
    ctx, drv, cfg = b.ctx, b.drv, b.config
    m = await b.fresh([])
    bad = [(DebugCmd.READ_REG, 32), (DebugCmd.WRITE_REG, 40), (DebugCmd.READ_CREG, 8),
           (DebugCmd.WRITE_CREG, 9), (DebugCmd.WRITE_PROG, cfg.prog_depth),
           (DebugCmd.READ_PROG, cfg.prog_depth), (DebugCmd.SET_LEN, cfg.prog_depth + 1),
           (DebugCmd.WRITE_PC, 1024), (DebugCmd.SLOT_READ, cfg.sets * cfg.ways)]
    for cmd, addr in bad:
        r = await drv.request(ctx, cmd, addr, data=5, check=False)
        assert r.error == DebugError.RANGE, (cmd, addr, r)
    await drv.request(ctx, DebugCmd.SET_LEN, cfg.prog_depth)
    assert ctx.get(drv.port.prog_len) == cfg.prog_depth and ctx.get(drv.port.pc) == 0
    await drv.request(ctx, DebugCmd.SET_LEN, 0)
    await drv.write_pc(ctx, 17)
    assert ctx.get(drv.port.pc) == 17
    # An empty program faults PC_RANGE at pc 17 at once.
    m.pc = 17
    b.sync_counters(m)
    await b.run_both(m, "empty program")
    # Fill set 0 through the port; the next new key of set 0 is refused.
    sets = cfg.sets
    # all in set 0: tags 0..ways, low bits the tag's part of the set (docs/isa.md 5)
    assert cfg.ways < sets
    keys = keys_in_set(0, cfg.ways + 1, cfg.set_bits, cfg.key_bits)
    for i, k in enumerate(keys[:-1]):
        r = await drv.mem_write(ctx, morton_coord(k, cfg.dim_bits), 100 + i)
        assert r.error == DebugError.NONE
        b.keys.add(k)
    before = await drv.read_memory(ctx) if sets * cfg.ways <= 64 else None
    r = await drv.mem_write(ctx, morton_coord(keys[-1], cfg.dim_bits), 7, check=False)
    assert r.error == DebugError.MEM_FULL
    if before is not None:
        assert await drv.read_memory(ctx) == before
    assert await drv.mem_read(ctx, morton_coord(keys[-1], cfg.dim_bits)) == (0, False)
    # Updating a present key in a full set is fine; reading and slots agree.
    await drv.mem_write(ctx, morton_coord(keys[1], cfg.dim_bits), 555)
    assert await drv.mem_read(ctx, morton_coord(keys[1], cfg.dim_bits)) == (555, True)
    assert await drv.slot_read(ctx, 0, 1) == (keys[1], 555)
    await drv.mem_erase(ctx, morton_coord(keys[0], cfg.dim_bits))
    assert await drv.slot_read(ctx, 0, 0) is None
    assert await drv.mem_read(ctx, morton_coord(keys[0], cfg.dim_bits)) == (0, False)
    # Registers and coordinate registers round-trip.
    await drv.write_reg(ctx, 31, 0xDEADBEEF)
    assert await drv.read_reg(ctx, 31) == 0xDEADBEEF
    top = (1 << cfg.dim_bits) - 1
    await drv.write_creg(ctx, 7, (top, 1, 2, 3, 4, 5, 6, 7, top))
    assert await drv.read_creg(ctx, 7) == (top, 1, 2, 3, 4, 5, 6, 7, top)
    assert ctx.get(drv.port.running) == 0


# ---------------------------------------------------------------------- tests

def test_small_memory_core():
    """Default latency, a 4x2 memory: directed programs, hazards, faults, resume."""
    Bench(SMALL).run([s_directed, s_faults, s_resume, s_debug_port])


def test_step_halt_and_random():
    Bench(SMALL).run([s_step, s_halt_command, s_random])


def test_pipelined_core():
    """The pipelined core, a 4x2 memory: directed programs, hazards, faults, the debug
    port, STEP and HALT (random programs run on it in lockstep, tests/test_lockstep.py;
    resume and the rest in the slow run)."""
    Bench(PIPELINE_SMALL).run([s_directed, s_faults, s_debug_port, s_step, s_halt_command])


@pytest.mark.slow
def test_pipelined_core_resume_and_random():
    Bench(PIPELINE_SMALL).run([s_resume, s_random])


@pytest.mark.parametrize("latency", [5, pytest.param(6, marks=pytest.mark.slow)])  # the shortest
def test_pipelined_core_short_float_latencies(latency):
    cfg = CoreConfig(set_bits=2, ways=2, float_latency=latency).with_timing(
        Timing.pipelined(latency))

    async def hazards(b):
        for what, src in hazard_programs(latency):
            await b.program(what, src)
    Bench(cfg).run([hazards, lambda b: s_random(b, seeds=range(300, 302))])


@pytest.mark.parametrize("latency", [1, 2])
def test_other_float_latencies(latency):
    cfg = CoreConfig(set_bits=2, ways=2, float_latency=latency)

    async def hazards(b):
        for what, src in hazard_programs(latency):
            await b.program(what, src)

    async def random_programs(b):
        await s_random(b, seeds=range(100, 102))

    Bench(cfg).run([hazards, random_programs])


def test_default_config_with_memory_image():
    """The default core with an initial memory image baked in at construction."""
    cfg = CoreConfig()
    image = [(key_of("0.0.0/0.0.0/0.0.1", cfg), 41), (key_of("1.2.3/4.5.6/7.8.9", cfg), 42),
             (512, 43), (0, 44)]

    async def image_visible(b):
        m = Machine(cfg)
        m.write_memory(image)
        b.sync_counters(m)
        m.load_program(words_of("""
            CSET c0.sc, 1
            GATHER r1, [c0] | CCLR c0
            GATHER r2, [c0]
            HALT
        """))
        await b.drv.load_program(b.ctx, m.program)
        await b.run_both(m, "image")
        assert m.regs[1] == 41 and m.regs[2] == 44

    async def off_the_end_of_1024(b):
        # Only the last words matter (program memory starts as zeros: NOPs).  After
        # address 1023 comes 1024, PC_RANGE; the address must not wrap to 0.
        for last, what in (("LI r1, 1", "fall through"), ("LOOP c0.sc < c1.sc, 5", "LOOP not taken")):
            words = [0] * 1023 + words_of(last)
            m = Machine(cfg)
            m.load_program(words)
            m.write_memory(image)               # the core still holds the image
            m.regs = [b.ctx.get(r) for r in b.core.regs]
            b.sync_counters(m)
            m.pc = 1020
            await b.drv.request(b.ctx, DebugCmd.WRITE_PROG, 1023, words[-1])
            await b.drv.request(b.ctx, DebugCmd.SET_LEN, 1024)
            await b.drv.write_pc(b.ctx, 1020)
            recs = await b.run_both(m, f"off the end of 1024 words: {what}")
            assert (recs[-1].pc, recs[-1].fault) == (1024, Fault.PC_RANGE)
            assert b.ctx.get(b.drv.port.fault_pc) == 1024  # 11 bits: 1024, never wrapped to 0

    Bench(cfg, image).run([image_visible, off_the_end_of_1024, s_debug_port,
                           lambda b: s_random(b, seeds=range(200, 203))])


def test_odd_config():
    """Narrow dimensions, 3 ways (SLOT_READ divides by 3), a 100-word program memory, F = 3."""
    cfg = CoreConfig(dim_bits=5, set_bits=3, ways=3, prog_depth=100, float_latency=3)

    async def off_the_end_of_memory(b):
        # A program filling program memory runs off its end: address 100 is outside
        # both the program and the memory.
        words = [0] * 99 + words_of("LI r1, 1")
        m = await b.fresh(words)
        await b.drv.write_pc(b.ctx, 97)
        m.pc = 97
        recs = await b.run_both(m, "off the end of a full memory")
        assert (recs[-1].pc, recs[-1].fault) == (100, Fault.PC_RANGE)

    Bench(cfg).run([s_directed, s_debug_port, off_the_end_of_memory])


def test_block_ram_core_takes_a_request_raised_in_any_clock_of_a_cycle():
    """With block RAM register files a cycle is five clocks and the files read a
    request's address in the early ones.  A request raised in any of the five clocks
    must still be answered with the right value, exactly once (one-clock answer),
    and a write must land: registers and coordinate registers, every offset."""
    cfg = CoreConfig(dim_bits=6, set_bits=2, ways=2, prog_depth=16, float_latency=0)
    core = Sentron(cfg, regfile="bram")
    assert core.micro_cycles == 5

    async def bench(ctx, drv):
        p = drv.port
        for offset in range(2 * core.micro_cycles):
            for _ in range(offset):
                await ctx.tick()
            reg, value = offset % 32, 0x1000 + offset
            await drv.write_reg(ctx, reg, value)
            await drv.write_creg(ctx, offset % 8, Coord((offset,) + (0,) * 8, 6))
            for _ in range(offset):
                await ctx.tick()
            # Raise a READ_REG by hand and count the answer's clocks.
            ctx.set(p.req_cmd, DebugCmd.READ_REG)
            ctx.set(p.req_addr, reg)
            ctx.set(p.req_valid, 1)
            answers = []
            for _ in range(4 * core.micro_cycles):
                await ctx.tick()
                if ctx.get(p.resp_valid):
                    answers.append(ctx.get(p.resp_data))
                    ctx.set(p.req_valid, 0)
            assert answers == [value], (offset, answers)
            got = await drv.read_creg(ctx, offset % 8)
            assert tuple(got) == (offset,) + (0,) * 8, offset

    simulate(core, bench)
