"""The Sentron RTL on Amaranth's simulator as an engine: ``vtpu sim --engine rtl``.

The hardware of ``hdl/core.py`` is driven only through its debug port, as a host
would drive a board (sim/engines/rtl_driver.py speaks the port's protocol), so what this
engine reports is what the hardware holds: the memory dump, for instance, is one
SLOT_READ per way.

Amaranth's simulator wants to own the control flow (a testbench is a coroutine
that runs inside ``Simulator.run``), while an :class:`sim.engines.interface.Engine` is
called method by method.  The bridge: one long-lived testbench serves *jobs*
(async functions of the simulator context); each engine method posts a job and
advances the simulator until the job is done.  The simulated core, its clock and
an optional VCD waveform therefore live as long as the engine, across calls.
"""

import dataclasses

from sim.isa.encoding import CoreConfig, COp, Fault
from .interface import Engine, register_engine

__all__ = ["RtlEngine", "SignalReader"]


class SignalReader:
    """Reads many values per simulated cycle, cheaply.

    ``ctx.get`` is general (any expression, shape-castable results) and costs a
    few microseconds per call, interpreting the expression each time; the
    lockstep checker reads ~50 values every cycle.  This reader compiles them
    once into one function that reads the simulator's state directly
    (:func:`sim.engines.levelized.value_reader`).  That relies on pysim's engine
    state (``_engine._state``, Amaranth 0.5); where the simulator does not offer
    it, it falls back to ``ctx.get``, which gives the same values more slowly.
    """

    def __init__(self, ctx, values):
        from .levelized import available, value_reader
        self.values = list(values)
        self._ctx = ctx
        state = getattr(getattr(ctx, "_engine", None), "_state", None)
        self._read = value_reader(state, self.values) if available() and state else None

    def read(self):
        """Current values, in the order given (ints, as ``ctx.get`` gives for a Value)."""
        if self._read is not None:
            return self._read()
        return [self._ctx.get(v) for v in self.values]


class _Job:
    __slots__ = ("fn", "result", "error", "done")

    def __init__(self, fn):
        self.fn, self.result, self.error, self.done = fn, None, None, False


class RtlEngine(Engine):
    """The core of hdl/core.py, simulated cycle by cycle by Amaranth's Python simulator.

    Parameters
    ----------
    config : CoreConfig
    vcd : str or None
        Write a VCD waveform of every simulated cycle to this file (closed by
        :meth:`close`, or when the engine is used as a context manager).
    memory_init : sequence of (key, value)
        Initial contents baked into the coordinate memory (as a bitstream would).
    timeout : int
        Cycles a single wait (a debug answer, a run) may take before TimeoutError.
    regfile : "ff", "lutram" or "bram"
        The register files' implementation (``hdl/core.py``).
    sim_engine : amaranth.sim engine class or None
        The simulator's engine; None: the levelized engine
        (:mod:`sim.engines.levelized`, Amaranth's own where it is not available).
        The same behaviour, cycle for cycle; Amaranth's is an order of magnitude
        slower on this core (``python -m benchmarks.pysim``).
    """
    name = "rtl"

    def __init__(self, config=None, vcd=None, memory_init=(), timeout=10_000_000, regfile="ff",
                 sim_engine=None):
        from hdl.cores import core_class
        from .rtl_driver import DebugDriver
        self.config = config if config is not None else CoreConfig()
        self.core = core_class(self.config)(self.config, memory_init=memory_init,
                                            regfile=regfile)
        self.driver = DebugDriver(self.core, timeout=timeout)
        self.words = []
        self.vcd_path = vcd
        self.sim_engine = sim_engine
        self._job = None
        self._sim = None             # built by the first call
        self._vcd = None
        self._closed = False

    def record_vcd(self, path):
        """Write the waveform of every cycle from now on to ``path`` (before the first
        use of the engine); :meth:`close` finishes the file."""
        if self._sim is not None:
            raise RuntimeError("record_vcd must be called before the engine is first used")
        self.vcd_path = path

    def _simulator(self):
        from amaranth.sim import Simulator
        from .levelized import make_simulator
        if self._closed:
            raise RuntimeError("the engine is closed")
        if self._sim is None:
            self._sim = (make_simulator(self.core) if self.sim_engine is None
                         else Simulator(self.core, engine=self.sim_engine))
            self._sim.add_clock(1e-6)
            self._sim.add_testbench(self._serve)
            if self.vcd_path:
                self._vcd = self._sim.write_vcd(self.vcd_path)
                self._vcd.__enter__()
        return self._sim

    # ---------------------------------------------------------------- the job server

    async def _serve(self, ctx):
        while True:
            job = self._job
            if job is None:                      # only reached between calls
                await ctx.tick()
                continue
            try:
                job.result = await job.fn(ctx)
            except BaseException as e:          # handed back to the caller
                job.error = e
            job.done = True
            self._job = None

    def call(self, fn):
        """Run ``await fn(ctx)`` inside the simulation (a testbench context); return its
        result.  Lockstep checking and custom observation use this."""
        sim = self._simulator()
        job = self._job = _Job(fn)
        while not job.done:
            sim.advance()
        if job.error is not None:
            raise job.error
        return job.result

    def close(self):
        """Finish the VCD file, if any.  The engine cannot be used afterwards."""
        if self._vcd is not None:
            self._vcd.__exit__(None, None, None)
            self._vcd = None
        self._sim = None
        self._closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---------------------------------------------------------------- Engine

    def load_program(self, words):
        words = [int(w) for w in words]
        if len(words) > self.config.prog_depth:
            raise ValueError(f"program has {len(words)} SIWs; program memory holds "
                             f"{self.config.prog_depth}")
        self.call(lambda ctx: self.driver.load_program(ctx, words))
        self.words = words

    def write_memory(self, entries):
        from hdl.debug import DebugError
        from sim.isa.coord import morton_coord
        from sim.golden.memory import MemoryFullError, set_index
        entries = list(entries)
        B = self.config.dim_bits

        async def job(ctx):
            for index, (key, value) in enumerate(entries):
                r = await self.driver.mem_write(ctx, morton_coord(key, B), value, check=False)
                if r.error == DebugError.MEM_FULL:
                    raise MemoryFullError(key, set_index(key, self.config.set_bits), index, B)
                if r.error != DebugError.NONE:
                    raise RuntimeError(f"MEM_WRITE of entry {index} refused: {r.error.name}")
        self.call(job)

    def _finish(self, events, state, max_cycles):
        """The state after a run; ``halted`` False if the host stopped it (max_cycles)."""
        if max_cycles is None or state.fault != Fault.NONE or not events:
            return state
        from sim.golden.decode import decode
        last = events[-1]
        if last.pc < len(self.words) and decode(self.words[last.pc]).c_op == COp.HALT:
            return state
        return dataclasses.replace(state, halted=False)

    async def read_state(self, ctx, memory=True):
        """The state through the debug port; ``memory`` dumps every slot (SLOT_READ)."""
        return await self.driver.state(ctx, memory=memory)

    def trace_run(self, max_cycles=None):
        """Run like :meth:`run`; also return ``(cycle, pc, word, fault)`` per retired SIW
        (``vtpu sim --trace``)."""
        async def job(ctx):
            events = await self.driver.run(ctx, max_cycles=max_cycles)
            return events, await self.read_state(ctx)
        events, state = self.call(job)
        records = [(e.cycle, e.pc, self.words[e.pc] if e.pc < len(self.words) else None,
                    e.fault if e.fault != Fault.NONE else None) for e in events]
        return self._finish(events, state, max_cycles), records

    def run(self, max_cycles=None):
        return self.trace_run(max_cycles)[0]

    def step(self):
        async def job(ctx):
            await self.driver.step(ctx)
            return await self.read_state(ctx)
        return self.call(job)

    def state(self):
        return self.call(lambda ctx: self.read_state(ctx))


register_engine("rtl", RtlEngine)
