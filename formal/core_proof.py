"""Proof harness: every SIW the real Sentron core retires commits exactly what docs/isa.md says.

The harness holds a real :class:`hdl.core.Sentron` (any subclass, for the
broken variants of tests/test_formal_core.py) in a small configuration and
checks, every cycle, the SIW that retires (``retire``, ``retire_pc``,
``retire_fault``) against a *specification written here from docs/isa.md*
(sections 2, 3, 5, 6 and the latency rule of 7).  Only the numbers of
``sim/isa/encoding.py`` (field positions, opcode values, the operand tables) are
shared; nothing is taken from ``sim/``'s models or from ``hdl/``'s logic.

What the harness specifies, for the SIW at ``retire_pc`` (its word is read from
the program, not from the core's pipeline):

* its fault: PC_RANGE (address >= L), ILLEGAL_SIW (the four rules of section 3),
  COORD_RANGE (CSET/CADD/CPUT/LOOP leaving 0..max), MEM_FULL (SCATTER of a new
  key into a full set, from the stored rows), lowest code first;
* that ``retire_pc`` is the architectural ``pc`` (so, with the next point, the
  SIWs retire in program order, branches included);
* with a fault: no write port of the data registers (other than the float
  write-back of *earlier* SIWs), of the coordinate registers or of the
  coordinate memory is enabled; afterwards ``fault`` = the code, ``pc`` =
  ``fault_pc`` = the address, the run has ended (no longer RUN), ``siws`` and
  ``ops`` unchanged, and every register, coordinate register and memory row
  unchanged;
* without a fault: the D lane writes ``rd`` iff ``op`` != NOP, with the integer
  result (IADD ... LIH, written here, on the operands the ALU was given when the
  SIW was in X) at the end of the cycle, or, for a float op, through the float
  write-back F - 1 - commit_depth cycles later (value abstracted, see below); GATHER writes ``rd`` with the stored value or 0; CGET / KEY write ``rd``
  with the dimension / the low 32 key bits (Morton key written here); SCATTER /
  ERASE change only the row of their own coordinate (the matching way, else for
  SCATTER the lowest free way); the C lane changes only ``ck`` (or ``ck.dim``) as
  defined and ``pc`` (``pc + 1``, JUMP, LOOP's taken/not-taken target); HALT ends
  the run with ``pc`` = its address + 1; ``siws`` + 1, ``ops`` + its non-NOP slots,
  and nothing else changes (no other register, coordinate register or row);
* every write port is enabled exactly as above: the integer, GATHER and CGET/KEY
  ports with the SIW's own ``rd``, the float port only F - 1 - commit_depth
  cycles after a float op committed, with that op's ``rd`` (so never for a
  float op of an SIW that faulted or was squashed);
* interlock: a legal SIW never retires within F cycles of a committed float op
  that writes a register it reads or writes (section 7's readiness); float
  results of a run that ended still land before the core is IDLE;
* auxiliary invariants (needed by the induction, true in every reachable
  state): while RUN, ``fault`` is NONE; ``prog_len`` <= ``prog_depth``; the run
  state is one of IDLE/RUN/DRAIN; no key is stored twice in a set.

``cycles`` counts every RUN cycle and no other (section 7: drain cycles are not
counted).

One data register and one coordinate register are checked per trace, chosen by
the solver (``AnyConst``), which covers all of them; every memory row is checked.
The D-lane value is stated in two asserted parts (the ALU gets this SIW's op and
operands; on its inputs it computes the specification's function), and ISUB is
written ``a + ~b + 1`` (two's complement, the same number as ``a - b`` mod
2**32): in one piece, or with ``a - b``, boolector does not finish.

**The proof is bounded** (``mode bmc``, formal/proofs.py): from every start
state of a run (see FREE_START_SCRIPT below), a run accepted in cycle 0 fetches
in cycle 1 and retires its first SIW ``first_retire`` cycles later (the timing
table: 3 on the three-stage core, 8 on the pipelined one), so depth N covers the
first N - 1 - first_retire SIWs of the run.  Full k-induction on the whole
(three-stage) core was tried (k = 2..5) and did not finish in 15 minutes per
attempt.

**Either core** (:mod:`hdl.cores`): the harness reads the lanes' inputs where
they compute, ``commit_depth`` cycles before the SIW retires (0 on the
three-stage core), and the float write-back ``F - 1 - commit_depth`` cycles
after the retirement; everything else it states is the ISA's.  ``skip`` (message prefixes) turns
assertions off, to find which one is expensive.

Environment and abstractions (stated in formal/README.md too):

* **Program memory**: the core's ``Memory`` is replaced by :class:`RomStandIn`,
  ``prog_depth`` words of ``AnyConst(64)`` behind the same synchronous read port
  (``addr``, ``en``, ``data``; ``data`` holds while ``en`` is low).  So the proof
  covers every program; host ``WRITE_PROG`` has no effect on it.
* **Float unit**: the D lane's float unit is replaced by :class:`OpaqueFloatUnit`,
  the real :class:`FloatUnit` with every datapath step replaced by wiring of valid/tag/op and an ``AnySeq`` result:
  its pipeline registers (placed by the real ``choose_cuts``) and valid/tag path
  are the real ones, its arithmetic is not (that is checked bit-exactly by
  simulation, tests/test_hdl_float_unit.py).
* **Start state** (``FREE_START_SCRIPT``, Yosys commands run before ``prep``):
  the reset values of the architectural state are dropped, so registers,
  coordinate registers, counters, ``pc``, ``fault_pc``, the program length
  (assumed <= ``prog_depth``) and the memory rows (assumed to hold no key twice,
  what formal/memory_proof.py proves) start arbitrary; the pipeline, the run
  state (IDLE) and the debug port start from reset, as at the start of any run.
* **Coordinate memory**: the real unit plus asynchronous probe ports
  (:func:`formal.memory_proof.probed`), one per set, for the harness only.
* **Host**: the debug port is driven freely by the solver (any command, any
  operands, any time) within its documented protocol: a request is held
  unchanged until its answer (``resp_valid``).  Reset is never asserted again.
"""

import sys
from types import SimpleNamespace

from amaranth.asserts import AnyConst, AnySeq
from amaranth.hdl import (Array, Assert, Assume, Cat, Const, Elaboratable, Module, Mux,
                          ResetSignal, Signal, Value, signed)
from amaranth.lib import wiring

import hdl.d_lane.float_unit as float_unit_module
from hdl.cores import core_class as core_for
from hdl.d_lane.float_unit import FloatUnit
from hdl.issue import RunState
from sim.isa.encoding import (C_FIELDS, C_OPERANDS, C_SLOT, D_FIELDS, D_OPERANDS, D_SLOT, NDIMS,
                          PC_BITS, S_FIELDS, S_OPERANDS, S_SLOT, SIW_BITS, COp, CoreConfig, DOp,
                          Fault, SOp)

from .memory_proof import probed, spec_set

__all__ = ["RomStandIn", "OpaqueFloatUnit", "CoreCommitProof", "spec_key"]

ADDR_BITS = PC_BITS + 1
#: docs/isa.md section 7: the float operations (latency F).
SPEC_FLOAT_OPS = (DOp.ADD, DOp.SUB, DOp.MUL, DOp.MAC, DOp.MIN, DOp.MAX, DOp.ITOF, DOp.FTOI)


# ---------------------------------------------------------------------- stand-ins

class RomStandIn(Elaboratable):
    """Program memory as ``depth`` constant but arbitrary words (``AnyConst``).

    Offers what the core uses of :class:`amaranth.lib.memory.Memory`:
    ``read_port()`` (synchronous, ``en`` gates the update of ``data``) and
    ``write_port()`` (accepted, ignored: the program is a constant of the proof).
    """

    def __init__(self, depth):
        if depth & (depth - 1):
            raise ValueError("the proof's program depth must be a power of two")
        self.depth = depth
        self.words = [Signal(SIW_BITS, name=f"prog{i}") for i in range(depth)]
        abits = range(depth)
        self.rd = SimpleNamespace(addr=Signal(abits, name="prog_rd_addr"),
                                  en=Signal(name="prog_rd_en"),
                                  data=Signal(SIW_BITS, name="prog_rd_data"))
        self.wr = SimpleNamespace(addr=Signal(abits, name="prog_wr_addr"),
                                  en=Signal(name="prog_wr_en"),
                                  data=Signal(SIW_BITS, name="prog_wr_data"))

    def read_port(self):
        return self.rd

    def write_port(self):
        return self.wr

    def elaborate(self, platform):
        m = Module()
        for word in self.words:
            m.d.comb += word.eq(AnyConst(SIW_BITS))
        with m.If(self.rd.en):
            m.d.sync += self.rd.data.eq(Array(self.words)[self.rd.addr])
        return m


def _opaque_step(last):
    def step(m, v):
        out = {"valid": v["valid"], "tag": v["tag"], "op": v["op"]}
        if last:
            result = Signal(32, name="opaque_result")
            m.d.comb += result.eq(AnySeq(32))
            out["result"] = result
        return out
    return step


class OpaqueFloatUnit(FloatUnit):
    """The real float unit's pipeline (valid, tag, op; registers at the real cuts)
    with the arithmetic replaced by an arbitrary result (``AnySeq``)."""

    def elaborate(self, platform):
        real = float_unit_module._STEPS
        float_unit_module._STEPS = tuple(
            (name, _opaque_step(i == len(real) - 1)) for i, (name, _) in enumerate(real))
        try:
            return super().elaborate(platform)
        finally:
            float_unit_module._STEPS = real


# ---------------------------------------------------------------------- the specification

def spec_key(coord, dim_bits):
    """docs/isa.md section 1: bit i of dimension d is key bit 9*i + d."""
    bits = []
    for k in range(NDIMS * dim_bits):
        i, d = divmod(k, NDIMS)
        bits.append(coord[d * dim_bits + i])
    return Cat(*bits)


def _field(value, slot, field):
    lsb = slot.lsb + field.lsb
    return value[lsb:lsb + field.width]


def _allowed(fields, operands, op):
    mask = fields["op"].mask << fields["op"].lsb
    for name in operands[op]:
        mask |= fields[name].mask << fields[name].lsb
    return mask


def _imp(premise, conclusion):
    """``premise`` implies ``conclusion``."""
    return ~Value.cast(premise) | conclusion


def _any_of(value, codes):
    return Cat(*(value == c for c in codes)).any()


def _dim_of(coord, index, dim_bits):
    """Dimension ``index`` of a packed coordinate."""
    return Array(coord[d * dim_bits:(d + 1) * dim_bits] for d in range(NDIMS))[index]


class CoreCommitProof(wiring.Component):
    """The harness (see the module docstring), built as named steps (:attr:`STEPS`):
    the environment, the invariants, the retiring SIW's decode, its operands,
    what each lane must produce, its fault, then the checks of the float
    write-back, the write ports and the state after the cycle.

    Parameters
    ----------
    config : CoreConfig
        A small configuration (``prog_depth`` a power of two).
    core_class : type
        :class:`hdl.core.Sentron` or a (broken) variant of it.
    """

    #: Yosys commands (after ``read_rtlil``, before ``prep``) that drop the reset
    #: values of the architectural state: data and coordinate registers, counters,
    #: ``pc``, ``fault_pc``, the program length and the coordinate memory's rows
    #: (mapped to flip-flops for that).  Everything else (the pipeline, the run
    #: state: IDLE, the debug port) still starts from reset.
    FREE_START_SCRIPT = (
        "proc",
        "memory_map top.core.coord_memory",
        "setattr -unset init top.core.regs/w:reg* top.core.cregs/w:reg* "
        "top.core.issue/w:cycles top.core.issue/w:siws top.core.issue/w:ops "
        "top.core.issue/w:pc top.core.issue/w:fault_pc top.core.debug_unit/w:prog_len "
        "top.core.coord_memory/w:way*",
    )

    def __init__(self, config=None, core_class=None, free_start=True, skip=()):
        self.config = config if config is not None else CoreConfig(
            dim_bits=1, set_bits=1, ways=1, prog_depth=4, float_latency=2)
        cfg = self.config
        core_class = core_class if core_class is not None else core_for(cfg)
        # The module of the core's design (hdl.core, hdl.pipeline.core, or a broken
        # copy of one, tests/test_formal_core.py): its port roles and its memory.
        self.core_module = core_module = sys.modules[core_class.__module__]
        core = core_class(cfg)
        for unused in (core._prog, core._d_lane.float_unit, core.coord_memory):
            unused._MustUse__silence = True       # replaced below, never elaborated
        core._prog = RomStandIn(cfg.prog_depth)
        core._d_lane.float_unit = OpaqueFloatUnit(core._d_lane.float_unit.latency)
        core.coord_memory = probed(core_module.CoordinateMemory)(
            cfg.dim_bits, cfg.set_bits, cfg.ways, probes=cfg.sets)
        self.core = core
        self.free_start = free_start
        self.skip = tuple(skip)
        super().__init__({})

    #: The harness's steps, in order (one method ``_step_<name>`` each): every step
    #: reads what the steps before it defined from ``v`` and returns what it defines.
    STEPS = ("environment", "invariants", "decode", "pipeline", "operands", "d_lane", "s_lane",
             "c_lane", "fault", "float_writeback", "write_ports", "next_state")

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = self.core
        v = SimpleNamespace()
        for name in self.STEPS:
            vars(v).update(getattr(self, f"_step_{name}")(m, v))
        return m

    def _check(self, test, message):
        """An assertion, unless its message starts with one of ``self.skip``."""
        if any(message.startswith(p) for p in self.skip):
            return Assert(Const(1, 1), message)
        return Assert(test, message)

    def _step_environment(self, m, v):
        """The solver drives the host within the debug protocol; the architectural
        state starts as any state the host could have set up."""
        cfg, core = self.config, self.core
        dbg, mem = core.debug, core.coord_memory
        m.d.comb += Assume(~ResetSignal("sync"))
        past_valid = Signal()
        m.d.sync += past_valid.eq(1)
        req = Cat(dbg.req_valid, dbg.req_cmd.as_value(), dbg.req_addr, dbg.req_data,
                  dbg.req_coord)
        for sig in (dbg.req_valid, dbg.req_cmd, dbg.req_addr, dbg.req_data, dbg.req_coord):
            m.d.comb += Value.cast(sig).eq(AnySeq(len(Value.cast(sig))))
        prev_req = Signal(len(req))
        prev_hold = Signal()
        m.d.sync += [prev_req.eq(req), prev_hold.eq(dbg.req_valid & ~dbg.resp_valid)]
        with m.If(past_valid & prev_hold):
            m.d.comb += Assume(req == prev_req)       # held until answered

        # Stored memory rows, every set (probe p reads set p).
        for p in range(cfg.sets):
            m.d.comb += mem.probe_addr[p].eq(p)
        stored = mem.probe_rows                        # stored[set][way]

        # With FREE_START_SCRIPT the architectural state starts arbitrary; it is any
        # state the host could have set up: L <= prog_depth, pc <= 1024, no key
        # stored twice in a set (what formal/memory_proof.py proves of the memory).
        if self.free_start:
            with m.If(~past_valid):
                m.d.comb += [Assume(dbg.prog_len <= cfg.prog_depth), Assume(core.pc_full <= 1024)]
                for s in range(cfg.sets):
                    for a in range(cfg.ways):
                        for b in range(a + 1, cfg.ways):
                            ra, rb = stored[s][a], stored[s][b]
                            m.d.comb += Assume(~(ra.valid & rb.valid & (ra.tag == rb.tag)))

        # As a plain value: a broken issue unit (tests) brings its own RunState class.
        state = core.run_state.as_value()
        return dict(
            past_valid=past_valid, stored=stored, state=state,
            running=(state == RunState.RUN.value) | (state == RunState.DRAIN.value),
            retire=core.retire, pc=core.pc_full, regs=Array(core.regs), cregs=Array(core.cregs))

    def _step_invariants(self, m, v):
        """Auxiliary invariants: true in every reachable state."""
        cfg, dbg, A = self.config, self.core.debug, self._check
        W, state, stored = cfg.ways, v.state, v.stored
        m.d.comb += [
            A(state != 3, "aux: run state is IDLE, RUN or DRAIN"),
            A(dbg.prog_len <= cfg.prog_depth, "aux: prog_len <= prog_depth"),
            A((state != RunState.RUN.value) | (dbg.fault == Fault.NONE),
                   "aux: no fault status while running"),
        ]
        if W > 1:
            for s in range(cfg.sets):
                for a in range(W):
                    for b in range(a + 1, W):
                        ra, rb = stored[s][a], stored[s][b]
                        m.d.comb += A(~(ra.valid & rb.valid & (ra.tag == rb.tag)),
                                           f"aux: set {s} holds a key in ways {a} and {b}")
        return {}

    def _step_decode(self, m, v):
        """The retiring SIW, read from the program at ``retire_pc`` and decoded by
        docs/isa.md section 3 (fields, the four ILLEGAL_SIW rules, PC_RANGE)."""
        cfg, core = self.config, self.core
        abits = (cfg.prog_depth - 1).bit_length()
        words = Array(core._prog.words)

        def fetched(addr):
            # The word the core reads for an address: addresses beyond the program
            # memory are PC_RANGE (they fault whatever the word); the core reads word 0.
            return words[Mux(addr < cfg.prog_depth, addr, 0)[:abits]] if abits else words[0]

        word = Signal(SIW_BITS)                        # the retiring SIW
        m.d.comb += word.eq(fetched(core.retire_pc))
        f = dict(
            d_op=_field(word, D_SLOT, D_FIELDS["op"]),
            rd=_field(word, D_SLOT, D_FIELDS["rd"]),
            rs1=_field(word, D_SLOT, D_FIELDS["rs1"]),
            rs2=_field(word, D_SLOT, D_FIELDS["rs2"]),
            imm16=_field(word, D_SLOT, D_FIELDS["imm16"]),
            s_op=_field(word, S_SLOT, S_FIELDS["op"]),
            s_reg=_field(word, S_SLOT, S_FIELDS["reg"]),
            s_ck=_field(word, S_SLOT, S_FIELDS["ck"]),
            c_op=_field(word, C_SLOT, C_FIELDS["op"]),
            c_ck=_field(word, C_SLOT, C_FIELDS["ck"]),
            dim=_field(word, C_SLOT, C_FIELDS["dim"]),
            imm11=_field(word, C_SLOT, C_FIELDS["imm11"]),
            imm12=_field(word, C_SLOT, C_FIELDS["imm12"]).as_signed(),
            cj=_field(word, C_SLOT, C_FIELDS["cj"]),
            c_reg=_field(word, C_SLOT, C_FIELDS["reg"]),
            dim2=_field(word, C_SLOT, C_FIELDS["dim2"]),
            target=_field(word, C_SLOT, C_FIELDS["target"]),
        )
        d_op, s_op, c_op = f["d_op"], f["s_op"], f["c_op"]
        rd, s_reg, c_reg, dim, dim2 = f["rd"], f["s_reg"], f["c_reg"], f["dim"], f["dim2"]

        def stray(slot, fields, operands, op):
            value = word[slot.lsb:slot.lsb + slot.width]
            bad = ~_any_of(op, operands)                                   # rule 1
            for code in operands:                                          # rule 2
                stray_mask = ((1 << slot.width) - 1) & ~_allowed(fields, operands, code)
                bad |= (op == code) & (value & stray_mask).any()
            return bad

        d_wr = d_op != DOp.NOP
        s_gather = s_op == SOp.GATHER
        c_wr = (c_op == COp.CGET) | (c_op == COp.KEY)
        uses_dim = _any_of(c_op, [c for c, ops in C_OPERANDS.items() if "dim" in ops])
        uses_dim2 = _any_of(c_op, [c for c, ops in C_OPERANDS.items() if "dim2" in ops])
        illegal = Signal()
        m.d.comb += illegal.eq(
            stray(D_SLOT, D_FIELDS, D_OPERANDS, d_op) | stray(S_SLOT, S_FIELDS, S_OPERANDS, s_op) |
            stray(C_SLOT, C_FIELDS, C_OPERANDS, c_op) |
            (uses_dim & (dim > 8)) | (uses_dim2 & (dim2 > 8)) |                # rule 3
            (d_wr & s_gather & (rd == s_reg)) | (d_wr & c_wr & (rd == c_reg)) |  # rule 4
            (s_gather & c_wr & (s_reg == c_reg)))
        pc_range = Signal()
        m.d.comb += pc_range.eq(core.retire_pc >= core.debug.prog_len)
        return dict(f, fetched=fetched, d_wr=d_wr, s_gather=s_gather,
                    s_scatter=s_op == SOp.SCATTER, s_erase=s_op == SOp.ERASE, c_wr=c_wr,
                    illegal=illegal, pc_range=pc_range)

    def _step_pipeline(self, m, v):
        """Auxiliary invariant of the pipeline: the SIW in D is the word at its
        address.  (An internal signal of the issue unit; used only as an invariant
        that strengthens the search, proven like the rest.)

        The lanes compute in X, ``commit_depth`` cycles (the configuration's
        timing table, docs/isa.md section 7) before the SIW retires in W; what they were given and computed there is recorded here,
        delayed by that many cycles, so that it is compared with the
        specification when the SIW retires (``x_seen``).
        """
        core, A = self.core, self._check
        iu = core._issue
        is_run = v.state == RunState.RUN.value
        with m.If(is_run & iu.d_valid):
            m.d.comb += A(core._prog.rd.data == v.fetched(iu.d_pc),
                               "aux: the word in D is the word at its address")
            if self.config.timing.commit_depth == 0:
                # The three-stage core: D holds the SIW after the one in X.
                with m.If(v.retire):
                    m.d.comb += A(iu.d_pc == Mux((v.c_op == COp.LOOP) | (v.c_op == COp.JUMP),
                                                 v.target, core.retire_pc + 1)[:ADDR_BITS],
                                  "aux: D holds the predicted successor of X")
                with m.Else():
                    m.d.comb += A(iu.d_pc == v.pc, "aux: with X empty, D holds pc")
        alu, fpu = core._d_lane.int_alu, core._d_lane.float_unit
        seen = dict(alu_op=alu.x_op, a=alu.x_a, b=alu.x_b, c=alu.x_c, imm16=alu.x_imm16,
                    fpu_valid=fpu.x_valid, fpu_op=fpu.x_op, fpu_tag=fpu.x_tag, fpu_a=fpu.x_a,
                    fpu_b=fpu.x_b, fpu_c=fpu.x_c, int_val=self._int_function(m, alu))
        x_seen = {}
        for name, value in seen.items():
            value = Value.cast(value)
            for age in range(self.config.timing.commit_depth):
                delayed = Signal(len(value), name=f"x_seen_{name}_{age + 1}")
                m.d.sync += delayed.eq(value)
                value = delayed
            x_seen[name] = value
        return dict(x_seen=SimpleNamespace(**x_seen))

    def _step_operands(self, m, v):
        """The registers the SIW reads, as they are before it."""
        regs, cregs = v.regs, v.cregs
        return dict(a=regs[v.rs1], b=regs[v.rs2], old_rd=regs[v.rd], s_val=regs[v.s_reg],
                    c_val=regs[v.c_reg], ckv=cregs[v.c_ck], cjv=cregs[v.cj], skv=cregs[v.s_ck])

    def _int_function(self, m, alu):
        """The D lane's integer results (section 3), as a function of what the ALU
        is given in X (its result must be this; asserted in ``_step_write_ports``
        through ``x_seen``, together with: what it was given is this SIW's).
        (In one piece the solver must see through the pipeline that two register
        reads are the same before it can compare two adders, which it does not
        finish.)"""
        xa, xb, xc, ximm = alu.x_a, alu.x_b, alu.x_c, alu.x_imm16
        d_int_val = Signal(32)
        with m.Switch(alu.x_op):
            with m.Case(DOp.IADD):
                m.d.comb += d_int_val.eq(xa + xb)
            with m.Case(DOp.ISUB):
                # a - b mod 2**32, written as two's complement a + ~b + 1 (the same
                # number); stated as ``a - b`` the solver has to prove that adder
                # identity on its own, which boolector does not finish.
                m.d.comb += d_int_val.eq(xa + ~xb + 1)
            with m.Case(DOp.AND):
                m.d.comb += d_int_val.eq(xa & xb)
            with m.Case(DOp.OR):
                m.d.comb += d_int_val.eq(xa | xb)
            with m.Case(DOp.XOR):
                m.d.comb += d_int_val.eq(xa ^ xb)
            with m.Case(DOp.SHL):
                m.d.comb += d_int_val.eq(xa << xb[:5])
            with m.Case(DOp.SHR):
                m.d.comb += d_int_val.eq(xa >> xb[:5])
            with m.Case(DOp.SRA):
                m.d.comb += d_int_val.eq(xa.as_signed() >> xb[:5])
            with m.Case(DOp.MOV):
                m.d.comb += d_int_val.eq(xa)
            with m.Case(DOp.LI):
                m.d.comb += d_int_val.eq(ximm.as_signed())
            with m.Case(DOp.LIH):
                m.d.comb += d_int_val.eq((ximm << 16) | xc[:16])
        return d_int_val

    def _step_d_lane(self, m, v):
        """Which D operations read what (section 3)."""
        d_op = v.d_op
        return dict(
            d_float=_any_of(d_op, SPEC_FLOAT_OPS),
            uses_rs1=_any_of(d_op, [o for o, ops in D_OPERANDS.items() if "rs1" in ops]),
            uses_rs2=_any_of(d_op, [o for o, ops in D_OPERANDS.items() if "rs2" in ops]),
            uses_imm=_any_of(d_op, (DOp.LI, DOp.LIH)),
            reads_rd=_any_of(d_op, (DOp.MAC, DOp.LIH)))

    def _step_s_lane(self, m, v):
        """The S lane (section 5): the rows of the set of ``[ck]``, GATHER's value,
        SCATTER's way, MEM_FULL."""
        cfg = self.config
        W, stored = cfg.ways, v.stored
        key = spec_key(v.skv, cfg.dim_bits)
        kset = spec_set(key, cfg.set_bits)
        ktag = key[cfg.set_bits:]
        krows = [SimpleNamespace(**{f: Array(getattr(stored[s][w], f) for s in range(cfg.sets))[kset]
                                    for f in ("valid", "tag", "value")}) for w in range(W)]
        kmatch = [r.valid & (r.tag == ktag) for r in krows]
        khit = Cat(*kmatch).any()
        kfull = Cat(*(r.valid for r in krows)).all()
        gather_val = Const(0, 32)
        for w in reversed(range(W)):
            gather_val = Mux(kmatch[w], krows[w].value, gather_val)
        lowest_free = Signal(range(max(W, 2)))
        for w in reversed(range(W)):
            with m.If(~krows[w].valid):
                m.d.comb += lowest_free.eq(w)
        return dict(kset=kset, ktag=ktag, khit=khit, gather_val=gather_val,
                    lowest_free=lowest_free, mem_full=v.s_scatter & ~khit & kfull)

    def _step_c_lane(self, m, v):
        """The C lane (section 3): the dimension's new value, COORD_RANGE, ``ck``'s
        new value, CGET/KEY's result, the next pc, HALT."""
        B = self.config.dim_bits
        c_op, ckv, cjv = v.c_op, v.ckv, v.cjv
        ck_dim = _dim_of(ckv, v.dim, B)
        cj_dim2 = _dim_of(cjv, v.dim2, B)
        new_dim = Signal(signed(40))
        with m.Switch(c_op):
            with m.Case(COp.CSET):
                m.d.comb += new_dim.eq(v.imm11)
            with m.Case(COp.CADD):
                m.d.comb += new_dim.eq(ck_dim + v.imm12)
            with m.Case(COp.CPUT):
                m.d.comb += new_dim.eq(v.c_val)
            with m.Case(COp.LOOP):
                m.d.comb += new_dim.eq(ck_dim + 1)
        one_dim_op = _any_of(c_op, (COp.CSET, COp.CADD, COp.CPUT, COp.LOOP))
        ck_new = Signal(NDIMS * B)
        with m.If(one_dim_op):
            m.d.comb += ck_new.eq(Cat(*(Mux(v.dim == d, new_dim[:B], ckv[d * B:(d + 1) * B])
                                        for d in range(NDIMS))))
        with m.Elif(c_op == COp.CMOV):
            m.d.comb += ck_new.eq(cjv)
        next_pc = Signal(ADDR_BITS)
        taken = (c_op == COp.JUMP) | ((c_op == COp.LOOP) & (new_dim < cj_dim2))
        m.d.comb += next_pc.eq(Mux(taken, v.target, self.core.retire_pc + 1))
        return dict(
            coord_range=one_dim_op & ((new_dim < 0) | (new_dim > (1 << B) - 1)),
            ck_written=one_dim_op | (c_op == COp.CMOV) | (c_op == COp.CCLR), ck_new=ck_new,
            c_reg_val=Mux(c_op == COp.CGET, ck_dim, spec_key(ckv, B)[:32]), next_pc=next_pc,
            halt=c_op == COp.HALT)

    def _step_fault(self, m, v):
        """The fault (section 6, the lowest code first) and so commit or not; the
        core must report the same fault, for the SIW at ``pc``."""
        core, A = self.core, self._check
        fault = Signal(Fault)
        with m.If(v.pc_range):
            m.d.comb += fault.eq(Fault.PC_RANGE)
        with m.Elif(v.illegal):
            m.d.comb += fault.eq(Fault.ILLEGAL_SIW)
        with m.Elif(v.coord_range):
            m.d.comb += fault.eq(Fault.COORD_RANGE)
        with m.Elif(v.mem_full):
            m.d.comb += fault.eq(Fault.MEM_FULL)
        commit = Signal()
        faulted = Signal()
        m.d.comb += [commit.eq(v.retire & (fault == Fault.NONE)),
                     faulted.eq(v.retire & (fault != Fault.NONE))]
        m.d.comb += A(_imp(v.retire, core.retire_fault == fault),
                           "fault: retire_fault differs from the specification")
        m.d.comb += A(_imp(v.retire, core.retire_pc == v.pc),
                           "order: the retiring SIW is not the one at pc")
        return dict(fault=fault, commit=commit, faulted=faulted,
                    n_ops=(v.d_op != 0) + (v.s_op != 0) + (v.c_op != 0))

    def _step_float_writeback(self, m, v):
        """Float results (section 7): written to their ``rd`` exactly F - 1 -
        commit_depth cycles after the op's SIW commits (F - 1 after it was in X), only
        for an SIW that commits, never before the SIWs that use that register wait
        (ready F cycles after the commit)."""
        core, A = self.core, self._check
        timing = self.config.timing
        F = timing.float_op
        rd = v.rd
        land_age = F - 1 - timing.commit_depth
        # fl[i]: a float op whose SIW committed i+1 cycles ago (valid, rd).
        fl_valid = [Signal(name=f"fl{i + 1}_valid") for i in range(F - 1)]
        fl_tag = [Signal(5, name=f"fl{i + 1}_tag") for i in range(F - 1)]
        committed_float = v.commit & v.d_float
        for i in range(F - 1):
            src_v, src_t = (committed_float, rd) if i == 0 else (fl_valid[i - 1], fl_tag[i - 1])
            m.d.sync += [fl_valid[i].eq(src_v), fl_tag[i].eq(src_t)]
        land_valid, land_tag = ((fl_valid[land_age - 1], fl_tag[land_age - 1]) if land_age
                                else (committed_float, rd))

        wp = core._regs.write
        m.d.comb += [
            A(wp[self.core_module._W_FLOAT].en == land_valid,
                   "float: write-back not exactly F-1 cycles after a committed float op's X"),
            A(_imp(land_valid, wp[self.core_module._W_FLOAT].addr == land_tag),
                   "float: result written to another register than the op's rd"),
            A(_imp((v.state == RunState.IDLE.value), ~Cat(*fl_valid[:land_age]).any()),
                   "float: core IDLE while a float result is still in flight"),
        ]
        # Interlock: a legal SIW retires only when every register it reads or writes is
        # ready (F cycles after a float op that writes it committed).
        uses = [
            (v.uses_rs1, v.rs1), (v.uses_rs2, v.rs2),
            (v.d_wr, rd), (v.s_gather | v.s_scatter, v.s_reg),
            (v.c_wr | (v.c_op == COp.CPUT), v.c_reg),
        ]
        for i in range(F - 1):
            for used, reg in uses:
                m.d.comb += A(
                    ~(v.retire & ~v.pc_range & ~v.illegal & used & fl_valid[i] &
                      (fl_tag[i] == reg)),
                    f"interlock: an SIW retires using a register a float op {i + 1} "
                    f"cycle(s) earlier has not yet made ready")
        return dict(committed_float=committed_float, land_valid=land_valid, land_tag=land_tag)

    def _step_write_ports(self, m, v):
        """Every write port this cycle: enabled exactly for the SIW's own writes,
        with its own destinations and the specification's values; none for a
        faulting SIW."""
        core, A = self.core, self._check
        mem, seen = core.coord_memory, v.x_seen
        # The memory's commit: the three-stage core's memory commits in X, the
        # pipelined one's in W.
        mem_commit = mem.x_commit if hasattr(mem, "x_commit") else mem.w_commit
        wp = core._regs.write
        W_DINT, W_GATHER, W_CREG = self.core_module._W_DINT, self.core_module._W_GATHER, self.core_module._W_CREG
        cw = core._cregs.write[self.core_module._CW_X]
        commit, rd, s_reg, c_reg = v.commit, v.rd, v.s_reg, v.c_reg
        committed_float, land_valid, land_tag = v.committed_float, v.land_valid, v.land_tag
        no_fault_write = Signal()
        m.d.comb += no_fault_write.eq(
            ~wp[W_DINT].en & ~wp[W_GATHER].en & ~wp[W_CREG].en & ~cw.en & ~mem_commit)
        m.d.comb += A(_imp(v.faulted, no_fault_write),
                           "fault: a faulting SIW enables a register, coordinate or memory write")
        d_int = commit & v.d_wr & ~v.d_float
        s_gather, c_wr = commit & v.s_gather, commit & v.c_wr
        with m.If(v.running):
            m.d.comb += [
                A(wp[W_DINT].en == d_int, "D: integer write enabled wrongly"),
                A(_imp(d_int, wp[W_DINT].addr == rd), "D: integer write to another register"),
                A(wp[W_GATHER].en == s_gather, "S: GATHER write enabled wrongly"),
                A(_imp(s_gather, wp[W_GATHER].addr == s_reg),
                       "S: GATHER writes another register"),
                A(wp[W_CREG].en == c_wr, "C: CGET/KEY write enabled wrongly"),
                A(_imp(c_wr, wp[W_CREG].addr == c_reg),
                       "C: CGET/KEY writes another register"),
                A(cw.en == (commit & v.ck_written),
                       "C: coordinate register write enabled wrongly"),
                A(_imp((commit & v.ck_written), cw.addr == v.c_ck),
                       "C: another coordinate register written"),
                A(mem_commit == commit, "S: memory commit differs from the SIW's commit"),
                # The values written: the specification's (section 3).  The lanes
                # computed them in X, commit_depth cycles ago (x_seen).
                A(_imp(d_int, seen.alu_op == v.d_op), "value: D operation is not the SIW's"),
                A(_imp((d_int & v.uses_rs1), seen.a == v.a),
                  "value: D rs1 operand is not regs[rs1]"),
                A(_imp((d_int & v.uses_rs2), seen.b == v.b),
                  "value: D rs2 operand is not regs[rs2]"),
                A(_imp((d_int & v.uses_imm), seen.imm16 == v.imm16),
                  "value: D imm16 is not the SIW's"),
                A(_imp((d_int & v.reads_rd), seen.c == v.old_rd),
                  "value: D rd operand is not regs[rd]"),
                A(_imp(d_int, wp[W_DINT].data == seen.int_val), "value: D integer result"),
                A(_imp(committed_float, seen.fpu_valid & (seen.fpu_op == v.d_op) &
                       (seen.fpu_tag == rd)),
                  "value: float op not issued, or its op or destination is not the SIW's"),
                A(_imp((committed_float & v.uses_rs1), seen.fpu_a == v.a),
                  "value: float rs1 operand"),
                A(_imp((committed_float & v.uses_rs2), seen.fpu_b == v.b),
                  "value: float rs2 operand"),
                A(_imp((committed_float & v.reads_rd), seen.fpu_c == v.old_rd),
                  "value: float rd operand"),
                A(_imp(s_gather, wp[W_GATHER].data == v.gather_val), "value: GATHER result"),
                A(_imp(c_wr, wp[W_CREG].data == v.c_reg_val), "value: CGET/KEY result"),
                # No two writes of one register in one cycle (WAW by the interlock).
                A(~(land_valid & d_int & (land_tag == rd)), "float write-back meets D write"),
                A(~(land_valid & s_gather & (land_tag == s_reg)),
                       "float write-back meets GATHER"),
                A(~(land_valid & c_wr & (land_tag == c_reg)),
                       "float write-back meets CGET/KEY"),
            ]
        return dict(d_int=d_int)

    def _step_next_state(self, m, v):
        """The state after this cycle: expected values computed now, compared in the
        next cycle (while the core was RUN or DRAIN in this one: only then is the
        host kept out)."""
        cfg, core, A = self.config, self.core, self._check
        dbg, wp = core.debug, core._regs.write
        W_DINT, W_GATHER, W_CREG = self.core_module._W_DINT, self.core_module._W_GATHER, self.core_module._W_CREG
        commit, faulted, stored, regs, cregs = v.commit, v.faulted, v.stored, v.regs, v.cregs
        R = Signal(5)
        Q = Signal(3)
        m.d.comb += [R.eq(AnyConst(5)), Q.eq(AnyConst(3))]
        exp_reg = Signal(32)
        with m.If(v.land_valid & (v.land_tag == R)):
            m.d.comb += exp_reg.eq(wp[self.core_module._W_FLOAT].data)
        with m.Elif(v.d_int & (v.rd == R)):
            m.d.comb += exp_reg.eq(wp[W_DINT].data)
        with m.Elif(commit & v.s_gather & (v.s_reg == R)):
            m.d.comb += exp_reg.eq(wp[W_GATHER].data)
        with m.Elif(commit & v.c_wr & (v.c_reg == R)):
            m.d.comb += exp_reg.eq(wp[W_CREG].data)
        with m.Else():
            m.d.comb += exp_reg.eq(regs[R])
        exp_creg = Mux(commit & v.ck_written & (v.c_ck == Q), v.ck_new, cregs[Q])

        exp_rows = []
        for s in range(cfg.sets):
            for w in range(cfg.ways):
                row = stored[s][w]
                here = commit & (v.kset == s)
                matches = row.valid & (row.tag == v.ktag)
                store = here & v.s_scatter & (matches | (~v.khit & (v.lowest_free == w) &
                                                         ~row.valid))
                clear = here & v.s_erase & matches
                exp_rows.append((row, store, clear))

        exp = SimpleNamespace(
            reg=Signal(32), creg=Signal(NDIMS * cfg.dim_bits), cycles=Signal(len(core.cycles)),
            siws=Signal(len(core.siws)), ops=Signal(len(core.ops)), pc=Signal(ADDR_BITS),
            fault=Signal(4), fault_pc=Signal(ADDR_BITS), ended=Signal(),
            rows=[SimpleNamespace(store=Signal(), clear=Signal(), row=Signal(r.shape()),
                                  tag=Signal(len(v.ktag)), value=Signal(32))
                  for r, _, _ in exp_rows])
        check = Signal()
        m.d.sync += [
            check.eq(v.running),
            exp.reg.eq(exp_reg),
            exp.creg.eq(exp_creg),
            exp.cycles.eq(core.cycles + (v.state == RunState.RUN.value)),
            exp.siws.eq(core.siws + commit),
            exp.ops.eq(core.ops + Mux(commit, v.n_ops, 0)),
            exp.pc.eq(Mux(commit, Mux(v.halt, core.retire_pc + 1, v.next_pc),
                          Mux(faulted, core.retire_pc, v.pc))),
            exp.fault.eq(Mux(faulted, v.fault, dbg.fault)),
            exp.fault_pc.eq(Mux(faulted, core.retire_pc, core.fault_pc_full)),
            exp.ended.eq(faulted | (commit & v.halt)),
        ]
        for (row, store, clear), e in zip(exp_rows, exp.rows):
            m.d.sync += [e.store.eq(store), e.clear.eq(clear), e.row.eq(row),
                         e.tag.eq(v.ktag), e.value.eq(v.s_val)]

        with m.If(v.past_valid & check):
            m.d.comb += [
                A(regs[R] == exp.reg, "state: data register differs from the specification"),
                A(cregs[Q] == exp.creg,
                       "state: coordinate register differs from the specification"),
                A(core.cycles == exp.cycles, "state: cycles"),
                A(core.siws == exp.siws, "state: siws"),
                A(core.ops == exp.ops, "state: ops"),
                A(v.pc == exp.pc, "state: pc"),
                A(dbg.fault == exp.fault, "state: fault"),
                A(core.fault_pc_full == exp.fault_pc, "state: fault_pc"),
                A(_imp(exp.ended, v.state != RunState.RUN.value),
                       "state: the run goes on after a fault or HALT"),
            ]
            i = 0
            for s in range(cfg.sets):
                for w in range(cfg.ways):
                    row, e = stored[s][w], exp.rows[i]
                    i += 1
                    with m.If(e.store):
                        m.d.comb += A(row.valid & (row.tag == e.tag) & (row.value == e.value),
                                           f"memory: SCATTER did not store set {s} way {w}")
                    with m.Elif(e.clear):
                        m.d.comb += A(~row.valid, f"memory: ERASE left set {s} way {w}")
                    with m.Else():
                        m.d.comb += A(row.as_value() == e.row.as_value(),
                                           f"memory: set {s} way {w} changed")
        return {}
