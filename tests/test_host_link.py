# amaranth: UnusedElaboratable=no
"""The board's frame parser/executor (hdl/host_link.py) against a fake debug port, byte by byte.

Frames are built here from docs/host-link.md with a CRC written here from the
CRC-16/CCITT-FALSE definition (checked against its catalogue check value), not
with the host driver, so the hardware and the driver are tested independently.
Every rejected frame must (a) get the error reply that names its fault, (b) reach
the core not at all (the fake logs every debug request), and (c) leave the link
ready for the next good frame.
"""

import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.sim import Simulator

from hdl.debug import DebugCmd
from hdl.host_link import HostLink
from sim.isa.coord import morton_coord, morton_key
from sim.golden.memory import set_index
from sim.isa.encoding import CoreConfig
from support.fake_core import DebugPortStub, FakeCore

CONFIG = CoreConfig(dim_bits=11, set_bits=2, ways=2, prog_depth=64, float_latency=4)
TIMEOUT = 60      # clock cycles of idle line that end a frame

# Numbers from docs/host-link.md, written out again on purpose.
SYNC_REQ, SYNC_REP = 0xA5, 0x5A
CONFIG_CMD, STATUS_CMD, WRITE_PROG, READ_PROG, SET_LEN = 0x01, 0x02, 0x03, 0x04, 0x05
READ_REG, WRITE_REG, READ_CREG, WRITE_CREG, WRITE_PC = 0x06, 0x07, 0x08, 0x09, 0x0A
MEM_READ, MEM_WRITE, MEM_ERASE, SLOT_READ, DUMP_NEXT = 0x0B, 0x0C, 0x0D, 0x0E, 0x0F
RUN, STEP, HALT = 0x10, 0x11, 0x12
OK, BUSY, RANGE, MEM_FULL = 0x00, 0x01, 0x02, 0x03
CRC_ERROR, TIMEOUT_ST, OVERLONG, FRAMING, BAD_LENGTH, UNKNOWN = 0x10, 0x11, 0x12, 0x13, 0x14, 0x15


def crc16(data, crc=0xFFFF):
    """CRC-16/CCITT-FALSE, bit by bit from its definition."""
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def test_reference_crc_matches_catalogue():
    assert crc16(b"123456789") == 0x29B1


def frame(cmd, payload=b"", seq=0x33, length=None):
    body = bytes([len(payload) if length is None else length, seq, cmd]) + bytes(payload)
    c = crc16(body)
    return bytes([SYNC_REQ]) + body + bytes([c >> 8, c & 0xFF])


def coord_bytes(dims):
    return b"".join(v.to_bytes(2, "big") for v in dims)


def parse_reply(data):
    """-> (seq, cmd, status, payload); asserts the frame is well formed and its CRC checks."""
    assert data[0] == SYNC_REP, data.hex()
    n = data[1]
    assert len(data) == 7 + n, data.hex()
    assert crc16(data[1:]) == 0, f"reply CRC does not check: {data.hex()}"
    return data[2], data[3], data[4], data[5:5 + n]


class Bench:
    """Byte-level driver of the link's rx stream and collector of its tx stream."""

    def __init__(self, config=CONFIG, timeout=TIMEOUT, run_cycles=30):
        self.link = HostLink(config, timeout)
        self.stub = DebugPortStub(config)
        self.fake = FakeCore(config, self.stub.debug, run_cycles=run_cycles)
        link, stub = self.link, self.stub

        class Top(wiring.Component):
            def __init__(self):
                super().__init__({})

            def elaborate(self, platform):
                m = Module()
                m.submodules.link = link
                m.submodules.stub = stub
                wiring.connect(m, link.debug, stub.debug)
                return m

        self.top = Top()
        self.replied = []

    async def send(self, ctx, data, gap=3):
        for byte in data:
            ctx.set(self.link.rx.payload, byte)
            ctx.set(self.link.rx.valid, 1)
            await ctx.tick()
            ctx.set(self.link.rx.valid, 0)
            await ctx.tick().repeat(gap)

    async def collect(self, ctx):
        """Background: take every reply byte the link offers (``ready`` always 1)."""
        ctx.set(self.link.tx.ready, 1)
        while True:
            if ctx.get(self.link.tx.valid):
                self.replied.append(ctx.get(self.link.tx.payload))
            await ctx.tick()

    async def receive(self, ctx, max_cycles=2000):
        """The next reply frame; None if none starts within ``max_cycles``."""
        for _ in range(max_cycles):
            got = self.replied
            if len(got) >= 2 and len(got) >= 7 + got[1]:
                frame_bytes = bytes(got[:7 + got[1]])
                del got[:7 + got[1]]
                await ctx.tick()          # the edge that takes the last byte
                return frame_bytes
            await ctx.tick()
        assert not self.replied, f"incomplete reply {bytes(self.replied).hex()}"
        return None

    async def request(self, ctx, data, gap=3):
        await self.send(ctx, data, gap)
        return await self.receive(ctx)

    def run(self, bench):
        sim = Simulator(self.top)
        sim.add_clock(1e-6)
        sim.add_testbench(self.fake.process, background=True)
        sim.add_testbench(self.collect, background=True)
        sim.add_testbench(bench)
        sim.run()


def test_config_and_status():
    b = Bench()

    async def bench(ctx):
        seq, cmd, status, payload = parse_reply(await b.request(ctx, frame(CONFIG_CMD, seq=7)))
        assert (seq, cmd, status) == (7, CONFIG_CMD, OK)
        assert payload == bytes([1, 11, 2, 2, 0, 64, 4])
        b.fake.pc, b.fake.prog_len, b.fake.fault, b.fake.fault_pc = 5, 9, 3, 4
        b.fake.siws, b.fake.ops = 0x123456789A, 0xABCDEF
        _, _, status, payload = parse_reply(await b.request(ctx, frame(STATUS_CMD)))
        assert status == OK and len(payload) == 26
        assert payload[0] == 0 and payload[1] == 3
        assert int.from_bytes(payload[2:4], "big") == 4
        assert int.from_bytes(payload[4:6], "big") == 5
        assert int.from_bytes(payload[6:8], "big") == 9
        assert 0 < int.from_bytes(payload[8:14], "big") <= b.fake.cycles
        assert int.from_bytes(payload[14:20], "big") == 0x123456789A
        assert int.from_bytes(payload[20:26], "big") == 0xABCDEF

    b.run(bench)


def test_registers_program_and_coordinates():
    b = Bench()

    async def bench(ctx):
        r = parse_reply(await b.request(ctx, frame(WRITE_REG, bytes([17]) + (0xDEADBEEF).to_bytes(4, "big"))))
        assert r[2] == OK and r[3] == b""
        assert b.fake.regs[17] == 0xDEADBEEF
        r = parse_reply(await b.request(ctx, frame(READ_REG, bytes([17]))))
        assert r[2:] == (OK, (0xDEADBEEF).to_bytes(4, "big"))
        r = parse_reply(await b.request(ctx, frame(READ_REG, bytes([32]))))
        assert r[2:] == (RANGE, b"")

        word = 0x0123_4567_89AB_CDEF
        r = parse_reply(await b.request(ctx, frame(WRITE_PROG, (63).to_bytes(2, "big") + word.to_bytes(8, "big"))))
        assert r[2] == OK and b.fake.prog[63] == word
        r = parse_reply(await b.request(ctx, frame(READ_PROG, (63).to_bytes(2, "big"))))
        assert r[2:] == (OK, word.to_bytes(8, "big"))
        r = parse_reply(await b.request(ctx, frame(SET_LEN, (12).to_bytes(2, "big"))))
        assert r[2] == OK and b.fake.prog_len == 12
        r = parse_reply(await b.request(ctx, frame(WRITE_PC, (3).to_bytes(2, "big"))))
        assert r[2] == OK and b.fake.pc == 3

        dims = (2047, 1, 2, 3, 4, 5, 6, 7, 1000)
        r = parse_reply(await b.request(ctx, frame(WRITE_CREG, bytes([5]) + coord_bytes(dims))))
        assert r[2] == OK and b.fake.cregs[5] == dims
        r = parse_reply(await b.request(ctx, frame(READ_CREG, bytes([5]))))
        assert r[2:] == (OK, coord_bytes(dims))

    b.run(bench)


def test_memory_commands_and_dump():
    b = Bench()
    cfg = CONFIG

    async def bench(ctx):
        entries = {(1, 0, 0, 0, 0, 0, 0, 0, 0): 11, (0, 0, 0, 0, 0, 0, 0, 0, 1): 22,
                   (5, 6, 7, 8, 9, 10, 11, 12, 13): 33}
        for dims, value in entries.items():
            r = parse_reply(await b.request(ctx, frame(MEM_WRITE, value.to_bytes(4, "big") + coord_bytes(dims))))
            assert r[2] == OK
        r = parse_reply(await b.request(ctx, frame(MEM_READ, coord_bytes((0, 0, 0, 0, 0, 0, 0, 0, 1)))))
        assert r[2:] == (OK, bytes([1]) + (22).to_bytes(4, "big"))
        r = parse_reply(await b.request(ctx, frame(MEM_READ, coord_bytes((9,) * 9))))
        assert r[2:] == (OK, bytes([0, 0, 0, 0, 0]))

        # Walk every stored entry with DUMP_NEXT, as the host does.
        found, slot = {}, 0
        while True:
            r = parse_reply(await b.request(ctx, frame(DUMP_NEXT, slot.to_bytes(2, "big"))))
            assert r[2] == OK and len(r[3]) == 25
            p = r[3]
            if p[0] == 0:
                assert int.from_bytes(p[1:3], "big") == cfg.sets * cfg.ways
                break
            slot = int.from_bytes(p[1:3], "big")
            dims = tuple(int.from_bytes(p[3 + 2 * d:5 + 2 * d], "big") for d in range(9))
            found[slot] = (dims, int.from_bytes(p[21:25], "big"))
            slot += 1
        expected = {}
        for s, ways in enumerate(b.fake.memory.slots()):
            for w, e in enumerate(ways):
                if e is not None:
                    expected[s * cfg.ways + w] = e
        assert {k: (morton_key(d), v) for k, (d, v) in found.items()} == expected
        assert len(found) == 3

        # SLOT_READ of one of them, and of a free slot.
        some_slot, (dims, value) = next(iter(found.items()))
        r = parse_reply(await b.request(ctx, frame(SLOT_READ, some_slot.to_bytes(2, "big"))))
        assert r[2:] == (OK, bytes([1]) + coord_bytes(dims) + value.to_bytes(4, "big"))
        free = next(s for s in range(cfg.sets * cfg.ways) if s not in found)
        r = parse_reply(await b.request(ctx, frame(SLOT_READ, free.to_bytes(2, "big"))))
        assert r[2:] == (OK, bytes(23))

        r = parse_reply(await b.request(ctx, frame(MEM_ERASE, coord_bytes(dims))))
        assert r[2] == OK and morton_key(dims) not in b.fake.memory.entries()

        # Fill one set (the golden model says which keys share it): a third new key
        # there is MEM_FULL.
        set0 = [morton_coord(k) for k in range(1 << 12)
                if set_index(k, cfg.set_bits) == 0 and k not in b.fake.memory.entries()][:3]
        statuses = []
        for dims in set0:
            r = parse_reply(await b.request(ctx, frame(MEM_WRITE, (7).to_bytes(4, "big") + coord_bytes(dims))))
            statuses.append(r[2])
        assert statuses == [OK, OK, MEM_FULL]

    b.run(bench)


@pytest.mark.parametrize("case", ["crc", "truncated", "unknown", "bad_length", "overlong",
                                  "coord_range", "garbage_sync"])
def test_rejected_frame_changes_nothing_and_link_recovers(case):
    b = Bench()
    good = frame(WRITE_REG, bytes([3]) + (0x01020304).to_bytes(4, "big"), seq=0x41)

    async def bench(ctx):
        before = b.fake.snapshot()
        log_before = len(b.fake.log)
        write = frame(WRITE_REG, bytes([4]) + (0xCAFEF00D).to_bytes(4, "big"), seq=0x40)
        if case == "crc":
            bad = bytearray(write)
            bad[6] ^= 0x10                      # one bit of the value
            expect = CRC_ERROR
        elif case == "truncated":
            bad = write[:-3]                    # stops in the payload; line goes idle
            expect = TIMEOUT_ST
        elif case == "unknown":
            bad = frame(0x7E, b"\x00", seq=0x40)
            expect = UNKNOWN
        elif case == "bad_length":
            bad = frame(WRITE_REG, bytes([4, 0xCA, 0xFE, 0xF0]), seq=0x40)
            expect = BAD_LENGTH
        elif case == "overlong":
            bad = bytes([SYNC_REQ, 200, 0x40, WRITE_REG]) + bytes(10)
            expect = OVERLONG
        elif case == "coord_range":
            # chapter = 2048 does not fit 11 bits: refused before reaching the core.
            bad = frame(MEM_WRITE, (5).to_bytes(4, "big") + coord_bytes((0,) * 6 + (2048, 0, 0)), seq=0x40)
            expect = RANGE
        elif case == "garbage_sync":
            # Noise holding a SYNC byte, then silence: a false frame that times out or fails its CRC.
            bad = bytes([0x00, 0xFF, SYNC_REQ, 3, 0x13, 0x37])
            expect = TIMEOUT_ST
        reply = await b.request(ctx, bytes(bad))
        assert reply is not None, "a rejected frame must get an error reply"
        _, _, status, payload = parse_reply(reply)
        assert status == expect and payload == b""
        # Drain anything the rest of a rejected frame may still provoke.
        while await b.receive(ctx, max_cycles=3 * TIMEOUT) is not None:
            pass
        assert b.fake.snapshot() == before
        assert len(b.fake.log) == log_before, "a rejected frame reached the core"
        seq, cmd, status, _ = parse_reply(await b.request(ctx, good))
        assert (seq, cmd, status) == (0x41, WRITE_REG, OK)
        assert b.fake.regs[3] == 0x01020304 and b.fake.regs[4] == 0

    b.run(bench)


def test_garbage_without_sync_is_ignored():
    b = Bench()

    async def bench(ctx):
        await b.send(ctx, bytes([0x00, 0x13, 0xFF, 0x5A, 0x42]))
        assert await b.receive(ctx, max_cycles=3 * TIMEOUT) is None
        r = parse_reply(await b.request(ctx, frame(READ_REG, bytes([0]))))
        assert r[2] == OK
        # Garbage glued right before a frame: the frame still gets through.
        r = parse_reply(await b.request(ctx, bytes([0x01, 0x02]) + frame(READ_REG, bytes([1]), seq=9)))
        assert r[:3] == (9, READ_REG, OK)

    b.run(bench)


def test_framing_error_inside_frame_is_rejected():
    b = Bench()

    async def bench(ctx):
        data = frame(WRITE_REG, bytes([4]) + (0xCAFEF00D).to_bytes(4, "big"))
        await b.send(ctx, data[:4])
        ctx.set(b.link.rx_error, 1)
        await ctx.tick()
        ctx.set(b.link.rx_error, 0)
        r = parse_reply(await b.receive(ctx))
        assert r[2] == FRAMING
        await b.send(ctx, data[4:])            # the rest is noise now
        while await b.receive(ctx, max_cycles=3 * TIMEOUT) is not None:
            pass
        assert b.fake.regs[4] == 0 and b.fake.log == []

    b.run(bench)


def test_slow_but_steady_sender_is_not_timed_out():
    b = Bench()

    async def bench(ctx):
        r = parse_reply(await b.request(ctx, frame(READ_REG, bytes([2])), gap=TIMEOUT - 2))
        assert r[2] == OK

    b.run(bench)


def test_run_busy_halt_and_resent_run_is_not_repeated():
    b = Bench(run_cycles=400)

    async def bench(ctx):
        r = parse_reply(await b.request(ctx, frame(RUN, seq=0x10)))
        assert r[:3] == (0x10, RUN, OK) and b.fake.runs == 1
        # The host lost that reply and sends the same frame again: not run twice.
        r = parse_reply(await b.request(ctx, frame(RUN, seq=0x10)))
        assert r[:3] == (0x10, RUN, OK) and b.fake.runs == 1
        r = parse_reply(await b.request(ctx, frame(STATUS_CMD, seq=0x11)))
        assert r[3][0] & 1 == 1                # running
        r = parse_reply(await b.request(ctx, frame(READ_REG, bytes([0]), seq=0x12)))
        assert r[2] == BUSY
        r = parse_reply(await b.request(ctx, frame(HALT, seq=0x13)))
        assert r[2] == OK
        await ctx.tick().repeat(5)
        r = parse_reply(await b.request(ctx, frame(STATUS_CMD, seq=0x14)))
        assert r[3][0] & 1 == 0
        # A new RUN (new SEQ) runs; a STEP right after with its own SEQ too.
        r = parse_reply(await b.request(ctx, frame(STEP, seq=0x15)))
        assert r[2] == OK and b.fake.runs == 2
        await ctx.tick().repeat(5)
        r = parse_reply(await b.request(ctx, frame(STEP, seq=0x16)))
        assert r[2] == OK and b.fake.runs == 3

    b.run(bench)


def test_parameters_are_checked():
    with pytest.raises(ValueError, match="timeout"):
        HostLink(CONFIG, 0)
    with pytest.raises(ValueError, match="slots"):
        HostLink(CoreConfig(set_bits=14, ways=8), 100)


def test_block_reads_stream_every_register():
    b = Bench(run_cycles=2000)

    async def bench(ctx):
        for i in range(32):
            b.fake.regs[i] = (0x01010101 * i) ^ 0x80000000
        for i in range(8):
            b.fake.cregs[i] = tuple((i * 100 + d * 7) % 2048 for d in range(9))
        seq, cmd, status, payload = parse_reply(await b.request(ctx, frame(0x13, seq=5)))
        assert (seq, cmd, status) == (5, 0x13, OK)
        assert payload == b"".join(b.fake.regs[i].to_bytes(4, "big") for i in range(32))
        _, _, status, payload = parse_reply(await b.request(ctx, frame(0x14)))
        assert status == OK
        assert payload == b"".join(coord_bytes(b.fake.cregs[i]) for i in range(8))
        # Refused as a whole while the core runs; nothing half-sent.
        await b.request(ctx, frame(RUN, seq=6))
        r = parse_reply(await b.request(ctx, frame(0x13, seq=7)))
        assert r[2:] == (BUSY, b"")

    b.run(bench)
