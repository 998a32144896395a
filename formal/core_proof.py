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
  result (IADD ... LIH, written here) at the end of the cycle, or, for a float op,
  through the float write-back exactly F-1 cycles later (value abstracted, see
  below); GATHER writes ``rd`` with the stored value or 0; CGET / KEY write ``rd``
  with the dimension / the low 32 key bits (Morton key written here); SCATTER /
  ERASE change only the row of their own coordinate (the matching way, else for
  SCATTER the lowest free way); the C lane changes only ``ck`` (or ``ck.dim``) as
  defined and ``pc`` (``pc + 1``, JUMP, LOOP's taken/not-taken target); HALT ends
  the run with ``pc`` = its address + 1; ``siws`` + 1, ``ops`` + its non-NOP slots,
  and nothing else changes (no other register, coordinate register or row);
* every write port is enabled exactly as above: the integer, GATHER and CGET/KEY
  ports with the SIW's own ``rd``, the float port only F-1 cycles after a float
  op committed, with that op's ``rd``;
* interlock: a legal SIW never retires while a float result it reads or writes
  is still on its way (its value lands at the end of this cycle or later), so
  it reads the value of section 7; float results of a run that ended still land
  before the core is IDLE;
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
state of a run (see FREE_START_SCRIPT below), a run accepted in cycle 0 retires
its first SIW in cycle 3, so depth N covers the first N-3 SIWs of the run (the
state after them: N-4).  Full k-induction on the whole core was tried (k = 2..5)
and did not finish in 15 minutes per attempt.  ``skip`` (message prefixes) turns
assertions off, to find which one is expensive.

Environment and abstractions (stated in formal/README.md too):

* **Program memory**: the core's ``Memory`` is replaced by :class:`RomStandIn`,
  ``prog_depth`` words of ``AnyConst(64)`` behind the same synchronous read port
  (``addr``, ``en``, ``data``; ``data`` holds while ``en`` is low).  So the proof
  covers every program; host ``WRITE_PROG`` has no effect on it.
* **Float unit**: :class:`OpaqueFloatUnit` is the real :class:`FloatUnit` with
  every datapath step replaced by wiring of valid/tag/op and an ``AnySeq`` result:
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

from types import SimpleNamespace

from amaranth.asserts import AnyConst, AnySeq
from amaranth.hdl import (Array, Assert, Assume, Cat, Const, Elaboratable, Module, Mux,
                          ResetSignal, Signal, Value, signed)
from amaranth.lib import wiring

import hdl.core as core_module
import hdl.d_lane.float_unit as float_unit_module
from hdl.coord_memory import CoordinateMemory
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


class CoreCommitProof(wiring.Component):
    """The harness (see the module docstring).

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
        "top.core.issue/w:pc top.core.issue/w:fault_pc top.core/w:*prog_len* "
        "top.core.coord_memory/w:way*",
    )

    def __init__(self, config=None, core_class=None, free_start=True, skip=()):
        self.config = config if config is not None else CoreConfig(
            dim_bits=1, set_bits=1, ways=1, prog_depth=4, float_latency=2)
        core_class = core_class if core_class is not None else core_module.Sentron
        cfg = self.config
        core = core_class(cfg)
        for unused in (core._prog, core._fpu, core.coord_memory):
            unused._MustUse__silence = True       # replaced below, never elaborated
        core._prog = RomStandIn(cfg.prog_depth)
        core._fpu = OpaqueFloatUnit(cfg.float_latency)
        core.coord_memory = probed(CoordinateMemory)(cfg.dim_bits, cfg.set_bits, cfg.ways,
                                                     probes=cfg.sets)
        self.core = core
        self.free_start = free_start
        self.skip = tuple(skip)
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        cfg = self.config

        def A(test, message):
            # An assertion, unless its message starts with one of ``self.skip``.
            if any(message.startswith(p) for p in self.skip):
                return Assert(Const(1, 1), message)
            return Assert(test, message)

        B, S, W, F = cfg.dim_bits, cfg.set_bits, cfg.ways, cfg.float_latency
        maxv = (1 << B) - 1
        m.submodules.core = core = self.core
        dbg = core.debug
        mem = core.coord_memory
        regs = Array(core.regs)
        cregs = Array(core.cregs)

        # -------------------------------------------------------------- environment
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
                    for a in range(W):
                        for b in range(a + 1, W):
                            ra, rb = stored[s][a], stored[s][b]
                            m.d.comb += Assume(~(ra.valid & rb.valid & (ra.tag == rb.tag)))

        # As a plain value: a broken issue unit (tests) brings its own RunState class.
        state = core.run_state.as_value()
        running = (state == RunState.RUN.value) | (state == RunState.DRAIN.value)
        retire = core.retire
        pc = core.pc_full

        # -------------------------------------------------------------- auxiliary invariants
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

        # -------------------------------------------------------------- decode (section 3)
        abits = (cfg.prog_depth - 1).bit_length()
        words = Array(core._prog.words)

        def fetched(addr):
            # The word the core reads for an address: addresses beyond the program
            # memory are PC_RANGE (they fault whatever the word); the core reads word 0.
            return words[Mux(addr < cfg.prog_depth, addr, 0)[:abits]] if abits else words[0]

        word = Signal(SIW_BITS)                        # the retiring SIW
        m.d.comb += word.eq(fetched(core.retire_pc))
        d_op = _field(word, D_SLOT, D_FIELDS["op"])
        rd = _field(word, D_SLOT, D_FIELDS["rd"])
        rs1 = _field(word, D_SLOT, D_FIELDS["rs1"])
        rs2 = _field(word, D_SLOT, D_FIELDS["rs2"])
        imm16 = _field(word, D_SLOT, D_FIELDS["imm16"])
        s_op = _field(word, S_SLOT, S_FIELDS["op"])
        s_reg = _field(word, S_SLOT, S_FIELDS["reg"])
        s_ck = _field(word, S_SLOT, S_FIELDS["ck"])
        c_op = _field(word, C_SLOT, C_FIELDS["op"])
        c_ck = _field(word, C_SLOT, C_FIELDS["ck"])
        dim = _field(word, C_SLOT, C_FIELDS["dim"])
        imm11 = _field(word, C_SLOT, C_FIELDS["imm11"])
        imm12 = _field(word, C_SLOT, C_FIELDS["imm12"]).as_signed()
        cj = _field(word, C_SLOT, C_FIELDS["cj"])
        c_reg = _field(word, C_SLOT, C_FIELDS["reg"])
        dim2 = _field(word, C_SLOT, C_FIELDS["dim2"])
        target = _field(word, C_SLOT, C_FIELDS["target"])

        def stray(slot, fields, operands, op):
            value = word[slot.lsb:slot.lsb + slot.width]
            bad = ~_any_of(op, operands)                                   # rule 1
            for code in operands:                                          # rule 2
                stray_mask = ((1 << slot.width) - 1) & ~_allowed(fields, operands, code)
                bad |= (op == code) & (value & stray_mask).any()
            return bad

        d_wr = d_op != DOp.NOP
        s_gather, s_scatter, s_erase = s_op == SOp.GATHER, s_op == SOp.SCATTER, s_op == SOp.ERASE
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
        m.d.comb += pc_range.eq(core.retire_pc >= dbg.prog_len)

        # -------------------------------------------------------------- auxiliary: the pipeline
        # The SIW in D is the word at its address, and its address is the one that
        # follows the SIW in X (predicted: the target of LOOP/JUMP, else + 1) or,
        # with X empty, pc.  (Internal signals of the issue unit; used only as
        # invariants that strengthen the induction, each proven like the rest.)
        iu = core._issue
        is_run = state == RunState.RUN.value
        with m.If(is_run & iu.d_valid):
            m.d.comb += A(core._prog.rd.data == fetched(iu.d_pc),
                               "aux: the word in D is the word at its address")
            with m.If(retire):
                m.d.comb += A(iu.d_pc == Mux((c_op == COp.LOOP) | (c_op == COp.JUMP),
                                                  target, core.retire_pc + 1)[:ADDR_BITS],
                                   "aux: D holds the predicted successor of X")
            with m.Else():
                m.d.comb += A(iu.d_pc == pc, "aux: with X empty, D holds pc")

        # -------------------------------------------------------------- operands, state before the SIW
        a, b, old_rd = regs[rs1], regs[rs2], regs[rd]
        s_val, c_val = regs[s_reg], regs[c_reg]
        ckv, cjv, skv = cregs[c_ck], cregs[cj], cregs[s_ck]

        def dim_of(coord, index):
            return Array(coord[d * B:(d + 1) * B] for d in range(NDIMS))[index]

        # -------------------------------------------------------------- D lane (integer results)
        # Stated in two parts, both asserted: the ALU gets this SIW's operation and
        # operands (regs[rs1], regs[rs2], regs[rd], imm16), and on them it computes
        # the function below.  (In one piece the solver must see through the
        # pipeline that two register reads are the same before it can compare
        # two adders, which it does not finish.)
        d_float = _any_of(d_op, SPEC_FLOAT_OPS)
        alu = core._alu
        xa, xb, xc, ximm = alu.a, alu.b, alu.c, alu.imm16
        d_int_val = Signal(32)
        with m.Switch(alu.op):
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
        uses_rs1 = _any_of(d_op, [o for o, ops in D_OPERANDS.items() if "rs1" in ops])
        uses_rs2 = _any_of(d_op, [o for o, ops in D_OPERANDS.items() if "rs2" in ops])
        uses_imm = _any_of(d_op, (DOp.LI, DOp.LIH))
        reads_rd = _any_of(d_op, (DOp.MAC, DOp.LIH))

        # -------------------------------------------------------------- S lane
        key = spec_key(skv, B)
        kset = spec_set(key, S)
        ktag = key[S:]
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
        mem_full = s_scatter & ~khit & kfull

        # -------------------------------------------------------------- C lane
        ck_dim = dim_of(ckv, dim)
        cj_dim2 = dim_of(cjv, dim2)
        new_dim = Signal(signed(40))
        with m.Switch(c_op):
            with m.Case(COp.CSET):
                m.d.comb += new_dim.eq(imm11)
            with m.Case(COp.CADD):
                m.d.comb += new_dim.eq(ck_dim + imm12)
            with m.Case(COp.CPUT):
                m.d.comb += new_dim.eq(c_val)
            with m.Case(COp.LOOP):
                m.d.comb += new_dim.eq(ck_dim + 1)
        one_dim_op = _any_of(c_op, (COp.CSET, COp.CADD, COp.CPUT, COp.LOOP))
        coord_range = one_dim_op & ((new_dim < 0) | (new_dim > maxv))
        ck_written = one_dim_op | (c_op == COp.CMOV) | (c_op == COp.CCLR)
        ck_new = Signal(NDIMS * B)
        with m.If(one_dim_op):
            m.d.comb += ck_new.eq(Cat(*(Mux(dim == d, new_dim[:B], ckv[d * B:(d + 1) * B])
                                        for d in range(NDIMS))))
        with m.Elif(c_op == COp.CMOV):
            m.d.comb += ck_new.eq(cjv)
        c_reg_val = Mux(c_op == COp.CGET, ck_dim, spec_key(ckv, B)[:32])
        next_pc = Signal(ADDR_BITS)
        taken = (c_op == COp.JUMP) | ((c_op == COp.LOOP) & (new_dim < cj_dim2))
        m.d.comb += next_pc.eq(Mux(taken, target, core.retire_pc + 1))
        halt = c_op == COp.HALT

        # -------------------------------------------------------------- fault and commit (section 6)
        fault = Signal(Fault)
        with m.If(pc_range):
            m.d.comb += fault.eq(Fault.PC_RANGE)
        with m.Elif(illegal):
            m.d.comb += fault.eq(Fault.ILLEGAL_SIW)
        with m.Elif(coord_range):
            m.d.comb += fault.eq(Fault.COORD_RANGE)
        with m.Elif(mem_full):
            m.d.comb += fault.eq(Fault.MEM_FULL)
        commit = Signal()
        faulted = Signal()
        m.d.comb += [commit.eq(retire & (fault == Fault.NONE)),
                     faulted.eq(retire & (fault != Fault.NONE))]
        n_ops = (d_op != 0) + (s_op != 0) + (c_op != 0)

        m.d.comb += A(_imp(retire, core.retire_fault == fault),
                           "fault: retire_fault differs from the specification")
        m.d.comb += A(_imp(retire, core.retire_pc == pc),
                           "order: the retiring SIW is not the one at pc")

        # -------------------------------------------------------------- float write-back (section 7)
        # fl[i]: a float op that committed i+1 cycles ago (valid, rd).  One that
        # commits in cycle t lands at the end of t+F-1: fl[F-2], or itself if F = 1.
        fl_valid = [Signal(name=f"fl{i + 1}_valid") for i in range(F - 1)]
        fl_tag = [Signal(5, name=f"fl{i + 1}_tag") for i in range(F - 1)]
        issue_float = commit & d_float
        for i in range(F - 1):
            src_v, src_t = (issue_float, rd) if i == 0 else (fl_valid[i - 1], fl_tag[i - 1])
            m.d.sync += [fl_valid[i].eq(src_v), fl_tag[i].eq(src_t)]
        land_valid, land_tag = (fl_valid[-1], fl_tag[-1]) if F > 1 else (issue_float, rd)

        wp = core._regs.write
        W_DINT, W_GATHER, W_CREG, W_FLOAT = (core_module._W_DINT, core_module._W_GATHER,
                                             core_module._W_CREG, core_module._W_FLOAT)
        fpu = core._fpu
        m.d.comb += [
            A(wp[W_FLOAT].en == land_valid,
                   "float: write-back not exactly F-1 cycles after a float op committed"),
            A(_imp(land_valid, wp[W_FLOAT].addr == land_tag),
                   "float: result written to another register than the op's rd"),
            A(_imp((state == RunState.IDLE.value), ~Cat(*fl_valid).any()),
                   "float: core IDLE while a float result is still in flight"),
        ]
        # Interlock: a legal SIW retires only when every register it reads or writes is
        # ready (no float result for it lands at the end of this cycle or later).
        uses = [
            (uses_rs1, rs1), (uses_rs2, rs2),
            (d_wr, rd), (s_gather | s_scatter, s_reg), (c_wr | (c_op == COp.CPUT), c_reg),
        ]
        for i in range(F - 1):
            for used, reg in uses:
                m.d.comb += A(
                    ~(retire & ~pc_range & ~illegal & used & fl_valid[i] & (fl_tag[i] == reg)),
                    f"interlock: an SIW retires using a register a float op {i + 1} "
                    f"cycle(s) earlier has not yet written")

        # -------------------------------------------------------------- write ports this cycle
        no_fault_write = Signal()
        m.d.comb += no_fault_write.eq(
            ~wp[W_DINT].en & ~wp[W_GATHER].en & ~wp[W_CREG].en &
            ~core._cregs.write[core_module._CW_X].en & ~mem.x_commit)
        m.d.comb += A(_imp(faulted, no_fault_write),
                           "fault: a faulting SIW enables a register, coordinate or memory write")
        d_int = commit & d_wr & ~d_float
        with m.If(running):
            m.d.comb += [
                A(wp[W_DINT].en == d_int, "D: integer write enabled wrongly"),
                A(_imp(d_int, wp[W_DINT].addr == rd), "D: integer write to another register"),
                A(wp[W_GATHER].en == (commit & s_gather), "S: GATHER write enabled wrongly"),
                A(_imp((commit & s_gather), wp[W_GATHER].addr == s_reg),
                       "S: GATHER writes another register"),
                A(wp[W_CREG].en == (commit & c_wr), "C: CGET/KEY write enabled wrongly"),
                A(_imp((commit & c_wr), wp[W_CREG].addr == c_reg),
                       "C: CGET/KEY writes another register"),
                A(core._cregs.write[core_module._CW_X].en == (commit & ck_written),
                       "C: coordinate register write enabled wrongly"),
                A(_imp((commit & ck_written), core._cregs.write[core_module._CW_X].addr == c_ck),
                       "C: another coordinate register written"),
                A(mem.x_commit == commit, "S: memory commit differs from the SIW's commit"),
                # The values written: the specification's (section 3).
                A(_imp(d_int, alu.op == d_op), "value: D operation is not the SIW's"),
                A(_imp((d_int & uses_rs1), xa == a), "value: D rs1 operand is not regs[rs1]"),
                A(_imp((d_int & uses_rs2), xb == b), "value: D rs2 operand is not regs[rs2]"),
                A(_imp((d_int & uses_imm), ximm == imm16), "value: D imm16 is not the SIW's"),
                A(_imp((d_int & reads_rd), xc == old_rd), "value: D rd operand is not regs[rd]"),
                A(_imp(d_int, wp[W_DINT].data == d_int_val), "value: D integer result"),
                A(_imp(issue_float, (fpu.x_op == d_op) & (fpu.x_tag == rd)),
                  "value: float op or destination is not the SIW's"),
                A(_imp((issue_float & uses_rs1), fpu.x_a == a), "value: float rs1 operand"),
                A(_imp((issue_float & uses_rs2), fpu.x_b == b), "value: float rs2 operand"),
                A(_imp((issue_float & reads_rd), fpu.x_c == old_rd), "value: float rd operand"),
                A(fpu.x_valid == issue_float, "value: float unit issued wrongly"),
                A(_imp((commit & s_gather), wp[W_GATHER].data == gather_val),
                  "value: GATHER result"),
                A(_imp((commit & c_wr), wp[W_CREG].data == c_reg_val), "value: CGET/KEY result"),
                # No two writes of one register in one cycle (WAW by the interlock).
                A(~(land_valid & d_int & (land_tag == rd)), "float write-back meets D write"),
                A(~(land_valid & commit & s_gather & (land_tag == s_reg)),
                       "float write-back meets GATHER"),
                A(~(land_valid & commit & c_wr & (land_tag == c_reg)),
                       "float write-back meets CGET/KEY"),
            ]

        # -------------------------------------------------------------- the state after this cycle
        # Expected next values, computed now, compared in the next cycle (while the
        # core was RUN or DRAIN in this one: only then is the host kept out).
        R = Signal(5)
        Q = Signal(3)
        m.d.comb += [R.eq(AnyConst(5)), Q.eq(AnyConst(3))]
        exp_reg = Signal(32)
        with m.If(land_valid & (land_tag == R)):
            m.d.comb += exp_reg.eq(fpu.w_result)
        with m.Elif(d_int & (rd == R)):
            m.d.comb += exp_reg.eq(wp[W_DINT].data)
        with m.Elif(commit & s_gather & (s_reg == R)):
            m.d.comb += exp_reg.eq(wp[W_GATHER].data)
        with m.Elif(commit & c_wr & (c_reg == R)):
            m.d.comb += exp_reg.eq(wp[W_CREG].data)
        with m.Else():
            m.d.comb += exp_reg.eq(regs[R])
        exp_creg = Mux(commit & ck_written & (c_ck == Q), ck_new, cregs[Q])

        exp_rows = []
        for s in range(cfg.sets):
            for w in range(W):
                row = stored[s][w]
                here = commit & (kset == s)
                matches = row.valid & (row.tag == ktag)
                store = here & s_scatter & (matches | (~khit & (lowest_free == w) & ~row.valid))
                clear = here & s_erase & matches
                exp_rows.append((row, store, clear))

        exp = SimpleNamespace(
            reg=Signal(32), creg=Signal(NDIMS * B), cycles=Signal(len(core.cycles)),
            siws=Signal(len(core.siws)), ops=Signal(len(core.ops)), pc=Signal(ADDR_BITS),
            fault=Signal(4), fault_pc=Signal(ADDR_BITS), ended=Signal(),
            rows=[SimpleNamespace(store=Signal(), clear=Signal(), row=Signal(r.shape()),
                                  tag=Signal(len(ktag)), value=Signal(32))
                  for r, _, _ in exp_rows])
        check = Signal()
        m.d.sync += [
            check.eq(running),
            exp.reg.eq(exp_reg),
            exp.creg.eq(exp_creg),
            exp.cycles.eq(core.cycles + (state == RunState.RUN.value)),
            exp.siws.eq(core.siws + commit),
            exp.ops.eq(core.ops + Mux(commit, n_ops, 0)),
            exp.pc.eq(Mux(commit, Mux(halt, core.retire_pc + 1, next_pc),
                          Mux(faulted, core.retire_pc, pc))),
            exp.fault.eq(Mux(faulted, fault, dbg.fault)),
            exp.fault_pc.eq(Mux(faulted, core.retire_pc, core.fault_pc_full)),
            exp.ended.eq(faulted | (commit & halt)),
        ]
        for (row, store, clear), e in zip(exp_rows, exp.rows):
            m.d.sync += [e.store.eq(store), e.clear.eq(clear), e.row.eq(row),
                         e.tag.eq(ktag), e.value.eq(s_val)]

        with m.If(past_valid & check):
            m.d.comb += [
                A(regs[R] == exp.reg, "state: data register differs from the specification"),
                A(cregs[Q] == exp.creg,
                       "state: coordinate register differs from the specification"),
                A(core.cycles == exp.cycles, "state: cycles"),
                A(core.siws == exp.siws, "state: siws"),
                A(core.ops == exp.ops, "state: ops"),
                A(pc == exp.pc, "state: pc"),
                A(dbg.fault == exp.fault, "state: fault"),
                A(core.fault_pc_full == exp.fault_pc, "state: fault_pc"),
                A(_imp(exp.ended, state != RunState.RUN.value),
                       "state: the run goes on after a fault or HALT"),
            ]
            i = 0
            for s in range(cfg.sets):
                for w in range(W):
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
        return m
