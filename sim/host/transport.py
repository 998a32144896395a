"""Byte transports of the host link: what one must offer (:class:`Transport`) and a serial port.

Why a separate room: :class:`sim.host.link.HostLink` runs over any byte pipe with a
clock, and the pipes differ only here: :class:`SerialTransport` is a real port
(wall-clock time), ``sim/host/serial_sim.py``'s ``SimSerial`` the simulated board's
line (simulated time), and the fuzz tests' transports a scripted board.
"""

import time
from typing import Protocol

from .errors import LinkError

__all__ = ["Transport", "SerialTransport", "DEFAULT_BAUD"]

#: The host's rate when nothing says the board's: 115200, the rate of bitstreams
#: built before builds recorded theirs.  A board's rate is its bitstream's (boards/
#: icebreaker.py and boards/ulx3s.py choose it; ``build/<board>/build.json`` records it).
DEFAULT_BAUD = 115200


class Transport(Protocol):
    """What :class:`~sim.host.link.HostLink` needs of a byte pipe to a board.

    ``byte_time``, ``latency``, ``resync_time``: seconds per byte on the line; slack
    for the operating system's buffering; how long to wait so the board's parser has
    given up on a broken frame.
    """

    byte_time: float
    latency: float
    resync_time: float

    def write(self, data):
        """Send bytes."""

    def read(self, n, timeout):
        """Up to ``n`` bytes, fewer if ``timeout`` seconds pass first."""

    def discard_input(self, quiet):
        """Drop incoming bytes until the line has been quiet for ``quiet`` seconds."""

    def now(self):
        """The transport's clock in seconds (wall clock for a real port, simulated time
        for the simulated line), against which timeouts run."""


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
