# amaranth: UnusedElaboratable=no
"""Bit-level tests of the 8N1 UART: loopback, exact waveform, baud tolerance, framing errors."""

import random

import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.sim import Simulator

from hdl.uart import UartRx, UartTx

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
