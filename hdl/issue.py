"""The issue unit of the Sentron core: pipeline control, interlock, faults, status and counters.

It decides, every cycle, which SIW is where, and so it is what makes the timing
model of docs/isa.md section 7 hold.  Everything that computes a value (the
lanes, the register files, the memories) lives elsewhere; this unit only moves
SIWs along and says when they commit.

Pipeline (one SIW enters X per cycle at most)::

    cycle c      F   the fetch address f_addr is presented to program memory
    cycle c+1    D   the word is decoded; the memory set is read; interlock
    cycle c+2    X   the SIW retires: commits every lane, or faults

Why each rule, against the timing model ``t_{k+1} = max(t_k + 1 + p_k, ready(r))``:

* **First retire at s + 2.**  A run starting when the cycle counter reads ``s``
  presents ``pc`` in that cycle, so F, D, X take cycles s, s+1, s+2.
* **LOOP and JUMP are predicted taken in D** (the next fetch address is the
  target), so a taken branch and JUMP cost nothing: ``p_k = 0``.  A LOOP that
  falls through is known in X; the SIW fetched after it (in D) is squashed and
  ``pc + 1`` is fetched in the same cycle, so the next SIW retires two cycles
  later: ``p_k = 1``.
* **Interlock in D.**  A float result issued in X in cycle t is written at the
  end of t+F-1 (visible from t+F).  An SIW in D in cycle c would be in X in c+1;
  it reads and writes its registers there, so it may go only if c+1 >= t+F, i.e.
  if no float op in stages 1..F-1 (stage 1 = in X now) has one of its registers
  as destination.  Otherwise D holds (fetch holds) and X gets a bubble; the SIW
  then enters X exactly in cycle ``ready(r)``.  Integer, GATHER and CGET/KEY
  results are written at the end of X and read in the next X: latency 1, never
  a stall.  The same check covers WAW (the later write must land later).
* **PC_RANGE and illegal SIWs never wait**: the decoder gives them no register
  use (docs/isa.md section 7: they read and write nothing).  An SIW that faults
  in X (COORD_RANGE, MEM_FULL) does wait: its fault may depend on the value it
  waits for (CPUT), and the golden model schedules it the same way.
* **Faults are precise.**  The fault code is the lowest of PC_RANGE (known in D
  from the address), ILLEGAL_SIW (from the decoder), COORD_RANGE (C lane) and
  MEM_FULL (S lane); with any fault ``x_commit`` is low, so no lane writes
  anything, the counters do not count, and the run ends with ``pc`` =
  ``fault_pc`` = the SIW's address.
* **Draining.**  When the run ends, float ops already issued still land before
  the unit reports itself idle (``running`` stays high, but the cycle counter
  stops: docs/isa.md section 7 does not count drain cycles).
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, enum, wiring
from amaranth.lib.wiring import In, Out

from sim.isa.encoding import PC_BITS, COp, Fault

from .debug import COUNTER_BITS
from .decoder import decoded_layout

__all__ = ["IssueUnit", "dx_layout", "RunState", "ADDR_BITS", "CONTROL_MEMBERS", "STATUS_MEMBERS"]

#: Width of an SIW address inside the core: one more than ``PC_BITS`` so that the
#: address after 1023 is 1024 (PC_RANGE), never 0.
ADDR_BITS = PC_BITS + 1

#: What D hands to X: the decoded SIW, its address, and whether that address was
#: outside the program (PC_RANGE, decided in D where the address is known).
dx_layout = data.StructLayout({
    "valid": 1,
    "pc": ADDR_BITS,
    "pc_range": 1,
    "dec": decoded_layout,
})


class RunState(enum.Enum, shape=2):
    """IDLE: the host may touch state.  RUN: SIWs flow.  DRAIN: the run has ended,
    float results still in flight are landing."""
    IDLE = 0
    RUN = 1
    DRAIN = 2


#: The members every core's issue unit begins its signature with: the host's run
#: controls (the debug unit's ``run`` port group), the program length, the fetch
#: and the decode of the SIW in D.
CONTROL_MEMBERS = {
    "start": In(1),
    "step": In(1),
    "halt_req": In(1),
    "prog_len": In(PC_BITS + 1),
    "pc_we": In(1),
    "pc_wdata": In(ADDR_BITS),
    "f_addr": Out(ADDR_BITS),
    "f_en": Out(1),
    "d_dec": In(decoded_layout),
    "d_valid": Out(1),
    "d_pc": Out(ADDR_BITS),
}
#: ... and ends it with: the run state, the architectural pc and fault, the counters.
STATUS_MEMBERS = {
    "running": Out(1),
    "state": Out(RunState),
    "pc": Out(ADDR_BITS),
    "fault": Out(4),
    "fault_pc": Out(ADDR_BITS),
    "cycles": Out(COUNTER_BITS),
    "siws": Out(COUNTER_BITS),
    "ops": Out(COUNTER_BITS),
}


class IssueUnit(wiring.Component):
    """Pipeline control of one Sentron core.

    Parameters
    ----------
    float_latency : int
        ``F`` of docs/isa.md section 7 (at least 1).

    Attributes
    ----------
    start : In(1)
        Begin a run in the next cycle (only honoured when idle).  Clears ``fault``.
    step : In(1)
        With ``start``: the run ends after one SIW (STEP).
    halt_req : In(1)
        Stop at the next SIW boundary: the SIW in X (if any) retires, nothing
        after it.  Ignored unless running.
    prog_len : In(PC_BITS + 1)
        Program length L; fetching at or above it is PC_RANGE.
    pc_we, pc_wdata : In
        Host write of ``pc`` (only honoured when idle).
    f_addr : Out(ADDR_BITS)
        Fetch address for program memory, this cycle.
    f_en : Out(1)
        Program memory read enable: low while D holds its word (interlock).
    d_dec : In(decoded_layout)
        The decode of the word program memory delivers this cycle (the D SIW).
    d_valid, d_pc : Out
        There is an SIW in D, and its address.
    d_stall : Out(1)
        The D SIW must wait (interlock); X gets a bubble next cycle.
    x : Out(dx_layout)
        The SIW in X (``x.valid`` low for a bubble).
    x_range_fault, x_mem_full : In(1)
        COORD_RANGE from the C lane, MEM_FULL from the S lane, for the X SIW.
    x_loop_not_taken, x_halt : In(1)
        From the C lane: squash the predicted-taken fetch; end the run.
    x_next_pc : In(ADDR_BITS)
        From the C lane: the pc after the X SIW if it commits.
    x_commit : Out(1)
        The X SIW commits this cycle: every lane writes at the end of it.
    x_float : Out(1)
        Issue the X SIW's D operation to the float unit (it commits and is a float op).
    x_fault : Out(Fault)
        Fault code of the X SIW (NONE if it commits or X is empty).
    retire : Out(1)
        An SIW leaves X this cycle (commits or faults); ``x.pc`` is its address.
    running : Out(1)
        A run is in progress or draining (the host must wait).
    state : Out(RunState)
    pc : Out(ADDR_BITS)
        Address of the next SIW to retire (architectural ``pc``).
    fault : Out(4), fault_pc : Out(ADDR_BITS)
        Status.
    cycles, siws, ops : Out(COUNTER_BITS)
        Counters (docs/isa.md section 2).
    """

    def __init__(self, float_latency=4):
        if not isinstance(float_latency, int) or float_latency < 1:
            raise ValueError(f"float_latency must be an integer >= 1, not {float_latency!r}")
        self.float_latency = float_latency
        super().__init__({
            **CONTROL_MEMBERS,
            "d_stall": Out(1),
            "x": Out(dx_layout),
            "x_range_fault": In(1),
            "x_mem_full": In(1),
            "x_loop_not_taken": In(1),
            "x_halt": In(1),
            "x_next_pc": In(ADDR_BITS),
            "x_commit": Out(1),
            "x_float": Out(1),
            "x_fault": Out(Fault),
            "retire": Out(1),
            **STATUS_MEMBERS,
        })

    def elaborate(self, platform):
        m = Module()
        F = self.float_latency
        x, d = self.x, self.d_dec
        run = self.state == RunState.RUN
        step_mode = Signal()      # this run ends after its first SIW
        f_more = Signal()         # fetching has not been stopped (STEP fetches once)

        # ---------------------------------------------------------- float scoreboard
        # sb[i] describes the float op in stage i+2 (stage 1 is X itself); only
        # stages up to F-1 matter, since a stage-F result is written this cycle.
        sb_valid = [Signal(name=f"sb{i + 2}_valid") for i in range(F - 2)]
        sb_tag = [Signal(5, name=f"sb{i + 2}_tag") for i in range(F - 2)]
        for i in range(F - 2):
            if i == 0:
                m.d.sync += [sb_valid[0].eq(self.x_float), sb_tag[0].eq(x.dec.d_rd)]
            else:
                m.d.sync += [sb_valid[i].eq(sb_valid[i - 1]), sb_tag[i].eq(sb_tag[i - 1])]
        # (valid, destination) of every float op in stages 1..F-1 this cycle.  For
        # stage 1 the X SIW is taken whether or not it commits: if it faults, D is
        # squashed anyway, and this keeps the fault logic off the stall path.
        in_flight = []
        if F >= 2:
            in_flight.append((x.valid & x.dec.d_float, x.dec.d_rd))
        in_flight += list(zip(sb_valid, sb_tag))
        # Float results that will still be written after this cycle.
        pending_after = Const(0, 1)
        if F >= 2:
            pending_after = (self.x_float | Cat(*sb_valid).any()) if sb_valid else self.x_float

        # ---------------------------------------------------------- X: retire
        fault = Signal(Fault)
        with m.If(x.pc_range):
            m.d.comb += fault.eq(Fault.PC_RANGE)
        with m.Elif(x.dec.illegal):
            m.d.comb += fault.eq(Fault.ILLEGAL_SIW)
        with m.Elif(self.x_range_fault):
            m.d.comb += fault.eq(Fault.COORD_RANGE)
        with m.Elif(self.x_mem_full):
            m.d.comb += fault.eq(Fault.MEM_FULL)
        retire = run & x.valid
        faulted = retire & (fault != Fault.NONE)
        commit = retire & (fault == Fault.NONE)
        m.d.comb += [
            self.retire.eq(retire),
            self.x_commit.eq(commit),
            self.x_fault.eq(Mux(retire, fault, Fault.NONE)),
            self.x_float.eq(commit & x.dec.d_float),
        ]
        # The run ends after this cycle: HALT, a fault, a STEP's SIW, or the host.
        stop = run & ((retire & (faulted | self.x_halt | step_mode)) | self.halt_req)
        redirect = commit & self.x_loop_not_taken & ~stop
        squash = stop | redirect

        # ---------------------------------------------------------- D: interlock
        d_valid = Signal()
        d_pc = Signal(ADDR_BITS)
        d_pc_range = d_pc >= self.prog_len
        uses = [
            (d.rd_rs1, d.d_rs1), (d.rd_rs2, d.d_rs2), (d.rd_drd | d.wr_drd, d.d_rd),
            (d.rd_sreg | d.wr_sreg, d.s_reg), (d.rd_creg | d.wr_creg, d.c_reg),
        ]
        hazard = Const(0, 1)
        for busy, tag in in_flight:
            for used, reg in uses:
                hazard = hazard | (busy & used & (reg == tag))
        stall = run & d_valid & ~squash & ~d_pc_range & hazard
        advance = run & d_valid & ~squash & ~stall
        predicted = Mux((d.c_op == COp.LOOP) | (d.c_op == COp.JUMP), d.c_target, d_pc + 1)
        m.d.comb += [
            self.d_valid.eq(d_valid),
            self.d_pc.eq(d_pc),
            self.d_stall.eq(stall),
        ]

        # ---------------------------------------------------------- F: fetch
        fetch = run & ~stop & f_more & ~stall
        m.d.comb += [
            self.f_addr.eq(Mux(redirect, x.pc + 1, Mux(d_valid, predicted, self.pc))),
            self.f_en.eq(~stall),
        ]

        # ---------------------------------------------------------- state updates
        with m.If(run):
            with m.If(~stall):
                m.d.sync += [d_valid.eq(fetch), d_pc.eq(self.f_addr)]
            with m.If(fetch & step_mode):
                m.d.sync += f_more.eq(0)
            m.d.sync += [
                x.valid.eq(advance),
                x.pc.eq(d_pc),
                x.pc_range.eq(d_pc_range),
                x.dec.eq(d),
                self.cycles.eq(self.cycles + 1),
            ]
            with m.If(commit):
                m.d.sync += [
                    self.pc.eq(self.x_next_pc),
                    self.siws.eq(self.siws + 1),
                    self.ops.eq(self.ops + x.dec.ops),
                ]
            with m.If(faulted):
                m.d.sync += [self.pc.eq(x.pc), self.fault.eq(fault), self.fault_pc.eq(x.pc)]
            with m.If(stop):
                m.d.sync += [d_valid.eq(0), x.valid.eq(0),
                             self.state.eq(Mux(pending_after, RunState.DRAIN, RunState.IDLE))]
        with m.Elif(self.state == RunState.DRAIN):
            with m.If(~pending_after):
                m.d.sync += self.state.eq(RunState.IDLE)
        with m.Else():
            with m.If(self.start):
                m.d.sync += [
                    self.state.eq(RunState.RUN),
                    step_mode.eq(self.step),
                    f_more.eq(1),
                    d_valid.eq(0),
                    x.valid.eq(0),
                    self.fault.eq(Fault.NONE),
                ]
            with m.Elif(self.pc_we):
                m.d.sync += self.pc.eq(self.pc_wdata)

        m.d.comb += self.running.eq(self.state != RunState.IDLE)
        return m
