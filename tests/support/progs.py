"""Random *valid* Sentron programs: the stimulus of the lockstep equivalence tests.

"Valid" means a program the machine can run to a definite end, not one that is
free of faults: every program ends by HALT, by a fault it provokes on purpose
(illegal SIW, coordinate out of range, memory full), or by running off the end of
program memory (PC_RANGE), and never loops for ever.  Termination is by
construction: branches go forward (JUMP, a forward LOOP) or close a counted loop
whose counter (a dimension of ``c6``) and limit (a dimension of ``c7``) no other
SIW of the program writes; nested loops use distinct dimensions.  So the number of
SIWs a program can retire is bounded by the product of its loop limits, and
:attr:`Program.max_cycles` is a bound computed from that and the timing model's
worst stall; the golden model confirms the bound (tests/test_progs.py).

The generator is written once against a small *chooser* interface and driven two
ways: by :class:`random.Random` (:func:`generate`, seeded, for long runs) and by
Hypothesis (:func:`programs`, a strategy whose examples shrink towards short
programs with fewer features).

Features it aims at (measured on the golden model by tests/test_progs.py):
all three lanes in one SIW; register hazards at every distance 1..F+1 (float
RAW and WAW chains, MAC and LIH reading ``rd``); counted and nested LOOPs, forward
JUMPs and forward LOOPs over never-executed (even illegal) words; memory pressure
on small memories until MEM_FULL, ERASE and reuse; COORD_RANGE by CADD, CPUT and
LOOP; illegal SIWs of all four kinds; and running off the end.
"""

import random
from dataclasses import dataclass, field

from sim.isa.coord import morton_coord, morton_key
from sim.golden.decode import FLOAT_DOPS
from sim.isa.encoding import C_FIELDS, C_SLOT, D_OPERANDS, D_SLOT, NDIMS, S_SLOT, COp, CoreConfig, DOp, SOp
from sim.golden.memory import set_index
from .placement import keys_in_set
from sim.isa.syntax import LANE_OPERANDS, LANE_OPS, LANE_SLOTS, written_register

__all__ = ["Program", "CONFIGS", "SMALL_MEMORY", "generate", "programs", "configs",
           "golden_trace", "observed_features",
           "encode_slot", "encode_siw", "FLOAT_OPS", "ILLEGAL_KINDS", "ENDINGS"]

#: The memory configuration that fills up quickly: 4 sets of 2 ways (8 entries).
SMALL_MEMORY = CoreConfig(set_bits=2, ways=2)
#: Configurations the random programs are drawn for: the default core and a tiny memory.
CONFIGS = (CoreConfig(), SMALL_MEMORY)

#: D operations with latency F (docs/isa.md section 7), in opcode order: the six
#: two-operand ones first (ADD SUB MUL MAC MIN MAX), then ITOF and FTOI.
FLOAT_OPS = tuple(sorted(FLOAT_DOPS))
_FLOAT_BINARY = FLOAT_OPS[:6]
#: Ways a generated illegal word breaks docs/isa.md section 3 (its rules 1..4; rule
#: 5, "float_op", only on a configuration without a float unit).
ILLEGAL_KINDS = ("d_opcode", "c_opcode", "spare_bits", "dim", "double_write")
#: Integer two-operand D operations: the hazard consumers of a core without floats.
_INT_BINARY = (DOp.IADD, DOp.ISUB, DOp.AND, DOp.XOR, DOp.SHL)
#: How a program is meant to end.
ENDINGS = ("halt", "off_end", "illegal", "coord_range", "mem_full")


#: Registers the loops own: counters in dimensions of c6, limits in dimensions of c7.
_COUNTER, _LIMIT = 6, 7
#: Coordinate registers ordinary SIWs may write.
_FREE_CREGS = tuple(range(6))

#: Interesting binary32 patterns: signed zeros, one, pi, 0.1, subnormals, the largest
#: finite, infinities, quiet and signalling NaNs, powers of two at the int32 edge.
_FLOATS = (0x00000000, 0x80000000, 0x3F800000, 0xBF800000, 0x40490FDB, 0x3DCCCCCD,
           0x00000001, 0x007FFFFF, 0x00800000, 0x7F7FFFFF, 0xFF7FFFFF, 0x7F800000,
           0xFF800000, 0x7FC00000, 0x7FA00000, 0x4B000000, 0x4F000000, 0xCF000000,
           0x3F000000, 0x33800000)


@dataclass(frozen=True)
class Program:
    """One generated program and what it needs to run.

    ``words``: the SIWs, loaded from address 0.  ``config``: the core it is meant
    for.  ``memory``: ``(key, value)`` entries to write before running (they fit).
    ``max_cycles``: a bound on the cycles of a run from a fresh core, by
    construction (module docstring).  ``features``: what the generator put in,
    for reports; whether each actually happened is for the golden model to say.
    ``illegal``: addresses of the words made illegal on purpose (all others decode).
    """
    words: tuple
    config: CoreConfig
    memory: tuple = ()
    max_cycles: int = 0
    features: frozenset = field(default_factory=frozenset)
    illegal: frozenset = field(default_factory=frozenset)
    seed: object = None


# ---------------------------------------------------------------- encoding

def encode_slot(lane, op, **fields):
    """The bits of one slot (relative to the slot) for operation ``op`` of ``lane``.

    Exactly the operands the operation uses must be given (docs/isa.md section 3:
    every other bit is zero), so a mistake here is an error, not an illegal word.
    """
    from sim.asm.assembler import encode_siw as assemble_siw
    op = LANE_OPS[lane](op)
    wanted = set(LANE_OPERANDS[lane][op])
    if set(fields) != wanted:
        raise ValueError(f"{lane} {op.name} takes fields {sorted(wanted)}, not {sorted(fields)}")
    return LANE_SLOTS[lane].get(assemble_siw({lane: (op, fields)}))


def encode_siw(d=0, s=0, c=0):
    """A 64-bit SIW from its three slot values (0 is a NOP slot)."""
    return D_SLOT.put(d) | S_SLOT.put(s) | C_SLOT.put(c)


class _Slot:
    """One operation of one lane (its fields are still editable while a block is built)."""
    __slots__ = ("lane", "op", "fields")

    def __init__(self, lane, op, **fields):
        self.lane, self.op, self.fields = lane, op, fields

    def bits(self):
        return encode_slot(self.lane, self.op, **self.fields)

    def writes(self):
        """The data register this slot writes, as a list (empty or one)."""
        reg = written_register(self.lane, self.op, self.fields)
        return [] if reg is None else [reg]


def _siw(*slots):
    parts = {"D": 0, "S": 0, "C": 0}
    for slot in slots:
        if slot is not None:
            parts[slot.lane] = slot.bits()
    return encode_siw(parts["D"], parts["S"], parts["C"])


# ---------------------------------------------------------------- choosers

class _RandomChooser:
    """Choices from a seeded :class:`random.Random`."""

    def __init__(self, rng):
        self.rng = rng

    def integer(self, lo, hi):
        return self.rng.randint(lo, hi)

    def choice(self, seq):
        return seq[self.rng.randrange(len(seq))]

    def chance(self, percent):
        return self.rng.randrange(100) < percent


class _DrawChooser:
    """Choices drawn by Hypothesis; they shrink to the low end, to the first
    element and to "no", so a failing program shrinks to a short, plain one."""

    def __init__(self, draw):
        from hypothesis import strategies as st
        self.draw, self.st = draw, st

    def integer(self, lo, hi):
        return self.draw(self.st.integers(lo, hi))

    def choice(self, seq):
        return self.draw(self.st.sampled_from(seq))

    def chance(self, percent):
        return self.draw(self.st.integers(0, 99)) >= 100 - percent


# ---------------------------------------------------------------- the generator

class _Builder:
    """Builds one program SIW by SIW, keeping the loop structure that bounds it."""

    def __init__(self, ch, config, size):
        self.ch = ch
        self.config = config
        self.size = size                       # target number of SIWs
        self.limit = min(config.prog_depth, 1024)
        self.words = []
        self.weights = []                      # times each SIW can retire, at most
        self.weight = 1                        # product of the enclosing loops' trip counts
        self.loop_dims = []                    # counter/limit dimensions in use, outermost first
        self.features = set()
        self.illegal = set()
        self.maxc = (1 << config.dim_bits) - 1
        self.F = config.float_latency
        # Without a float unit a float operation is illegal: programs use the
        # integer operations instead, and meet a float one only as an illegal word.
        if config.has_float:
            self.float_ops, self.binary_ops = FLOAT_OPS, _FLOAT_BINARY
            self.illegal_kinds = ILLEGAL_KINDS
        else:
            self.float_ops, self.binary_ops = (), _INT_BINARY
            self.illegal_kinds = ILLEGAL_KINDS + ("float_op",)
        # A small memory fills after a few SCATTERs: erase more there, so that
        # programs also get past their memory traffic, not only into MEM_FULL.
        if config.ways * config.sets <= 16:
            self.s_ops = (SOp.SCATTER, SOp.GATHER, SOp.ERASE, SOp.ERASE)
        else:
            self.s_ops = (SOp.SCATTER, SOp.SCATTER, SOp.GATHER, SOp.ERASE)
        count = ch.integer(3, 10)
        pool = list(range(32))
        self.regs = []
        for _ in range(count):
            self.regs.append(pool.pop(ch.integer(0, len(pool) - 1)))

    # -- emission

    def room(self, n=1):
        return len(self.words) + n <= self.limit - 8    # keep room for the ending

    def emit(self, word):
        self.words.append(word)
        self.weights.append(self.weight)

    def emit_illegal(self, kind=None):
        self.illegal.add(len(self.words))
        self.emit(self.illegal_word(kind))

    def emit_slots(self, *slots):
        self.emit(_siw(*slots))

    # -- operands

    def reg(self, avoid=()):
        choices = [r for r in self.regs if r not in avoid] or [r for r in range(32) if r not in avoid]
        return self.ch.choice(choices)

    def coord_value(self):
        """Small values mostly, so memory coordinates collide and CADD stays in range."""
        if self.ch.chance(80):
            return self.ch.integer(0, min(3, self.maxc))
        return self.ch.integer(0, self.maxc)

    def imm16(self):
        kind = self.ch.integer(0, 3)
        if kind == 0:
            return self.ch.integer(0, 15)
        if kind == 1:
            return self.ch.choice(_FLOATS) >> 16
        return self.ch.integer(0, 0xFFFF)

    def d_slot(self, avoid=(), op=None, rd=None):
        ch = self.ch
        if op is None:
            op = ch.choice([o for o in DOp if o != DOp.NOP
                            and (self.config.has_float or o not in FLOAT_DOPS)])
        if rd is None:
            rd = self.reg(avoid)
        names = D_OPERANDS[op]
        fields = {"rd": rd}
        if "imm16" in names:
            fields["imm16"] = self.imm16()
        for name in ("rs1", "rs2"):
            if name in names:
                fields[name] = self.reg(avoid)
        return _Slot("D", op, **fields)

    def s_slot(self, avoid=()):
        ch = self.ch
        op = ch.choice(self.s_ops)
        ck = ch.integer(0, 7)
        if op == SOp.ERASE:
            return _Slot("S", op, ck=ck)
        return _Slot("S", op, ck=ck, reg=self.reg(avoid))

    def c_slot(self, avoid=()):
        """An ordinary C operation: writes only c0..c5, never branches."""
        ch = self.ch
        op = ch.choice((COp.CSET, COp.CSET, COp.CADD, COp.CMOV, COp.CCLR, COp.CGET, COp.KEY,
                        COp.CPUT))
        ck = ch.choice(_FREE_CREGS)
        dim = ch.integer(0, NDIMS - 1)
        if op == COp.CSET:
            return _Slot("C", op, ck=ck, dim=dim, imm11=self.coord_value())
        if op == COp.CADD:
            delta = ch.integer(1, 3) if ch.chance(97) else -1     # rarely: below zero
            return _Slot("C", op, ck=ck, dim=dim, imm12=delta & 0xFFF)
        if op == COp.CMOV:
            return _Slot("C", op, ck=ck, cj=ch.integer(0, 7))
        if op == COp.CCLR:
            return _Slot("C", op, ck=ck)
        if op in (COp.CGET,):
            return _Slot("C", op, reg=self.reg(avoid), ck=ch.integer(0, 7), dim=dim)
        if op == COp.KEY:
            return _Slot("C", op, reg=self.reg(avoid), ck=ch.integer(0, 7))
        # CPUT of an arbitrary register nearly always faults (see cput() for the
        # useful kind), so it is rare here.
        if ch.chance(95):
            return _Slot("C", COp.CGET, reg=self.reg(avoid), ck=ch.integer(0, 7), dim=dim)
        return _Slot("C", op, ck=ck, dim=dim, reg=self.reg(avoid))

    def mixed(self, avoid=(), lanes=(70, 40, 45)):
        """A random legal SIW: each lane present with its chance, no register written twice."""
        slots = []
        written = set()
        for lane, percent in zip("DSC", lanes):
            if not self.ch.chance(percent):
                continue
            slot = {"D": self.d_slot, "S": self.s_slot, "C": self.c_slot}[lane](avoid)
            if written.intersection(slot.writes()):
                continue
            written.update(slot.writes())
            slots.append(slot)
        if len(slots) == 3:
            self.features.add("three_lanes")
        return slots

    # -- blocks

    def prologue(self):
        """Give some registers interesting values: floats by LI + LIH, small ints by LI."""
        for r in self.regs:
            if not self.room(2) or not self.ch.chance(60):
                continue
            if self.ch.chance(60):
                value = self.ch.choice(_FLOATS)
                self.emit_slots(_Slot("D", DOp.LI, rd=r, imm16=value & 0xFFFF))
                self.emit_slots(_Slot("D", DOp.LIH, rd=r, imm16=value >> 16))
            else:
                self.emit_slots(_Slot("D", DOp.LI, rd=r, imm16=self.ch.integer(0, 40)))

    def straight(self):
        for _ in range(self.ch.integer(1, 4)):
            if self.room():
                self.emit_slots(*self.mixed())

    def hazard(self):
        """A producer, then ``k-1`` SIWs that leave its register alone, then a consumer
        that reads or writes it: distance ``k`` in 1..F+1; chains of these."""
        ch = self.ch
        r = self.reg()
        op = ch.choice(self.float_ops + (DOp.IADD, DOp.LI, DOp.MOV))
        producer = self.d_slot(op=op, rd=r)
        extra = [s for s in self.mixed(avoid=(r,), lanes=(0, 40, 45))]
        self.emit_slots(producer, *extra)
        for _ in range(ch.integer(1, 3)):
            k = ch.integer(1, self.F + 1)
            self.features.add(f"distance_{k}")
            for _ in range(k - 1):
                if not self.room(2):
                    return
                self.emit_slots(*self.mixed(avoid=(r,)))
            if not self.room():
                return
            kind = ch.choice(("rs1", "rs2", "mac", "lih", "waw", "scatter", "gather", "cget"))
            if kind in ("rs1", "rs2"):
                consumer = self.d_slot(op=ch.choice(self.binary_ops), rd=self.reg())
                consumer.fields[kind] = r
                slots = [consumer]
            elif kind == "mac":
                slots = [self.d_slot(op=DOp.MAC if self.config.has_float else DOp.LIH, rd=r)]
            elif kind == "lih":
                slots = [self.d_slot(op=DOp.LIH, rd=r)]
            elif kind == "waw":
                slots = [self.d_slot(op=ch.choice(self.float_ops + (DOp.IADD, DOp.LI)), rd=r)]
            elif kind == "scatter":
                slots = [_Slot("S", SOp.SCATTER, ck=ch.integer(0, 7), reg=r)]
            elif kind == "gather":
                slots = [_Slot("S", SOp.GATHER, ck=ch.integer(0, 7), reg=r)]
            elif ch.chance(50):
                slots = [_Slot("C", COp.CGET, reg=r, ck=ch.integer(0, 7), dim=ch.integer(0, 8))]
            else:
                slots = [_Slot("C", COp.KEY, reg=r, ck=ch.integer(0, 7))]
            written = {w for s in slots for w in s.writes()}
            for s in self.mixed(avoid=(r,)):
                if s.lane not in {x.lane for x in slots} and not written.intersection(s.writes()):
                    slots.append(s)
                    written.update(s.writes())
            self.emit_slots(*slots)
            self.features.add("hazard_" + kind)

    def cput(self):
        """``LI r, v`` then, 1..F+1 SIWs later, ``CPUT ck.dim, r``: in range or not."""
        ch = self.ch
        r = self.reg()
        value = ch.integer(0, min(self.maxc, 40)) if ch.chance(95) else ch.integer(0, 0xFFFF)
        self.emit_slots(_Slot("D", DOp.LI, rd=r, imm16=value))
        for _ in range(ch.integer(0, self.F)):
            if not self.room(2):
                return
            self.emit_slots(*self.mixed(avoid=(r,)))
        if self.room():
            s = [slot for slot in self.mixed(avoid=(r,), lanes=(60, 40, 0))]
            self.emit_slots(_Slot("C", COp.CPUT, ck=ch.choice(_FREE_CREGS), dim=ch.integer(0, 8), reg=r), *s)
            self.features.add("cput")

    def free_dim(self):
        used = {d for pair in self.loop_dims for d in pair}
        dims = [d for d in range(NDIMS) if d not in used]
        return self.ch.choice(dims)

    def loop(self, depth):
        """``CSET c6.a, start`` ``CSET c7.b, limit`` body ``LOOP c6.a < c7.b, body``."""
        ch = self.ch
        if not self.room(4) or len(self.loop_dims) >= 3:
            return
        a = self.free_dim()
        self.loop_dims.append((a, None))
        b = self.free_dim() if ch.chance(50) else a
        self.loop_dims[-1] = (a, b)
        start = ch.integer(0, 2)
        limit = start + ch.integer(0, 4)
        trips = max(limit - start, 1)
        self.emit_slots(_Slot("C", COp.CSET, ck=_COUNTER, dim=a, imm11=start), *self.mixed(lanes=(50, 30, 0)))
        self.emit_slots(_Slot("C", COp.CSET, ck=_LIMIT, dim=b, imm11=limit), *self.mixed(lanes=(50, 30, 0)))
        body = len(self.words)
        outer = self.weight
        self.weight *= trips
        self.features.add("loop" if depth == 0 else "nested_loop")
        for _ in range(ch.integer(1, 3)):
            self.block(depth + 1)
        self.weight = outer
        self.loop_dims.pop()
        if len(self.words) >= self.limit:
            return
        if len(self.words) == body:      # an empty body: the LOOP loops on itself
            pass
        self.emit_slots(_Slot("C", COp.LOOP, ck=_COUNTER, dim=a, cj=_LIMIT, dim2=b, target=body),
                        *self.mixed(lanes=(60, 40, 0)))
        # the LOOP itself retires once per trip
        self.weights[-1] = outer * trips

    def jump(self):
        """A forward JUMP, or a forward LOOP, over words that are never executed."""
        ch = self.ch
        skip = ch.integer(1, 3)
        if not self.room(skip + 3):
            return
        if ch.chance(50):
            at = len(self.words)
            self.emit(0)
            self.features.add("jump")
            slot = lambda target: _Slot("C", COp.JUMP, target=target)
        else:
            a = self.free_dim()
            self.emit_slots(_Slot("C", COp.CSET, ck=_COUNTER, dim=a, imm11=ch.integer(0, 3)))
            self.emit_slots(_Slot("C", COp.CSET, ck=_LIMIT, dim=a, imm11=ch.integer(0, 3)))
            at = len(self.words)
            self.emit(0)
            self.features.add("forward_loop")
            slot = lambda target: _Slot("C", COp.LOOP, ck=_COUNTER, dim=a, cj=_LIMIT, dim2=a,
                                        target=target)
        extra = self.mixed(lanes=(50, 40, 0))
        for _ in range(skip):
            # A JUMP always skips, so its shadow may hold illegal words; a forward
            # LOOP may fall through, so its shadow is ordinary code.
            if slot(0).op == COp.JUMP and ch.chance(50):
                self.emit_illegal()
            else:
                self.emit_slots(*self.mixed())
        self.words[at] = _siw(slot(len(self.words)), *extra)

    def memory_block(self):
        """SCATTER, GATHER and ERASE on a few nearby coordinates."""
        ch = self.ch
        for _ in range(ch.integer(2, 6)):
            if not self.room():
                return
            ck = ch.choice(_FREE_CREGS)
            op = ch.choice(self.s_ops)
            s = (_Slot("S", op, ck=ck) if op == SOp.ERASE
                 else _Slot("S", op, ck=ck, reg=self.reg()))
            ck2, dim = ch.choice(_FREE_CREGS), ch.integer(0, 3)
            if ch.chance(70):
                c = _Slot("C", COp.CSET, ck=ck2, dim=dim, imm11=self.coord_value())
            else:
                c = _Slot("C", COp.CADD, ck=ck2, dim=dim, imm12=1)
            d = self.d_slot(avoid=s.writes()) if ch.chance(50) else None
            self.emit_slots(s, c, d)
            self.features.add("memory")

    def block(self, depth):
        ch = self.ch
        kinds = ["loop", "hazard", "straight", "memory", "jump", "loop", "hazard", "straight"]
        if depth >= 2:
            kinds = [k for k in kinds if k != "loop"]
        kind = ch.choice(kinds)
        if kind == "straight":
            self.straight() if ch.chance(70) else self.cput()
        elif kind == "hazard":
            self.hazard()
        elif kind == "memory":
            self.memory_block()
        elif kind == "jump":
            self.jump()
        else:
            self.loop(depth)

    # -- endings

    def illegal_word(self, kind=None):
        """A word breaking docs/isa.md section 3, by rule."""
        ch = self.ch
        kind = kind or ch.choice(self.illegal_kinds)
        if kind == "float_op":
            return encode_siw(d=self.d_slot(op=ch.choice(FLOAT_OPS)).bits())
        if kind == "d_opcode":
            return encode_siw(d=ch.integer(20, 31) | (self.reg() << 5))
        if kind == "c_opcode":
            return encode_siw(d=_Slot("D", DOp.IADD, rd=self.reg(), rs1=self.reg(), rs2=self.reg()).bits(),
                              c=ch.integer(11, 15))
        if kind == "spare_bits":
            lane = ch.choice("DSC")
            if lane == "D":
                return encode_siw(d=_Slot("D", DOp.MOV, rd=self.reg(), rs1=self.reg()).bits()
                                  | (1 << ch.integer(15, 25)))
            if lane == "S":
                return encode_siw(s=_Slot("S", SOp.ERASE, ck=1).bits() | (1 << ch.integer(2, 6)))
            return encode_siw(c=_Slot("C", COp.HALT).bits() | (1 << ch.integer(4, 27)))
        if kind == "dim":
            return encode_siw(c=_Slot("C", COp.CSET, ck=0, dim=0, imm11=1).bits()
                              | C_FIELDS["dim"].put(ch.integer(9, 15)))
        r = self.reg()
        pair = ch.choice(("DS", "DC", "SC"))
        slots = {"D": _Slot("D", DOp.LI, rd=r, imm16=5),
                 "S": _Slot("S", SOp.GATHER, ck=0, reg=r),
                 "C": _Slot("C", COp.KEY, reg=r, ck=0)}
        return _siw(*(slots[lane] for lane in pair))

    def ending(self, kind):
        ch = self.ch
        self.features.add("end_" + kind)
        if kind == "halt":
            self.emit_slots(_Slot("C", COp.HALT), *self.mixed(lanes=(60, 40, 0)))
        elif kind == "off_end":
            pass
        elif kind == "illegal":
            self.emit_illegal()
        elif kind == "coord_range":
            how = ch.choice(("cadd_up", "cadd_down", "cput", "loop", "cset"))
            dim = ch.integer(0, NDIMS - 1)
            if how == "cadd_up":
                self.emit_slots(_Slot("C", COp.CSET, ck=0, dim=dim, imm11=self.maxc - ch.integer(0, 5)))
                self.emit_slots(_Slot("C", COp.CADD, ck=0, dim=dim, imm12=ch.integer(6, 2047)))
            elif how == "cadd_down":
                self.emit_slots(_Slot("C", COp.CSET, ck=1, dim=dim, imm11=ch.integer(0, 5)))
                self.emit_slots(_Slot("C", COp.CADD, ck=1, dim=dim, imm12=(-ch.integer(6, 2048)) & 0xFFF))
            elif how == "cput":
                r = self.reg()
                self.emit_slots(_Slot("D", DOp.LI, rd=r, imm16=ch.choice((self.maxc + 1, 0xFFFF, 3000 & 0xFFFF))))
                self.emit_slots(_Slot("C", COp.CPUT, ck=2, dim=dim, reg=r))
            elif how == "loop":
                self.emit_slots(_Slot("C", COp.CSET, ck=_COUNTER, dim=dim, imm11=self.maxc))
                self.emit_slots(_Slot("C", COp.LOOP, ck=_COUNTER, dim=dim, cj=_LIMIT, dim2=dim, target=0))
            else:
                value = self.maxc + 1 if self.maxc < 2047 else 2047
                self.emit_slots(_Slot("C", COp.CSET, ck=3, dim=dim, imm11=value))
                if self.maxc == 2047:      # CSET cannot leave 0..2047: add one more
                    self.emit_slots(_Slot("C", COp.CADD, ck=3, dim=dim, imm12=1))
        elif kind == "mem_full":
            self.fill_set()
        # after the end, sometimes stale words that must never run
        if kind != "off_end":
            for _ in range(ch.integer(0, 2)):
                if len(self.words) < self.limit:
                    self.emit_illegal() if ch.chance(50) else self.emit_slots(*self.mixed())

    def fill_set(self):
        """SCATTER to ways+1 coordinates that share a set: the last is MEM_FULL.

        The keys of one set with tags 0..ways (tests/support/placement.py: the low
        bits of each are the tag's part of the set, docs/isa.md section 5); each
        coordinate is built in c5 by CCLR and one CSET per nonzero dimension, then
        stored.  (A set index that is a matrix keeps no arithmetic progression in
        one set, so the stores are unrolled rather than a loop.)
        """
        ch = self.ch
        cfg = self.config
        s = ch.integer(0, cfg.sets - 1)
        keys = keys_in_set(s, cfg.ways + 1, cfg.set_bits, cfg.key_bits)
        coords = [morton_coord(k, cfg.dim_bits) for k in keys]
        if any(v > min(self.maxc, 2047) for c in coords for v in c):
            return
        r = self.reg()
        self.emit_slots(_Slot("D", DOp.LI, rd=r, imm16=ch.integer(0, 0xFFFF)))
        for coord in coords:
            self.emit_slots(_Slot("C", COp.CCLR, ck=5))
            for d, v in enumerate(coord):
                if v:
                    self.emit_slots(_Slot("C", COp.CSET, ck=5, dim=d, imm11=v))
            self.emit_slots(_Slot("S", SOp.SCATTER, ck=5, reg=r), _Slot("D", DOp.IADD, rd=r, rs1=r, rs2=r))

    def build(self):
        ch = self.ch
        self.prologue()
        while len(self.words) < self.size and self.room(2):
            self.block(0)
        small = self.config.ways * self.config.sets <= 16
        ending = ch.choice(("halt", "halt", "halt", "off_end", "illegal", "coord_range", "mem_full"))
        if ending == "mem_full" and small and ch.chance(50):
            ending = "halt"                  # small memories fill up by themselves
        self.words = self.words[:self.limit - 6]
        self.weights = self.weights[:len(self.words)]
        self.ending(ending)
        self.words = self.words[:self.limit]
        self.weights = self.weights[:len(self.words)]
        self.illegal = {a for a in self.illegal if a < len(self.words)}
        # After the first retirement (first_retire cycles in), each takes at most
        # 1 + loop_exit + the longest latency of the timing table (on the default
        # table 2 + F: a float stall of F, or a not-taken LOOP's extra cycle); a
        # fault or off-the-end retires once more.
        t = self.config.timing
        longest = max(t.float_op, t.int_op, t.gather, t.coord_read)
        bound = t.first_retire + (sum(self.weights) + 1) * (1 + t.loop_exit + longest)
        return tuple(self.words), bound

    def memory_image(self):
        """A few entries to preload, placed as the machine will place them (they fit)."""
        ch = self.ch
        used = {}
        entries = []
        for _ in range(ch.integer(0, 4)):
            dims = [self.coord_value() if ch.chance(30) else 0 for _ in range(NDIMS)]
            key = morton_key(dims, self.config.dim_bits)
            s = set_index(key, self.config.set_bits)
            if any(k == key for k, _ in entries) or used.get(s, 0) >= self.config.ways:
                continue
            used[s] = used.get(s, 0) + 1
            entries.append((key, ch.integer(0, 0xFFFFFFFF)))
        return tuple(entries)


def _build(ch, config, size, seed=None):
    builder = _Builder(ch, config, size)
    memory = builder.memory_image()
    words, bound = builder.build()
    return Program(words=words, config=config, memory=memory, max_cycles=bound,
                   features=frozenset(builder.features), illegal=frozenset(builder.illegal),
                   seed=seed)


def generate(seed, config=None, size=None):
    """A random program from an integer ``seed`` (the same seed, the same program).

    ``config`` defaults to one of :data:`CONFIGS` chosen by the seed; ``size`` is
    the number of SIWs aimed at before the ending (default 10..60).
    """
    rng = random.Random(seed)
    ch = _RandomChooser(rng)
    if config is None:
        config = ch.choice(CONFIGS)
    if size is None:
        size = ch.integer(10, 60)
    return _build(ch, config, size, seed)


def configs():
    """Hypothesis strategy: one of :data:`CONFIGS`."""
    from hypothesis import strategies as st
    return st.sampled_from(CONFIGS)


def programs(config=None, max_size=40):
    """Hypothesis strategy of :class:`Program` for ``config`` (default: drawn from
    :data:`CONFIGS`), aiming at up to ``max_size`` SIWs before the ending."""
    from hypothesis import strategies as st

    @st.composite
    def strategy(draw):
        cfg = config if config is not None else draw(configs())
        ch = _DrawChooser(draw)
        return _build(ch, cfg, ch.integer(1, max_size))

    return strategy()


# ---------------------------------------------------------------- what a program did

def golden_trace(program, machine=None):
    """Run ``program`` on the golden model; return its list of ``Retire`` records.

    A fresh :class:`sim.golden.machine.Machine` unless one is given.  Raises
    ``RuntimeError`` if the run is still going at ``program.max_cycles``: the
    generator promised it would not be.
    """
    from sim.golden.machine import Machine
    m = machine if machine is not None else Machine(program.config)
    m.load_program(program.words)
    m.write_memory(program.memory)
    m.start()
    records = []
    while m.running:
        if m.next_retire_cycle() >= program.max_cycles:
            raise RuntimeError(f"program (seed {program.seed}) still running at its bound of "
                               f"{program.max_cycles} cycles")
        records.append(m.retire())
    return records


def observed_features(program, records):
    """The features a run actually exercised, from its golden ``Retire`` records.

    Names: ``three_lanes``, ``loop`` (a backward LOOP taken), ``nested_loop``,
    ``loop_exit`` (a LOOP falling through), ``jump``, ``forward_loop``, ``stall``,
    ``float_distance_k`` for k in 1..F+1 (an SIW reading or writing a register
    written by a float operation k SIWs before it), ``mac_rd``/``lih_rd`` (MAC or
    LIH reading an ``rd`` still in flight), ``float_waw``, ``gather_hit``,
    ``erase_reuse`` (a SCATTER into a way an ERASE freed), ``halt``, and one
    ``fault_<NAME>`` per fault, with ``coord_range_<OP>`` and ``illegal_rule_<n>``.
    """
    from sim.asm.disasm import DisasmError, decode_siw
    from sim.isa.encoding import Fault
    F = program.config.float_latency
    sets = program.config.sets
    seen = set()
    last_write = {}              # reg -> (index, is_float, retire cycle)
    taken_loops = {}             # pc -> target
    freed = set()                # (set, way) slots an ERASE emptied
    slots = {}                   # set -> [key or None] * ways
    for key, _ in program.memory:
        ways = slots.setdefault(set_index(key, program.config.set_bits), [None] * program.config.ways)
        ways[ways.index(None)] = key
    prev = None
    for i, rec in enumerate(records):
        if prev is not None and rec.cycle > prev.cycle + 1 + prev.penalty:
            seen.add("stall")
        prev = rec
        if rec.fault != Fault.NONE:
            seen.add("fault_" + rec.fault.name)
            if rec.fault == Fault.COORD_RANGE:
                seen.add("coord_range_" + rec.decoded.c_op.name)
            if rec.fault == Fault.ILLEGAL_SIW:
                try:
                    decode_siw(rec.word)
                except DisasmError as e:
                    seen.add(f"illegal_rule_{e.rule}")
            continue
        dec = rec.decoded
        if rec.ops == 3:
            seen.add("three_lanes")
        if dec.c_op == COp.HALT:
            seen.add("halt")
        if dec.c_op == COp.LOOP:
            if not rec.branch_taken:
                seen.add("loop_exit")
            elif dec.c_target <= rec.pc:
                seen.add("loop")
                taken_loops[rec.pc] = dec.c_target
                for pc, target in taken_loops.items():
                    if pc != rec.pc and target <= rec.pc < pc or dec.c_target <= pc < rec.pc:
                        seen.add("nested_loop")
            else:
                seen.add("forward_loop")
        if dec.c_op == COp.JUMP:
            seen.add("jump")
        touched = [(r, "read") for r in dec.reads()] + [(r, "write") for r, _ in dec.writes()]
        for r, how in touched:
            if r in last_write:
                j, was_float, _ = last_write[r]
                k = i - j
                if was_float and k <= F + 1:
                    seen.add(f"float_distance_{k}")
                    if k <= F and how == "write":
                        seen.add("float_waw")
                    if k < F and how == "read" and dec.d_op in (DOp.MAC, DOp.LIH) and r == dec.rd:
                        seen.add("mac_rd" if dec.d_op == DOp.MAC else "lih_rd")
        for r, is_float in dec.writes():
            last_write[r] = (i, is_float, rec.cycle)
        if rec.mem_op is not None:
            op, key, _ = rec.mem_op
            s = set_index(key, program.config.set_bits)
            ways = slots.setdefault(s, [None] * program.config.ways)
            if op == SOp.GATHER and key in ways:
                seen.add("gather_hit")
            elif op == SOp.SCATTER and key not in ways:
                w = ways.index(None)
                ways[w] = key
                if (s, w) in freed:
                    seen.add("erase_reuse")
            elif op == SOp.ERASE and key in ways:
                w = ways.index(key)
                ways[w] = None
                freed.add((s, w))
    if records and records[-1].fault == Fault.NONE and not records[-1].ended:
        seen.add("unfinished")
    return seen
