"""The host link's errors: :class:`LinkError` and its family, one class per cause.

Why a family: a caller tells a damaged line (:class:`LinkTimeout`,
:class:`ReplyCorrupt`, :class:`FrameRejected`: nothing more to do than resend or
give up) from a board that understood and refused (:class:`BoardError` and its
kinds, one per error status of docs/host-link.md), and ``vtpu run`` reports any of
them as ``CMD: cause``.
"""

from sim.isa.protocol import Status

__all__ = [
    "LinkError", "LinkTimeout", "ReplyCorrupt", "FrameRejected", "BoardError", "BusyError",
    "AddressRangeError", "BoardMemoryFull", "ProtocolError", "STATUS_ERRORS",
]


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


#: The exception each error status of an executed-nothing reply raises.
STATUS_ERRORS = {
    Status.BUSY: BusyError, Status.RANGE: AddressRangeError, Status.MEM_FULL: BoardMemoryFull,
    Status.BAD_LENGTH: ProtocolError, Status.UNKNOWN_CMD: ProtocolError,
}
