"""The host's end of the host link: :class:`HostLink`, a protocol client over any byte transport.

:class:`HostLink` speaks docs/host-link.md to a board (or to the simulated board
of ``sim/host/serial_sim.py``) through a transport (``sim/host/transport.py``),
one request at a time, with the frames of ``sim/host/frames.py``; a failure is
one of the exceptions of ``sim/host/errors.py``, named by its cause.

Retries: a request the board *rejected* (CRC error, timeout, overlong, framing)
was not executed, so it is always resent.  A reply that is lost or garbled is
also handled by resending the same frame with the same SEQ: every command but
RUN and STEP is idempotent, and the board does not execute a RUN or STEP a second
time when it arrives with the SEQ of the last one it executed.  (Before the first
RUN or STEP of a session the driver makes one harmless request, so the board's
remembered SEQ is this session's.)  ``retries`` bounds the resends.
"""

import os
import time
from dataclasses import dataclass

from sim.isa.coord import Coord, morton_coord, morton_key, parse_coord
from sim.isa.encoding import CoreConfig, Fault
from sim.isa.protocol import (COORD_BYTES, PROTOCOL_VERSION, REJECTED, REPLY_LEN, REQUEST_LEN, Cmd,
                              Status)

from .errors import (STATUS_ERRORS, AddressRangeError, FrameRejected, LinkError, LinkTimeout,
                     ProtocolError, ReplyCorrupt)
from .frames import ReplyGarbled, decode_coord, encode_coord, encode_request, read_reply

__all__ = ["HostLink", "BoardStatus"]


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


class HostLink:
    """A protocol client: one request at a time, resent as docs/host-link.md allows.

    Parameters
    ----------
    transport
        The byte pipe: a :class:`~sim.host.transport.Transport`.
    retries : int
        How many times a request is resent after a rejection, a lost or a garbled reply.
    """

    def __init__(self, transport, retries=4):
        if not isinstance(retries, int) or retries < 0:
            raise ValueError(f"retries must be a count of resends (0 or more), not {retries!r}")
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
        """One reply frame as (seq, cmd, status, payload); raises ReplyGarbled or LinkTimeout."""
        t = self.transport
        deadline = t.now() + timeout

        def read(n):
            data = t.read(n, max(0.0, deadline - t.now()))
            if len(data) < n:
                raise LinkTimeout("reply incomplete" if data else "no reply")
            return data

        return read_reply(read)

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
            except ReplyGarbled as e:
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
                raise STATUS_ERRORS[Status(status)](f"{cmd.name}: board answered {name}",
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
        return [decode_coord(d[COORD_BYTES * i:COORD_BYTES * (i + 1)], dim_bits) for i in range(8)]

    def read_creg(self, i):
        return decode_coord(self._transact(Cmd.READ_CREG, bytes([i & 0xFF])), self._cfg().dim_bits)

    def write_creg(self, i, coord):
        self._transact(Cmd.WRITE_CREG, bytes([i & 0xFF]) + encode_coord(self._coord(coord)))

    # -- coordinate memory

    def mem_read(self, where):
        """The value stored at a coordinate (Coord, tuple, text or Morton key); None if none."""
        d = self._transact(Cmd.MEM_READ, encode_coord(self._coord(where)))
        return int.from_bytes(d[1:5], "big") if d[0] else None

    def mem_write(self, where, value):
        """Store a value (raises :class:`~sim.host.errors.BoardMemoryFull` for a new key in a full set)."""
        self._transact(Cmd.MEM_WRITE, (value & 0xFFFF_FFFF).to_bytes(4, "big") +
                       encode_coord(self._coord(where)))

    def mem_erase(self, where):
        self._transact(Cmd.MEM_ERASE, encode_coord(self._coord(where)))

    def slot_read(self, slot):
        """``(key, value)`` stored in slot ``set * ways + way``, or None if it is free."""
        d = self._transact(Cmd.SLOT_READ, slot.to_bytes(2, "big"))
        if not d[0]:
            return None
        dim_bits = self._cfg().dim_bits
        return morton_key(decode_coord(d[1:1 + COORD_BYTES], dim_bits), dim_bits), \
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
            coord = decode_coord(d[3:3 + COORD_BYTES], cfg.dim_bits)
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
