"""Lockstep equivalence checking: the golden model and the RTL, SIW by SIW, cycle by cycle.

The golden :class:`sim.golden.machine.Machine` and the hardware of ``hdl/core.py`` (on
Amaranth's simulator, through :class:`sim.engines.rtl.RtlEngine`) run the same
program side by side.  Whenever the hardware's retire strobe fires, the golden
model retires its next SIW, and the two must agree on

* the SIW's address, its fault, and its retire cycle (docs/isa.md section 7);
* for an SIW with a memory operation: the key it looks up and the whole set as
  the hardware read it (every way: valid, key, value) against the golden set;
* one cycle later, when the commit is visible: ``pc``, every coordinate
  register, the counters ``siws`` and ``ops``, ``fault`` and ``fault_pc``;

and *every* cycle the 32 data registers must equal the golden register file as
it stands in that cycle (``Machine.regs_at``: each write shows from its *visible*
cycle, the cycle after its SIW retires or, for a float result,
``Timing.visible_after`` cycles after: F on the default table, F - commit_depth on
the pipelined one, docs/isa.md section 7; the *ready* cycle, when a later SIW may
use it, can be later).  At the end of the run the state
is read back through the debug port (registers, coordinate registers, counters,
status, and the memory slots by SLOT_READ) and compared in full.

The first difference raises :class:`LockstepMismatch`, naming the SIW (its index
in the run, address and disassembly), the cycle, and the differing fields of
both states.  Nothing is sampled that the comparison does not use, because
Amaranth's simulator runs only some thousands of cycles per second.
"""

import time

from sim.isa.coord import Coord, format_coord, morton_coord, morton_key
from sim.isa.encoding import NDIMS, CoreConfig, Fault, SOp
from sim.golden.memory import set_index
from sim.golden.state import ArchState

__all__ = ["Lockstep", "LockstepMismatch", "LockstepTimeout", "siw_text", "check_program"]


class LockstepMismatch(AssertionError):
    """The RTL and the golden model disagree.

    Attributes: ``index`` (which SIW of the run, from 0; None before the first),
    ``pc`` (its address), ``text`` (its disassembly), ``cycle`` (the cycle of the
    difference), ``fields`` (``{name: (golden, rtl)}``, only what differs).
    """

    def __init__(self, index, pc, text, cycle, fields, context="", golden="", rtl=""):
        self.index, self.pc, self.text, self.cycle, self.fields = index, pc, text, cycle, fields
        where = ("before the first SIW" if index is None else
                 f"at SIW #{index} (address {pc:04d}: {text})")
        lines = [f"lockstep mismatch {where}, cycle {cycle}{context}:"]
        for name, (g, r) in fields.items():
            lines.append(f"  {name}: golden {g}, rtl {r}")
        if golden:
            lines.append(f"  golden state: {golden}")
        if rtl:
            lines.append(f"  rtl state:    {rtl}")
        super().__init__("\n".join(lines))


class LockstepTimeout(RuntimeError):
    """The program did not end within the cycle bound it was given."""


def siw_text(word):
    """Disassembly of a word for messages, or why it has none."""
    from sim.asm.disasm import DisasmError, disassemble
    if word is None:
        return "(no SIW: fetch outside the program)"
    try:
        return disassemble(word)
    except DisasmError as e:
        return f"(illegal SIW 0x{word:016x}: {e.cause})"


def _hex(v):
    return f"0x{v:08x}"


_STATUS = ("pc", "halted", "fault", "fault_pc", "cycles", "siws", "ops")


def _fault_name(code):
    return Fault(code).name if code in Fault._value2member_map_ else str(code)


def _sop_name(code):
    return SOp(code).name if code in SOp._value2member_map_ else str(code)


class Lockstep:
    """A golden machine and an RTL core that run programs together.

    One instance is one session: programs run one after another on the same two
    cores (registers, coordinate registers and counters carry over, as on a board
    that gets a new program), so a long random test pays for building the
    simulator once.  ``siws`` and ``cycles`` count what has been checked.

    Parameters: ``config`` (CoreConfig), ``vcd`` (waveform file for the RTL),
    ``regfile`` (the RTL's register files: "ff", "lutram" or "bram", hdl/core.py).
    """

    def __init__(self, config=None, vcd=None, regfile="ff"):
        from sim.golden.machine import Machine
        from .rtl import RtlEngine
        self.config = config if config is not None else CoreConfig()
        self.machine = Machine(self.config)
        self.engine = RtlEngine(self.config, vcd=vcd, regfile=regfile)
        self.core = self.engine.core
        self.driver = self.engine.driver
        self.siws = 0
        self.cycles = 0
        self.programs = 0
        self.broken = False             # a run raised: the cores may differ from here on
        #: Read registers and status back through the debug port after every run
        #: (slower), rather than from the observation points.
        self.read_back = False
        self.last_run_seconds = 0.0     # wall time of the last run itself (RUN to the end)
        self._key_bits = NDIMS * self.config.dim_bits

    def close(self):
        self.engine.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---------------------------------------------------------------- public

    def run_program(self, words, memory=(), max_cycles=1_000_000, fresh=True):
        """Load ``words`` (and ``memory`` entries) into both cores, run both in
        lockstep until the program ends, then compare the final states in full.

        ``fresh`` first clears, on both cores and through the debug port, what
        an earlier program left: every memory entry is erased, every data and
        coordinate register zeroed (the counters keep counting).  So a program
        behaves the same whatever ran before it, which Hypothesis needs to
        replay and shrink a failing example.
        Returns the golden :class:`sim.golden.machine.Retire` records.  Raises
        :class:`LockstepMismatch` at the first difference, or
        :class:`LockstepTimeout` if the run lasts more than ``max_cycles``.
        """
        words = list(words)
        memory = list(memory)
        m = self.machine

        async def job(ctx):
            if fresh:
                for key in list(m.memory.entries()):
                    await self.driver.mem_erase(ctx, morton_coord(key, self.config.dim_bits))
                    m.memory.erase(key)
                for i in range(32):
                    if m.regs[i]:
                        await self.driver.write_reg(ctx, i, 0)
                        m.regs[i] = 0
                zero = Coord((0,) * NDIMS, self.config.dim_bits)
                for i in range(8):
                    if any(m.cregs[i]):
                        await self.driver.write_creg(ctx, i, zero)
                        m.cregs[i] = zero
            await self.driver.load_program(ctx, words)
            await self.driver.write_memory(ctx, memory)
            m.load_program(words)
            m.write_memory(memory)
            return await self._lockstep_run(ctx, max_cycles)

        try:
            records = self.engine.call(job)
        except BaseException:
            self.broken = True       # the two cores may now be out of step for good
            raise
        self.programs += 1
        return records

    def check_program(self, program):
        """:meth:`run_program` for a :class:`support.progs.Program`."""
        if program.config != self.config:
            raise ValueError(f"program is for {program.config}, this lockstep runs {self.config}")
        return self.run_program(program.words, program.memory, max_cycles=program.max_cycles + 16)

    def compare_full_state(self):
        """Read the whole RTL state through the debug port (every memory slot
        included) and compare it with the golden state."""
        async def job(ctx):
            rtl = await self.engine.read_state(ctx, memory=True)
            self._compare_states(self.machine.state(), rtl, None, [], rtl.cycles,
                                 "full state, read by the debug port")
        self.engine.call(job)

    # ---------------------------------------------------------------- the run

    def _signals(self):
        """What is sampled every cycle, in the order :meth:`_lockstep_run` unpacks it."""
        from amaranth.hdl import Value
        core = self.core
        fixed = [core.retire, core.retire_pc, core.retire_fault, core.cycles, core.run_state,
                 core.pc_full, core.siws, core.ops, core.fault_pc_full, self.driver.port.fault,
                 self.driver.port.running, core.retire_mem_key, core.retire_mem_op,
                 core.retire_mem_slots]
        return [Value.cast(s) for s in fixed] + list(core.regs) + list(core.cregs)

    async def _lockstep_run(self, ctx, max_cycles):
        from hdl.debug import DebugCmd
        from hdl.issue import RunState
        from sim.golden.decode import decode
        from .rtl import SignalReader
        RUN = RunState.RUN.value
        m = self.machine
        cfg = self.config
        reader = SignalReader(ctx, self._signals())
        nfixed = 14
        records = []
        m.start()
        start_cycle = m.cycles
        started_at = time.perf_counter()
        await self.driver.request(ctx, DebugCmd.RUN)
        # We are in the cycle the RUN answer arrives: the run's first cycle.
        now = start_cycle
        check_commit = False        # compare the committed state in this cycle
        started = False
        elapsed = 0
        # A core whose cycle is several clocks (hdl/core.py, micro_cycles) is
        # compared in the last clock of each cycle, when its state has settled.
        edge = self.core.arch_edge
        every_clock = self.core.micro_cycles == 1
        while True:
            if not every_clock and not ctx.get(edge):
                await ctx.tick()
                continue
            v = reader.read()
            (retire, retire_pc, retire_fault, cycles, run_state, pc, siws, ops, fault_pc,
             fault, running, x_key, x_op, x_slots) = v[:nfixed]
            regs = v[nfixed:nfixed + 32]
            cregs = v[nfixed + 32:]
            if run_state == RUN:
                now = cycles
                started = True
            elif started:
                now += 1            # the run has ended: the counter stops, but float
                                    # results still land (DRAIN), then the core idles
            if check_commit:
                self._check_commit(records, now, pc, siws, ops, fault, fault_pc, cregs)
                check_commit = False
            if retire:
                if not m.running:
                    self._mismatch(records, now, {"retire": ("nothing (the run has ended)",
                                                             f"an SIW at {retire_pc:04d}")})
                # The set as the golden model holds it *before* this SIW commits.
                golden_set = None
                word = m.program[m.pc] if 0 <= m.pc < len(m.program) else None
                if word is not None:
                    dec = decode(word, cfg.has_float)
                    if dec.legal and dec.s_op != SOp.NOP:
                        gkey = morton_key(m.cregs[dec.s_ck], cfg.dim_bits)
                        gset = m.memory.slots()[set_index(gkey, cfg.set_bits)]
                        golden_set = (dec.s_op, gkey, tuple(gset))
                rec = m.retire()
                records.append(rec)
                diff = {}
                if rec.pc != retire_pc:
                    diff["retire pc"] = (rec.pc, retire_pc)
                if rec.fault != retire_fault:
                    diff["retire fault"] = (rec.fault.name, _fault_name(retire_fault))
                if rec.cycle != cycles:
                    diff["retire cycle"] = (rec.cycle, cycles)
                if golden_set is not None and rec.fault in (Fault.NONE, Fault.MEM_FULL):
                    op, gkey, gslots = golden_set
                    if x_op != op:
                        diff["memory op in X"] = (op.name, _sop_name(x_op))
                    if x_key != gkey:
                        diff["memory key"] = (self._coord_text(gkey), self._coord_text(x_key))
                    rslots = tuple(self._unpack_slots(x_slots))
                    if rslots != gslots:
                        diff[f"memory set {set_index(gkey, cfg.set_bits)} before the SIW"] = (
                            self._slots_text(gslots), self._slots_text(rslots))
                if diff:
                    self._mismatch(records, cycles, diff, "retirement")
                check_commit = True
            elif m.running and run_state == RUN and now > m.next_retire_cycle():
                self._mismatch(records, now, {"retire": (
                    f"the SIW at {m.pc:04d} in cycle {m.next_retire_cycle()}", "nothing retired")})
            # The data registers, every cycle, against the golden file in this cycle.
            golden_regs = m.regs_at(now)
            if regs != golden_regs:
                self._register_mismatch(records, now, golden_regs, regs)
            if not running:
                break
            elapsed += 1
            if elapsed > max_cycles:
                raise LockstepTimeout(f"the run did not end in {max_cycles} cycles "
                                      f"({len(records)} SIWs retired)")
            await ctx.tick()
        self.last_run_seconds = time.perf_counter() - started_at
        if m.running:
            self._mismatch(records, now, {"running": ("yes", "no: the RTL stopped")})
        # The end: every float result has landed on both sides.  Registers and
        # status as observed (the debug port's reads are compared by
        # compare_full_state), memory slots read through the debug port.
        if self.read_back:
            rtl = await self.driver.state(ctx, memory=False)
        else:
            v = reader.read()
            rtl = ArchState(regs=tuple(v[nfixed:nfixed + 32]),
                            cregs=tuple(self._unpack_coord(c) for c in v[nfixed + 32:]),
                            pc=v[5], halted=not v[10], fault=Fault(v[9]), fault_pc=v[8],
                            cycles=v[3], siws=v[6], ops=v[7], memory=())
        golden = m.state()
        memory = await self._read_memory(ctx, records)
        self._compare_states(golden, rtl, memory, records, now, "final state")
        self.siws += len(records)
        self.cycles += golden.cycles - start_cycle
        return records

    async def _read_memory(self, ctx, records):
        """The RTL memory slots worth reading after a run, by SLOT_READ: every set of a
        small memory; else the sets whose last access in this run was a SCATTER or
        an ERASE.  (Every access compared the whole set as it was before it and the
        key, so only a last write is not yet checked.)"""
        cfg = self.config
        if cfg.sets * cfg.ways <= 64:
            sets = range(cfg.sets)
        else:
            last = {}
            for r in records:
                if r.mem_op is not None:
                    last[set_index(r.mem_op.key, cfg.set_bits)] = r.mem_op.op
            sets = sorted(s for s, op in last.items() if op != SOp.GATHER)
        out = {}
        for s in sets:
            out[s] = tuple([await self.driver.slot_read(ctx, s, w) for w in range(cfg.ways)])
        return out

    # ---------------------------------------------------------------- comparing

    def _check_commit(self, records, cycle, pc, siws, ops, fault, fault_pc, cregs):
        """The state one cycle after a retirement, when its commit is visible."""
        m = self.machine
        diff = {}
        if pc != m.pc:
            diff["pc"] = (m.pc, pc)
        if siws != m.siws:
            diff["siws"] = (m.siws, siws)
        if ops != m.ops:
            diff["ops"] = (m.ops, ops)
        if fault != m.fault:
            diff["fault"] = (m.fault.name, _fault_name(fault))
        if m.fault != Fault.NONE and fault_pc != m.fault_pc:
            diff["fault_pc"] = (m.fault_pc, fault_pc)
        for i, (g, packed) in enumerate(zip(m.cregs, cregs)):
            r = self._unpack_coord(packed)
            if tuple(g) != r:
                diff[f"c{i}"] = (format_coord(g), format_coord(r))
        if diff:
            self._mismatch(records, cycle, diff, "state committed by the SIW")

    def _register_mismatch(self, records, cycle, golden_regs, regs):
        """Name the SIW whose write differs: the last one that wrote the first
        differing register (its result may land cycles after it retired)."""
        differing = [i for i, (g, r) in enumerate(zip(golden_regs, regs)) if g != r]
        diff = {}
        writer = None
        for i in differing:
            note = ""
            for index in range(len(records) - 1, -1, -1):
                hits = [w for w in records[index].reg_writes if w.reg == i]
                if hits:
                    note = (f" (written by SIW #{index} at {records[index].pc:04d}, "
                            f"visible from cycle {hits[0].visible}, ready from "
                            f"{hits[0].ready})")
                    if writer is None:
                        writer = index
                    break
            diff[f"r{i}"] = (_hex(golden_regs[i]), _hex(regs[i]) + note)
        if writer is not None:
            records = records[:writer + 1]
        self._mismatch(records, cycle, diff, "data registers")

    def _compare_states(self, golden, rtl, memory, records, cycle, context):
        """Full comparison; ``memory`` is ``{set: slots}`` for the sets read (None: all
        of ``rtl.memory``)."""
        diff = {}
        for name in _STATUS:
            g, r = getattr(golden, name), getattr(rtl, name)
            if g != r:
                diff[name] = (g, r)
        for i, (g, r) in enumerate(zip(golden.regs, rtl.regs)):
            if g != r:
                diff[f"r{i}"] = (_hex(g), _hex(r))
        for i, (g, r) in enumerate(zip(golden.cregs, rtl.cregs)):
            if tuple(g) != tuple(r):
                diff[f"c{i}"] = (format_coord(g), format_coord(r))
        sets = memory.items() if memory is not None else enumerate(rtl.memory)
        for s, rslots in sets:
            gslots = tuple(golden.memory[s])
            if tuple(rslots) != gslots:
                diff[f"memory set {s}"] = (self._slots_text(gslots), self._slots_text(rslots))
        if diff:
            self._mismatch(records, cycle, diff, context, golden=golden, rtl=rtl)

    def _mismatch(self, records, cycle, diff, context="", golden=None, rtl=None):
        """Raise :class:`LockstepMismatch` about the last SIW retired so far."""
        rec = records[-1] if records else None
        index = len(records) - 1 if records else None
        pc = rec.pc if rec is not None else 0
        text = siw_text(rec.word) if rec is not None else ""

        def summary(state):
            if state is None:
                return ""
            return ", ".join(f"{k}={getattr(state, k)}" for k in _STATUS)
        raise LockstepMismatch(index, pc, text, cycle, diff, f" ({context})" if context else "",
                               summary(golden), summary(rtl))

    # ---------------------------------------------------------------- unpacking

    def _unpack_coord(self, packed):
        B = self.config.dim_bits
        mask = (1 << B) - 1
        return tuple((packed >> (d * B)) & mask for d in range(NDIMS))

    def _unpack_slots(self, packed):
        """x_slots (ArrayLayout of StructLayout valid, key, value) -> golden slot form."""
        kb = self._key_bits
        width = 1 + kb + 32
        out = []
        for w in range(self.config.ways):
            row = (packed >> (w * width)) & ((1 << width) - 1)
            valid = row & 1
            key = (row >> 1) & ((1 << kb) - 1)
            value = row >> (1 + kb)
            out.append((key, value) if valid else None)
        return out

    def _coord_text(self, key):
        return f"{format_coord(morton_coord(key, self.config.dim_bits))} (key {key})"

    def _slots_text(self, slots):
        return "[" + ", ".join("free" if s is None else
                               f"{format_coord(morton_coord(s[0], self.config.dim_bits))}={_hex(s[1])}"
                               for s in slots) + "]"


def check_program(program, vcd=None):
    """Run one :class:`support.progs.Program` in lockstep on a fresh pair of cores."""
    with Lockstep(program.config, vcd=vcd) as ls:
        return ls.check_program(program)
