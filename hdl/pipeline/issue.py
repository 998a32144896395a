"""The issue unit of the pipelined Sentron core: which SIW is in which stage, interlock, squashes, faults, status and counters.

It decides, every cycle, which SIW is where, and so it is what makes the timing
model of docs/isa.md section 7 hold.  Everything that computes a value (the
lanes, the register files, the memories, the operand network) lives elsewhere;
this unit moves SIWs along and says when they commit.

Pipeline (one SIW per stage; one SIW enters X per cycle at most)::

    F  the fetch address is presented to program memory
    D  the word is decoded; LOOP and JUMP are predicted taken (next fetch = target)
    R  the registers are read; the interlock holds the SIW here if a value it
       uses is not ready in time for X
    X  the lanes compute; the S lane's key enters the coordinate memory; a float
       op enters the float unit
    M  the memory's set addresses the block RAMs; a LOOP that falls through
       redirects the fetch (the three younger SIWs are squashed)
    N  the rows come out of the block RAMs
    T  the tags are compared: MEM_FULL, the GATHER value
    W  the SIW retires: commits every write, or faults

Why each rule, against the timing model ``t_{k+1} = max(t_k + 1 + p_k, ready(r))``
(the numbers are the configuration's :class:`sim.isa.encoding.Timing`):

* **First retire at s + 7** (``first_retire``): a run starting when the cycle
  counter reads ``s`` fetches in that cycle, and W is seven stages on.
* **Latencies count from X to X**, which is the retire-to-retire distance,
  since X to W is the same four cycles for every SIW.  Integer and CGET/KEY
  results are passed from M, N, T and W back to X by the operand network
  (``hdl/pipeline/operands.py``): latency 1.  A GATHER's value exists only from T on, in
  W's register: latency 4 (``gather``).  A float result is written into the
  register file F-1 cycles after X and passed to R in that cycle: latency F.
* **Interlock in R.**  The SIW in R would be in X next cycle; it waits (F, D and
  R hold, X gets a bubble) while an older GATHER or float op that writes one
  of the registers it reads *or writes* is not ready by then: the same rule as
  the golden model's, which waits for reads and writes alike.  PC_RANGE and
  illegal SIWs use no registers (the decoder gives them none), so they never
  wait.
* **Branches.**  A taken LOOP and JUMP cost nothing (predicted in D).  A LOOP
  that falls through is known in X and acted on in M: the SIWs in X, R and D are
  squashed and ``pc + 1`` is fetched, three cycles late (``loop_exit``).
* **Faults are precise.**  The fault code is the lowest of PC_RANGE (known in D
  from the address), ILLEGAL_SIW (the decoder), COORD_RANGE (the C lane, in X)
  and MEM_FULL (the memory, in T), and it acts in W: the SIW writes nothing,
  every younger SIW is squashed, and the float ops of the squashed SIWs (and of
  the faulting one) are cancelled before they land.  The same squash ends a
  run at HALT, after a STEP's SIW, or at the host's HALT.
* **Draining.**  When the run ends, float ops of committed SIWs still land before
  the unit reports itself idle (``running`` stays high, but the cycle counter
  stops: docs/isa.md section 7 does not count drain cycles).
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from sim.isa.encoding import COp, Fault

from ..decoder import decoded_layout
from ..issue import ADDR_BITS, CONTROL_MEMBERS, STATUS_MEMBERS, RunState

__all__ = ["IssueUnit", "siw_layout", "RunState", "ADDR_BITS", "STAGES", "X_TO_W"]

#: The stages after D, in order; each holds one SIW in a :data:`siw_layout` register.
STAGES = ("r", "x", "m", "n", "t", "w")
#: Cycles from X to W: a float op issued in X belongs to the SIW ``age`` stages
#: on, up to W at age ``X_TO_W`` (``Timing.commit_depth``).
X_TO_W = STAGES.index("w") - STAGES.index("x")

#: One SIW in a stage: its decode and address, and what the stages so far found out.
siw_layout = data.StructLayout({
    "valid": 1,
    "pc": ADDR_BITS,
    "pc_range": 1,          # D: the address is at or above the program length
    "range_fault": 1,       # X: the C lane's COORD_RANGE
    "halt": 1,              # X: the C lane's HALT
    "loop_exit": 1,         # X: a LOOP that falls through (acted on in M)
    "branch": 1,            # X: the next SIW is the target (JUMP, a LOOP that branches)
    "next_pc": ADDR_BITS,   # M: the pc after this SIW if it commits, from ``branch``
    "dec": decoded_layout,
})


class IssueUnit(wiring.Component):
    """Pipeline control of one Sentron core.

    Parameters
    ----------
    float_latency : int
        ``F`` of docs/isa.md section 7 (``Timing.float_op``), at least
        ``X_TO_W + 1``; or 0 for a core without a float unit.

    Attributes
    ----------
    start : In(1)
        Begin a run in the next cycle (only honoured when idle).  Clears ``fault``.
    step : In(1)
        With ``start``: the run ends after one SIW (STEP).
    halt_req : In(1)
        Stop at the next SIW boundary: the SIW in W (if any) retires, nothing
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
    r, x, m, n, t, w : Out(siw_layout)
        The SIW in each stage (``valid`` low for a bubble).
    r_stall : Out(1)
        The R SIW waits (interlock); X gets a bubble next cycle.
    x_range_fault, x_loop_not_taken, x_halt, x_branch : In
        From the C lane, for the X SIW.  The next pc is made from ``x_branch`` a
        stage later, in M, so that the C lane's compare ends in one flip-flop.
    x_float : Out(1)
        Issue the X SIW's D operation to the float unit (it is a float op and is
        not squashed this cycle).
    x_squash : Out(1)
        The X SIW is squashed this cycle (a stop, or a LOOP in M falling through).
    squash : Out(1)
        Every SIW behind W is squashed this cycle (the run stops).
    w_mem_full : In(1)
        From the memory, for the W SIW.
    w_commit : Out(1)
        The W SIW commits this cycle: every lane writes at the end of it.
    w_fault : Out(Fault)
        Fault code of the W SIW (NONE if it commits or W is empty).
    retire : Out(1)
        An SIW leaves W this cycle (commits or faults); ``w.pc`` is its address.
    float_we, float_rd : Out
        A float result is written this cycle (its op issued F-1 cycles ago and was
        not cancelled), and its destination.
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

    def __init__(self, float_latency=8):
        if (not isinstance(float_latency, int) or
                not (float_latency == 0 or float_latency > X_TO_W)):
            raise ValueError(f"float_latency must be 0 (no float unit) or an integer >= "
                             f"{X_TO_W + 1}, not {float_latency!r}: a float op issued in X "
                             f"lands no earlier than its SIW's W, {X_TO_W} cycles later")
        self.float_latency = float_latency
        super().__init__({
            **CONTROL_MEMBERS,
            **{stage: Out(siw_layout) for stage in STAGES},
            "r_stall": Out(1),
            "x_range_fault": In(1),
            "x_loop_not_taken": In(1),
            "x_halt": In(1),
            "x_branch": In(1),
            "x_float": Out(1),
            "x_squash": Out(1),
            "squash": Out(1),
            "w_mem_full": In(1),
            "w_commit": Out(1),
            "w_fault": Out(Fault),
            "retire": Out(1),
            "float_we": Out(1),
            "float_rd": Out(5),
            **STATUS_MEMBERS,
        })

    def elaborate(self, platform):
        m = Module()
        F = self.float_latency
        r, x, mm, n, t, w = (self.r, self.x, self.m, self.n, self.t, self.w)
        run = self.state == RunState.RUN
        step_mode = Signal()      # this run ends after its first SIW
        f_more = Signal()         # fetching has not been stopped (STEP fetches once)

        # ---------------------------------------------------------- W: retire
        fault = Signal(Fault)
        with m.If(w.pc_range):
            m.d.comb += fault.eq(Fault.PC_RANGE)
        with m.Elif(w.dec.illegal):
            m.d.comb += fault.eq(Fault.ILLEGAL_SIW)
        with m.Elif(w.range_fault):
            m.d.comb += fault.eq(Fault.COORD_RANGE)
        with m.Elif(self.w_mem_full):
            m.d.comb += fault.eq(Fault.MEM_FULL)
        retire = run & w.valid
        faulted = retire & (fault != Fault.NONE)
        commit = retire & (fault == Fault.NONE)
        m.d.comb += [
            self.retire.eq(retire),
            self.w_commit.eq(commit),
            self.w_fault.eq(Mux(retire, fault, Fault.NONE)),
        ]
        # The run ends after this cycle: HALT, a fault, a STEP's SIW, or the host.
        stop = run & ((retire & (faulted | w.halt | step_mode)) | self.halt_req)
        # A LOOP in M that fell through: the SIWs in X, R and D took the wrong path.
        redirect = run & mm.valid & mm.loop_exit & ~stop

        # ---------------------------------------------------------- float ops in flight
        # sb[a]: the float op issued a cycles ago (a = 1 .. F-1), which belongs to
        # the SIW a stages past X while a <= X_TO_W.  It is written at age F-1.
        # A stop cancels the ops of the SIWs it squashes (ages 1 .. X_TO_W-1) and,
        # if W faults, W's own (age X_TO_W).
        sb_valid = [None] + [Signal(name=f"sb{a}_valid") for a in range(1, F)]
        sb_tag = [None] + [Signal(5, name=f"sb{a}_tag") for a in range(1, F)]

        def alive(a):
            if a < X_TO_W:
                return sb_valid[a] & ~stop
            if a == X_TO_W:
                return sb_valid[a] & ~faulted
            return sb_valid[a]

        m.d.comb += [self.x_squash.eq(stop | redirect), self.squash.eq(stop)]
        issue = x.valid & x.dec.d_float & ~stop & ~redirect if F else Const(0, 1)
        m.d.comb += self.x_float.eq(issue)
        if F:
            m.d.sync += [sb_valid[1].eq(issue), sb_tag[1].eq(x.dec.d_rd)]
            for a in range(2, F):
                m.d.sync += [sb_valid[a].eq(alive(a - 1)), sb_tag[a].eq(sb_tag[a - 1])]
            m.d.comb += [self.float_we.eq(alive(F - 1)), self.float_rd.eq(sb_tag[F - 1])]
        # Float results that will still be written after this cycle.
        pending_after = Cat(Const(0, 1), *(alive(a) for a in range(1, F - 1))).any()

        # ---------------------------------------------------------- R: interlock
        # The R SIW would be in X next cycle: a value it reads or writes must be
        # ready by then.  A GATHER now in X, M or N is not (latency 4); a float op
        # of age a (0 = in X now) is not while a + 1 < F.
        #
        # The test is made a cycle ahead and registered (``hazard``), so that the
        # hold of F, D and R starts from a flip-flop: in each cycle, for the SIW that
        # will be in R next (R's own if it holds, else D's), against what will be
        # in flight then.  Squashes are left out: after one, R is empty.
        def uses(dec):
            return [(dec.rd_rs1, dec.d_rs1), (dec.rd_rs2, dec.d_rs2),
                    (dec.rd_drd | dec.wr_drd, dec.d_rd),
                    (dec.rd_sreg | dec.wr_sreg, dec.s_reg),
                    (dec.rd_creg | dec.wr_creg, dec.c_reg)]

        def conflict(dec, in_flight):
            out = Const(0, 1)
            for busy, tag in in_flight:
                for used, reg in uses(dec):
                    out = out | (busy & used & (reg == tag))
            return out

        # In flight next cycle, whatever R does: the GATHERs then in M and N, the
        # float ops then of age 1 .. F-2 ...
        later = [(stage.valid & stage.dec.wr_sreg, stage.dec.s_reg) for stage in (x, mm)]
        if F:
            later.append((x.valid & x.dec.d_float, x.dec.d_rd))
            later += [(sb_valid[a], sb_tag[a]) for a in range(1, F - 2)]
        # ... and, if R moves on, its SIW in X.
        from_r = [(r.valid & r.dec.wr_sreg, r.dec.s_reg)]
        if F:
            from_r.append((r.valid & r.dec.d_float, r.dec.d_rd))
        hazard = Signal()
        squash_r = stop | redirect
        stall = run & r.valid & ~r.pc_range & ~squash_r & hazard
        m.d.sync += hazard.eq(Mux(stall, conflict(r.dec, later),
                                  conflict(self.d_dec, later + from_r)))
        m.d.comb += self.r_stall.eq(stall)

        # ---------------------------------------------------------- D: prediction
        d_valid = Signal()
        d_pc = Signal(ADDR_BITS)
        dd = self.d_dec
        predicted = Mux((dd.c_op == COp.LOOP) | (dd.c_op == COp.JUMP), dd.c_target, d_pc + 1)
        m.d.comb += [self.d_valid.eq(d_valid), self.d_pc.eq(d_pc)]

        # ---------------------------------------------------------- F: fetch
        fetch = run & ~stop & f_more & ~stall
        m.d.comb += [
            self.f_addr.eq(Mux(redirect, mm.pc + 1, Mux(d_valid, predicted, self.pc))),
            self.f_en.eq(~stall),
        ]

        # ---------------------------------------------------------- state updates
        def advance(dst, src, keep):
            """Move ``src`` into stage register ``dst``; valid only if ``keep``."""
            return [dst.eq(src), dst.valid.eq(src.valid & keep)]

        with m.If(run):
            with m.If(~stall):
                m.d.sync += [d_valid.eq(fetch), d_pc.eq(self.f_addr)]
                m.d.sync += [
                    r.valid.eq(d_valid & ~squash_r),
                    r.pc.eq(d_pc),
                    r.pc_range.eq(d_pc >= self.prog_len),
                    r.range_fault.eq(0), r.halt.eq(0), r.loop_exit.eq(0),
                    r.branch.eq(0), r.next_pc.eq(0),
                    r.dec.eq(dd),
                ]
            with m.If(fetch & step_mode):
                m.d.sync += f_more.eq(0)
            m.d.sync += advance(x, r, ~stall & ~squash_r)
            m.d.sync += advance(mm, x, ~squash_r)
            m.d.sync += [
                mm.range_fault.eq(self.x_range_fault),
                mm.halt.eq(self.x_halt),
                mm.loop_exit.eq(self.x_loop_not_taken),
                mm.branch.eq(self.x_branch),
            ]
            m.d.sync += advance(n, mm, ~stop)
            m.d.sync += n.next_pc.eq(Mux(mm.branch, mm.dec.c_target, mm.pc + 1))
            m.d.sync += advance(t, n, ~stop)
            m.d.sync += advance(w, t, ~stop)
            m.d.sync += self.cycles.eq(self.cycles + 1)
            with m.If(commit):
                m.d.sync += [
                    self.pc.eq(w.next_pc),
                    self.siws.eq(self.siws + 1),
                    self.ops.eq(self.ops + w.dec.ops),
                ]
            with m.If(faulted):
                m.d.sync += [self.pc.eq(w.pc), self.fault.eq(fault), self.fault_pc.eq(w.pc)]
            with m.If(stop):
                m.d.sync += [d_valid.eq(0), r.valid.eq(0), x.valid.eq(0), mm.valid.eq(0),
                             n.valid.eq(0), t.valid.eq(0), w.valid.eq(0),
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
                    self.fault.eq(Fault.NONE),
                ] + [getattr(self, stage).valid.eq(0) for stage in STAGES]
            with m.Elif(self.pc_we):
                m.d.sync += self.pc.eq(self.pc_wdata)

        m.d.comb += self.running.eq(self.state != RunState.IDLE)
        return m
