"""Driving the Sentron RTL (hdl/core.py) through its debug port, in Amaranth's simulator.

This is the test-bench side of the debug port: async functions that issue one
command each, plus :meth:`DebugDriver.run` which also watches the core's retire
strobe so a test can compare the retire cycle of every SIW with the golden
model (docs/isa.md section 7).  Tests, the RTL engine and the lockstep checker
build on it; it holds no model of the ISA (that is the golden model's job), only
the debug-port protocol of ``hdl/debug.py``.

Usage, inside an async testbench::

    core = Sentron(config)
    drv = DebugDriver(core)

    async def bench(ctx):
        await drv.load_program(ctx, words)
        await drv.write_memory(ctx, [(key, value), ...])
        retires = await drv.run(ctx)          # [RetireEvent(pc, cycle, fault), ...]
        state = await drv.state(ctx)          # sim.golden.state.ArchState

    sim = Simulator(core); sim.add_clock(1e-6); sim.add_testbench(bench); sim.run()

:func:`simulate` wraps those four lines.  Everything here may be called only from
a testbench of a simulator whose design contains ``core``.

Protocol, as the core implements it: a request is held on ``req_*`` until the core
answers with a one-cycle ``resp_valid``; the driver drops ``req_valid`` in the
answer's cycle.  RUN and STEP answer as the run starts; :meth:`DebugDriver.run`
then follows the run cycle by cycle until ``running`` drops (after the float
pipeline has drained).
"""

from typing import NamedTuple

from amaranth.sim import Simulator

from hdl.debug import DebugCmd, DebugError
from sim.isa.coord import Coord, morton_coord, morton_key
from sim.isa.encoding import NDIMS, Fault
from sim.golden.state import ArchState

__all__ = ["DebugDriver", "DebugResponse", "RetireEvent", "DebugCommandError", "simulate"]


class DebugResponse(NamedTuple):
    """The core's answer: ``error`` (DebugError), ``data`` (int), ``coord`` (tuple), ``hit``."""
    error: DebugError
    data: int
    coord: tuple
    hit: bool


class RetireEvent(NamedTuple):
    """One SIW leaving X: its address, the ``cycles`` counter in that cycle, its fault."""
    pc: int
    cycle: int
    fault: Fault


class DebugCommandError(RuntimeError):
    """A debug command the core refused (``error`` is the DebugError)."""

    def __init__(self, cmd, error, addr):
        self.cmd, self.error, self.addr = cmd, error, addr
        super().__init__(f"debug command {cmd.name} (addr {addr}) refused: {error.name}")


class DebugDriver:
    """Async debug-port commands for one :class:`hdl.core.Sentron` in simulation.

    Every command method raises :class:`DebugCommandError` if the core answers
    with an error, unless called as ``request(..., check=False)``.
    ``timeout`` bounds the cycles any single wait may take.
    """

    def __init__(self, core, timeout=100_000):
        self.core = core
        self.port = core.debug
        self.config = core.config
        self.dim_bits = core.config.dim_bits
        self.timeout = timeout

    # ---------------------------------------------------------------- coordinates

    def pack(self, coord):
        """A coordinate (9 ints) as the port's packed form."""
        return sum(int(v) << (d * self.dim_bits) for d, v in enumerate(coord))

    def unpack(self, value):
        mask = (1 << self.dim_bits) - 1
        return Coord(((value >> (d * self.dim_bits)) & mask for d in range(NDIMS)),
                     self.dim_bits)

    # ---------------------------------------------------------------- one request

    async def request(self, ctx, cmd, addr=0, data=0, coord=(0,) * NDIMS, check=True):
        """Issue one command and wait for its answer; return a :class:`DebugResponse`."""
        p = self.port
        ctx.set(p.req_cmd, cmd)
        ctx.set(p.req_addr, addr)
        ctx.set(p.req_data, data)
        ctx.set(p.req_coord, self.pack(coord))
        ctx.set(p.req_valid, 1)
        for _ in range(self.timeout):
            await ctx.tick()
            if ctx.get(p.resp_valid):
                break
        else:
            raise TimeoutError(f"debug command {cmd.name}: no answer in {self.timeout} cycles")
        resp = DebugResponse(ctx.get(p.resp_error), ctx.get(p.resp_data),
                             self.unpack(ctx.get(p.resp_coord)), bool(ctx.get(p.resp_hit)))
        ctx.set(p.req_valid, 0)
        if check and resp.error != DebugError.NONE:
            raise DebugCommandError(cmd, resp.error, addr)
        return resp

    # ---------------------------------------------------------------- state access

    async def load_program(self, ctx, words):
        """WRITE_PROG every word from address 0, then SET_LEN (which also sets pc = 0)."""
        for addr, word in enumerate(words):
            await self.request(ctx, DebugCmd.WRITE_PROG, addr, word)
        await self.request(ctx, DebugCmd.SET_LEN, len(words))

    async def read_prog(self, ctx, addr):
        return (await self.request(ctx, DebugCmd.READ_PROG, addr)).data

    async def read_reg(self, ctx, index):
        return (await self.request(ctx, DebugCmd.READ_REG, index)).data

    async def write_reg(self, ctx, index, value):
        await self.request(ctx, DebugCmd.WRITE_REG, index, value)

    async def read_creg(self, ctx, index):
        return (await self.request(ctx, DebugCmd.READ_CREG, index)).coord

    async def write_creg(self, ctx, index, coord):
        await self.request(ctx, DebugCmd.WRITE_CREG, index, coord=coord)

    async def write_pc(self, ctx, pc):
        await self.request(ctx, DebugCmd.WRITE_PC, pc)

    async def mem_read(self, ctx, coord):
        """``(value, hit)`` at ``coord`` (value 0 if absent)."""
        r = await self.request(ctx, DebugCmd.MEM_READ, coord=coord)
        return r.data, r.hit

    async def mem_write(self, ctx, coord, value, check=True):
        """Store ``value`` at ``coord``; the response's error is MEM_FULL for a full set."""
        return await self.request(ctx, DebugCmd.MEM_WRITE, data=value, coord=coord, check=check)

    async def mem_erase(self, ctx, coord):
        await self.request(ctx, DebugCmd.MEM_ERASE, coord=coord)

    async def write_memory(self, ctx, entries):
        """MEM_WRITE ``(key, value)`` pairs in order (an image load)."""
        for key, value in entries:
            await self.mem_write(ctx, morton_coord(key, self.dim_bits), value)

    async def slot_read(self, ctx, set_index, way):
        """``(key, value)`` of one way, or None if it is free."""
        r = await self.request(ctx, DebugCmd.SLOT_READ, set_index * self.config.ways + way)
        return (morton_key(r.coord, self.dim_bits), r.data) if r.hit else None

    async def read_memory(self, ctx):
        """Every slot, as ArchState.memory: ``[set][way]`` -> (key, value) or None."""
        sets = []
        for s in range(self.config.sets):
            sets.append(tuple([await self.slot_read(ctx, s, w) for w in range(self.config.ways)]))
        return tuple(sets)

    async def state(self, ctx, memory=True):
        """The architectural state (sim.golden.state.ArchState), read through the debug port.

        ``pc`` and ``fault_pc`` come from the core's full-width observation points
        (the port shows only PC_BITS bits; they differ only for the address 1024
        reached by running off a full program memory).  With ``memory=False`` the
        memory dump (``sets * ways`` SLOT_READs) is skipped and ``memory`` is ().
        """
        regs = tuple([await self.read_reg(ctx, i) for i in range(32)])
        cregs = tuple([await self.read_creg(ctx, i) for i in range(8)])
        mem = await self.read_memory(ctx) if memory else ()
        p = self.port
        return ArchState(regs=regs, cregs=cregs, pc=ctx.get(self.core.pc_full),
                         halted=not ctx.get(p.running), fault=Fault(ctx.get(p.fault)),
                         fault_pc=ctx.get(self.core.fault_pc_full), cycles=ctx.get(p.cycles),
                         siws=ctx.get(p.siws), ops=ctx.get(p.ops), memory=mem)

    # ---------------------------------------------------------------- running

    async def _follow(self, ctx, max_cycles=None, halt_at=None, on_cycle=None):
        """Watch the run until ``running`` drops; return the :class:`RetireEvent` list.

        Called in the cycle the RUN/STEP answer arrives (the run's first cycle).
        ``max_cycles``: send HALT once the cycle counter reaches it; ``halt_at``:
        send HALT in the cycle the counter reads it.  ``on_cycle(ctx)``, if given,
        is awaited every cycle (after the retire sample) for custom observation.
        """
        core, p = self.core, self.port
        events = []
        halt_sent = False
        # A core whose cycle is several clocks (hdl/core.py, micro_cycles) is
        # observed in the last clock of each cycle, when its state has settled.
        every_clock = core.micro_cycles == 1
        for _ in range(self.timeout):
            edge = every_clock or ctx.get(core.arch_edge)
            if edge and ctx.get(core.retire):
                events.append(RetireEvent(ctx.get(core.retire_pc), ctx.get(core.cycles),
                                          Fault(ctx.get(core.retire_fault))))
            if edge and on_cycle is not None:
                await on_cycle(ctx)
            if halt_sent and ctx.get(p.resp_valid):
                ctx.set(p.req_valid, 0)
                halt_sent = False
            if not halt_sent and not ctx.get(p.running):
                return events
            cycle = ctx.get(core.cycles)
            if edge and ((max_cycles is not None and cycle >= max_cycles) or
                         (halt_at is not None and cycle == halt_at)):
                max_cycles = halt_at = None
                ctx.set(p.req_cmd, DebugCmd.HALT)
                ctx.set(p.req_valid, 1)
                halt_sent = True
            await ctx.tick()
        raise TimeoutError(f"run did not end in {self.timeout} cycles")

    async def run(self, ctx, max_cycles=None, halt_at=None, on_cycle=None):
        """RUN from pc until HALT, a fault, or (with ``max_cycles``) the host's HALT
        when the cycle counter reaches ``max_cycles``.  Returns the retire events."""
        await self.request(ctx, DebugCmd.RUN)
        return await self._follow(ctx, max_cycles, halt_at, on_cycle)

    async def step(self, ctx):
        """STEP one SIW; returns its retire events (one)."""
        await self.request(ctx, DebugCmd.STEP)
        return await self._follow(ctx)

    async def halt(self, ctx):
        """HALT (harmless when idle)."""
        await self.request(ctx, DebugCmd.HALT)


def simulate(core, bench, vcd=None):
    """Run ``bench(ctx, driver)`` against ``core`` in a fresh simulator with a clock.

    Returns whatever ``bench`` returns.  ``vcd``: a file name to write a waveform to.
    """
    driver = DebugDriver(core)
    result = {}

    async def testbench(ctx):
        result["value"] = await bench(ctx, driver)

    sim = Simulator(core)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    if vcd:
        with sim.write_vcd(vcd):
            sim.run()
    else:
        sim.run()
    return result.get("value")
