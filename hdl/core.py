"""The Sentron core: the units of one SIW's journey, fetch to commit, wired in stage order; the debug unit beside.

One SIW's journey, in the order this file wires it:

1. **F** — the issue unit (:class:`hdl.issue.IssueUnit`) presents ``f_addr`` to
   program memory (synchronous read).
2. **D** — the word is decoded (:class:`hdl.decoder.Decoder`); the issue unit
   checks the interlock; the S lane (:class:`hdl.s_lane.SLane`) has the
   coordinate memory read the set of its ``[ck]``, with ``ck`` forwarded from the
   SIW in X if that one writes it.
3. **X** — the SIW reads the data and coordinate registers (combinational), and
   the three lanes compute: the D lane (:class:`hdl.d_lane.lane.DLane`: the
   integer result, or an issue to the float unit), the S lane (the memory rows
   read in D: GATHER's value, SCATTER's or ERASE's write, MEM_FULL), the C lane
   (:class:`hdl.c_lane.CLane`: coordinates and the branch).  The issue unit picks
   the fault code and either commits every lane at the end of the cycle or none.
4. **W** — float results land ``F`` cycles after issue (the D lane's ``w_*``).

A *cycle* here is one clock, except with ``regfile="bram"`` (the iCE40 build):
then each cycle is :data:`BRAM_STEPS` clocks, the state above moves in the last
one, and the register files use the others to read X's operands from block RAM
in turn (``_clocking``).  A core with ``float_latency`` 0 has no float unit; its
decoder makes the float operations illegal SIWs.

The debug port (``hdl/debug.py``) is the only way in: the debug unit
(:class:`hdl.debug_unit.DebugUnit`) loads programs, reads and writes every
piece of state while the core is idle, and starts, steps and halts runs.  While
the core is idle X is empty, so the unit borrows the ports the lanes use there
(and the fetch, and the memory's D port): memory commands go through exactly the
placement logic a SCATTER does, and the host needs no ports of its own.
"""

from amaranth.hdl import EnableInserter, Module, Mux, Signal

from sim.isa.encoding import NDIMS, PC_BITS, Timing

from .c_lane import CLane
from .coord_memory import CoordinateMemory
from .core_base import SentronBase, plug
from .d_lane.lane import DLane
from .debug_unit import DebugUnit
from .issue import IssueUnit, RunState
from .regfile import BlockRamRegisterFile, RegisterFile, make_register_file
from .s_lane import SLane

__all__ = ["Sentron", "BRAM_STEPS", "block_ram_register_files", "implemented_timing"]

# Read and write ports of the data register file, by role.
# The debug unit reads through the rs1 and ck ports: it reads only while the core
# is idle, when X is empty and those ports are free (a 32:1 and an 8:1 mux saved).
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


def implemented_timing(float_latency):
    """The timing table (docs/isa.md section 7) of this three-stage core (F D X):
    every result ready for the next SIW but a float one (``float_latency``), the
    first SIW retired two cycles after the fetch, a LOOP falling through one cycle
    late.  A configuration with another table is another core's
    (:func:`hdl.cores.core_class`), and :class:`Sentron` refuses it."""
    return Timing(float_op=float_latency)


def block_ram_register_files(dim_bits):
    """The shapes of the data and coordinate register files of a core with
    ``regfile="bram"`` (keyword arguments of :class:`BlockRamRegisterFile`): the
    data file on two block RAM copies, the coordinate file on one."""
    return (dict(width=32, depth=32, read_ports=5, write_ports=4, steps=BRAM_STEPS, copies=2),
            dict(width=NDIMS * dim_bits, depth=8, read_ports=3, write_ports=1, steps=BRAM_STEPS,
                 copies=1))


class Sentron(SentronBase):
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
    retire_mem_key, retire_mem_op, retire_mem_slots
        The memory operation of the retiring SIW: its key, its S operation, and
        the rows of its set as it sees them (the memory's ``x_*``).
    coord_memory : CoordinateMemory
        The coordinate memory (its ``image`` holds the placed initial contents).
    """

    def __init__(self, config=None, memory_init=(), regfile="ff"):
        super().__init__(config, regfile, implemented_timing, "the three-stage core")
        config = self.config
        B = config.dim_bits
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
        self._request_valid = Signal()      # a request the core may act on (_clocking)
        self._issue = IssueUnit(max(config.float_latency, 1))
        self._s_lane = SLane(B)
        # float_latency 0: no float unit; the decoder makes float operations illegal.
        self._d_lane = DLane(config.float_latency)
        self._c_lane = CLane(B)
        self.coord_memory = mem = CoordinateMemory(B, config.set_bits, config.ways,
                                                   init=memory_init)
        self._debug_unit = DebugUnit(config)
        iu = self._issue
        self._observe(iu.x, iu.x_fault, iu.x_commit, iu.d_stall, (mem.x_key, mem.x_op, mem.x_slots))

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        dbg = self.debug
        iu, dec, regs, cregs, mem = (self._issue, self._decoder, self._regs, self._cregs,
                                     self.coord_memory)
        s_lane, d_lane, c_lane, du = self._s_lane, self._d_lane, self._c_lane, self._debug_unit
        self._add_units(m)
        x = iu.x
        xd = x.dec

        # -------------------------------------------------------------- F: fetch
        prog_rd = self._prog.read_port()
        fetch_in_range = iu.f_addr < cfg.prog_depth
        m.d.comb += [
            prog_rd.addr.eq(Mux(fetch_in_range, iu.f_addr, 0)),
            prog_rd.en.eq(iu.f_en),
        ]

        # -------------------------------------------------------------- D: decode, interlock
        d = dec.out
        m.d.comb += [
            dec.siw.eq(prog_rd.data),
            iu.d_dec.eq(d),
            iu.prog_len.eq(du.prog_len),
        ]

        # -------------------------------------------------------------- X: read registers
        rs1 = regs.read[_R_RS1].data
        rs2 = regs.read[_R_RS2].data
        drd = regs.read[_R_DRD].data
        m.d.comb += [
            regs.read[_R_RS1].addr.eq(xd.d_rs1),
            regs.read[_R_RS2].addr.eq(xd.d_rs2),
            regs.read[_R_DRD].addr.eq(xd.d_rd),
            regs.read[_R_SREG].addr.eq(xd.s_reg),
            regs.read[_R_CREG].addr.eq(xd.c_reg),
            cregs.read[_C_CK].addr.eq(xd.c_ck),
            cregs.read[_C_CJ].addr.eq(xd.c_cj),
        ]

        # -------------------------------------------------------------- X: D lane
        m.d.comb += [
            d_lane.x_op.eq(xd.d_op),
            d_lane.x_a.eq(rs1),
            d_lane.x_b.eq(rs2),
            d_lane.x_c.eq(drd),
            d_lane.x_imm16.eq(xd.d_imm16),
            d_lane.x_float.eq(iu.x_float),
            d_lane.x_rd.eq(xd.d_rd),
        ]

        # -------------------------------------------------------------- D and X: S lane
        # In D the S lane looks up the set of [ck] (the coordinate register read
        # in D, forwarded from the C lane's write in X); in X it uses the rows.
        m.d.comb += [
            cregs.read[_C_DKEY].addr.eq(d.s_ck),
            s_lane.d_ck_addr.eq(d.s_ck),
            s_lane.d_ck.eq(cregs.read[_C_DKEY].data),
            s_lane.x_ck_we.eq(c_lane.x_ck_we),
            s_lane.x_ck_addr.eq(xd.c_ck),
            s_lane.x_ck_new.eq(c_lane.x_ck_new),
            s_lane.x_valid.eq(x.valid),
            s_lane.x_op.eq(xd.s_op),
            s_lane.x_wdata.eq(regs.read[_R_SREG].data),
            s_lane.x_commit.eq(iu.x_commit),
            iu.x_mem_full.eq(s_lane.x_mem_full),
        ]
        plug(m, mem, s_lane.mem)

        # -------------------------------------------------------------- X: C lane
        m.d.comb += [
            c_lane.x_op.eq(xd.c_op),
            c_lane.x_ck.eq(cregs.read[_C_CK].data),
            c_lane.x_cj.eq(cregs.read[_C_CJ].data),
            c_lane.x_dim.eq(xd.c_dim),
            c_lane.x_dim2.eq(xd.c_dim2),
            c_lane.x_imm11.eq(xd.c_imm11),
            c_lane.x_imm12.eq(xd.c_imm12),
            c_lane.x_rs.eq(regs.read[_R_CREG].data),
            c_lane.x_pc.eq(x.pc[:PC_BITS]),
            c_lane.x_target.eq(xd.c_target),
            iu.x_range_fault.eq(c_lane.x_range_fault),
            iu.x_loop_not_taken.eq(c_lane.x_loop_not_taken),
            iu.x_halt.eq(c_lane.x_halt),
            # A PC_RANGE SIW at 1024 has x.pc[:PC_BITS] = 0; it faults, so its
            # next_pc is never used.
            iu.x_next_pc.eq(c_lane.x_next_pc),
        ]

        # -------------------------------------------------------------- X: commit or fault
        # The issue unit picked the fault code (PC_RANGE, ILLEGAL_SIW, the C lane's
        # COORD_RANGE, the S lane's MEM_FULL); without one, every lane writes at
        # the end of the cycle, with one none does.  The memory's write is gated
        # the same way (the S lane's x_commit).
        commit = iu.x_commit
        m.d.comb += [
            regs.write[_W_DINT].en.eq(commit & xd.wr_drd & ~xd.d_float),
            regs.write[_W_DINT].addr.eq(xd.d_rd),
            regs.write[_W_DINT].data.eq(d_lane.x_result),
            regs.write[_W_GATHER].en.eq(commit & xd.wr_sreg),
            regs.write[_W_GATHER].addr.eq(xd.s_reg),
            regs.write[_W_GATHER].data.eq(s_lane.x_rdata),
            regs.write[_W_CREG].en.eq(commit & xd.wr_creg),
            regs.write[_W_CREG].addr.eq(xd.c_reg),
            regs.write[_W_CREG].data.eq(c_lane.x_reg_data),
            cregs.write[_CW_X].en.eq(commit & c_lane.x_ck_we),
            cregs.write[_CW_X].addr.eq(xd.c_ck),
            cregs.write[_CW_X].data.eq(c_lane.x_ck_new),
        ]

        # -------------------------------------------------------------- W: float results
        m.d.comb += [
            regs.write[_W_FLOAT].en.eq(d_lane.w_valid),
            regs.write[_W_FLOAT].addr.eq(d_lane.w_rd),
            regs.write[_W_FLOAT].data.eq(d_lane.w_result),
        ]

        # -------------------------------------------------------------- the debug unit
        # The request, the answer, the status the port always shows.
        m.d.comb += du.req_valid.eq(self._request_valid)
        self._plug_debug_unit(m, iu.state == RunState.IDLE, (
            (prog_rd, du.prog_read), (regs.read[_R_DEBUG], du.reg_read),
            (regs.write[_W_DEBUG], du.reg_write), (cregs.read[_C_DEBUG], du.creg_read),
            (cregs.write[_CW_DEBUG], du.creg_write), (mem, du.mem)))
        return self._clocking(m)

    def _clocking(self, arch):
        """One clock per cycle, or, with block RAM register files, ``micro_cycles``.

        In the second case everything but the register files (``arch``) moves
        only in the last clock of each cycle (an enable on all of its flip-flops
        and memory ports); the register files use the clocks in between to serve
        their ports from block RAM (:class:`hdl.regfile.BlockRamRegisterFile`).
        The architecture, and so the timing model, counts cycles, not clocks.
        The debug port's answer is a one-clock pulse in the cycle's first clock,
        and a request counts only in a cycle in whose every clock ``req_valid``
        was high: the register files read its address in the cycle's early
        clocks, so its operands must have been steady all cycle (the requester
        holds them while ``req_valid`` is high).
        """
        regs, cregs = self._regs, self._cregs
        resp_valid = self._debug_unit.resp_valid
        if self.micro_cycles == 1:
            arch.submodules.regs = regs
            arch.submodules.cregs = cregs
            arch.d.comb += [self.arch_edge.eq(1), self.debug.resp_valid.eq(resp_valid),
                            self._request_valid.eq(self.debug.req_valid)]
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
                     self.debug.resp_valid.eq(resp_valid & (phase == 0))]
        # req_valid in every clock of this cycle so far.
        valid_so_far = Signal()
        m.d.sync += valid_so_far.eq(Mux(edge, 1, valid_so_far & self.debug.req_valid))
        m.d.comb += self._request_valid.eq(valid_so_far & self.debug.req_valid)
        return m
