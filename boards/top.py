"""The board-independent top level: Sentron core, host link, UART and status LEDs.

Every board wraps this one component (clock, pins, PLL) and the simulated serial
line (``sim/host/serial_sim.py``) drives exactly it, so what the tests exercise is what
goes into the bitstream, minus only the platform wrapper.  :class:`LinkRate` is
the host link's serial rate on a board: which one, and the UART divisor that
makes it from the board's clock.
"""

from dataclasses import dataclass

from amaranth.hdl import ClockDomain, ClockSignal, Module
from amaranth.lib import io, wiring
from amaranth.lib.cdc import ResetSynchronizer
from amaranth.lib.wiring import In, Out

from hdl.host_link import HostLink
from hdl.uart import UartRx, UartTx, divisor_for, fastest_rate

__all__ = ["BoardTop", "DEFAULT_TIMEOUT_BITS", "LinkRate", "connect_board"]

#: Idle-line timeout of the host link, in bit times, when the board does not say.
DEFAULT_TIMEOUT_BITS = 64


@dataclass(frozen=True)
class LinkRate:
    """The host link's serial rate on a board: ``baud``, the rate the host sets; the
    board's ``clock_hz``; and ``divisor``, the UART's clock cycles per bit, which make
    ``clock_hz / divisor``, within ``hdl.uart.MAX_RATE_ERROR`` of ``baud``."""

    baud: int
    clock_hz: float
    divisor: int

    @classmethod
    def choose(cls, clock_hz, rates, baud=None):
        """``baud`` at ``clock_hz``, or if None the fastest of ``rates`` (a USB bridge's,
        fastest first) that the clock divides cleanly; a :class:`hdl.uart.BaudError`
        names the rate, the clock and the error when it does not."""
        if baud is None:
            baud = fastest_rate(clock_hz, rates)
        return cls(baud, clock_hz, divisor_for(clock_hz, baud))

    @property
    def error(self):
        """The board's rate against ``baud``, as a fraction (+: the board is faster)."""
        return self.clock_hz / self.divisor / self.baud - 1


class BoardTop(wiring.Component):
    """Sentron + host link + 8N1 UART, with LEDs for running, halted and fault.

    Parameters
    ----------
    config : sim.isa.encoding.CoreConfig
        Size of the core.
    divisor : int
        Clock cycles per UART bit (``hdl.uart.divisor_for(clk_hz, baud)``).
    timeout : int or None
        Clock cycles of idle line that end a request frame; default
        :data:`DEFAULT_TIMEOUT_BITS` bit times.
    memory_init : iterable of (key, value)
        Entries baked into the coordinate memory's initial contents.
    core : wiring.Component or None
        The core; default the one that implements ``config``'s timing table
        (``hdl.cores.core_class(config)(config, memory_init)``).  Tests pass a
        stand-in that has the same ``debug`` member.
    regfile : "ff", "lutram" or "bram"
        The default core's register files (``hdl/core.py``).

    Attributes
    ----------
    rx : In(1), init 1
        UART receive pin (host to board).
    tx : Out(1), init 1
        UART transmit pin (board to host).
    led_running, led_halted, led_fault : Out(1)
        The core executes SIWs; it does not; its status holds a fault code.
    led_link : Out(1)
        The host link is executing a request or sending its reply.
    """

    def __init__(self, config, divisor, timeout=None, memory_init=(), core=None, regfile="ff"):
        self.config = config
        self.divisor = divisor
        self.timeout = DEFAULT_TIMEOUT_BITS * divisor if timeout is None else timeout
        if core is None:
            from hdl.cores import core_class
            core = core_class(config)(config, memory_init=tuple(memory_init), regfile=regfile)
        elif memory_init:
            raise ValueError("memory_init is for the default core; a given core brings its own")
        self.core = core
        self.uart_rx = UartRx(divisor)
        self.uart_tx = UartTx(divisor)
        self.link = HostLink(config, self.timeout)
        super().__init__({
            "rx": In(1, init=1),
            "tx": Out(1, init=1),
            "led_running": Out(1),
            "led_halted": Out(1),
            "led_fault": Out(1),
            "led_link": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = self.core
        m.submodules.uart_rx = self.uart_rx
        m.submodules.uart_tx = self.uart_tx
        m.submodules.link = self.link
        wiring.connect(m, self.link.debug, self.core.debug)
        wiring.connect(m, self.uart_rx.stream, self.link.rx)
        wiring.connect(m, self.link.tx, self.uart_tx.stream)
        debug = self.core.debug
        m.d.comb += [
            self.uart_rx.rx.eq(self.rx),
            self.tx.eq(self.uart_tx.tx),
            self.link.rx_error.eq(self.uart_rx.frame_error),
            self.led_running.eq(debug.running),
            self.led_halted.eq(~debug.running),
            self.led_fault.eq(debug.fault != 0),
            self.led_link.eq(self.link.busy),
        ]
        return m


def connect_board(m, platform, top, clk, locked, freq, leds):
    """Everything a board wrapper does once it has a clock: the sync domain on ``clk``
    (held in reset until ``locked``, released in step with the clock), the clock
    constraint nextpnr checks, ``top`` on the board's ``uart 0``, and its LED
    outputs on the ``(resource name, number, BoardTop attribute)`` triples ``leds``.
    """
    m.domains.sync = ClockDomain("sync")
    m.d.comb += ClockSignal("sync").eq(clk)
    m.submodules.reset_sync = ResetSynchronizer(~locked, domain="sync")
    platform.add_clock_constraint(clk, freq)

    m.submodules.top = top
    uart = platform.request("uart", 0, dir="-")
    m.submodules.uart_rx = rx = io.Buffer("i", uart.rx)
    m.submodules.uart_tx = tx = io.Buffer("o", uart.tx)
    m.d.comb += [top.rx.eq(rx.i), tx.o.eq(top.tx)]
    for name, number, led in leds:
        buf = io.Buffer("o", platform.request(name, number, dir="-"))
        m.submodules[f"{name}_{number}"] = buf
        m.d.comb += buf.o.eq(getattr(top, led))
