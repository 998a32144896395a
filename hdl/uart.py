"""8N1 UART receiver and transmitter, and their divisor rule: the byte pipe under the host link.

Both sides count ``divisor`` clock cycles per bit (:func:`divisor_for` picks it
for a clock and a rate, and refuses a rate the clock cannot divide cleanly
enough for the receiver; its docstring says the rule and why).  The receiver
runs its input through a two-flop synchroniser (the pin is asynchronous to our
clock), finds the falling edge of the start bit, re-checks the line half a bit
later (so a glitch shorter than half a bit is not a byte), then samples every
bit in its middle, where it is furthest from both edges and so tolerates the
largest baud-rate mismatch.  A stop bit read as 0 is a framing error: the byte is
dropped (never delivered) and ``frame_error`` pulses, and the receiver waits for
the line to go idle (high) before it hunts for the next start bit, so a break
condition is not read as a stream of zero bytes.

Bytes travel as :mod:`amaranth.lib.stream` streams of 8-bit payloads.
"""

from amaranth.hdl import Cat, Const, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

__all__ = ["UartRx", "UartTx", "MIN_DIVISOR", "MAX_RATE_ERROR", "BaudError", "divisor_for",
           "fastest_rate"]

#: Fewest clock cycles per bit the receiver handles: it needs a distinct middle
#: of the bit after the synchroniser's two cycles of delay.
MIN_DIVISOR = 4
#: Largest relative difference between the rate a divisor makes (``clk_hz /
#: divisor``) and the rate asked for that :func:`divisor_for` accepts.
MAX_RATE_ERROR = 0.02


class BaudError(ValueError):
    """A serial rate the UART cannot make from its clock; the message names the rate,
    the clock and why (the divisor's rate error, or a divisor below the minimum)."""


def divisor_for(clk_hz, baud):
    """Clock cycles per bit for ``baud`` at ``clk_hz``: the divisor whose rate
    ``clk_hz / divisor`` is nearest ``baud`` (``clk_hz / baud`` rounded).

    Raises :class:`BaudError` if that divisor is below :data:`MIN_DIVISOR` or its
    rate is more than :data:`MAX_RATE_ERROR` (2 %) away from ``baud``.

    Why 2 %: the receiver times a whole frame from the falling edge of its start
    bit, which it sees up to one clock late, and samples each bit at its middle.
    The last sample, the stop bit's, comes 9.5 bit times after that edge, and a
    sender whose rate is off by a fraction ``e`` has moved its bits by 9.5 ``e``
    bit times by then; the sample stays inside the stop bit while
    ``9.5 e + 1 / divisor < 1/2``: ``e`` up to about 2.5 % at the smallest
    divisor (4), more at larger ones (tests/test_uart.py sends 2 % off both ways).
    The boards' USB bridges make the rates the boards use exactly (boards/*.py
    ``BRIDGE_RATES``), so the mismatch between host and board is the divisor's
    own error, and 2 % stays inside what the receiver takes at every divisor,
    with room for the clocks' own tolerances (tens of ppm).  The board's
    transmitter is off by the same 2 % towards the host, whose bridge samples 16
    times per bit and takes more.
    """
    if not isinstance(clk_hz, (int, float)) or not clk_hz > 0:
        raise ValueError(f"clk_hz must be a positive frequency, not {clk_hz!r}")
    if not isinstance(baud, int) or isinstance(baud, bool) or baud <= 0:
        raise ValueError(f"baud must be a positive integer rate, not {baud!r}")
    low = max(1, int(clk_hz // baud))
    divisor = min((low, low + 1), key=lambda d: abs(clk_hz / d - baud))
    where = f"{baud} baud at a {clk_hz / 1e6:.3f} MHz clock"
    if divisor < MIN_DIVISOR:
        raise BaudError(f"{where} needs a divisor of {divisor} clock cycles per bit, below the "
                        f"UART's minimum of {MIN_DIVISOR}: the clock is too slow for that rate")
    error = clk_hz / divisor / baud - 1
    if abs(error) > MAX_RATE_ERROR:
        raise BaudError(f"{where}: the nearest divisor, {divisor}, makes {clk_hz / divisor:.0f} "
                        f"baud, {100 * error:+.2f} % off, more than the {100 * MAX_RATE_ERROR:g} % "
                        f"a UART frame tolerates; choose another rate or clock")
    return divisor


def fastest_rate(clk_hz, rates):
    """The first of ``rates`` (listed fastest first) that :func:`divisor_for` accepts
    at ``clk_hz``; :class:`BaudError` naming why each one fails if none does."""
    reasons = []
    for baud in rates:
        try:
            divisor_for(clk_hz, baud)
        except BaudError as e:
            reasons.append(str(e))
        else:
            return baud
    raise BaudError("no rate fits: " + "; ".join(reasons) if reasons else "no rates given")


def _check_divisor(divisor):
    if not isinstance(divisor, int) or divisor < MIN_DIVISOR:
        raise ValueError(f"divisor (clock cycles per bit) must be an integer >= {MIN_DIVISOR}, "
                         f"not {divisor!r}")


class UartRx(wiring.Component):
    """8N1 receiver.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit (:func:`divisor_for`); at least :data:`MIN_DIVISOR`.

    Attributes
    ----------
    rx : In(1), init 1
        The serial line (idle high), asynchronous to the clock.
    stream : Out(stream.Signature(8))
        Received bytes.  ``valid`` stays high until ``ready``; a byte that completes
        while the previous one is still waiting replaces it and pulses ``overrun``.
    frame_error : Out(1)
        One-cycle pulse: a byte ended with a stop bit of 0; that byte was dropped.
    overrun : Out(1)
        One-cycle pulse: an undelivered byte was overwritten by a newer one.
    """

    def __init__(self, divisor):
        _check_divisor(divisor)
        self.divisor = divisor
        super().__init__({
            "rx": In(1, init=1),
            "stream": Out(stream.Signature(8)),
            "frame_error": Out(1),
            "overrun": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        line = Signal(init=1)
        m.submodules.sync = FFSynchronizer(self.rx, line, init=1)

        timer = Signal(range(self.divisor))
        bits = Signal(range(8))
        shreg = Signal(8)

        with m.If(self.stream.ready):
            m.d.sync += self.stream.valid.eq(0)
        m.d.sync += [self.frame_error.eq(0), self.overrun.eq(0)]

        with m.If(timer != 0):
            m.d.sync += timer.eq(timer - 1)

        with m.FSM():
            with m.State("IDLE"):
                with m.If(~line):
                    # Middle of the start bit: half a bit from the falling edge.
                    m.d.sync += timer.eq(self.divisor // 2 - 1)
                    m.next = "START"
            with m.State("START"):
                with m.If(timer == 0):
                    with m.If(line):
                        m.next = "IDLE"      # a glitch, not a start bit
                    with m.Else():
                        m.d.sync += [timer.eq(self.divisor - 1), bits.eq(0)]
                        m.next = "DATA"
            with m.State("DATA"):
                with m.If(timer == 0):
                    # Least significant bit first: shift in from the top.
                    m.d.sync += [shreg.eq(Cat(shreg[1:], line)), bits.eq(bits + 1),
                                 timer.eq(self.divisor - 1)]
                    with m.If(bits == 7):
                        m.next = "STOP"
            with m.State("STOP"):
                with m.If(timer == 0):
                    with m.If(line):
                        m.d.sync += [self.stream.payload.eq(shreg), self.stream.valid.eq(1)]
                        with m.If(self.stream.valid & ~self.stream.ready):
                            m.d.sync += self.overrun.eq(1)
                        m.next = "IDLE"
                    with m.Else():
                        m.d.sync += self.frame_error.eq(1)
                        m.next = "BREAK"
            with m.State("BREAK"):
                with m.If(line):
                    m.next = "IDLE"
        return m


class UartTx(wiring.Component):
    """8N1 transmitter.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit (:func:`divisor_for`); at least :data:`MIN_DIVISOR`.

    Attributes
    ----------
    stream : In(stream.Signature(8))
        Bytes to send; a byte is taken (``ready`` high) when the line is idle or in
        the last cycle of the previous stop bit, so bytes go back to back.
    tx : Out(1), init 1
        The serial line, registered (no glitches), idle high.
    busy : Out(1)
        A byte is being sent.
    """

    def __init__(self, divisor):
        _check_divisor(divisor)
        self.divisor = divisor
        super().__init__({
            "stream": In(stream.Signature(8)),
            "tx": Out(1, init=1),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        timer = Signal(range(self.divisor))
        # The start bit goes straight to ``tx``; this holds the 8 data bits, the stop
        # bit and the idle level after it, shifted out least significant first.
        shreg = Signal(10, init=0x3FF)
        left = Signal(range(11))

        last_cycle = (left == 1) & (timer == 0)      # the final cycle of the stop bit
        m.d.comb += [self.busy.eq(left != 0), self.stream.ready.eq((left == 0) | last_cycle)]
        with m.If(self.stream.valid & self.stream.ready):
            # Back to back: the next start bit follows the stop bit without a gap.
            m.d.sync += [shreg.eq(Cat(self.stream.payload, Const(0b11, 2))), self.tx.eq(0),
                         left.eq(10),
                         timer.eq(self.divisor - 1)]
        with m.Elif(left == 0):
            pass
        with m.Elif(timer == 0):
            # The register refills with 1s, so the stop bit and the idle line are 1.
            m.d.sync += [self.tx.eq(shreg[0]), shreg.eq(Cat(shreg[1:], Const(1, 1))),
                         left.eq(left - 1), timer.eq(self.divisor - 1)]
        with m.Else():
            m.d.sync += timer.eq(timer - 1)
        return m
