"""A behavioural stand-in for the Sentron core's debug port, for testing the host link alone.

It answers debug requests through the signals of ``hdl/debug.py``'s contract
from a testbench process, keeping its state in Python dicts, and records every
request it served, so a test can prove that a rejected frame reached the core
not at all.  It runs no program: RUN and STEP only hold ``running`` high for a
few cycles and count, which is all the link needs to see.
"""

from amaranth.lib import wiring
from amaranth.hdl import Module

from hdl.debug import DebugCmd, DebugError, DebugSignature
from sim.isa.coord import morton_coord, morton_key
from sim.isa.encoding import NDIMS
from sim.golden.memory import CoordinateMemory

__all__ = ["DebugPortStub", "FakeCore"]


class DebugPortStub(wiring.Component):
    """The core's side of the debug port with no logic: the fake drives it from Python."""

    def __init__(self, config):
        self.config = config
        super().__init__({"debug": wiring.Out(DebugSignature(config.dim_bits))})

    def elaborate(self, platform):
        return Module()


def pack_coord(dims, dim_bits):
    return sum(v << (d * dim_bits) for d, v in enumerate(dims))


def unpack_coord(value, dim_bits):
    mask = (1 << dim_bits) - 1
    return tuple((value >> (d * dim_bits)) & mask for d in range(NDIMS))


class FakeCore:
    """Dict-backed core state behind a :class:`DebugPortStub`'s signals.

    ``run_cycles``: how long RUN keeps ``running`` high (STEP: 2 cycles).
    ``log``: every served request as ``(DebugCmd, addr, data, coord)``.
    """

    def __init__(self, config, port, run_cycles=30):
        self.config = config
        self.port = port
        self.run_cycles = run_cycles
        self.prog = {}
        self.prog_len = 0
        self.pc = 0
        self.regs = {i: 0 for i in range(32)}
        self.cregs = {i: (0,) * NDIMS for i in range(8)}
        self.memory = CoordinateMemory(config.dim_bits, config.set_bits, config.ways)
        self.fault = 0
        self.fault_pc = 0
        self.cycles = self.siws = self.ops = 0
        self.runs = 0
        self.log = []
        self._running_left = 0

    def snapshot(self):
        """Everything a request could change, for 'nothing changed' checks."""
        return (dict(self.prog), self.prog_len, self.pc, dict(self.regs), dict(self.cregs),
                self.memory.slots(), self.runs)

    def _serve(self, cmd, addr, data, coord):
        """(error, data, coord, hit) for one request, applying its effect."""
        cfg = self.config
        if self._running_left and cmd != DebugCmd.HALT:
            return DebugError.BUSY, 0, 0, 0
        dims = unpack_coord(coord, cfg.dim_bits)
        if cmd == DebugCmd.WRITE_PROG:
            if addr >= cfg.prog_depth:
                return DebugError.RANGE, 0, 0, 0
            self.prog[addr] = data
        elif cmd == DebugCmd.READ_PROG:
            if addr >= cfg.prog_depth:
                return DebugError.RANGE, 0, 0, 0
            return DebugError.NONE, self.prog.get(addr, 0), 0, 0
        elif cmd == DebugCmd.SET_LEN:
            if addr > cfg.prog_depth:
                return DebugError.RANGE, 0, 0, 0
            self.prog_len, self.pc = addr, 0
        elif cmd in (DebugCmd.READ_REG, DebugCmd.WRITE_REG):
            if addr >= 32:
                return DebugError.RANGE, 0, 0, 0
            if cmd == DebugCmd.WRITE_REG:
                self.regs[addr] = data & 0xFFFF_FFFF
            return DebugError.NONE, self.regs[addr], 0, 0
        elif cmd in (DebugCmd.READ_CREG, DebugCmd.WRITE_CREG):
            if addr >= 8:
                return DebugError.RANGE, 0, 0, 0
            if cmd == DebugCmd.WRITE_CREG:
                self.cregs[addr] = dims
            return DebugError.NONE, 0, pack_coord(self.cregs[addr], cfg.dim_bits), 0
        elif cmd == DebugCmd.WRITE_PC:
            if addr >= cfg.prog_depth:
                return DebugError.RANGE, 0, 0, 0
            self.pc = addr
        elif cmd == DebugCmd.MEM_READ:
            key = morton_key(dims, cfg.dim_bits)
            hit = key in self.memory.entries()
            return DebugError.NONE, self.memory.gather(key), 0, int(hit)
        elif cmd == DebugCmd.MEM_WRITE:
            key = morton_key(dims, cfg.dim_bits)
            if self.memory.would_fault(key):
                return DebugError.MEM_FULL, 0, 0, 0
            self.memory.scatter(key, data & 0xFFFF_FFFF)
        elif cmd == DebugCmd.MEM_ERASE:
            self.memory.erase(morton_key(dims, cfg.dim_bits))
        elif cmd == DebugCmd.SLOT_READ:
            if addr >= cfg.sets * cfg.ways:
                return DebugError.RANGE, 0, 0, 0
            slot = self.memory.slots()[addr // cfg.ways][addr % cfg.ways]
            if slot is None:
                return DebugError.NONE, 0, 0, 0
            key, value = slot
            return DebugError.NONE, value, pack_coord(morton_coord(key, cfg.dim_bits), cfg.dim_bits), 1
        elif cmd in (DebugCmd.RUN, DebugCmd.STEP):
            self.runs += 1
            self.fault = 0
            self._running_left = self.run_cycles if cmd == DebugCmd.RUN else 2
        elif cmd == DebugCmd.HALT:
            self._running_left = min(self._running_left, 1)
        return DebugError.NONE, 0, 0, 0

    async def process(self, ctx):
        """A background testbench: serve requests, keep the status outputs up to date."""
        port = self.port
        while True:
            ctx.set(port.running, int(self._running_left > 0))
            ctx.set(port.pc, self.pc)
            ctx.set(port.prog_len, self.prog_len)
            ctx.set(port.fault, self.fault)
            ctx.set(port.fault_pc, self.fault_pc)
            ctx.set(port.cycles, self.cycles)
            ctx.set(port.siws, self.siws)
            ctx.set(port.ops, self.ops)
            await ctx.tick()
            self.cycles += 1
            if self._running_left:
                self._running_left -= 1
                if not self._running_left:
                    self.siws += 1
                    self.pc = (self.pc + 1) % self.config.prog_depth
            if ctx.get(port.req_valid):
                cmd = DebugCmd(ctx.get(port.req_cmd))
                addr, data, coord = (ctx.get(port.req_addr), ctx.get(port.req_data),
                                     ctx.get(port.req_coord))
                self.log.append((cmd, addr, data, coord))
                error, rdata, rcoord, hit = self._serve(cmd, addr, data, coord)
                ctx.set(port.resp_error, error)
                ctx.set(port.resp_data, rdata)
                ctx.set(port.resp_coord, rcoord)
                ctx.set(port.resp_hit, hit)
                ctx.set(port.resp_valid, 1)
                await ctx.tick()
                self.cycles += 1
                ctx.set(port.resp_valid, 0)


class EchoCore(wiring.Component):
    """A tiny *hardware* stand-in for the core, for building the board shell.

    It answers every debug request one cycle later with values derived from the
    request (so synthesis keeps all of the host link's reply logic, which a
    constant stand-in would let it remove), counts cycles, and runs for a while
    after RUN.  It is not a model of the Sentron: only a load for the link.
    """

    def __init__(self, config):
        self.config = config
        super().__init__({"debug": wiring.Out(DebugSignature(config.dim_bits))})

    def elaborate(self, platform):
        from amaranth.hdl import Signal
        m = Module()
        d = self.debug
        busy = Signal(8)
        with m.If(busy != 0):
            m.d.sync += busy.eq(busy - 1)
        m.d.sync += [d.resp_valid.eq(0), d.cycles.eq(d.cycles + 1)]
        with m.If(d.req_valid & ~d.resp_valid):
            m.d.sync += [d.resp_valid.eq(1), d.resp_data.eq(d.req_data ^ d.req_addr),
                         d.resp_coord.eq(d.req_coord ^ d.req_data), d.resp_hit.eq(d.req_addr[0]),
                         d.resp_error.eq(d.req_cmd.as_value()[:2])]
            with m.If(d.req_cmd == DebugCmd.RUN):
                m.d.sync += [busy.eq(200), d.siws.eq(d.siws + 1), d.pc.eq(d.req_addr),
                             d.ops.eq(d.ops + d.req_data[:4]), d.fault.eq(d.req_data[4:8]),
                             d.fault_pc.eq(d.req_data[8:]), d.prog_len.eq(d.req_addr)]
        m.d.comb += d.running.eq(busy != 0)
        return m
