"""The golden Sentron core: docs/isa.md executed one SIW at a time, with its timing model.

A :class:`Machine` holds the architectural state and retires SIWs in program
order.  Each retirement is a :class:`Retire` record carrying everything another
implementation must agree with: the retire cycle predicted by the timing model
(docs/isa.md section 7), the fault if any, and every write with the cycles from
which it is visible in the register file and ready for a later SIW.  A lockstep
checker drives ``start()`` / ``retire()`` and compares the hardware after every
SIW; ``run()`` and ``step()`` are built on the same two calls, so there is only
one path through an SIW.
"""

from dataclasses import dataclass
from typing import NamedTuple

from . import fp32
from sim.isa.coord import Coord, morton_key
from .decode import Decoded, decode
from sim.isa.encoding import NDIMS, SIW_BITS, COp, CoreConfig, DOp, Fault, SOp
from .memory import CoordinateMemory
from .state import ArchState

__all__ = ["Machine", "Retire", "RegWrite", "MemOp"]

_M32 = 0xFFFF_FFFF
_NREGS = 32
_NCREGS = 8


class RegWrite(NamedTuple):
    """A data-register write: ``value`` is in the register file from cycle ``visible`` on,
    and an SIW that reads or writes ``reg`` retires in cycle ``ready`` or later
    (docs/isa.md section 7: ``visible <= ready``; they differ on a pipelined core)."""
    reg: int
    value: int
    visible: int
    ready: int


class MemOp(NamedTuple):
    """The S-lane access of an SIW: GATHER (value read, 0 if absent), SCATTER (value
    stored) or ERASE (value None)."""
    op: SOp
    key: int
    value: int | None


@dataclass(frozen=True)
class Retire:
    """One SIW retiring: committed, or faulted (then nothing was committed).

    ``pc`` is the SIW's address; ``word`` its bits (None for a PC_RANGE fetch);
    ``cycle`` the retire cycle; ``fault`` NONE or the code that stopped the run;
    ``reg_writes`` the data-register writes (:class:`RegWrite`); ``creg_writes``
    ``(index, Coord)`` pairs; ``mem_op`` a :class:`MemOp` or None; ``next_pc`` the
    pc after it; ``branch_taken`` True if a LOOP or JUMP redirected the pc;
    ``penalty`` the ``p_k`` of the timing model; ``ended`` True if the run ended
    here (HALT or a fault); ``ops`` the non-NOP slots it added to the counter.
    """
    pc: int
    word: int | None
    cycle: int
    fault: Fault
    reg_writes: tuple = ()
    creg_writes: tuple = ()
    mem_op: MemOp | None = None
    next_pc: int = 0
    branch_taken: bool = False
    penalty: int = 0
    ended: bool = False
    ops: int = 0
    decoded: Decoded | None = None


class _Fault(Exception):
    """Internal: a lane found a fault while computing (nothing is committed)."""

    def __init__(self, code):
        self.code = code


class Machine:
    """The golden model of one Sentron core with configuration ``config``.

    Public state (read freely; write between runs to set up a test):
    ``regs`` (32 ints), ``cregs`` (8 :class:`Coord`), ``pc``, ``program`` (list of
    words; ``len(program)`` is the length L), ``memory`` (:class:`CoordinateMemory`),
    ``halted``, ``fault``, ``fault_pc``, ``cycles``, ``siws``, ``ops``.  Every latency
    and penalty of the timing model comes from ``timing``, the configuration's
    :class:`~sim.isa.encoding.Timing` table.
    """

    def __init__(self, config=None):
        self.config = config if config is not None else CoreConfig()
        self.memory = CoordinateMemory(self.config.dim_bits, self.config.set_bits, self.config.ways)
        self.reset()

    # ------------------------------------------------------------------ set-up

    def reset(self):
        """All state to its reset value (docs/isa.md section 2), program and memory emptied."""
        self.regs = [0] * _NREGS
        self.cregs = [self._coord((0,) * NDIMS)] * _NCREGS
        self.pc = 0
        self.program = []
        self.memory.clear()
        self.halted = True
        self.fault = Fault.NONE
        self.fault_pc = 0
        self.cycles = 0
        self.siws = 0
        self.ops = 0
        self._running = False
        self._ready = [0] * _NREGS
        self._earliest = 0
        self._last_write = {}

    def load_program(self, words):
        """Program memory from address 0 holds ``words``; L = len(words); pc = 0."""
        words = list(words)
        if len(words) > self.config.prog_depth:
            raise ValueError(f"program has {len(words)} SIWs; program memory holds "
                             f"{self.config.prog_depth}")
        for i, w in enumerate(words):
            if not isinstance(w, int) or not 0 <= w < 1 << SIW_BITS:
                raise ValueError(f"SIW {i}: {w!r} is not a {SIW_BITS}-bit unsigned integer")
        self.program = words
        self.pc = 0

    @property
    def timing(self):
        """The configuration's :class:`~sim.isa.encoding.Timing` table (docs/isa.md
        section 7), read afresh, so a test may swap ``config``."""
        return self.config.timing

    @property
    def length(self):
        """L, the loaded program length: fetching at or above it is PC_RANGE."""
        return len(self.program)

    def write_memory(self, entries):
        """Place ``(key, value)`` pairs in order (an image load; see CoordinateMemory.load)."""
        self.memory.load(entries)

    # ------------------------------------------------------------------ running

    @property
    def running(self):
        return self._running

    def start(self):
        """Begin a run: clear the fault, every register ready, first retire at cycles +
        ``timing.first_retire``."""
        self.fault = Fault.NONE
        self.halted = False
        self._running = True
        self._ready = [0] * _NREGS
        self._earliest = self.cycles + self.timing.first_retire
        self._last_write = {}

    def next_retire_cycle(self):
        """The cycle in which the next SIW would retire (the run must be started)."""
        self._check_running()
        return self._schedule(*self._fetch())

    def retire(self):
        """Retire the SIW at ``pc``: commit it or fault, and return its :class:`Retire`."""
        self._check_running()
        pc = self.pc
        word, dec = self._fetch()
        t = self._schedule(word, dec)
        if word is None:
            return self._end_with_fault(Retire(pc, None, t, Fault.PC_RANGE, next_pc=pc, ended=True))
        if not dec.legal:
            return self._end_with_fault(Retire(pc, word, t, Fault.ILLEGAL_SIW, next_pc=pc,
                                               ended=True, decoded=dec))
        try:
            rec = self._execute(pc, word, dec, t)
        except _Fault as f:
            return self._end_with_fault(Retire(pc, word, t, f.code, next_pc=pc, ended=True,
                                               decoded=dec))
        self._commit(rec)
        return rec

    def run(self, max_cycles=None):
        """Run from ``pc`` until HALT or a fault, and return the state.

        With ``max_cycles``, stop before retiring an SIW whose retire cycle would be
        ``>= max_cycles``: the run is then left unfinished, ``halted`` False and
        ``cycles`` = max_cycles (never lowered).
        """
        self.start()
        while self._running:
            if max_cycles is not None and self.next_retire_cycle() >= max_cycles:
                self._running = False
                self.cycles = max(self.cycles, max_cycles)
                break
            self.retire()
        return self.state()

    def step(self):
        """Run exactly one SIW: a run that ends after it (``halted`` is then True)."""
        self.start()
        self.retire()
        self._running = False
        self.halted = True
        return self.state()

    def state(self):
        """The architectural state as an :class:`ArchState`."""
        return ArchState(regs=tuple(self.regs), cregs=tuple(self.cregs), pc=self.pc,
                         halted=self.halted, fault=self.fault, fault_pc=self.fault_pc,
                         cycles=self.cycles, siws=self.siws, ops=self.ops,
                         memory=self.memory.slots())

    def regs_at(self, cycle):
        """The register file as seen in ``cycle`` during the current (or last) run.

        A register whose latest write is not yet visible in ``cycle`` (a float result
        still in the float unit) shows its previous value.  Valid for any ``cycle`` at
        or after the latest retirement: a register has at most one write in flight then,
        since an SIW writing it retires no earlier than the previous write is ready,
        and a write is visible no later than it is ready.
        """
        out = list(self.regs)
        for reg, (visible, previous) in self._last_write.items():
            if cycle < visible:
                out[reg] = previous
        return out

    # ------------------------------------------------------------------ internals

    def _coord(self, dims):
        return Coord(dims, self.config.dim_bits)

    def _check_running(self):
        if not self._running:
            raise RuntimeError("no run in progress: call start() first")

    def _fetch(self):
        """(word, Decoded) at pc, or (None, None) if pc is outside the program."""
        if not 0 <= self.pc < len(self.program):
            return None, None
        word = self.program[self.pc]
        return word, decode(word, self.config.has_float)

    def _schedule(self, word, dec):
        """Retire cycle of the SIW by the section 7 formula.

        PC_RANGE and illegal SIWs read and write nothing.  A legal SIW waits for its
        registers even if it then faults (COORD_RANGE, MEM_FULL): the hardware cannot
        know a CPUT's value, hence its fault, before the value is ready.
        """
        t = self._earliest
        if dec is not None and dec.legal:
            for r in dec.reads():
                t = max(t, self._ready[r])
            for r, _ in dec.writes():
                t = max(t, self._ready[r])
        return t

    def _end_with_fault(self, rec):
        self.fault = rec.fault
        self.fault_pc = rec.pc
        self.halted = True
        self._running = False
        self.cycles = rec.cycle + 1
        return rec

    def _execute(self, pc, word, dec, t):
        """Compute every lane from the state before the SIW; raise _Fault or return a Retire."""
        regs, cregs = self.regs, self.cregs
        max_dim = (1 << self.config.dim_bits) - 1
        timing = self.timing
        reg_writes = []
        creg_writes = []
        mem_op = None
        next_pc = pc + 1
        taken = False
        penalty = 0
        fault = Fault.NONE

        # D lane
        if dec.d_op != DOp.NOP:
            value = self._dense(dec)
            reg_writes.append(self._write(dec.rd, value, t, dec.d_op))

        # C lane
        c_op = dec.c_op
        ck = cregs[dec.c_ck]
        halt = False
        if c_op in (COp.CSET, COp.CADD, COp.CPUT, COp.LOOP):
            if c_op == COp.CSET:
                v = dec.c_imm11
            elif c_op == COp.CADD:
                v = ck[dec.c_dim] + dec.c_imm12
            elif c_op == COp.CPUT:
                v = regs[dec.c_reg]
            else:
                v = ck[dec.c_dim] + 1
            if not 0 <= v <= max_dim:
                fault = Fault.COORD_RANGE
            else:
                dims = list(ck)
                dims[dec.c_dim] = v
                creg_writes.append((dec.c_ck, self._coord(dims)))
                if c_op == COp.LOOP:
                    if v < cregs[dec.c_cj][dec.c_dim2]:
                        next_pc, taken = dec.c_target, True
                    else:
                        penalty = timing.loop_exit
        elif c_op == COp.CMOV:
            creg_writes.append((dec.c_ck, cregs[dec.c_cj]))
        elif c_op == COp.CCLR:
            creg_writes.append((dec.c_ck, self._coord((0,) * NDIMS)))
        elif c_op == COp.CGET:
            reg_writes.append(self._write(dec.c_reg, ck[dec.c_dim], t, c_op))
        elif c_op == COp.KEY:
            reg_writes.append(self._write(dec.c_reg, morton_key(ck, self.config.dim_bits) & _M32,
                                          t, c_op))
        elif c_op == COp.JUMP:
            next_pc, taken = dec.c_target, True
        elif c_op == COp.HALT:
            halt = True

        # S lane
        if dec.s_op != SOp.NOP:
            key = morton_key(cregs[dec.s_ck], self.config.dim_bits)
            if dec.s_op == SOp.GATHER:
                value = self.memory.gather(key)
                reg_writes.append(self._write(dec.s_reg, value, t, SOp.GATHER))
                mem_op = MemOp(SOp.GATHER, key, value)
            elif dec.s_op == SOp.SCATTER:
                if self.memory.would_fault(key) and fault == Fault.NONE:
                    fault = Fault.MEM_FULL
                mem_op = MemOp(SOp.SCATTER, key, regs[dec.s_reg])
            else:
                mem_op = MemOp(SOp.ERASE, key, None)

        if fault != Fault.NONE:       # COORD_RANGE (3) was checked first, so it wins over MEM_FULL (4)
            raise _Fault(fault)
        return Retire(pc, word, t, Fault.NONE, tuple(reg_writes), tuple(creg_writes), mem_op,
                      next_pc, taken, penalty, halt, dec.ops(), dec)

    def _write(self, reg, value, t, op):
        """The RegWrite of ``op`` (retiring in cycle ``t``) putting ``value`` in ``reg``."""
        timing = self.timing
        return RegWrite(reg, value, t + timing.visible_after(op), t + timing.latency(op))

    def _dense(self, dec):
        """The D-lane result from the registers before the SIW."""
        op, regs = dec.d_op, self.regs
        a, b, d = regs[dec.rs1], regs[dec.rs2], regs[dec.rd]
        sh = b & 31
        if op == DOp.ADD:
            return fp32.fadd(a, b)
        if op == DOp.SUB:
            return fp32.fsub(a, b)
        if op == DOp.MUL:
            return fp32.fmul(a, b)
        if op == DOp.MAC:
            return fp32.fmac(d, a, b)
        if op == DOp.MIN:
            return fp32.fmin(a, b)
        if op == DOp.MAX:
            return fp32.fmax(a, b)
        if op == DOp.IADD:
            return (a + b) & _M32
        if op == DOp.ISUB:
            return (a - b) & _M32
        if op == DOp.AND:
            return a & b
        if op == DOp.OR:
            return a | b
        if op == DOp.XOR:
            return a ^ b
        if op == DOp.SHL:
            return (a << sh) & _M32
        if op == DOp.SHR:
            return a >> sh
        if op == DOp.SRA:
            signed = a - (1 << 32) if a >> 31 else a
            return (signed >> sh) & _M32
        if op == DOp.MOV:
            return a
        if op == DOp.LI:
            imm = dec.imm16
            return (imm - (1 << 16)) & _M32 if imm >> 15 else imm
        if op == DOp.LIH:
            return (dec.imm16 << 16) | (d & 0xFFFF)
        if op == DOp.ITOF:
            return fp32.itof(a)
        if op == DOp.FTOI:
            return fp32.ftoi(a)
        raise AssertionError(f"unhandled D op {op!r}")

    def _commit(self, rec):
        """Land every write of a retired SIW together, then advance pc, counters, timing."""
        for reg, value, visible, ready in rec.reg_writes:
            self._last_write[reg] = (visible, self.regs[reg])
            self.regs[reg] = value
            self._ready[reg] = ready
        for index, coord in rec.creg_writes:
            self.cregs[index] = coord
        if rec.mem_op is not None:
            op, key, value = rec.mem_op
            if op == SOp.SCATTER:
                self.memory.scatter(key, value)
            elif op == SOp.ERASE:
                self.memory.erase(key)
        self.pc = rec.next_pc
        self.siws += 1
        self.ops += rec.ops
        self.cycles = rec.cycle + 1
        self._earliest = rec.cycle + 1 + rec.penalty
        if rec.ended:                 # HALT: the SIW has committed; pc = its address + 1
            self.halted = True
            self._running = False
