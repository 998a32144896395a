"""The pipelined Sentron core: the units of one SIW's journey, fetch to commit, wired in stage order; the debug unit beside.

One SIW's journey, in the order this file wires it (the stages are the issue
unit's, :class:`hdl.pipeline.issue.IssueUnit`; docs/isa.md section 7 gives their timing):

1. **F** — the issue unit presents ``f_addr`` to program memory (synchronous read).
2. **D** — the word is decoded (:class:`hdl.decoder.Decoder`); LOOP and JUMP are
   predicted taken.
3. **R** — the data and coordinate registers are read, and the operand network
   (:mod:`hdl.pipeline.operands`) chooses, for each operand, the register file or one
   of the four SIWs ahead; the interlock may hold the SIW here.
4. **X** — the three lanes compute from registered operands: the D lane
   (:class:`hdl.d_lane.lane.DLane`: the integer result, or an issue to the float
   unit), the C lane (:class:`hdl.c_lane.CLane`: coordinates, COORD_RANGE, the
   branch), the S lane (:class:`hdl.pipeline.s_lane.SLane`: the key, into the coordinate
   memory's pipeline).
5. **M, N** — the memory reads the set; a LOOP that falls through redirects the
   fetch in M.
6. **T** — the memory answers: MEM_FULL, the GATHER value.
7. **W** — the SIW retires: every write (data and coordinate registers, memory,
   ``pc``, counters) is done at the end of this cycle from registered values, or,
   if it faults, none, and every younger SIW is squashed.  A float result is
   written F-1 cycles after its X, from the float unit's registered output.

A *cycle* here is one clock: the register files are flip-flops or LUT RAM
(``regfile="ff"`` or ``"lutram"``); block RAM register files, served over
several clocks, are the three-stage core's (``hdl.core``), built for the
iCE40, which has no LUT RAM.  A core with ``float_latency`` 0 has no float
unit; its decoder makes the float operations illegal SIWs.

The debug port (``hdl/debug.py``) is the only way in: the debug unit
(:class:`hdl.debug_unit.DebugUnit`) loads programs, reads and writes every
piece of state while the core is idle, and starts, steps and halts runs.  While
the core is idle the pipeline is empty, so the unit borrows the ports the lanes
use (register-file ports, the fetch, the memory's ports): memory commands go
through exactly the placement logic a SCATTER does, and the host needs no ports
of its own.
"""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data

from sim.isa.encoding import COp, Timing

from ..c_lane import CLane
from ..core_base import SentronBase, plug
from ..d_lane.lane import DLane
from ..regfile import RegisterFile, make_register_file
from .coord_memory import MEMORY_STAGES, CoordinateMemory
from .debug_unit import DebugUnit
from .issue import STAGES, IssueUnit, RunState
from .operands import forwarded_operand
from .s_lane import SLane

__all__ = ["Sentron", "implemented_timing"]

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
_C_CK, _C_CJ, _C_SK = range(3)
#: The C-lane operations that write ``ck``.
_CK_WRITERS = (COp.CSET, COp.CADD, COp.CMOV, COp.CCLR, COp.CPUT, COp.LOOP)
_C_DEBUG = _C_CK
_CW_X = 0
_CW_DEBUG = _CW_X


def implemented_timing(float_latency):
    """The timing table (docs/isa.md section 7) this pipeline implements, from its
    structure: the stages of :data:`hdl.pipeline.issue.STAGES` after F and D, the memory's
    :data:`~hdl.pipeline.coord_memory.MEMORY_STAGES`.  The configuration's table must be
    this one (:class:`Sentron` checks), so the golden model, the compiler and the
    hardware agree by construction, not by convention."""
    def from_fetch(stage):                           # F is 0, D 1, then STAGES
        return 2 + STAGES.index(stage)
    return Timing(
        float_op=float_latency,
        int_op=1,                                    # M, N, T, W forward to X
        coord_read=1,
        gather=MEMORY_STAGES,                        # the value exists from W on
        # A LOOP falling through redirects the fetch from M; the SIW fetched then
        # reaches X from_fetch("x") cycles later instead of the one after the LOOP.
        loop_exit=(from_fetch("m") - from_fetch("x")) + from_fetch("x") - 1,
        first_retire=from_fetch("w"),
        commit_depth=from_fetch("w") - from_fetch("x"))


class Sentron(SentronBase):
    """One Sentron core behind its debug port.

    Parameters
    ----------
    config : sim.isa.encoding.CoreConfig
        ``dim_bits``, ``set_bits``, ``ways``, ``prog_depth``, ``float_latency``.
    memory_init : sequence of (key, value)
        Initial coordinate-memory contents, placed in order (docs/isa.md section 5).
    regfile : "ff" or "lutram"
        How the data register file is built (``hdl/regfile.py``): flip-flops (any
        FPGA; the default) or LUT RAM with a live value table (ECP5: a fifth of
        the logic).  The same behaviour, cycle for cycle, either way.

    Attributes
    ----------
    debug : Out(DebugSignature(dim_bits))
        The debug port (see :mod:`hdl.debug`).  Requests other than HALT get
        ``BUSY`` while ``running``.  RUN and STEP answer as the run starts
        (``running`` is high in the answer's cycle); poll ``running`` for the end.

    Observation points (plain attributes, for test benches and the lockstep
    checker; read them with ``ctx.get``):

    retire : Signal(1)
        An SIW leaves W this cycle: it commits, or it faults and ends the run.
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
        The data registers.  A result is there from the cycle after its SIW
        retires; a float result whose SIW retires in cycle t from cycle
        t + F - commit_depth (the lockstep checker compares with ``Machine.regs_at``).
    cregs : list of 8 Signal(9*B)
        The coordinate registers, dimension ``d`` at bits ``[d*B, (d+1)*B)``.
    cycles, siws, ops : Signal(COUNTER_BITS)
        The counters (also on the debug port).
    pc_full : Signal(PC_BITS + 1)
        The architectural pc with its carry bit (the debug port shows PC_BITS).
    fault_pc_full : Signal(PC_BITS + 1)
    stall : Signal(1)
        The SIW in R waits for a GATHER or float result (interlock) this cycle.
    run_state : Signal(RunState)
        IDLE, RUN or DRAIN.
    arch_edge : Signal(1)
        The clock in which the state above moves: always 1 here (one clock per
        cycle), as observers of either core expect (``hdl.core.Sentron``).
    micro_cycles : int
        Clocks per cycle: 1.
    retire_mem_key, retire_mem_op, retire_mem_slots
        The memory operation of the retiring SIW: its key, its S operation, and
        the rows of its set as it sees them (the memory's ``w_*``).
    coord_memory : CoordinateMemory
        The coordinate memory (its ``image`` holds the placed initial contents).
    """

    def __init__(self, config=None, memory_init=(), regfile="ff"):
        if regfile not in ("ff", "lutram"):
            raise ValueError(f"regfile must be 'ff' or 'lutram', not {regfile!r} (block RAM "
                             f"register files are the three-stage core's, hdl.core.Sentron)")
        super().__init__(config, regfile, implemented_timing, "the pipelined core")
        config = self.config
        B = config.dim_bits
        self.micro_cycles = 1
        self._regs = make_register_file(regfile, 32, 32, read_ports=5, write_ports=4)
        self._cregs = RegisterFile(self.coord_bits, 8, read_ports=3, write_ports=1)
        self.arch_edge = Signal(init=1)
        self._issue = IssueUnit(config.float_latency)
        self._s_lane = SLane(B, config.ways)
        # float_latency 0: no float unit; the decoder makes float operations illegal.
        self._d_lane = DLane(config.float_latency,          # float_wb below: one cycle
                             writeback_delay=1 if config.float_latency else 0)
        self._c_lane = CLane(B)
        self.coord_memory = mem = CoordinateMemory(B, config.set_bits, config.ways,
                                                   init=memory_init)
        self._debug_unit = DebugUnit(config)
        iu = self._issue
        self._observe(iu.w, iu.w_fault, iu.w_commit, iu.r_stall, (mem.w_key, mem.w_op, mem.w_slots))

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        dbg = self.debug
        iu, dec, regs, cregs, mem = (self._issue, self._decoder, self._regs, self._cregs,
                                     self.coord_memory)
        s_lane, d_lane, c_lane, du = self._s_lane, self._d_lane, self._c_lane, self._debug_unit
        self._add_units(m)
        r, x, mm, n, t, w = iu.r, iu.x, iu.m, iu.n, iu.t, iu.w

        # -------------------------------------------------------------- F: fetch
        prog_rd = self._prog.read_port()
        fetch_in_range = iu.f_addr < cfg.prog_depth
        m.d.comb += [
            prog_rd.addr.eq(Mux(fetch_in_range, iu.f_addr, 0)),
            prog_rd.en.eq(iu.f_en),
        ]

        # -------------------------------------------------------------- D: decode
        m.d.comb += [
            dec.siw.eq(prog_rd.data),
            iu.d_dec.eq(dec.out),
            iu.prog_len.eq(du.prog_len),
        ]

        # -------------------------------------------------------------- results on their way to W
        # What each SIW computed in X (and, from T on, its GATHER value), one
        # register per stage; W writes it.
        res = {name: Signal(_result_layout(self.coord_bits), name=f"{name}_result")
               for name in ("m", "n", "t", "w")}
        w_gather = s_lane.w_rdata
        m.d.sync += [res["n"].eq(res["m"]), res["t"].eq(res["n"]), res["w"].eq(res["t"])]
        stages = {"x": x, "m": mm, "n": n, "t": t, "w": w}
        float_wb = Signal(32)               # the float unit's result, registered

        # -------------------------------------------------------------- W: commit
        commit = iu.w_commit
        wd = w.dec
        rw = res["w"]
        data_writes = [
            (_W_DINT, commit & wd.wr_drd & ~wd.d_float, wd.d_rd, rw.d),
            (_W_GATHER, commit & wd.wr_sreg, wd.s_reg, w_gather),
            (_W_CREG, commit & wd.wr_creg, wd.c_reg, rw.c),
            (_W_FLOAT, iu.float_we, iu.float_rd, float_wb),
        ]
        for port, en, addr, data in data_writes:
            m.d.comb += [regs.write[port].en.eq(en), regs.write[port].addr.eq(addr),
                         regs.write[port].data.eq(data)]
        coord_write = (commit & rw.ck_we, wd.c_ck, rw.ck)
        m.d.comb += [cregs.write[_CW_X].en.eq(coord_write[0]),
                     cregs.write[_CW_X].addr.eq(coord_write[1]),
                     cregs.write[_CW_X].data.eq(coord_write[2])]

        # -------------------------------------------------------------- R: read, forward
        # Each X operand: the register file read in R with this cycle's writes
        # laid over it, or the value of an SIW ahead (hdl/pipeline/operands.py).
        rd_ = r.dec
        late_data = [(en, addr, data) for _, en, addr, data in data_writes]
        late_coord = [coord_write]

        def data_writers():
            # Newest first: the SIW now in X (in M when the R SIW is in X), M, N, T.
            out = []
            for now, then in (("x", "m"), ("m", "n"), ("n", "t"), ("t", "w")):
                s = stages[now]
                out.append((s.valid & s.dec.wr_drd & ~s.dec.d_float, s.dec.d_rd, res[then].d))
                out.append((s.valid & s.dec.wr_creg, s.dec.c_reg, res[then].c))
                if then == "w":
                    out.append((s.valid & s.dec.wr_sreg, s.dec.s_reg, w_gather))
            return out

        def coord_writers():
            return [(stages[now].valid & _writes_ck(stages[now].dec.c_op), stages[now].dec.c_ck,
                     res[then].ck)
                    for now, then in (("x", "m"), ("m", "n"), ("n", "t"), ("t", "w"))]

        def data_operand(name, port, addr):
            m.d.comb += regs.read[port].addr.eq(addr)
            return forwarded_operand(m, name, addr, regs.read[port].data, late_data,
                                     data_writers())

        def coord_operand(name, port, addr):
            m.d.comb += cregs.read[port].addr.eq(addr)
            return forwarded_operand(m, name, addr, cregs.read[port].data, late_coord,
                                     coord_writers())

        rs1 = data_operand("rs1", _R_RS1, rd_.d_rs1)
        rs2 = data_operand("rs2", _R_RS2, rd_.d_rs2)
        drd = data_operand("drd", _R_DRD, rd_.d_rd)
        sreg = data_operand("sreg", _R_SREG, rd_.s_reg)
        creg = data_operand("creg", _R_CREG, rd_.c_reg)
        ck = coord_operand("ck", _C_CK, rd_.c_ck)
        cj = coord_operand("cj", _C_CJ, rd_.c_cj)
        sk = coord_operand("sk", _C_SK, rd_.s_ck)
        self.x_operands = dict(rs1=rs1, rs2=rs2, drd=drd, sreg=sreg, creg=creg, ck=ck, cj=cj, sk=sk)

        # -------------------------------------------------------------- X: the lanes
        xd = x.dec
        m.d.comb += [
            d_lane.x_op.eq(xd.d_op),
            d_lane.x_a.eq(rs1),
            d_lane.x_b.eq(rs2),
            d_lane.x_c.eq(drd),
            d_lane.x_imm16.eq(xd.d_imm16),
            d_lane.x_float.eq(iu.x_float),
            d_lane.x_rd.eq(xd.d_rd),
        ]
        m.d.sync += float_wb.eq(d_lane.w_result)
        m.d.comb += [
            c_lane.x_op.eq(xd.c_op),
            c_lane.x_ck.eq(ck),
            c_lane.x_cj.eq(cj),
            c_lane.x_dim.eq(xd.c_dim),
            c_lane.x_dim2.eq(xd.c_dim2),
            c_lane.x_imm11.eq(xd.c_imm11),
            c_lane.x_imm12.eq(xd.c_imm12),
            c_lane.x_rs.eq(creg),
            c_lane.x_target.eq(xd.c_target),
            iu.x_range_fault.eq(c_lane.x_range_fault),
            iu.x_loop_not_taken.eq(c_lane.x_loop_not_taken),
            iu.x_halt.eq(c_lane.x_halt),
            iu.x_branch.eq(c_lane.x_branch),
        ]
        m.d.sync += [
            res["m"].d.eq(d_lane.x_result),
            res["m"].c.eq(c_lane.x_reg_data),
            res["m"].ck.eq(c_lane.x_ck_new),
            res["m"].ck_we.eq(c_lane.x_ck_we),
        ]
        m.d.comb += [
            s_lane.x_valid.eq(x.valid),
            s_lane.x_op.eq(xd.s_op),
            s_lane.x_ck.eq(sk),
            s_lane.x_wdata.eq(sreg),
            s_lane.w_commit.eq(commit),
            s_lane.x_squash.eq(iu.x_squash),
            s_lane.squash.eq(iu.squash),
            iu.w_mem_full.eq(s_lane.w_mem_full),
        ]
        plug(m, mem, s_lane.mem)

        # -------------------------------------------------------------- the debug unit
        # The request, the answer, the status the port always shows.
        m.d.comb += [du.req_valid.eq(dbg.req_valid), dbg.resp_valid.eq(du.resp_valid)]
        self._plug_debug_unit(m, iu.state == RunState.IDLE, (
            (prog_rd, du.prog_read), (regs.read[_R_DEBUG], du.reg_read),
            (regs.write[_W_DEBUG], du.reg_write), (cregs.read[_C_DEBUG], du.creg_read),
            (cregs.write[_CW_DEBUG], du.creg_write), (mem, du.mem)))
        m.submodules.regs = self._regs
        m.submodules.cregs = self._cregs
        return m


def _result_layout(coord_bits):
    """What an SIW computed in X, carried to W: the D lane's integer result, the C
    lane's CGET/KEY value, its new ``ck`` and whether it writes one."""
    return data.StructLayout({"d": 32, "c": 32, "ck": coord_bits, "ck_we": 1})


def _writes_ck(c_op):
    """The C-lane operation writes ``ck`` (the C lane's ``x_ck_we``, from the opcode alone)."""
    return Cat(c_op == op for op in _CK_WRITERS).any()
