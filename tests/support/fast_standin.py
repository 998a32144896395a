"""A small stand-in core with the Sentron debug port, for testing the fast engine's tool flow alone.

Why it exists: the fast engine's flow (Amaranth -> RTLIL -> CXXRTL C++ -> compiled
library -> ctypes) and its C++ debug-port driver can be tested, and timed, without
the full core, and it compiles in seconds.  It is *not* a Sentron: it executes
only LI, IADD, JUMP and HALT (enough for a loop that runs for ever and a program
that ends), keeps no coordinate memory (every SLOT_READ is an empty way) and has
no timing model.  What it does honour is the debug-port contract of
``hdl/debug.py``: hold-until-``resp_valid`` requests answered by a one-cycle
pulse, BUSY while running except HALT, status and counters always visible.
"""

from amaranth.hdl import Array, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import Out

from hdl.debug import COUNTER_BITS, DebugCmd, DebugError, DebugSignature
from sim.isa.encoding import C_FIELDS, C_SLOT, D_FIELDS, D_SLOT, PC_BITS, COp, DOp, Fault

__all__ = ["StandInCore"]


class StandInCore(wiring.Component):
    """One SIW per cycle from program memory: LI, IADD, JUMP, HALT; anything else is a NOP."""

    def __init__(self, config, memory_init=()):
        self.config = config
        super().__init__({"debug": Out(DebugSignature(config.dim_bits))})

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        dbg = self.debug
        m.submodules.prog = prog = Memory(shape=64, depth=cfg.prog_depth, init=[])
        rd_port = prog.read_port(domain="comb")
        wr_port = prog.write_port()

        regs = Array(Signal(32, name=f"r{i}") for i in range(32))
        cregs = Array(Signal(len(dbg.req_coord), name=f"c{i}") for i in range(8))
        pc = Signal(PC_BITS + 1)
        prog_len = Signal(PC_BITS + 1)
        running = Signal()
        stop_after_one = Signal()
        fault = Signal(4)
        fault_pc = Signal(PC_BITS + 1)
        cycles = Signal(COUNTER_BITS)
        siws = Signal(COUNTER_BITS)
        ops = Signal(COUNTER_BITS)
        m.d.comb += [dbg.running.eq(running), dbg.pc.eq(pc), dbg.prog_len.eq(prog_len),
                     dbg.fault.eq(fault), dbg.fault_pc.eq(fault_pc), dbg.cycles.eq(cycles),
                     dbg.siws.eq(siws), dbg.ops.eq(ops)]

        # ---- execution: one SIW per cycle
        word = rd_port.data
        dslot = word[D_SLOT.lsb:D_SLOT.lsb + D_SLOT.width]
        cslot = word[C_SLOT.lsb:C_SLOT.lsb + C_SLOT.width]

        def field(slot, f):
            return slot[f.lsb:f.lsb + f.width]

        d_op = field(dslot, D_FIELDS["op"])
        rd = field(dslot, D_FIELDS["rd"])
        rs1 = field(dslot, D_FIELDS["rs1"])
        rs2 = field(dslot, D_FIELDS["rs2"])
        imm = field(dslot, D_FIELDS["imm16"])
        c_op = field(cslot, C_FIELDS["op"])
        target = field(cslot, C_FIELDS["target"])
        m.d.comb += rd_port.addr.eq(pc)

        with m.If(running):
            m.d.sync += cycles.eq(cycles + 1)
            with m.If(pc >= prog_len):
                m.d.sync += [running.eq(0), fault.eq(Fault.PC_RANGE), fault_pc.eq(pc)]
            with m.Else():
                m.d.sync += siws.eq(siws + 1)
                with m.If(d_op == DOp.LI):
                    m.d.sync += regs[rd].eq(imm.as_signed())
                with m.Elif(d_op == DOp.IADD):
                    m.d.sync += regs[rd].eq(regs[rs1] + regs[rs2])
                m.d.sync += ops.eq(ops + (d_op != 0) + (c_op != 0))
                with m.If(c_op == COp.JUMP):
                    m.d.sync += pc.eq(target)
                with m.Else():
                    m.d.sync += pc.eq(pc + 1)
                with m.If((c_op == COp.HALT) | stop_after_one):
                    m.d.sync += running.eq(0)

        # ---- debug port: serve a held request once, answer with a one-cycle pulse
        m.d.sync += dbg.resp_valid.eq(0)
        with m.If(dbg.req_valid & ~dbg.resp_valid):
            m.d.sync += [dbg.resp_valid.eq(1), dbg.resp_error.eq(DebugError.NONE),
                         dbg.resp_data.eq(0), dbg.resp_coord.eq(0), dbg.resp_hit.eq(0)]
            addr = dbg.req_addr
            with m.If(running & (dbg.req_cmd != DebugCmd.HALT)):
                m.d.sync += dbg.resp_error.eq(DebugError.BUSY)
            with m.Else():
                with m.Switch(dbg.req_cmd):
                    with m.Case(DebugCmd.WRITE_PROG):
                        m.d.comb += [wr_port.addr.eq(addr), wr_port.data.eq(dbg.req_data),
                                     wr_port.en.eq(addr < cfg.prog_depth)]
                    with m.Case(DebugCmd.SET_LEN):
                        m.d.sync += [prog_len.eq(addr), pc.eq(0)]
                    with m.Case(DebugCmd.READ_REG):
                        m.d.sync += dbg.resp_data.eq(regs[addr[:5]])
                    with m.Case(DebugCmd.WRITE_REG):
                        m.d.sync += regs[addr[:5]].eq(dbg.req_data[:32])
                    with m.Case(DebugCmd.READ_CREG):
                        m.d.sync += dbg.resp_coord.eq(cregs[addr[:3]])
                    with m.Case(DebugCmd.WRITE_CREG):
                        m.d.sync += cregs[addr[:3]].eq(dbg.req_coord)
                    with m.Case(DebugCmd.WRITE_PC):
                        m.d.sync += pc.eq(addr)
                    with m.Case(DebugCmd.SLOT_READ):
                        with m.If(addr >= cfg.sets * cfg.ways):
                            m.d.sync += dbg.resp_error.eq(DebugError.RANGE)
                    with m.Case(DebugCmd.RUN, DebugCmd.STEP):
                        m.d.sync += [running.eq(1), fault.eq(0),
                                     stop_after_one.eq(dbg.req_cmd == DebugCmd.STEP)]
                    with m.Case(DebugCmd.HALT):
                        m.d.sync += running.eq(0)
        return m
