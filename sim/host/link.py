"""The host's end of the host link: a protocol client over any byte transport.

:class:`HostLink` speaks docs/host-link.md to a board (or to the simulated board
of ``sim/host/serial_sim.py``) through a *transport*, anything with

``write(data)``
    send bytes;
``read(n, timeout)``
    up to ``n`` bytes, fewer if ``timeout`` seconds pass first;
``discard_input(quiet)``
    drop incoming bytes until the line has been quiet for ``quiet`` seconds;
``now()``
    the transport's clock in seconds (wall clock for a real port, simulated
    time for the simulated line), against which timeouts run;
``byte_time``, ``latency``, ``resync_time``
    seconds per byte on the line; slack for the operating system's buffering;
    how long to wait so the board's parser has given up on a broken frame.

Errors are exceptions that name their cause (:class:`LinkTimeout`,
:class:`ReplyCorrupt`, :class:`FrameRejected`, :class:`BusyError`,
:class:`AddressRangeError`, :class:`BoardMemoryFull`, :class:`ProtocolError`).

Retries: a request the board *rejected* (CRC error, timeout, overlong, framing)
was not executed, so it is always resent.  A reply that is lost or garbled is
also handled by resending the same frame with the same SEQ: every command but
RUN and STEP is idempotent, and the board does not execute a RUN or STEP a second
time when it arrives with the SEQ of the last one it executed.  (Before the first
RUN or STEP of a session the driver makes one harmless request, so the board's
remembered SEQ is this session's.)  ``retries`` bounds the resends.

:class:`BoardEngine` wraps a link as a :class:`sim.engines.interface.Engine`, so ``vtpu run
--port DEV`` (engine ``board``) and ``--sim`` (engine ``board-sim``) report the
same :class:`~sim.golden.state.ArchState` as ``vtpu sim``.
"""

import os
import time
from dataclasses import dataclass

from sim.isa.coord import Coord, morton_coord, morton_key, parse_coord
from sim.isa.encoding import NDIMS, CoreConfig, Fault
from sim.engines.interface import Engine, register_engine
from sim.golden.memory import MemoryFullError, set_index
from sim.isa.protocol import (COORD_BYTES, CRC_INIT, CRC_POLY, PROTOCOL_VERSION, REJECTED, REPLY_LEN,
                       REQUEST_LEN, SYNC_REPLY, SYNC_REQUEST, Cmd, Status)
from sim.golden.state import ArchState

__all__ = [
    "HostLink", "BoardStatus", "SerialTransport", "BoardEngine", "crc16", "encode_request",
    "LinkError", "LinkTimeout", "ReplyCorrupt", "FrameRejected", "BoardError", "BusyError",
    "AddressRangeError", "BoardMemoryFull", "ProtocolError", "DEFAULT_BAUD",
]

#: Baud rate of the boards' UART (boards/icebreaker.py, boards/ulx3s.py).
DEFAULT_BAUD = 115200


# -- errors

class LinkError(Exception):
    """The host link failed; the message says which request and why."""


class LinkTimeout(LinkError):
    """No complete reply arrived in time (after every resend)."""


class ReplyCorrupt(LinkError):
    """Replies kept arriving garbled: bad CRC, wrong length or framing (after every resend)."""


class FrameRejected(LinkError):
    """The board kept rejecting the request as damaged in transit (after every resend)."""

    def __init__(self, message, status):
        super().__init__(message)
        self.status = status


class BoardError(LinkError):
    """The board executed nothing and answered with an error status; ``status`` is it."""

    def __init__(self, message, status):
        super().__init__(message)
        self.status = status


class BusyError(BoardError):
    """The core is running; only STATUS, CONFIG and HALT are served until it halts."""


class AddressRangeError(BoardError):
    """An index, address, length, slot or coordinate dimension is out of the core's range."""


class BoardMemoryFull(BoardError):
    """MEM_WRITE of a new coordinate into a set whose ways are all taken."""


class ProtocolError(BoardError):
    """The board does not understand the request (unknown command, wrong length): a
    driver/board version mismatch, not line noise."""


_STATUS_ERRORS = {
    Status.BUSY: BusyError, Status.RANGE: AddressRangeError, Status.MEM_FULL: BoardMemoryFull,
    Status.BAD_LENGTH: ProtocolError, Status.UNKNOWN_CMD: ProtocolError,
}


# -- frames

def crc16(data, crc=CRC_INIT):
    """CRC-16/CCITT-FALSE (docs/host-link.md), bit-serial."""
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ CRC_POLY) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def encode_request(cmd, seq, payload=b""):
    """The request frame ``SYNC LEN SEQ CMD payload CRC16``."""
    body = bytes([len(payload), seq & 0xFF, int(cmd)]) + bytes(payload)
    crc = crc16(body)
    return bytes([SYNC_REQUEST]) + body + crc.to_bytes(2, "big")


def _coord_wire(dims):
    return b"".join(int(v).to_bytes(2, "big") for v in dims)


def _wire_coord(data, dim_bits):
    """A coordinate from a reply; a dimension beyond ``dim_bits`` is a ProtocolError (the
    reply's CRC checked, so the board itself sent it: not line noise)."""
    dims = [int.from_bytes(data[2 * d:2 * d + 2], "big") for d in range(NDIMS)]
    try:
        return Coord(dims, dim_bits)
    except ValueError as e:
        raise ProtocolError(f"board sent coordinate {dims} outside its {dim_bits}-bit "
                            f"dimensions: {e}", None) from None


@dataclass(frozen=True)
class BoardStatus:
    """The STATUS reply."""
    running: bool
    fault: Fault
    fault_pc: int
    pc: int
    prog_len: int
    cycles: int
    siws: int
    ops: int


class _Garbled(Exception):
    pass


class HostLink:
    """A protocol client: one request at a time, resent as docs/host-link.md allows.

    Parameters
    ----------
    transport
        The byte pipe (see the module docstring).
    retries : int
        How many times a request is resent after a rejection, a lost or a garbled reply.
    """

    def __init__(self, transport, retries=4):
        self.transport = transport
        self.retries = retries
        self._seq = int.from_bytes(os.urandom(1), "big")
        self._synced = False
        self._config = None
        #: Counts of what went wrong and was recovered, for tests and diagnostics.
        self.stats = {"resent": 0, "rejected": 0, "garbled": 0, "lost": 0}

    # -- the transaction

    def _reply_timeout(self, cmd, request_len):
        t = self.transport
        nbytes = request_len + 7 + REPLY_LEN[cmd] + 8
        extra = 0.0
        if cmd == Cmd.DUMP_NEXT and self._config is not None:
            # The board scans slots at a few core cycles each, and a core cycle may be
            # several clocks (hdl/core.py, micro_cycles: 5 on the iCEBreaker); a byte
            # time is at least 40 clocks (a divisor of 4), so one per slot is ample.
            extra = self._config.sets * self._config.ways * t.byte_time
        return t.latency + nbytes * t.byte_time + extra

    def _read_reply(self, timeout):
        """One reply frame as (seq, cmd, status, payload); raises _Garbled or LinkTimeout."""
        t = self.transport
        deadline = t.now() + timeout

        def read(n):
            data = t.read(n, max(0.0, deadline - t.now()))
            if len(data) < n:
                raise LinkTimeout("reply incomplete" if data else "no reply")
            return data

        # Hunt for the reply's SYNC byte; anything before it is noise.
        skipped = 0
        while read(1)[0] != SYNC_REPLY:
            skipped += 1
            if skipped > 64:
                raise _Garbled("no SYNC in 64 bytes")
        head = read(4)
        length, seq, cmd, status = head
        if length > max(REPLY_LEN.values()):
            raise _Garbled(f"reply LEN {length} is longer than any reply")
        rest = read(length + 2)
        if crc16(head + rest) != 0:
            raise _Garbled("reply CRC does not check")
        return seq, cmd, status, rest[:length]

    def _transact(self, cmd, payload=b""):
        """Send one request and return its OK reply payload, resending as allowed."""
        cmd = Cmd(cmd)
        assert len(payload) == REQUEST_LEN[cmd], (cmd, len(payload))
        if cmd in (Cmd.RUN, Cmd.STEP) and not self._synced:
            self.config()
        self._seq = (self._seq + 1) & 0xFF
        seq = self._seq
        frame = encode_request(cmd, seq, payload)
        t = self.transport
        last = None
        for attempt in range(self.retries + 1):
            if attempt:
                self.stats["resent"] += 1
                t.discard_input(t.resync_time)
            t.write(frame)
            try:
                while True:
                    r_seq, r_cmd, status, data = self._read_reply(self._reply_timeout(cmd, len(frame)))
                    if status in REJECTED or (r_seq == seq and r_cmd == cmd):
                        break
                    # A late reply to an earlier request: not ours, keep reading.
            except LinkTimeout as e:
                self.stats["lost"] += 1
                last = LinkTimeout(f"{cmd.name}: {e} after {attempt + 1} attempt(s)")
                continue
            except _Garbled as e:
                self.stats["garbled"] += 1
                last = ReplyCorrupt(f"{cmd.name}: {e} after {attempt + 1} attempt(s)")
                continue
            if status in REJECTED:
                self.stats["rejected"] += 1
                last = FrameRejected(f"{cmd.name}: the board rejected the request "
                                     f"({Status(status).name}) {attempt + 1} time(s)", Status(status))
                continue
            if status != Status.OK:
                try:
                    name = Status(status).name
                except ValueError:
                    raise ProtocolError(f"{cmd.name}: unknown status 0x{status:02x}", status) from None
                raise _STATUS_ERRORS[Status(status)](f"{cmd.name}: board answered {name}",
                                                     Status(status))
            if len(data) != REPLY_LEN[cmd]:
                last = ReplyCorrupt(f"{cmd.name}: reply payload of {len(data)} bytes, "
                                    f"expected {REPLY_LEN[cmd]}")
                self.stats["garbled"] += 1
                continue
            # The board now remembers a SEQ of this session (see the module docstring).
            self._synced = True
            return data
        raise last

    # -- the core's shape

    def config(self):
        """The board's core configuration (CONFIG), cached after the first call."""
        data = self._transact(Cmd.CONFIG)
        version, dim_bits, set_bits, ways = data[0], data[1], data[2], data[3]
        if version != PROTOCOL_VERSION:
            raise ProtocolError(f"board speaks host-link protocol {version}, "
                                f"this driver {PROTOCOL_VERSION}", None)
        try:
            self._config = CoreConfig(dim_bits=dim_bits, set_bits=set_bits, ways=ways,
                                      prog_depth=int.from_bytes(data[4:6], "big"),
                                      float_latency=data[6])
        except ValueError as e:
            raise ProtocolError(f"CONFIG: board reports an impossible core: {e}", None) from None
        return self._config

    def _cfg(self):
        return self._config or self.config()

    def _coord(self, where):
        """A Coord from a Coord/9-tuple, a text coordinate, or a Morton key (int)."""
        dim_bits = self._cfg().dim_bits
        if isinstance(where, str):
            return parse_coord(where, dim_bits)
        if isinstance(where, int):
            return morton_coord(where, dim_bits)
        return Coord(where, dim_bits)

    # -- status and control

    def status(self):
        d = self._transact(Cmd.STATUS)
        try:
            fault = Fault(d[1])
        except ValueError:
            raise ProtocolError(f"STATUS: board reports undefined fault code {d[1]}", None) from None
        return BoardStatus(running=bool(d[0] & 1), fault=fault,
                           fault_pc=int.from_bytes(d[2:4], "big"),
                           pc=int.from_bytes(d[4:6], "big"),
                           prog_len=int.from_bytes(d[6:8], "big"),
                           cycles=int.from_bytes(d[8:14], "big"),
                           siws=int.from_bytes(d[14:20], "big"),
                           ops=int.from_bytes(d[20:26], "big"))

    def run(self, wait=True, max_cycles=None, poll=None):
        """Start running from pc; with ``wait``, poll until the core halts and return
        its status.  ``max_cycles``: HALT it once the cycle counter has passed this."""
        self._transact(Cmd.RUN)
        if not wait:
            return None
        while True:
            st = self.status()
            if not st.running:
                return st
            if max_cycles is not None and st.cycles >= max_cycles:
                self.halt()
                while st.running:
                    st = self.status()
                return st
            if poll:
                time.sleep(poll)

    def step(self):
        """Execute exactly one SIW; return the status once it has retired."""
        self._transact(Cmd.STEP)
        st = self.status()
        while st.running:
            st = self.status()
        return st

    def halt(self):
        """Stop at the next SIW boundary (served while running)."""
        self._transact(Cmd.HALT)

    # -- program

    def write_prog(self, addr, word):
        self._transact(Cmd.WRITE_PROG, addr.to_bytes(2, "big") + (word & (2**64 - 1)).to_bytes(8, "big"))

    def read_prog(self, addr):
        return int.from_bytes(self._transact(Cmd.READ_PROG, addr.to_bytes(2, "big")), "big")

    def set_len(self, length):
        """Set the program length (and pc = 0)."""
        self._transact(Cmd.SET_LEN, length.to_bytes(2, "big"))

    def load_program(self, words, verify=False):
        """Write the SIWs from address 0, set the length (pc = 0); ``verify`` reads them back."""
        words = list(words)
        depth = self._cfg().prog_depth
        if len(words) > depth:
            raise AddressRangeError(f"program of {len(words)} SIWs does not fit the board's "
                                    f"{depth}", Status.RANGE)
        for addr, word in enumerate(words):
            self.write_prog(addr, word)
        if verify:
            for addr, word in enumerate(words):
                got = self.read_prog(addr)
                if got != word:
                    raise LinkError(f"program word {addr} reads back 0x{got:016x}, "
                                    f"wrote 0x{word:016x}")
        self.set_len(len(words))

    def write_pc(self, pc):
        self._transact(Cmd.WRITE_PC, pc.to_bytes(2, "big"))

    # -- registers

    def read_reg(self, i):
        return int.from_bytes(self._transact(Cmd.READ_REG, bytes([i & 0xFF])), "big")

    def write_reg(self, i, value):
        self._transact(Cmd.WRITE_REG, bytes([i & 0xFF]) + (value & 0xFFFF_FFFF).to_bytes(4, "big"))

    def read_regs(self):
        """r0..r31 in one request (READ_REGS)."""
        d = self._transact(Cmd.READ_REGS)
        return [int.from_bytes(d[4 * i:4 * i + 4], "big") for i in range(32)]

    def read_cregs(self):
        """c0..c7 in one request (READ_CREGS)."""
        d = self._transact(Cmd.READ_CREGS)
        dim_bits = self._cfg().dim_bits
        return [_wire_coord(d[COORD_BYTES * i:COORD_BYTES * (i + 1)], dim_bits) for i in range(8)]

    def read_creg(self, i):
        return _wire_coord(self._transact(Cmd.READ_CREG, bytes([i & 0xFF])), self._cfg().dim_bits)

    def write_creg(self, i, coord):
        self._transact(Cmd.WRITE_CREG, bytes([i & 0xFF]) + _coord_wire(self._coord(coord)))

    # -- coordinate memory

    def mem_read(self, where):
        """The value stored at a coordinate (Coord, tuple, text or Morton key); None if none."""
        d = self._transact(Cmd.MEM_READ, _coord_wire(self._coord(where)))
        return int.from_bytes(d[1:5], "big") if d[0] else None

    def mem_write(self, where, value):
        """Store a value (raises :class:`BoardMemoryFull` for a new key in a full set)."""
        self._transact(Cmd.MEM_WRITE, (value & 0xFFFF_FFFF).to_bytes(4, "big") +
                       _coord_wire(self._coord(where)))

    def mem_erase(self, where):
        self._transact(Cmd.MEM_ERASE, _coord_wire(self._coord(where)))

    def slot_read(self, slot):
        """``(key, value)`` stored in slot ``set * ways + way``, or None if it is free."""
        d = self._transact(Cmd.SLOT_READ, slot.to_bytes(2, "big"))
        if not d[0]:
            return None
        dim_bits = self._cfg().dim_bits
        return morton_key(_wire_coord(d[1:1 + COORD_BYTES], dim_bits), dim_bits), \
            int.from_bytes(d[1 + COORD_BYTES:], "big")

    def dump(self):
        """Every stored entry as ``[(slot, key, value)]`` in slot order (DUMP_NEXT walk)."""
        cfg = self._cfg()
        out, slot = [], 0
        while slot < cfg.sets * cfg.ways:
            d = self._transact(Cmd.DUMP_NEXT, slot.to_bytes(2, "big"))
            if not d[0]:
                break
            found = int.from_bytes(d[1:3], "big")
            if found < slot:
                raise ProtocolError(f"DUMP_NEXT from slot {slot} answered slot {found}", None)
            coord = _wire_coord(d[3:3 + COORD_BYTES], cfg.dim_bits)
            out.append((found, morton_key(coord, cfg.dim_bits),
                        int.from_bytes(d[3 + COORD_BYTES:], "big")))
            slot = found + 1
        return out

    def memory_slots(self):
        """The memory in :class:`~sim.golden.state.ArchState` form: ``[set][way] -> (key, value) | None``."""
        cfg = self._cfg()
        sets = [[None] * cfg.ways for _ in range(cfg.sets)]
        for slot, key, value in self.dump():
            sets[slot // cfg.ways][slot % cfg.ways] = (key, value)
        return tuple(tuple(ways) for ways in sets)


# -- transports

class SerialTransport:
    """A real serial port (pyserial).  ``latency``: USB adapters buffer for milliseconds."""

    latency = 0.1
    #: Longer than any board's idle timeout (boards use 10 ms).
    resync_time = 0.05

    def __init__(self, port, baud=DEFAULT_BAUD):
        try:
            import serial
        except ImportError as e:          # pragma: no cover - pyserial is a dependency
            raise LinkError("pyserial is not installed: pip install pyserial") from e
        try:
            self._port = serial.Serial(port, baud, timeout=0)
        except serial.SerialException as e:
            raise LinkError(f"cannot open serial port {port}: {e}") from None
        self.byte_time = 10 / baud

    @staticmethod
    def now():
        return time.monotonic()

    def write(self, data):
        self._port.write(data)
        self._port.flush()

    def read(self, n, timeout):
        self._port.timeout = max(timeout, 0.0)
        return self._port.read(n)

    def discard_input(self, quiet):
        while True:
            self._port.timeout = quiet
            if not self._port.read(256):
                return

    def close(self):
        self._port.close()


# -- the Engine

class BoardEngine(Engine):
    """A board (or the simulated one) as an :class:`~sim.engines.interface.Engine`.

    ``config``: the configuration the caller expects; the board's own is read with
    CONFIG and a mismatch is an error naming both (None: take the board's).
    """
    name = "board"

    def __init__(self, link, config=None):
        self.link = link
        board = link.config()
        if config is not None and board != config:
            raise LinkError(f"the board's core is {board!r}, expected {config!r}")
        self.config = board

    def load_program(self, words):
        self.link.load_program(words)

    def write_memory(self, entries):
        for index, (key, value) in enumerate(entries):
            try:
                self.link.mem_write(key, value)
            except BoardMemoryFull:
                raise MemoryFullError(key, set_index(key, self.config.set_bits), index,
                                      self.config.dim_bits) from None

    def run(self, max_cycles=None):
        self.link.run(max_cycles=max_cycles)
        return self.state()

    def step(self):
        self.link.step()
        return self.state()

    def state(self):
        link = self.link
        st = link.status()
        if st.running:
            raise BusyError("the core is running: halt it before reading its state", Status.BUSY)
        return ArchState(
            regs=tuple(link.read_regs()),
            cregs=tuple(tuple(c) for c in link.read_cregs()),
            pc=st.pc, halted=not st.running, fault=st.fault, fault_pc=st.fault_pc,
            cycles=st.cycles, siws=st.siws, ops=st.ops,
            memory=link.memory_slots())


def open_board(port, baud=DEFAULT_BAUD, config=None):
    """A :class:`BoardEngine` on a serial port."""
    return BoardEngine(HostLink(SerialTransport(port, baud)), config)


def _board_factory(config):
    port = os.environ.get("VTPU_PORT")
    if not port:
        raise ValueError("engine 'board' needs a serial port: use `vtpu run --port DEV FILE` "
                         "or set VTPU_PORT")
    return open_board(port, int(os.environ.get("VTPU_BAUD", DEFAULT_BAUD)), config)


def _board_sim_factory(config):
    from .serial_sim import SimSerial
    return BoardEngine(HostLink(SimSerial(config)), config)


register_engine("board", _board_factory)
register_engine("board-sim", _board_sim_factory)
