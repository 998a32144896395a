"""The Sentron core's debug unit: the core's end of the debug port, executing one host command at a time.

Why it looks like this
----------------------
* **A component whose signature is the host's reach.**  Every command reads or
  writes one piece of the core: the program memory, a data or coordinate
  register, the coordinate memory, ``pc`` and the run state.  Each of those is a
  port group here, shaped and named like the port it is plugged into (a
  register-file read port, the memory's ports, the issue unit's run controls),
  so the signature says exactly what a host can touch, and the core plugs
  each group in with one mechanism (``hdl/core.py``).  Grouped like that the
  list stays short (the debug port's ten request and answer members, ``idle``,
  ``prog_len`` and eight port groups), so a component it is, not named steps
  inside the core: it is read, and elaborated, on its own.
* **It borrows the lanes' ports while the core is idle.**  X is empty then, so
  the fetch port of the program memory, the register-file ports the lanes use
  in X and the coordinate memory's D and X ports are free; the core gives them
  to this unit whenever the run state is IDLE.  So the unit drives every shared port all the time, as the request in
  hand would have it, and the core decides who is heard.  A dedicated host port
  on each register file would cost a multiplexer per flip-flop; on the memory,
  a second copy of its placement logic.
* **Memory commands take two cycles**, as a GATHER or SCATTER does: the set is
  read in the cycle the command is accepted (the memory's D port), and used,
  and for MEM_WRITE and MEM_ERASE written, in the next (its X port).  READ_PROG
  waits a cycle for the program memory's synchronous read in the same way.
* **One command at a time**, answered with a one-cycle ``resp_valid``.  A
  request is accepted only in a cycle where ``resp_valid`` is low, because a
  requester that saw the answer drops (or changes) its request in the next
  cycle, not in the answer's own.  While the core runs only HALT is accepted;
  everything else gets BUSY, so nothing a host does can tear an SIW apart.
"""

from contextlib import contextmanager

from amaranth.hdl import Array, Module, Mux, Signal
from amaranth.lib import enum, wiring
from amaranth.lib.memory import ReadPort, WritePort
from amaranth.lib.wiring import In, Out

from sim.isa.encoding import NDIMS, PC_BITS, SIW_BITS, CoreConfig, SOp

from .coord_memory import coord_memory_signature
from .debug import DebugCmd, DebugError, DebugSignature
from .morton import morton_coord_value, morton_key_value
from .regfile import read_port_signature, write_port_signature

__all__ = ["DebugUnit"]


class _Phase(enum.Enum, shape=1):
    """Debug commands that need the memory answer one cycle after they are accepted."""
    ACCEPT = 0      # waiting for a request (or answering a one-cycle one)
    SECOND = 1      # READ_PROG's word / MEM_* and SLOT_READ's rows are available now


#: The issue unit's inputs the host drives (named as :class:`hdl.issue.IssueUnit` names them).
_RUN_CONTROL = wiring.Signature({
    "start": Out(1), "step": Out(1), "halt_req": Out(1),
    "pc_we": Out(1), "pc_wdata": Out(PC_BITS + 1),
})


class DebugUnit(wiring.Component):
    """Executes debug-port commands (:class:`hdl.debug.DebugCmd`) on the core's state.

    Parameters
    ----------
    config : sim.isa.encoding.CoreConfig
        The core's shape: register and slot counts, program depth, key width.

    Attributes
    ----------
    req_valid, req_cmd, req_addr, req_data, req_coord : In
        The request, as on :class:`hdl.debug.DebugSignature` (the core passes
        ``req_valid`` only for a request held through the whole cycle).
    resp_valid, resp_error, resp_data, resp_coord, resp_hit : Out
        The answer, as on :class:`hdl.debug.DebugSignature`.
    idle : In(1)
        The core is idle: the shared ports below are this unit's.
    prog_len : Out(PC_BITS + 1)
        The program length L, set by SET_LEN (the issue unit faults PC_RANGE at or above it).
    run : Out(start, step, halt_req, pc_we, pc_wdata)
        To the issue unit: RUN, STEP, HALT, and host writes of ``pc``.
    prog_read, prog_write : the program memory's read and write ports, flipped.
    reg_read, reg_write : a read and a write port of the data register file, flipped.
    creg_read, creg_write : the same of the coordinate register file.
    mem : In(coord_memory_signature)
        The coordinate memory's ports.
    """

    #: The ports of the memory this unit drives (the pipelined core's unit, a
    #: subclass, drives its own memory's).
    memory_signature = staticmethod(coord_memory_signature)

    def __init__(self, config):
        if not isinstance(config, CoreConfig):
            raise TypeError(f"config must be a CoreConfig, not {config!r}")
        self.config = config
        coord_bits = NDIMS * config.dim_bits
        prog_addr_bits = (config.prog_depth - 1).bit_length()
        # The request and the answer are the debug port's own members; the status
        # it shows (run state, counters) the core takes from the issue unit.
        exchange = {name: member for name, member in DebugSignature(config.dim_bits).members.items()
                    if name.startswith(("req_", "resp_"))}
        super().__init__({
            **exchange,
            "idle": In(1),
            "prog_len": Out(PC_BITS + 1),
            "run": Out(_RUN_CONTROL),
            "prog_read": In(ReadPort.Signature(addr_width=prog_addr_bits, shape=SIW_BITS)),
            "prog_write": In(WritePort.Signature(addr_width=prog_addr_bits, shape=SIW_BITS)),
            "reg_read": In(read_port_signature(32, 32)),
            "reg_write": In(write_port_signature(32, 32)),
            "creg_read": In(read_port_signature(coord_bits, 8)),
            "creg_write": In(write_port_signature(coord_bits, 8)),
            "mem": In(self.memory_signature(coord_bits, config.ways)),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        B = cfg.dim_bits
        mem = self.mem
        cmd = self.req_cmd

        phase = Signal(_Phase)
        accept = self.req_valid & ~self.resp_valid & (phase == _Phase.ACCEPT)
        m.d.sync += self.resp_valid.eq(0)
        answer = self._answer

        # The memory gets the key in D (accepting) and in X (the second cycle) alike.
        mem_key, slot_way = self._shared_ports(m)
        m.d.comb += [mem.d_key.eq(mem_key), mem.x_key.eq(mem_key),
                     mem.x_wdata.eq(self.req_data[:32])]

        with m.If(phase == _Phase.SECOND):
            m.d.sync += phase.eq(_Phase.ACCEPT)
            with m.Switch(cmd):
                with m.Case(DebugCmd.READ_PROG):
                    m.d.sync += answer(data=self.prog_read.data)
                with m.Case(DebugCmd.MEM_READ):
                    m.d.comb += mem.x_op.eq(SOp.GATHER)
                    m.d.sync += answer(data=mem.x_rdata, hit=mem.x_hit)
                with m.Case(DebugCmd.MEM_WRITE):
                    m.d.comb += [mem.x_op.eq(SOp.SCATTER), mem.x_commit.eq(1)]
                    m.d.sync += answer(Mux(mem.x_full, DebugError.MEM_FULL, DebugError.NONE),
                                       hit=mem.x_hit)
                with m.Case(DebugCmd.MEM_ERASE):
                    m.d.comb += [mem.x_op.eq(SOp.ERASE), mem.x_commit.eq(1)]
                    m.d.sync += answer(hit=mem.x_hit)
                with m.Case(DebugCmd.SLOT_READ):
                    slot = Array(mem.x_slots)[slot_way]
                    m.d.sync += answer(hit=slot.valid, data=slot.value,
                                       coord=morton_coord_value(slot.key, NDIMS, B))

        self._serve(m, accept, phase.eq(_Phase.SECOND))
        return m

    def _answer(self, error=DebugError.NONE, **fields):
        """The statements of an answer: ``resp_valid`` (for one cycle), ``error`` and
        the ``resp_*`` members named in ``fields``."""
        stmts = [self.resp_valid.eq(1), self.resp_error.eq(error)]
        for name, value in fields.items():
            stmts.append(getattr(self, f"resp_{name}").eq(value))
        return stmts

    def _shared_ports(self, m):
        """Drive the shared ports as the request in hand wants them (they are heard
        only while the core is idle); return the memory key it wants, the
        coordinate's or, for SLOT_READ, the set index alone, and SLOT_READ's way.
        Each core's unit gives the key to its memory's ports."""
        cfg = self.config
        cmd, addr = self.req_cmd, self.req_addr
        slot_set = Signal(range(max(cfg.sets, 2)))
        slot_way = Signal(range(max(cfg.ways, 2)))
        mem_key = Mux(cmd == DebugCmd.SLOT_READ, slot_set,
                      morton_key_value(self.req_coord, NDIMS, cfg.dim_bits))
        m.d.comb += [
            slot_set.eq(addr // cfg.ways),
            slot_way.eq(addr % cfg.ways),
            self.reg_read.addr.eq(addr[:5]),
            self.creg_read.addr.eq(addr[:3]),
            self.reg_write.addr.eq(addr[:5]),
            self.reg_write.data.eq(self.req_data[:32]),
            self.creg_write.addr.eq(addr[:3]),
            self.creg_write.data.eq(self.req_coord),
            self.prog_read.addr.eq(addr),
            self.prog_read.en.eq(1),
            self.prog_write.addr.eq(addr),
            self.prog_write.data.eq(self.req_data),
            self.run.pc_wdata.eq(addr),
        ]
        return mem_key, slot_way

    def _serve(self, m, accept, wait):
        """An ``accept``-ed request: while the core runs, HALT or BUSY; while it is
        idle, the command, done now or, for those that wait for a port, started
        with the statement ``wait`` and answered by the caller's phases."""
        answer, cmd = self._answer, self.req_cmd
        with m.If(accept & ~self.idle):
            with m.If(cmd == DebugCmd.HALT):
                m.d.comb += self.run.halt_req.eq(1)
                m.d.sync += answer()
            with m.Else():
                m.d.sync += answer(DebugError.BUSY)
        with m.If(accept & self.idle):
            self._command(m, wait)

    def _command(self, m, wait):
        """An accepted request while the core is idle: done now, or waiting (``wait``)."""
        answer, cfg = self._answer, self.config
        cmd, addr = self.req_cmd, self.req_addr

        @contextmanager
        def below(limit):
            """The body runs if ``addr < limit``; otherwise the answer is RANGE."""
            with m.If(addr < limit):
                yield
            with m.Else():
                m.d.sync += answer(DebugError.RANGE)

        with m.Switch(cmd):
            with m.Case(DebugCmd.NOP, DebugCmd.HALT):
                m.d.sync += answer()
            with m.Case(DebugCmd.WRITE_PROG), below(cfg.prog_depth):
                m.d.comb += self.prog_write.en.eq(1)
                m.d.sync += answer()
            with m.Case(DebugCmd.SET_LEN), below(cfg.prog_depth + 1):
                m.d.comb += [self.run.pc_we.eq(1), self.run.pc_wdata.eq(0)]
                m.d.sync += [self.prog_len.eq(addr)] + answer()
            with m.Case(DebugCmd.READ_PROG), below(cfg.prog_depth):
                m.d.sync += wait
            with m.Case(DebugCmd.READ_REG), below(32):
                m.d.sync += answer(data=self.reg_read.data)
            with m.Case(DebugCmd.WRITE_REG), below(32):
                m.d.comb += self.reg_write.en.eq(1)
                m.d.sync += answer()
            with m.Case(DebugCmd.READ_CREG), below(8):
                m.d.sync += answer(coord=self.creg_read.data)
            with m.Case(DebugCmd.WRITE_CREG), below(8):
                m.d.comb += self.creg_write.en.eq(1)
                m.d.sync += answer()
            with m.Case(DebugCmd.WRITE_PC), below(1 << PC_BITS):
                m.d.comb += self.run.pc_we.eq(1)
                m.d.sync += answer()
            with m.Case(DebugCmd.MEM_READ, DebugCmd.MEM_WRITE, DebugCmd.MEM_ERASE):
                m.d.sync += wait
            with m.Case(DebugCmd.SLOT_READ), below(cfg.sets * cfg.ways):
                m.d.sync += wait
            with m.Case(DebugCmd.RUN, DebugCmd.STEP):
                m.d.comb += [self.run.start.eq(1), self.run.step.eq(cmd == DebugCmd.STEP)]
                m.d.sync += answer()
