"""The Sentron core: program memory, decoder, register files, the three lanes, issue unit, debug port.

One SIW's journey, in the order this file wires it:

1. **F** — the issue unit presents ``f_addr`` to program memory (synchronous read).
2. **D** — the word is decoded (:class:`hdl.decoder.Decoder`); the coordinate
   memory reads the set of the S lane's ``[ck]``, with ``ck`` forwarded from the
   SIW in X if that one writes it; the issue unit checks the interlock.
3. **X** — the SIW reads the data registers (flip-flops, combinational), the D
   lane computes (integer ALU, or issues to the float unit), the S lane uses the
   memory rows read in D, the C lane computes coordinates and the branch; the
   issue unit picks the fault code and either commits every lane at the end of
   the cycle or none.
4. **W** — float results land ``F`` cycles after issue (``w_*`` of the float unit).

A *cycle* here is one clock, except with ``regfile="bram"`` (the iCE40 build):
then each cycle is :data:`BRAM_STEPS` clocks, the state above moves in the last
one, and the register files use the others to read X's operands from block RAM
in turn (``_clocking``).  A core with ``float_latency`` 0 has no float unit; its
decoder makes the float operations illegal SIWs.

The debug port (``hdl/debug.py``) is the only way in: it loads programs, reads
and writes every piece of state while the core is idle, and starts, steps and
halts runs.  Memory commands reuse the coordinate memory's D/X ports (lookup in
one cycle, act in the next), so the host goes through exactly the placement
logic a SCATTER does.
"""

from types import SimpleNamespace

from amaranth.hdl import Array, Cat, EnableInserter, Module, Mux, Signal
from amaranth.lib import enum, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import Out

from sim.isa.encoding import NDIMS, PC_BITS, SIW_BITS, CoreConfig, SOp

from .c_lane import CLane
from .coord_memory import CoordinateMemory
from .debug import DebugCmd, DebugError, DebugSignature
from .decoder import Decoder
from .d_lane.float_unit import FloatUnit
from .d_lane.int_alu import IntAlu
from .issue import IssueUnit, RunState
from .morton import morton_coord_value, morton_key_value
from .regfile import BlockRamRegisterFile, RegisterFile, make_register_file

__all__ = ["Sentron", "BRAM_STEPS", "block_ram_register_files"]

# Read and write ports of the data register file, by role.
# The host reads through the rs1 and ck ports: it reads only while the core is
# idle, when X is empty and those ports are free (a 32:1 and an 8:1 mux saved).
_R_RS1, _R_RS2, _R_DRD, _R_SREG, _R_CREG = range(5)
_R_DEBUG = _R_RS1
# Likewise the host writes through the D lane's integer write port and the C
# lane's coordinate write port (a whole write port costs a mux per flip-flop).
_W_DINT, _W_GATHER, _W_CREG, _W_FLOAT = range(4)
_W_DEBUG = _W_DINT
# Read and write ports of the coordinate register file.
_C_CK, _C_CJ, _C_DKEY = range(3)
_C_DEBUG = _C_CK
_CW_X = 0
_CW_DEBUG = _CW_X


#: Clocks per cycle of a core with block RAM register files (``regfile="bram"``):
#: the data file's five reads on two copies take three clocks, plus one to answer
#: and one to hold (hdl/regfile.py); the four writes of a cycle fit in five.
BRAM_STEPS = 5


def block_ram_register_files(dim_bits):
    """The shapes of the data and coordinate register files of a core with
    ``regfile="bram"`` (keyword arguments of :class:`BlockRamRegisterFile`): the
    data file on two block RAM copies, the coordinate file on one."""
    return (dict(width=32, depth=32, read_ports=5, write_ports=4, steps=BRAM_STEPS, copies=2),
            dict(width=NDIMS * dim_bits, depth=8, read_ports=3, write_ports=1, steps=BRAM_STEPS,
                 copies=1))


class _Phase(enum.Enum, shape=1):
    """Debug commands that need the memory answer one cycle after they are accepted."""
    ACCEPT = 0      # waiting for a request (or answering a one-cycle one)
    SECOND = 1      # READ_PROG's word / MEM_* and SLOT_READ's rows are available now


class Sentron(wiring.Component):
    """One Sentron core behind its debug port.

    Parameters
    ----------
    config : sim.isa.encoding.CoreConfig
        ``dim_bits``, ``set_bits``, ``ways``, ``prog_depth``, ``float_latency``.
    memory_init : sequence of (key, value)
        Initial coordinate-memory contents, placed in order (docs/isa.md section 5).
    regfile : "ff", "lutram" or "bram"
        How the data register file is built (``hdl/regfile.py``): flip-flops (any
        FPGA; the default), LUT RAM with a live value table (ECP5: a fifth of
        the logic), or block RAM, both register files, served in turn over
        :data:`BRAM_STEPS` clocks per cycle (iCE40, which has no LUT RAM: a
        few hundred LUTs instead of ten thousand, at a fifth of the clock rate).
        The same behaviour, cycle for cycle, every way.

    Attributes
    ----------
    debug : Out(DebugSignature(dim_bits))
        The debug port (see :mod:`hdl.debug`).  Requests other than HALT get
        ``BUSY`` while ``running``.  RUN and STEP answer as the run starts
        (``running`` is high in the answer's cycle); poll ``running`` for the end.

    Observation points (plain attributes, for test benches and the lockstep
    checker; read them with ``ctx.get``):

    retire : Signal(1)
        An SIW leaves X this cycle: it commits, or it faults and ends the run.
        ``cycles`` in the same cycle is its retire cycle (docs/isa.md section 7).
    retire_pc : Signal(PC_BITS + 1)
        Address of the retiring SIW (1024 for running off a full program memory).
    retire_fault : Signal(Fault)
        NONE if it commits, else the fault that ends the run.
    retire_ops : Signal(2)
        Non-NOP slots of the retiring SIW.
    commit : Signal(1)
        ``retire`` and no fault: every lane writes at the end of this cycle.
    regs : list of 32 Signal(32)
        The data registers.  A float result issued in cycle t appears in cycle
        t + F (the lockstep checker compares with ``Machine.regs_at``).
    cregs : list of 8 Signal(9*B)
        The coordinate registers, dimension ``d`` at bits ``[d*B, (d+1)*B)``.
    cycles, siws, ops : Signal(COUNTER_BITS)
        The counters (also on the debug port).
    pc_full : Signal(PC_BITS + 1)
        The architectural pc with its carry bit (the debug port shows PC_BITS).
    fault_pc_full : Signal(PC_BITS + 1)
    stall : Signal(1)
        The SIW in D waits for a float result (interlock) this cycle.
    run_state : Signal(RunState)
        IDLE, RUN or DRAIN.
    arch_edge : Signal(1)
        The last clock of a cycle, when the state above moves; always 1 unless
        ``micro_cycles`` > 1.  Observe the core in these clocks only.
    micro_cycles : int
        Clocks per cycle (1, or :data:`BRAM_STEPS` for ``regfile="bram"``).
    coord_memory : CoordinateMemory
        The coordinate memory (its ``image`` holds the placed initial contents).
    """

    def __init__(self, config=None, memory_init=(), regfile="ff"):
        config = config if config is not None else CoreConfig()
        if not isinstance(config, CoreConfig):
            raise TypeError(f"config must be a CoreConfig, not {config!r}")
        self.config = config
        self.regfile_kind = regfile
        B = config.dim_bits
        self.coord_bits = NDIMS * B
        super().__init__({"debug": Out(DebugSignature(B))})

        self._prog = Memory(shape=SIW_BITS, depth=config.prog_depth, init=[])
        self._decoder = Decoder(has_float=config.has_float)
        if regfile == "bram":
            self.micro_cycles = BRAM_STEPS
            data, coord = block_ram_register_files(B)
            self._regs = BlockRamRegisterFile(**data)
            self._cregs = BlockRamRegisterFile(**coord)
        else:
            self.micro_cycles = 1
            self._regs = make_register_file(regfile, 32, 32, read_ports=5, write_ports=4)
            self._cregs = RegisterFile(self.coord_bits, 8, read_ports=3, write_ports=1)
        self.arch_edge = Signal()
        self._resp_valid = Signal()
        self._req_valid_all_cycle = Signal()
        self._clane = CLane(B)
        self._alu = IntAlu()
        # float_latency 0: no float unit; the decoder makes float operations illegal.
        self._fpu = FloatUnit(config.float_latency) if config.has_float else None
        self.coord_memory = CoordinateMemory(B, config.set_bits, config.ways, init=memory_init)
        self._issue = IssueUnit(max(config.float_latency, 1))

        iu = self._issue
        self.retire = iu.retire
        self.retire_pc = iu.x.pc
        self.retire_fault = iu.x_fault
        self.retire_ops = iu.x.dec.ops
        self.commit = iu.x_commit
        self.regs = self._regs.storage
        self.cregs = self._cregs.storage
        self.cycles = iu.cycles
        self.siws = iu.siws
        self.ops = iu.ops
        self.pc_full = iu.pc
        self.fault_pc_full = iu.fault_pc
        self.stall = iu.d_stall
        self.run_state = iu.state

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        B = cfg.dim_bits
        dbg = self.debug
        iu, dec, regs, cregs = self._issue, self._decoder, self._regs, self._cregs
        cl, alu, fpu, mem = self._clane, self._alu, self._fpu, self.coord_memory
        m.submodules.prog = self._prog
        m.submodules.decoder = dec
        m.submodules.clane = cl
        m.submodules.alu = alu
        if fpu is not None:
            m.submodules.fpu = fpu
        m.submodules.coord_memory = mem
        m.submodules.issue = iu

        idle = iu.state == RunState.IDLE
        prog_len = Signal(PC_BITS + 1)
        m.d.comb += iu.prog_len.eq(prog_len)

        def key(coord):
            return morton_key_value(coord, NDIMS, B)

        # -------------------------------------------------------------- F and D
        prog_rd = self._prog.read_port()
        prog_wr = self._prog.write_port()
        fetch_in_range = iu.f_addr < cfg.prog_depth
        m.d.comb += [
            # While idle the read port serves READ_PROG (the debug logic overrides).
            prog_rd.addr.eq(Mux(fetch_in_range, iu.f_addr, 0)),
            prog_rd.en.eq(iu.f_en),
            dec.siw.eq(prog_rd.data),
            iu.d_dec.eq(dec.out),
        ]
        d = dec.out
        x = iu.x
        xd = x.dec

        # -------------------------------------------------------------- X: read registers
        rs1 = regs.read[_R_RS1].data
        rs2 = regs.read[_R_RS2].data
        drd = regs.read[_R_DRD].data
        sreg = regs.read[_R_SREG].data
        creg = regs.read[_R_CREG].data
        m.d.comb += [
            regs.read[_R_RS1].addr.eq(xd.d_rs1),
            regs.read[_R_RS2].addr.eq(xd.d_rs2),
            regs.read[_R_DRD].addr.eq(xd.d_rd),
            regs.read[_R_SREG].addr.eq(xd.s_reg),
            regs.read[_R_CREG].addr.eq(xd.c_reg),
            cregs.read[_C_CK].addr.eq(xd.c_ck),
            cregs.read[_C_CJ].addr.eq(xd.c_cj),
            cregs.read[_C_DKEY].addr.eq(d.s_ck),
        ]

        # -------------------------------------------------------------- X: D lane
        m.d.comb += [
            alu.op.eq(xd.d_op),
            alu.a.eq(rs1),
            alu.b.eq(rs2),
            alu.c.eq(drd),
            alu.imm16.eq(xd.d_imm16),
        ]
        if fpu is not None:
            m.d.comb += [
                fpu.x_valid.eq(iu.x_float),
                fpu.x_op.eq(xd.d_op),
                fpu.x_a.eq(rs1),
                fpu.x_b.eq(rs2),
                fpu.x_c.eq(drd),
                fpu.x_tag.eq(xd.d_rd),
            ]

        # -------------------------------------------------------------- X: C lane
        m.d.comb += [
            cl.op.eq(xd.c_op),
            cl.ck.eq(cregs.read[_C_CK].data),
            cl.cj.eq(cregs.read[_C_CJ].data),
            cl.dim.eq(xd.c_dim),
            cl.dim2.eq(xd.c_dim2),
            cl.imm11.eq(xd.c_imm11),
            cl.imm12.eq(xd.c_imm12),
            cl.rs.eq(creg),
            cl.pc.eq(x.pc[:PC_BITS]),
            cl.target.eq(xd.c_target),
            iu.x_range_fault.eq(cl.range_fault),
            iu.x_loop_not_taken.eq(cl.loop_not_taken),
            iu.x_halt.eq(cl.halt),
            # A PC_RANGE SIW at 1024 has x.pc[:PC_BITS] = 0; it faults, so its
            # next_pc is never used.
            iu.x_next_pc.eq(cl.next_pc),
        ]

        # -------------------------------------------------------------- S lane glue
        # D: the set of [ck] is read this cycle.  If the SIW in X writes ck, D must
        # see the value it writes (it lands at the end of this cycle).  X's commit
        # is not required here: if X faults, D is squashed and the lookup unused.
        x_writes_dck = x.valid & cl.ck_we & (xd.c_ck == d.s_ck)
        d_ck = Mux(x_writes_dck, cl.ck_new, cregs.read[_C_DKEY].data)
        # X: the key is the one D looked up.  It was computed from ck as it is now
        # (forwarded), so a register replaces a third coordinate-register read port.
        x_key = Signal(self.coord_bits)
        m.d.sync += x_key.eq(key(d_ck))
        m.d.comb += [
            mem.d_key.eq(key(d_ck)),
            mem.x_key.eq(x_key),
            mem.x_op.eq(Mux(x.valid, xd.s_op, SOp.NOP)),
            mem.x_wdata.eq(sreg),
            mem.x_commit.eq(iu.x_commit),
            iu.x_mem_full.eq(mem.x_full),
        ]

        # -------------------------------------------------------------- X: writes
        commit = iu.x_commit
        m.d.comb += [
            regs.write[_W_DINT].en.eq(commit & xd.wr_drd & ~xd.d_float),
            regs.write[_W_DINT].addr.eq(xd.d_rd),
            regs.write[_W_DINT].data.eq(alu.result),
            regs.write[_W_GATHER].en.eq(commit & xd.wr_sreg),
            regs.write[_W_GATHER].addr.eq(xd.s_reg),
            regs.write[_W_GATHER].data.eq(mem.x_rdata),
            regs.write[_W_CREG].en.eq(commit & xd.wr_creg),
            regs.write[_W_CREG].addr.eq(xd.c_reg),
            regs.write[_W_CREG].data.eq(cl.reg_data),
            cregs.write[_CW_X].en.eq(commit & cl.ck_we),
            cregs.write[_CW_X].addr.eq(xd.c_ck),
            cregs.write[_CW_X].data.eq(cl.ck_new),
        ]
        if fpu is not None:
            m.d.comb += [
                regs.write[_W_FLOAT].en.eq(fpu.w_valid),
                regs.write[_W_FLOAT].addr.eq(fpu.w_tag),
                regs.write[_W_FLOAT].data.eq(fpu.w_result),
            ]

        # -------------------------------------------------------------- status outputs
        m.d.comb += [
            dbg.running.eq(iu.running),
            dbg.fault.eq(iu.fault),
            dbg.fault_pc.eq(iu.fault_pc),
            dbg.pc.eq(iu.pc),
            dbg.prog_len.eq(prog_len),
            dbg.cycles.eq(iu.cycles),
            dbg.siws.eq(iu.siws),
            dbg.ops.eq(iu.ops),
        ]

        # -------------------------------------------------------------- debug port
        self._debug_port(m, idle, prog_len, prog_rd, prog_wr, d_ck)
        return self._clocking(m)

    def _clocking(self, arch):
        """One clock per cycle, or, with block RAM register files, ``micro_cycles``.

        In the second case everything but the register files (``arch``) moves
        only in the last clock of each cycle (an enable on all of its flip-flops
        and memory ports); the register files use the clocks in between to serve
        their ports from block RAM (:class:`hdl.regfile.BlockRamRegisterFile`).
        The architecture, and so the timing model, counts cycles, not clocks.
        The debug port's answer is a one-clock pulse in the cycle's first clock.
        """
        regs, cregs = self._regs, self._cregs
        if self.micro_cycles == 1:
            arch.submodules.regs = regs
            arch.submodules.cregs = cregs
            arch.d.comb += [self.arch_edge.eq(1), self.debug.resp_valid.eq(self._resp_valid)]
            return arch
        m = Module()
        steps = self.micro_cycles
        phase = Signal(range(steps))
        edge = phase == steps - 1
        m.d.sync += phase.eq(Mux(edge, 0, phase + 1))
        m.submodules.arch = EnableInserter(edge)(arch)
        m.submodules.regs = regs
        m.submodules.cregs = cregs
        m.d.comb += [regs.phase.eq(phase), cregs.phase.eq(phase), self.arch_edge.eq(edge),
                     self.debug.resp_valid.eq(self._resp_valid & (phase == 0))]
        # req_valid in every clock of this cycle so far (see _request).
        valid_so_far = Signal()
        m.d.sync += valid_so_far.eq(Mux(edge, 1, valid_so_far & self.debug.req_valid))
        m.d.comb += self._req_valid_all_cycle.eq(valid_so_far & self.debug.req_valid)
        return m

    def _request(self):
        """The debug request as the core sees it.

        When a cycle is several clocks, the register files read the request's
        address in the cycle's early clocks, so a request counts only in a cycle
        in whose every clock ``req_valid`` was high: its operands were steady
        all cycle (the requester holds them while ``req_valid`` is high).
        """
        dbg = self.debug
        valid = self._req_valid_all_cycle if self.micro_cycles > 1 else dbg.req_valid
        return SimpleNamespace(valid=valid, cmd=dbg.req_cmd, addr=dbg.req_addr,
                               data=dbg.req_data, coord=dbg.req_coord)

    def _debug_port(self, m, idle, prog_len, prog_rd, prog_wr, d_ck):
        """Host commands: one at a time, answered with a one-cycle ``resp_valid``.

        A request is accepted only in a cycle where ``resp_valid`` is low, because
        a requester that saw the answer drops (or changes) its request in the
        next cycle, not in the answer's own cycle.
        """
        cfg = self.config
        B = cfg.dim_bits
        dbg = self.debug
        iu, regs, cregs, mem = self._issue, self._regs, self._cregs, self.coord_memory
        slots = cfg.sets * cfg.ways

        phase = Signal(_Phase)
        req = self._request()
        resp_valid = self._resp_valid
        accept = req.valid & ~resp_valid & (phase == _Phase.ACCEPT)
        cmd = req.cmd
        addr = req.addr
        coord_key = morton_key_value(req.coord, NDIMS, B)

        m.d.sync += resp_valid.eq(0)

        def answer(error=DebugError.NONE, **fields):
            stmts = [resp_valid.eq(1), dbg.resp_error.eq(error)]
            for name, value in fields.items():
                stmts.append(getattr(dbg, f"resp_{name}").eq(value))
            return stmts

        with m.If(idle):   # X is empty: some of its register ports serve the host
            m.d.comb += [
                regs.read[_R_DEBUG].addr.eq(addr[:5]),
                cregs.read[_C_DEBUG].addr.eq(addr[:3]),
                regs.write[_W_DEBUG].addr.eq(addr[:5]),
                regs.write[_W_DEBUG].data.eq(req.data[:32]),
                cregs.write[_CW_DEBUG].addr.eq(addr[:3]),
                cregs.write[_CW_DEBUG].data.eq(req.coord),
            ]
        m.d.comb += [
            prog_wr.addr.eq(addr),
            prog_wr.data.eq(req.data),
            iu.pc_wdata.eq(addr),
        ]

        is_mem = Cat(cmd == c for c in (DebugCmd.MEM_READ, DebugCmd.MEM_WRITE,
                                         DebugCmd.MEM_ERASE, DebugCmd.SLOT_READ)).any()
        slot_set = Signal(range(max(cfg.sets, 2)))
        slot_way = Signal(range(max(cfg.ways, 2)))
        m.d.comb += [slot_set.eq(addr // cfg.ways), slot_way.eq(addr % cfg.ways)]
        # While idle the memory's D port serves the host: the coordinate's key, or
        # for SLOT_READ the set index alone.
        with m.If(idle & is_mem):
            m.d.comb += mem.d_key.eq(Mux(cmd == DebugCmd.SLOT_READ, slot_set, coord_key))

        with m.If(phase == _Phase.SECOND):
            m.d.sync += phase.eq(_Phase.ACCEPT)
            with m.Switch(cmd):
                with m.Case(DebugCmd.READ_PROG):
                    m.d.sync += answer(data=prog_rd.data)
                with m.Case(DebugCmd.MEM_READ):
                    m.d.comb += [mem.x_key.eq(coord_key), mem.x_op.eq(SOp.GATHER)]
                    m.d.sync += answer(data=mem.x_rdata, hit=mem.x_hit)
                with m.Case(DebugCmd.MEM_WRITE):
                    m.d.comb += [mem.x_key.eq(coord_key), mem.x_op.eq(SOp.SCATTER),
                                 mem.x_wdata.eq(req.data[:32]), mem.x_commit.eq(1)]
                    m.d.sync += answer(Mux(mem.x_full, DebugError.MEM_FULL, DebugError.NONE),
                                       hit=mem.x_hit)
                with m.Case(DebugCmd.MEM_ERASE):
                    m.d.comb += [mem.x_key.eq(coord_key), mem.x_op.eq(SOp.ERASE),
                                 mem.x_commit.eq(1)]
                    m.d.sync += answer(hit=mem.x_hit)
                with m.Case(DebugCmd.SLOT_READ):
                    m.d.comb += mem.x_key.eq(slot_set)
                    slot = Array(mem.x_slots)[slot_way]
                    m.d.sync += answer(hit=slot.valid, data=slot.value,
                                       coord=morton_coord_value(slot.key, NDIMS, B))

        with m.If(accept & ~idle):
            with m.If(cmd == DebugCmd.HALT):
                m.d.comb += iu.halt_req.eq(1)
                m.d.sync += answer()
            with m.Else():
                m.d.sync += answer(DebugError.BUSY)

        with m.If(accept & idle):
            with m.Switch(cmd):
                with m.Case(DebugCmd.NOP, DebugCmd.HALT):
                    m.d.sync += answer()
                with m.Case(DebugCmd.WRITE_PROG):
                    with m.If(addr < cfg.prog_depth):
                        m.d.comb += prog_wr.en.eq(1)
                        m.d.sync += answer()
                    with m.Else():
                        m.d.sync += answer(DebugError.RANGE)
                with m.Case(DebugCmd.SET_LEN):
                    with m.If(addr <= cfg.prog_depth):
                        m.d.comb += [iu.pc_we.eq(1), iu.pc_wdata.eq(0)]
                        m.d.sync += [prog_len.eq(addr)] + answer()
                    with m.Else():
                        m.d.sync += answer(DebugError.RANGE)
                with m.Case(DebugCmd.READ_PROG):
                    with m.If(addr < cfg.prog_depth):
                        m.d.comb += [prog_rd.addr.eq(addr), prog_rd.en.eq(1)]
                        m.d.sync += phase.eq(_Phase.SECOND)
                    with m.Else():
                        m.d.sync += answer(DebugError.RANGE)
                with m.Case(DebugCmd.READ_REG):
                    with m.If(addr < 32):
                        m.d.sync += answer(data=regs.read[_R_DEBUG].data)
                    with m.Else():
                        m.d.sync += answer(DebugError.RANGE)
                with m.Case(DebugCmd.WRITE_REG):
                    with m.If(addr < 32):
                        m.d.comb += regs.write[_W_DEBUG].en.eq(1)
                        m.d.sync += answer()
                    with m.Else():
                        m.d.sync += answer(DebugError.RANGE)
                with m.Case(DebugCmd.READ_CREG):
                    with m.If(addr < 8):
                        m.d.sync += answer(coord=cregs.read[_C_DEBUG].data)
                    with m.Else():
                        m.d.sync += answer(DebugError.RANGE)
                with m.Case(DebugCmd.WRITE_CREG):
                    with m.If(addr < 8):
                        m.d.comb += cregs.write[_CW_DEBUG].en.eq(1)
                        m.d.sync += answer()
                    with m.Else():
                        m.d.sync += answer(DebugError.RANGE)
                with m.Case(DebugCmd.WRITE_PC):
                    with m.If(addr < (1 << PC_BITS)):
                        m.d.comb += iu.pc_we.eq(1)
                        m.d.sync += answer()
                    with m.Else():
                        m.d.sync += answer(DebugError.RANGE)
                with m.Case(DebugCmd.MEM_READ, DebugCmd.MEM_WRITE, DebugCmd.MEM_ERASE):
                    m.d.sync += phase.eq(_Phase.SECOND)
                with m.Case(DebugCmd.SLOT_READ):
                    with m.If(addr < slots):
                        m.d.sync += phase.eq(_Phase.SECOND)
                    with m.Else():
                        m.d.sync += answer(DebugError.RANGE)
                with m.Case(DebugCmd.RUN, DebugCmd.STEP):
                    m.d.comb += [iu.start.eq(1), iu.step.eq(cmd == DebugCmd.STEP)]
                    m.d.sync += answer()
