"""8N1 UART receiver and transmitter: the byte pipe under the host link.

Both sides count ``divisor = clk_hz // baud`` clock cycles per bit.  The receiver
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

__all__ = ["UartRx", "UartTx", "MIN_DIVISOR"]

#: Fewest clock cycles per bit the receiver handles: it needs a distinct middle
#: of the bit after the synchroniser's two cycles of delay.
MIN_DIVISOR = 4


def _check_divisor(divisor):
    if not isinstance(divisor, int) or divisor < MIN_DIVISOR:
        raise ValueError(f"divisor (clock cycles per bit) must be an integer >= {MIN_DIVISOR}, "
                         f"not {divisor!r}")


class UartRx(wiring.Component):
    """8N1 receiver.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit, ``clk_hz // baud``; at least :data:`MIN_DIVISOR`.

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
        Clock cycles per bit, ``clk_hz // baud``; at least :data:`MIN_DIVISOR`.

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
