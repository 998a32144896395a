# amaranth: UnusedElaboratable=no
"""Bit-level tests of the 8N1 UART: loopback, exact waveform, baud tolerance, framing errors,
and the divisor rule (hdl/uart.py ``divisor_for``) against what the receiver takes."""

import random

import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.sim import Simulator

from hdl.uart import MAX_RATE_ERROR, BaudError, UartRx, UartTx, divisor_for, fastest_rate

PERIOD = 1e-6   # one clock cycle in the simulator, seconds


def _frame_bits(byte, stop=1):
    """8N1 from first principles: start 0, data least significant bit first, stop 1."""
    return [0] + [(byte >> i) & 1 for i in range(8)] + [stop]


class _Loopback(wiring.Component):
    def __init__(self, divisor):
        self.tx_side = UartTx(divisor)
        self.rx_side = UartRx(divisor)
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        m.submodules.tx = self.tx_side
        m.submodules.rx = self.rx_side
        m.d.comb += self.rx_side.rx.eq(self.tx_side.tx)
        return m


@pytest.mark.parametrize("divisor", [4, 5, 7, 16])
def test_loopback_delivers_every_byte(divisor):
    data = [0x00, 0xFF, 0x55, 0xAA, 0x01, 0x80] + random.Random(divisor).choices(range(256), k=10)
    dut = _Loopback(divisor)
    got = []
    errors = []

    async def sender(ctx):
        for byte in data:
            ctx.set(dut.tx_side.stream.payload, byte)
            ctx.set(dut.tx_side.stream.valid, 1)
            await ctx.tick().until(dut.tx_side.stream.ready)
        ctx.set(dut.tx_side.stream.valid, 0)

    async def receiver(ctx):
        ctx.set(dut.rx_side.stream.ready, 1)
        for _ in range(divisor * 10 * (len(data) + 2)):
            await ctx.tick()
            if ctx.get(dut.rx_side.stream.valid):
                got.append(ctx.get(dut.rx_side.stream.payload))
            if ctx.get(dut.rx_side.frame_error) or ctx.get(dut.rx_side.overrun):
                errors.append((ctx.get(dut.rx_side.frame_error), ctx.get(dut.rx_side.overrun), len(got)))

    sim = Simulator(dut)
    sim.add_clock(PERIOD)
    sim.add_testbench(sender)
    sim.add_testbench(receiver)
    sim.run()
    assert got == data
    assert errors == []


@pytest.mark.parametrize("divisor", [4, 9])
def test_tx_waveform_is_exact_8n1(divisor):
    """Every bit lasts exactly ``divisor`` cycles; the line idles high; back-to-back bytes."""
    dut = UartTx(divisor)
    data = [0x3C, 0xA5]
    levels = []

    async def bench(ctx):
        assert ctx.get(dut.tx) == 1
        queue = list(data)
        ctx.set(dut.stream.valid, 1)
        ctx.set(dut.stream.payload, queue.pop(0))
        await ctx.tick()                  # the first byte is taken on this edge
        ctx.set(dut.stream.payload, queue.pop(0))
        for _ in range(divisor * 10 * len(data) + 3 * divisor):
            levels.append(ctx.get(dut.tx))
            taken = ctx.get(dut.stream.ready) and ctx.get(dut.stream.valid)
            await ctx.tick()
            if taken:                     # the second byte went on that edge
                ctx.set(dut.stream.valid, 0)
        assert not queue

    sim = Simulator(dut)
    sim.add_clock(PERIOD)
    sim.add_testbench(bench)
    sim.run()
    expected = []
    for byte in data:
        for bit in _frame_bits(byte):
            expected += [bit] * divisor
    assert levels[:len(expected)] == expected
    assert set(levels[len(expected):]) == {1}


async def _drive(ctx, pin, bits, bit_time):
    for bit in bits:
        ctx.set(pin, bit)
        await ctx.delay(bit_time)


def _run_rx(divisor, script, extra_cycles=40):
    """Drive the receiver's pin from ``script(ctx, pin)``; collect bytes and error pulses."""
    dut = UartRx(divisor)
    got, frame_errors = [], []
    done = []

    async def line(ctx):
        await ctx.delay(3.3 * PERIOD)     # not aligned with the clock: the pin is asynchronous
        await script(ctx, dut.rx)
        done.append(True)

    async def monitor(ctx):
        ctx.set(dut.stream.ready, 1)
        idle = 0
        while idle < extra_cycles:
            await ctx.tick()
            idle = idle + 1 if done else 0
            if ctx.get(dut.stream.valid):
                got.append(ctx.get(dut.stream.payload))
            if ctx.get(dut.frame_error):
                frame_errors.append(len(got))

    sim = Simulator(dut)
    sim.add_clock(PERIOD)
    sim.add_testbench(line)
    sim.add_testbench(monitor)
    sim.run()
    return got, frame_errors


@pytest.mark.parametrize("skew", [-0.04, 0.0, 0.04])
def test_rx_tolerates_baud_mismatch(skew):
    """Mid-bit sampling accepts a sender whose bit time is off by 4 %."""
    divisor = 16
    data = [0x00, 0xFF, 0x5A, 0xC3, 0x81]
    bit_time = divisor * PERIOD * (1 + skew)

    async def script(ctx, pin):
        for byte in data:
            await _drive(ctx, pin, _frame_bits(byte), bit_time)

    got, frame_errors = _run_rx(divisor, script)
    assert got == data
    assert frame_errors == []


def test_rx_framing_error_drops_byte_and_recovers():
    divisor = 8
    bit_time = divisor * PERIOD

    async def script(ctx, pin):
        await _drive(ctx, pin, _frame_bits(0x42), bit_time)
        await _drive(ctx, pin, _frame_bits(0x99, stop=0), bit_time)   # bad stop bit
        await _drive(ctx, pin, [0] * 5, bit_time)                      # line held low (break)
        await _drive(ctx, pin, [1] * 2, bit_time)
        await _drive(ctx, pin, _frame_bits(0x17), bit_time)

    got, frame_errors = _run_rx(divisor, script)
    assert got == [0x42, 0x17]
    assert frame_errors == [1]          # one error, after the first byte, none for the break


def test_rx_ignores_glitch_shorter_than_half_a_bit():
    divisor = 16
    bit_time = divisor * PERIOD

    async def script(ctx, pin):
        ctx.set(pin, 0)
        await ctx.delay(3 * PERIOD)     # a 3-cycle glitch on a 16-cycle bit
        ctx.set(pin, 1)
        await ctx.delay(2 * bit_time)
        await _drive(ctx, pin, _frame_bits(0x6E), bit_time)

    got, frame_errors = _run_rx(divisor, script)
    assert got == [0x6E]
    assert frame_errors == []


def test_rx_overrun_keeps_newest_byte():
    divisor = 4
    dut = UartRx(divisor)
    flags = []

    async def line(ctx):
        for byte in (0x11, 0x22):
            await _drive(ctx, dut.rx, _frame_bits(byte), divisor * PERIOD)

    async def monitor(ctx):
        for _ in range(divisor * 24):
            await ctx.tick()
            if ctx.get(dut.overrun):
                flags.append(ctx.get(dut.stream.payload))
        assert ctx.get(dut.stream.valid)
        flags.append(ctx.get(dut.stream.payload))

    sim = Simulator(dut)
    sim.add_clock(PERIOD)
    sim.add_testbench(line)
    sim.add_testbench(monitor)
    sim.run()
    assert flags == [0x22, 0x22]


def test_divisor_is_checked():
    with pytest.raises(ValueError, match="divisor"):
        UartRx(3)
    with pytest.raises(ValueError, match="divisor"):
        UartTx(2.5)


# -- the divisor rule

@pytest.mark.parametrize("clk_hz, baud, divisor", [
    (20e6, 2_000_000, 10),        # exact
    (12e6, 3_000_000, 4),         # exact, the smallest divisor
    (100e6, 3_000_000, 33),       # 33.3: 33 makes 3.030 Mbaud (+1.0 %), 34 2.941 (-2.0 %)
    (20e6, 115_200, 174),         # 173.6: 174 makes 114943 (-0.22 %), 173 115607 (+0.35 %)
    (12e6, 115_200, 104),         # 104.2: 104 makes 115385 (+0.16 %)
])
def test_divisor_is_the_nearest(clk_hz, baud, divisor):
    assert divisor_for(clk_hz, baud) == divisor


def test_divisor_rule_refuses_a_rate_the_clock_cannot_make():
    # 20 MHz / 3 Mbaud = 6.67: 7 makes 2.857 Mbaud, 4.76 % slow.
    with pytest.raises(BaudError, match=r"3000000 baud at a 20\.000 MHz clock: .*divisor, 7, makes "
                                        r"2857143 baud, -4\.76 % off, more than the 2 %"):
        divisor_for(20e6, 3_000_000)
    with pytest.raises(BaudError, match=r"3000000 baud at a 10\.000 MHz clock needs a divisor of 3 "
                                        r".*below the UART's minimum of 4"):
        divisor_for(10e6, 3_000_000)


def test_divisor_rule_is_two_percent_either_way():
    assert MAX_RATE_ERROR == 0.02
    assert divisor_for(10e6 * 1.0199, 1_000_000) == 10
    assert divisor_for(10e6 * 0.9801, 1_000_000) == 10
    for factor in (1.0201, 0.9799):
        with pytest.raises(BaudError, match="more than the 2 %"):
            divisor_for(10e6 * factor, 1_000_000)


@pytest.mark.parametrize("clk_hz, baud", [(0, 115200), (-1e6, 115200), (20e6, 0),
                                          (20e6, 115200.0), (20e6, "115200")])
def test_divisor_rule_checks_its_arguments(clk_hz, baud):
    with pytest.raises(ValueError, match="clk_hz|baud"):
        divisor_for(clk_hz, baud)


def test_fastest_rate_is_the_first_clean_one():
    rates = (3_000_000, 2_000_000, 1_000_000)
    assert fastest_rate(20e6, rates) == 2_000_000
    assert fastest_rate(100e6, rates) == 3_000_000
    with pytest.raises(BaudError, match="no rate fits: 3000000 baud .* 1000000 baud"):
        fastest_rate(2e6, rates)


# A sender off the receiver's rate by the whole error the rule allows, in both
# directions, at the divisors the boards' rates give (4: 3 Mbaud at 12 MHz; 10:
# 2 Mbaud at 20 MHz; 33: 3 Mbaud at 100 MHz) and around them.  The bytes go back to
# back in bursts, so each start bit must re-synchronise the receiver (the error
# adds up to 0.2 bit per byte otherwise), and the bursts begin at different phases
# of the clock, so the receiver meets the start edge early and late in a cycle.
# 0x00 and 0x7F end with a 0 before the stop bit, 0x80 and 0xFF with a 1, so a
# stop bit sampled a bit early or late shows.
_BURST = [0x00, 0xFF, 0x7F, 0x80, 0x55, 0xAA, 0x01, 0xFE]


@pytest.mark.parametrize("direction", [+1, -1], ids=["host-fast", "host-slow"])
@pytest.mark.parametrize("divisor", [4, 5, 6, 7, 10, 33, 34])
def test_rx_takes_a_sender_off_by_the_largest_allowed_error(divisor, direction):
    bit_time = divisor * PERIOD / (1 + direction * MAX_RATE_ERROR)
    phases = (0.1, 0.35, 0.6, 0.85)

    async def script(ctx, pin):
        for phase in phases:
            await ctx.delay((2 * divisor + phase) * PERIOD)        # idle, then a new phase
            for byte in _BURST:
                await _drive(ctx, pin, _frame_bits(byte), bit_time)

    got, frame_errors = _run_rx(divisor, script)
    assert got == _BURST * len(phases)
    assert frame_errors == []
