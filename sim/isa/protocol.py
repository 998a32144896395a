"""Numbers of the host-link protocol: frame bytes, command codes, status codes, lengths.

Like ``sim/isa/encoding.py`` for the ISA, this module holds numbers only, never
behaviour: the board's frame parser (``hdl/host_link.py``) and the host driver
(``sim/host/link.py``) are two independent implementations of docs/host-link.md and
both import these tables, so a command code cannot drift between them.
"""

import enum

__all__ = [
    "PROTOCOL_VERSION", "SYNC_REQUEST", "SYNC_REPLY", "CRC_POLY", "CRC_INIT",
    "MAX_PAYLOAD", "COORD_BYTES", "Cmd", "Status", "REQUEST_LEN", "REPLY_LEN",
    "REJECTED", "IDEMPOTENT",
]

#: Reported by the CONFIG command; bumped on any incompatible change.
PROTOCOL_VERSION = 1

#: First byte of every request (host to board) and of every reply (board to host).
#: They differ so that neither side can take the other's frames (an echoing
#: adapter, a crossed loopback) for its own.
SYNC_REQUEST = 0xA5
SYNC_REPLY = 0x5A

#: CRC-16/CCITT-FALSE: polynomial x^16 + x^12 + x^5 + 1, initial value 0xFFFF,
#: most significant bit first, no final XOR; sent high byte first, so the CRC
#: run over a whole frame (including its CRC) ends at 0.
CRC_POLY = 0x1021
CRC_INIT = 0xFFFF

#: The longest request payload (MEM_WRITE); a LEN byte above it is rejected at once.
MAX_PAYLOAD = 22

#: A coordinate on the wire: nine big-endian 16-bit dimensions, library first.
COORD_BYTES = 18


class Cmd(enum.IntEnum):
    """Request command codes (the CMD byte)."""
    CONFIG = 0x01       # -> version, dim_bits, set_bits, ways, prog_depth(2), float_latency
    STATUS = 0x02       # -> flags, fault, fault_pc(2), pc(2), prog_len(2), cycles(6), siws(6), ops(6)
    WRITE_PROG = 0x03   # addr(2), word(8)
    READ_PROG = 0x04    # addr(2) -> word(8)
    SET_LEN = 0x05      # length(2); also sets pc = 0
    READ_REG = 0x06     # index(1) -> value(4)
    WRITE_REG = 0x07    # index(1), value(4)
    READ_CREG = 0x08    # index(1) -> coord(18)
    WRITE_CREG = 0x09   # index(1), coord(18)
    WRITE_PC = 0x0A     # pc(2)
    MEM_READ = 0x0B     # coord(18) -> hit(1), value(4)
    MEM_WRITE = 0x0C    # value(4), coord(18): a coordinate is always a request's last field
    MEM_ERASE = 0x0D    # coord(18)
    SLOT_READ = 0x0E    # slot(2) -> valid(1), coord(18), value(4)
    DUMP_NEXT = 0x0F    # slot(2) -> found(1), slot(2), coord(18), value(4)
    RUN = 0x10
    STEP = 0x11
    HALT = 0x12
    READ_REGS = 0x13    # -> r0..r31, 4 bytes each (128)
    READ_CREGS = 0x14   # -> c0..c7, a coordinate each (144)


class Status(enum.IntEnum):
    """Reply status codes (the STATUS byte)."""
    OK = 0x00
    BUSY = 0x01         # the core is running: only STATUS, CONFIG and HALT are served
    RANGE = 0x02        # index, address, length, slot or coordinate dimension out of range
    MEM_FULL = 0x03     # MEM_WRITE of a new coordinate into a full set
    CRC_ERROR = 0x10    # rejected: the frame's CRC does not check
    TIMEOUT = 0x11      # rejected: the frame stopped (idle line) before its end
    OVERLONG = 0x12     # rejected: LEN above MAX_PAYLOAD (seen at the LEN byte)
    FRAMING = 0x13      # rejected: a UART framing error (bad stop bit) inside the frame
    BAD_LENGTH = 0x14   # a frame that checks, but LEN is wrong for its command
    UNKNOWN_CMD = 0x15  # a frame that checks, but its command is not one of Cmd


#: Request payload length of each command; any other LEN is BAD_LENGTH.
REQUEST_LEN = {
    Cmd.CONFIG: 0, Cmd.STATUS: 0, Cmd.WRITE_PROG: 10, Cmd.READ_PROG: 2, Cmd.SET_LEN: 2,
    Cmd.READ_REG: 1, Cmd.WRITE_REG: 5, Cmd.READ_CREG: 1, Cmd.WRITE_CREG: 1 + COORD_BYTES,
    Cmd.WRITE_PC: 2, Cmd.MEM_READ: COORD_BYTES, Cmd.MEM_WRITE: COORD_BYTES + 4,
    Cmd.MEM_ERASE: COORD_BYTES, Cmd.SLOT_READ: 2, Cmd.DUMP_NEXT: 2,
    Cmd.RUN: 0, Cmd.STEP: 0, Cmd.HALT: 0, Cmd.READ_REGS: 0, Cmd.READ_CREGS: 0,
}

#: Reply payload length of each command when its status is OK (0 otherwise).
REPLY_LEN = {
    Cmd.CONFIG: 7, Cmd.STATUS: 26, Cmd.WRITE_PROG: 0, Cmd.READ_PROG: 8, Cmd.SET_LEN: 0,
    Cmd.READ_REG: 4, Cmd.WRITE_REG: 0, Cmd.READ_CREG: COORD_BYTES, Cmd.WRITE_CREG: 0,
    Cmd.WRITE_PC: 0, Cmd.MEM_READ: 5, Cmd.MEM_WRITE: 0, Cmd.MEM_ERASE: 0,
    Cmd.SLOT_READ: 1 + COORD_BYTES + 4, Cmd.DUMP_NEXT: 3 + COORD_BYTES + 4,
    Cmd.RUN: 0, Cmd.STEP: 0, Cmd.HALT: 0,
    Cmd.READ_REGS: 32 * 4, Cmd.READ_CREGS: 8 * COORD_BYTES,
}

#: Statuses that mean "the request was not executed": resending it is always safe.
REJECTED = frozenset({Status.CRC_ERROR, Status.TIMEOUT, Status.OVERLONG, Status.FRAMING})

#: Commands whose second execution changes nothing the first did not: resent when
#: their reply is lost or garbled.  RUN and STEP are not idempotent; the board
#: recognises a resent one by its unchanged SEQ and does not execute it again.
IDEMPOTENT = frozenset(set(Cmd) - {Cmd.RUN, Cmd.STEP})
