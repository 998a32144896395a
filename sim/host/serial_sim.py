"""A simulated serial line to the simulated board: the whole host-link path without a board.

:class:`SimSerial` runs the board top level (``boards/top.py``: Sentron, host
link, UART; not the FPGA platform wrapper) in Amaranth's simulator, and is a
transport for :class:`sim.host.link.HostLink`: the bytes the host writes are
serialised bit by bit (8N1) onto the top's ``rx`` pin, and its ``tx`` pin is
sampled in the middle of each bit and deserialised back.  Time is simulated
time: a read with a timeout advances the simulation by at most that long, so the
host's timeouts and the board's idle timeout meet exactly as on a real line.

The host's side of the line runs on its own bit time, not on the board's clock:
a board whose divisor does not divide its clock into the host's rate exactly (3
Mbaud at 100 MHz: divisor 33, 1 % fast) meets its host as on a real line, and a
test can set the host off the board by the whole error hdl/uart.py allows.

Faults can be injected on either direction (:meth:`SimSerial.inject`): corrupt a
byte (XOR a mask into it), drop it, or send it with a bad stop bit (a UART
framing error), to check that the protocol detects, rejects and recovers.

Keep it fast: a small divisor (4 clock cycles per bit is the UART's minimum) and
a small core configuration.
"""

from collections import deque

from amaranth.sim import Simulator

from boards.top import BoardTop
from sim.isa.encoding import CoreConfig

__all__ = ["SimSerial", "SIM_CONFIG"]

#: A core small enough to simulate quickly through the serial line.
SIM_CONFIG = CoreConfig(set_bits=4, ways=2, prog_depth=64)

_DIRECTIONS = ("to_board", "to_host")
_ACTIONS = ("corrupt", "drop", "framing")


class SimSerial:
    """A transport to a simulated board (the interface: :class:`sim.host.transport.Transport`).

    Parameters
    ----------
    config : CoreConfig
        Core of the default top (``BoardTop(config, divisor)``); ignored with ``top``.
    divisor : int
        Clock cycles per bit of the default top; ignored with ``top``.
    baud : int
        The host's serial rate: its bits on the line last ``1 / baud`` seconds, and
        its timeouts (computed from the rate) mean what they say.
    clock_hz : float or None
        The board's clock; default ``baud * divisor``, a board whose UART makes the
        host's rate exactly.  The board's rate is ``clock_hz / divisor``.
    top : BoardTop or None
        A ready-made top (e.g. with a stand-in core); it must have ``rx``, ``tx``,
        ``divisor`` and ``timeout``.
    processes : iterable
        Extra background testbenches (a stand-in core's responder).
    memory_init : iterable of (key, value)
        Baked into the default top's coordinate memory.
    regfile : "ff", "lutram" or "bram"
        The default top's register files (``hdl/core.py``; "bram" is the
        iCEBreaker's, five clocks per core cycle).
    vcd : str or None
        Write a waveform file (slow; for debugging).
    """

    latency = 0.0

    def __init__(self, config=SIM_CONFIG, divisor=4, baud=115200, top=None, processes=(),
                 memory_init=(), vcd=None, regfile="ff", clock_hz=None):
        if not isinstance(baud, int) or isinstance(baud, bool) or baud <= 0:
            raise ValueError(f"baud must be a positive integer rate, not {baud!r}")
        if clock_hz is not None and not clock_hz > 0:
            raise ValueError(f"clock_hz must be a positive frequency, not {clock_hz!r}")
        if top is None:
            top = BoardTop(config, divisor, memory_init=memory_init, regfile=regfile)
        self.top = top
        self.divisor = top.divisor
        self.clk_period = 1 / (clock_hz or baud * self.divisor)
        #: The host's bit time on the line, seconds.
        self.bit_time = 1 / baud
        self.byte_time = 10 / baud
        self.resync_time = 2 * top.timeout * self.clk_period + 2 * self.byte_time
        self._to_board = deque()          # (index, byte) written by the host, not yet on the line
        self._to_host = deque()           # bytes decoded from the line, not yet read
        self._written = 0                 # bytes the host has written
        self._decoded = 0                 # bytes the board has sent
        self._faults = {d: {} for d in _DIRECTIONS}
        #: Every fault that took effect, as (direction, index, action).
        self.fault_log = []
        self._cycles = 0
        self._sim = Simulator(top)
        self._sim.add_clock(self.clk_period)
        self._sim.add_testbench(self._drive_rx, background=True)
        self._sim.add_testbench(self._sample_tx, background=True)
        for process in processes:
            self._sim.add_testbench(process, background=True)
        self._vcd = None
        if vcd:
            self._vcd = self._sim.write_vcd(vcd)
            self._vcd.__enter__()

    # -- fault injection

    def inject(self, direction, action, offset=0, xor=0x01):
        """Damage one byte.

        ``direction``: ``"to_board"`` (offset counts from the next byte the host
        writes) or ``"to_host"`` (from the next byte the board sends).
        ``action``: ``"corrupt"`` (XOR ``xor`` into it), ``"drop"`` (it never
        arrives), ``"framing"`` (sent with a stop bit of 0; to the host: dropped,
        as a UART receiver drops a byte with a framing error).
        """
        if direction not in _DIRECTIONS:
            raise ValueError(f"direction must be one of {_DIRECTIONS}, not {direction!r}")
        if action not in _ACTIONS:
            raise ValueError(f"action must be one of {_ACTIONS}, not {action!r}")
        if action == "corrupt" and not 0 < xor < 256:
            raise ValueError(f"xor must be a nonzero byte mask, not {xor!r}")
        base = self._written if direction == "to_board" else self._decoded
        self._faults[direction][base + offset] = (action, xor)

    def _fault(self, direction, index):
        fault = self._faults[direction].pop(index, None)
        if fault is not None:
            self.fault_log.append((direction, index, fault[0]))
        return fault

    # -- the line, bit by bit

    async def _drive_rx(self, ctx):
        top, bit = self.top, self.bit_time
        ctx.set(top.rx, 1)
        # The host's bit boundaries start a quarter clock after an edge, so none of
        # them falls on an edge when the host's bit is a whole number of clocks.
        await ctx.tick()
        await ctx.delay(self.clk_period / 4)
        while True:
            if not self._to_board:
                await ctx.delay(bit)
                continue
            index, byte = self._to_board.popleft()
            fault = self._fault("to_board", index)
            stop = 1
            if fault is not None:
                action, xor = fault
                if action == "drop":
                    continue
                if action == "corrupt":
                    byte ^= xor
                else:
                    stop = 0
            for level in [0] + [(byte >> i) & 1 for i in range(8)] + [stop]:
                ctx.set(top.rx, level)
                await ctx.delay(bit)
            if not stop:
                ctx.set(top.rx, 1)
                await ctx.delay(bit)

    async def _sample_tx(self, ctx):
        top, bit = self.top, self.bit_time
        while True:
            await ctx.negedge(top.tx)
            await ctx.delay(bit / 2)             # middle of the start bit, by the host's rate
            if ctx.get(top.tx):
                continue
            byte = 0
            for i in range(8):
                await ctx.delay(bit)
                byte |= ctx.get(top.tx) << i
            await ctx.delay(bit)
            if not ctx.get(top.tx):
                continue                              # framing error: a UART drops it
            index = self._decoded
            self._decoded += 1
            fault = self._fault("to_host", index)
            if fault is not None:
                action, xor = fault
                if action == "corrupt":
                    byte ^= xor
                else:
                    continue
            self._to_host.append(byte)

    # -- simulated time

    def now(self):
        return self._cycles * self.clk_period

    def _advance(self, cycles):
        self._cycles += max(1, int(cycles))
        self._sim.run_until(self._cycles * self.clk_period)

    # -- the transport interface

    def write(self, data):
        for byte in bytes(data):
            self._to_board.append((self._written, byte))
            self._written += 1

    def read(self, n, timeout):
        """Up to ``n`` bytes, advancing simulated time by at most ``timeout`` seconds."""
        end = self._cycles + int(timeout / self.clk_period)
        step = 10 * self.divisor
        while len(self._to_host) < n and self._cycles < end:
            self._advance(min(step, end - self._cycles))
        return bytes(self._to_host.popleft() for _ in range(min(n, len(self._to_host))))

    def discard_input(self, quiet):
        """Drop what the board sends until it has been silent for ``quiet`` seconds."""
        cycles = max(1, int(quiet / self.clk_period))
        while True:
            self._to_host.clear()
            seen = self._decoded
            self._advance(cycles)
            if self._decoded == seen and not self._to_board:
                self._to_host.clear()
                return

    def run_cycles(self, cycles):
        """Let the board run on its own for a number of clock cycles."""
        self._advance(cycles)

    def close(self):
        if self._vcd is not None:
            self._vcd.__exit__(None, None, None)
            self._vcd = None
