"""The host link's frame codec: CRC-16, request frames, the coordinate wire form, reply frames.

Why apart from the client: these are the byte layouts of docs/host-link.md and
nothing else (no retry, no timeout, no transport), so each can be checked against
the document on its own, and :class:`sim.host.link.HostLink` is left with the
protocol's conversation.  The numbers (SYNC bytes, CRC polynomial, lengths) come
from ``sim/isa/protocol.py``, shared with the board's parser in ``hdl/host_link.py``.
"""

from sim.isa.coord import Coord
from sim.isa.encoding import NDIMS
from sim.isa.protocol import CRC_INIT, CRC_POLY, REPLY_LEN, SYNC_REPLY, SYNC_REQUEST

from .errors import ProtocolError

__all__ = ["crc16", "encode_request", "encode_coord", "decode_coord", "read_reply",
           "ReplyGarbled", "SYNC_HUNT"]

#: Bytes skipped while hunting for a reply's SYNC before the reply counts as garbled.
SYNC_HUNT = 64


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


def encode_coord(dims):
    """A coordinate's wire form: its nine dimensions, two bytes each, high byte first."""
    return b"".join(int(v).to_bytes(2, "big") for v in dims)


def decode_coord(data, dim_bits):
    """A coordinate from a reply; a dimension beyond ``dim_bits`` is a ProtocolError (the
    reply's CRC checked, so the board itself sent it: not line noise)."""
    dims = [int.from_bytes(data[2 * d:2 * d + 2], "big") for d in range(NDIMS)]
    try:
        return Coord(dims, dim_bits)
    except ValueError as e:
        raise ProtocolError(f"board sent coordinate {dims} outside its {dim_bits}-bit "
                            f"dimensions: {e}", None) from None


class ReplyGarbled(Exception):
    """A reply frame that does not check (no SYNC, an impossible LEN, a bad CRC): line
    noise, so :class:`~sim.host.link.HostLink` resends the request."""


def read_reply(read):
    """One reply frame ``SYNC LEN SEQ CMD STATUS payload CRC16`` as ``(seq, cmd, status,
    payload)``.

    ``read(n)`` returns exactly ``n`` bytes or raises (the caller's timeout); anything
    before the SYNC byte is noise.  Raises :class:`ReplyGarbled` for a frame that does
    not check.
    """
    skipped = 0
    while read(1)[0] != SYNC_REPLY:
        skipped += 1
        if skipped > SYNC_HUNT:
            raise ReplyGarbled(f"no SYNC in {SYNC_HUNT} bytes")
    head = read(4)
    length, seq, cmd, status = head
    if length > max(REPLY_LEN.values()):
        raise ReplyGarbled(f"reply LEN {length} is longer than any reply")
    rest = read(length + 2)
    if crc16(head + rest) != 0:
        raise ReplyGarbled("reply CRC does not check")
    return seq, cmd, status, rest[:length]
