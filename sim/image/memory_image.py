"""Memory images: the on-disk form of a coordinate memory, written atomically and read with checks.

An image is a phext document (docs/image-format.md) so that phext tools can open
it: each stored entry is a scroll at the phext coordinate of its hardware
coordinate plus one in every dimension, and a trailer scroll after every entry
keeps the memory's parameters and the checks.  Why this module is this strict:
an image is how memory outlives the process, the power cycle and the board, so
a damaged file must never load as a silently different memory.  Every entry
carries its own CRC-32, so the reader can name the first bad entry by index,
coordinate and byte offset; the trailer carries the parameters, the entry
count, a CRC-32 over all entries and a CRC-32 over itself.  Writing goes through
a temporary file in the same directory, fsync and ``os.replace``, so a crash
leaves either the old file or the new one, never half of one.

Entries are kept in *load order*: the order in which scattering them into an
empty memory reproduces their placement (docs/isa.md section 5).  Phext fixes
the order of scrolls in a file (by coordinate), so each entry records its load
position as ``seq``; :func:`read_image` returns entries sorted by it.
"""

import os
import re
import stat
import struct
import tempfile
import zlib
from dataclasses import dataclass, field

from sim.isa.coord import Coord, CoordError, format_coord, morton_coord, morton_key, parse_coord
from sim.isa.encoding import NDIMS, CoreConfig
from sim.golden.memory import set_index

__all__ = [
    "FORMAT_NAME", "FORMAT_VERSION", "PHEXT_BREAKS", "LIBPHEXT_MAX",
    "ImageError", "MemoryImage",
    "to_phext", "from_phext", "trailer_phext",
    "encode_image", "decode_image", "write_image", "read_image",
    "check_fits", "slot_entries", "format_listing",
]

#: First word of the trailer scroll; identifies the file as a micro-vTPU memory image.
FORMAT_NAME = "vtpu-image"
#: Version of the format this module writes and the only one it reads.
FORMAT_VERSION = 1

#: Phext dimension-break bytes, indexed like coordinate dimensions (0 = library .. 8 = scroll).
#: A break of dimension ``d`` adds one to dimension ``d`` and sets every lower one to 1.
PHEXT_BREAKS = bytes([0x01, 0x1F, 0x1E, 0x1D, 0x1C, 0x1A, 0x19, 0x18, 0x17])
_BREAK_DIM = {b: d for d, b in enumerate(PHEXT_BREAKS)}
_BREAK_RUN = re.compile(b"[" + re.escape(PHEXT_BREAKS) + b"]+")

#: Largest coordinate part that the phext libraries accept in text and reach by
#: breaks (libphext-py validates 1..999; it and libphext-rs saturate at 999).
LIBPHEXT_MAX = 999

#: Largest dim_bits any core may have (CoreConfig); bounds every phext position
#: a valid image can hold, so a corrupt file cannot make the reader count forever.
_MAX_DIM_BITS = 16
_MAX_PHEXT_PART = (1 << _MAX_DIM_BITS) + 1

_ENTRY_RE = re.compile(
    rb"seq=(0|[1-9][0-9]{0,9}) coord=([0-9./]{17,53}) value=0x([0-9A-F]{8}) "
    rb"f32=([!-~]{1,20}) crc32=0x([0-9A-F]{8})\n")
_TRAILER_RE = re.compile(
    rb"vtpu-image ([0-9]{1,9})\ndim_bits=([0-9]{1,9})\nset_bits=([0-9]{1,9})\nways=([0-9]{1,9})\n"
    rb"entries=([0-9]{1,9})\nentries_crc32=0x([0-9A-F]{8})\ncrc32=0x([0-9A-F]{8})\n")
_ENTRY_SHAPE = "'seq=N coord=lb.sf.sr/cn.vm.bk/ch.sn.sc value=0xXXXXXXXX f32=F crc32=0xXXXXXXXX'"


class ImageError(ValueError):
    """A memory image that cannot be written, read or loaded, and why.

    Attributes: ``path``; ``cause`` (the reason alone); ``entry`` (index of the
    entry in file order, 0-based, or None); ``coord`` (its hardware coordinate
    text, or None); ``offset`` (byte offset in the file where the bad part
    starts, or None); ``part`` ("entry", "trailer" or None).
    """

    def __init__(self, path, cause, *, entry=None, coord=None, phext=None, offset=None, part=None):
        self.path = path
        self.cause = cause
        self.entry = entry
        self.coord = coord
        self.phext = phext
        self.offset = offset
        self.part = part if part is not None else ("entry" if entry is not None else None)
        where = []
        if self.part == "entry":
            where.append(f"entry {entry}" if entry is not None else "entry")
            if coord is not None:
                where[-1] += f" at {coord}"
        elif self.part == "trailer":
            where.append("trailer")
        detail = []
        if phext is not None:
            detail.append(f"phext {phext}")
        if offset is not None:
            detail.append(f"byte {offset}")
        text = " ".join(where)
        if detail:
            text = f"{text} ({', '.join(detail)})" if text else ", ".join(detail)
        prefix = f"{path}: " if path is not None else ""
        super().__init__(f"{prefix}{text}: {cause}" if text else f"{prefix}{cause}")


@dataclass(frozen=True)
class MemoryImage:
    """The contents of an image: the memory's parameters and its entries in load order.

    ``entries`` is a tuple of ``(key, value)``: Morton key and 32-bit value, in the
    order in which they must be scattered to reproduce the memory's placement.
    ``path`` is the file it was read from (None if built in memory); ``sources``
    gives, for each entry, ``(file index, byte offset)`` so later errors (see
    :func:`check_fits`) can point into the file.
    """
    dim_bits: int
    set_bits: int
    ways: int
    entries: tuple
    path: str = field(default=None, compare=False)
    sources: tuple = field(default=None, compare=False, repr=False)

    @property
    def geometry(self):
        """``(dim_bits, set_bits, ways)``."""
        return (self.dim_bits, self.set_bits, self.ways)

    def config(self):
        """A :class:`CoreConfig` with this image's memory parameters (other fields default)."""
        return CoreConfig(dim_bits=self.dim_bits, set_bits=self.set_bits, ways=self.ways)


# -- the coordinate mapping ------------------------------------------------------------

def to_phext(coord):
    """Phext coordinate (a 9-tuple, 1-based) of a hardware coordinate (0-based): each part plus one."""
    return tuple(int(h) + 1 for h in coord)


def from_phext(pcoord):
    """Hardware coordinate of a phext coordinate: each part minus one (parts must be >= 1)."""
    if len(pcoord) != NDIMS or any(int(p) < 1 for p in pcoord):
        raise CoordError(f"{format_coord(pcoord)} is not a phext coordinate: parts start at 1")
    return tuple(int(p) - 1 for p in pcoord)


def trailer_phext(dim_bits):
    """Where the trailer stands: library ``2**dim_bits + 1``, every other part 1.

    No hardware coordinate maps there (their phext parts are at most
    ``2**dim_bits``), and it sorts after every entry, so it is always the last scroll.
    """
    return ((1 << dim_bits) + 1,) + (1,) * (NDIMS - 1)


# -- entry and trailer texts -----------------------------------------------------------

def _f32_text(value):
    """A human view of the 32 bits as binary32; 9 significant digits round-trip any float32."""
    return "%.9g" % struct.unpack("<f", struct.pack("<I", value))[0]


def _entry_text(seq, coord, value):
    body = f"seq={seq} coord={format_coord(coord)} value=0x{value:08X} f32={_f32_text(value)}"
    crc = zlib.crc32(body.encode("ascii"))
    return f"{body} crc32=0x{crc:08X}\n".encode("ascii")


def _trailer_text(dim_bits, set_bits, ways, count, entries_crc):
    body = (f"{FORMAT_NAME} {FORMAT_VERSION}\ndim_bits={dim_bits}\nset_bits={set_bits}\n"
            f"ways={ways}\nentries={count}\nentries_crc32=0x{entries_crc:08X}\n")
    crc = zlib.crc32(body.encode("ascii"))
    return f"{body}crc32=0x{crc:08X}\n".encode("ascii")


def _breaks(here, there):
    """The shortest run of phext breaks that moves from ``here`` to the later ``there``.

    The same run libphext writes: breaks of the highest differing dimension, then,
    for each lower dimension, ``part - 1`` breaks from its reset value of 1.
    """
    for d in range(NDIMS):
        if here[d] != there[d]:
            break
    else:
        raise AssertionError("two scrolls at one phext coordinate")
    assert there[d] > here[d], "scrolls out of phext order"
    run = bytearray(PHEXT_BREAKS[d:d + 1] * (there[d] - here[d]))
    for lower in range(d + 1, NDIMS):
        run += PHEXT_BREAKS[lower:lower + 1] * (there[lower] - 1)
    return bytes(run)


# -- writing ---------------------------------------------------------------------------

def _check_params(path, dim_bits, set_bits, ways):
    try:
        CoreConfig(dim_bits=dim_bits, set_bits=set_bits, ways=ways)
    except (TypeError, ValueError) as e:
        raise ImageError(path, f"invalid memory parameters: {e}") from None


def encode_image(entries, *, dim_bits, set_bits, ways, path=None):
    """The bytes of an image holding ``entries`` (``(key, value)`` pairs in load order).

    Refuses (ImageError naming the input entry) a key that is not a
    ``9*dim_bits``-bit Morton key, a value that is not 32-bit unsigned, a key
    given twice, and an entry that would not fit: more entries in one set than
    ``ways``.  So every image written can be loaded into a memory of its own
    parameters.  ``path`` only names the target in messages.
    """
    _check_params(path, dim_bits, set_bits, ways)
    if isinstance(entries, dict):
        entries = entries.items()
    key_limit = 1 << (NDIMS * dim_bits)
    scrolls = []
    seen = {}
    fill = {}
    for seq, entry in enumerate(entries):
        try:
            key, value = entry
        except (TypeError, ValueError):
            raise ImageError(path, f"input entry {seq}: {entry!r} is not a (key, value) pair") from None
        if isinstance(key, bool) or not isinstance(key, int) or not 0 <= key < key_limit:
            raise ImageError(path, f"input entry {seq}: key {key!r} is not a "
                                   f"{NDIMS * dim_bits}-bit Morton key (dim_bits={dim_bits})")
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < (1 << 32):
            raise ImageError(path, f"input entry {seq}: value {value!r} is not a 32-bit unsigned integer")
        coord = morton_coord(key, dim_bits)
        if key in seen:
            raise ImageError(path, f"input entry {seq}: coordinate {format_coord(coord)} "
                                   f"was already given as input entry {seen[key]}")
        seen[key] = seq
        s = set_index(key, set_bits)
        fill[s] = fill.get(s, 0) + 1
        if fill[s] > ways:
            raise ImageError(path, f"input entry {seq}: coordinate {format_coord(coord)} does not fit: "
                                   f"set {s} already holds {ways} entries (ways={ways})")
        scrolls.append((to_phext(coord), _entry_text(seq, coord, value)))
    scrolls.sort()
    out = bytearray()
    here = (1,) * NDIMS
    entries_crc = 0
    for pcoord, text in scrolls:
        if pcoord != here:
            out += _breaks(here, pcoord)
            here = pcoord
        out += text
        entries_crc = zlib.crc32(text, entries_crc)
    tpos = trailer_phext(dim_bits)
    out += _breaks(here, tpos)
    out += _trailer_text(dim_bits, set_bits, ways, len(scrolls), entries_crc)
    return bytes(out)


def write_image(path, entries, *, dim_bits, set_bits, ways):
    """Write an image atomically: the file at ``path`` is either the old one or the whole new one.

    The bytes go to a temporary file in the same directory (so the rename cannot
    cross file systems), are flushed, fsynced and read back for comparison, then
    ``os.replace`` puts the file in place and the directory is fsynced.  On any
    failure the temporary file is removed and the old file, if any, is untouched.
    A new file gets mode 0644; a replaced file keeps its mode.
    Returns the number of bytes written.
    """
    path = os.fspath(path)
    data = encode_image(entries, dim_bits=dim_bits, set_bits=set_bits, ways=ways, path=path)
    directory = os.path.dirname(os.path.abspath(path))
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        mode = 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            fd = None
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        with open(tmp, "rb") as f:
            if f.read() != data:
                raise ImageError(path, f"the temporary file {tmp} did not read back as written")
        os.replace(tmp, path)
    except BaseException:
        if fd is not None:
            os.close(fd)
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_directory(directory)
    return len(data)


def _fsync_directory(directory):
    """Make the rename itself durable (POSIX); where directories cannot be opened, skip."""
    try:
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


# -- reading ---------------------------------------------------------------------------

def _scrolls(data, path):
    """Split phext bytes into ``(phext coordinate, byte offset, text)`` for every non-empty scroll.

    Follows the phext rules exactly (a break of dimension d adds one to d and
    resets every lower dimension to 1; empty scrolls do not exist), without
    libphext's saturation at 999: positions beyond any image's range are an error.
    """
    pos = [1] * NDIMS
    scrolls = []
    start = 0
    for m in _BREAK_RUN.finditer(data):
        if m.start() > start:
            scrolls.append((tuple(pos), start, data[start:m.start()]))
        for i, b in enumerate(m.group()):
            d = _BREAK_DIM[b]
            pos[d] += 1
            pos[d + 1:] = [1] * (NDIMS - 1 - d)
            if pos[d] > _MAX_PHEXT_PART:
                raise ImageError(path, f"phext coordinate part {pos[d]} is beyond any image "
                                       f"(at most {_MAX_PHEXT_PART}): not a memory image",
                                 offset=m.start() + i)
        start = m.end()
    if start < len(data):
        scrolls.append((tuple(pos), start, data[start:]))
    return scrolls


def _show(text, limit=60):
    s = text[:limit].decode("ascii", "backslashreplace")
    return repr(s + ("..." if len(text) > limit else ""))


def _parse_trailer(path, pcoord, offset, text):
    """Parameters ``(dim_bits, set_bits, ways, count, entries_crc)`` of a trailer, or ImageError."""
    def fail(cause):
        return ImageError(path, cause, part="trailer", phext=format_coord(pcoord), offset=offset)

    head = re.match(rb"vtpu-image ([0-9]{1,9})\n", text)
    if head and int(head.group(1)) != FORMAT_VERSION:
        raise fail(f"image format version {int(head.group(1))}; this reader knows only "
                   f"version {FORMAT_VERSION}")
    m = _TRAILER_RE.fullmatch(text)
    if not m:
        raise fail(f"malformed trailer (file truncated, or not a memory image): found {_show(text)}")
    version, dim_bits, set_bits, ways, count = (int(g) for g in m.groups()[:5])
    entries_crc, crc = int(m.group(6), 16), int(m.group(7), 16)
    body = text[:text.rindex(b"crc32=0x")]
    computed = zlib.crc32(body)
    if computed != crc:
        raise fail(f"checksum mismatch: stored 0x{crc:08X}, computed 0x{computed:08X}")
    if _trailer_text(dim_bits, set_bits, ways, count, entries_crc) != text:
        raise fail("trailer not in canonical form (leading zeros?)")
    try:
        CoreConfig(dim_bits=dim_bits, set_bits=set_bits, ways=ways)
    except ValueError as e:
        raise fail(f"invalid memory parameters: {e}") from None
    if pcoord != trailer_phext(dim_bits):
        raise fail(f"an image with dim_bits={dim_bits} keeps its trailer at phext "
                   f"{format_coord(trailer_phext(dim_bits))}")
    return dim_bits, set_bits, ways, count, entries_crc


def _parse_entry(path, index, pcoord, offset, text):
    """``(seq, hardware Coord, value)`` of an entry scroll, checked on its own, or ImageError."""
    hw = tuple(p - 1 for p in pcoord)

    def fail(cause):
        return ImageError(path, cause, entry=index, coord=format_coord(hw),
                          phext=format_coord(pcoord), offset=offset)

    m = _ENTRY_RE.fullmatch(text)
    if not m:
        raise fail(f"malformed entry: expected {_ENTRY_SHAPE}, found {_show(text)}")
    stored = int(m.group(5), 16)
    computed = zlib.crc32(text[:m.start(5) - len(b" crc32=0x")])
    if computed != stored:
        raise fail(f"checksum mismatch: stored 0x{stored:08X}, computed 0x{computed:08X}")
    seq, value = int(m.group(1)), int(m.group(3), 16)
    try:
        coord = parse_coord(m.group(2).decode("ascii"), dim_bits=_MAX_DIM_BITS)
    except CoordError as e:
        raise fail(f"bad coordinate in entry: {e}") from None
    if tuple(coord) != hw:
        raise fail(f"the entry says coord={format_coord(coord)} but stands at the phext position "
                   f"of {format_coord(hw)}")
    if _entry_text(seq, coord, value) != text:
        raise fail("entry not in canonical form (leading zeros, or a wrong f32 view)")
    return seq, coord, value


def decode_image(data, path=None):
    """Check and decode image bytes; return a :class:`MemoryImage` or raise :class:`ImageError`.

    Checks, reporting the first failure: each entry on its own in file order
    (shape, CRC, canonical form, its coordinate text equals its phext position),
    and, if the trailer is sound, against the trailer (coordinate range for
    ``dim_bits``, ``seq`` below the count and not repeated); then the trailer
    itself (present, last, CRC, parameters, position); then the whole (entry
    count, CRC over all entries, no set holding more entries than ``ways``).
    """
    scrolls = _scrolls(data, path)
    if not scrolls:
        raise ImageError(path, "empty image: no trailer (file truncated, or not a memory image)",
                         offset=len(data))
    if not any(t.startswith((b"seq=", FORMAT_NAME.encode() + b" ")) for _, _, t in scrolls):
        raise ImageError(path, "not a memory image: no scroll is an entry or a trailer",
                         offset=scrolls[0][1])
    params = trailer_error = None
    trailer = None
    if not scrolls[-1][2].startswith(b"seq="):
        trailer = scrolls.pop()
        try:
            params = _parse_trailer(path, *trailer)
        except ImageError as e:
            trailer_error = e
    else:
        trailer_error = ImageError(path, "no trailer: the file ends with an entry "
                                         "(file truncated, or not a memory image)", offset=len(data))

    parsed = []
    by_seq = {}
    for index, (pcoord, offset, text) in enumerate(scrolls):
        seq, coord, value = _parse_entry(path, index, pcoord, offset, text)
        if params is not None:
            dim_bits, _, _, count, _ = params
            where = dict(entry=index, coord=format_coord(coord), phext=format_coord(pcoord),
                         offset=offset)
            if any(c >= (1 << dim_bits) for c in coord):
                raise ImageError(path, f"coordinate outside 0..{(1 << dim_bits) - 1} of "
                                       f"dim_bits={dim_bits}", **where)
            if seq >= count:
                raise ImageError(path, f"seq={seq} but the trailer says the image holds "
                                       f"{count} entries", **where)
            if seq in by_seq:
                raise ImageError(path, f"seq={seq} repeats the seq of entry {by_seq[seq]}", **where)
        by_seq[seq] = index
        parsed.append((seq, coord, value, index, offset))
    if trailer_error is not None:
        raise trailer_error

    dim_bits, set_bits, ways, count, entries_crc = params
    tpcoord, toffset, _ = trailer
    tw = dict(part="trailer", phext=format_coord(tpcoord), offset=toffset)
    if len(parsed) != count:
        missing = sorted(set(range(count)) - set(by_seq))
        raise ImageError(path, f"the trailer says {count} entries but the file holds "
                               f"{len(parsed)}: missing seq {', '.join(map(str, missing[:5]))}"
                               f"{'...' if len(missing) > 5 else ''}", **tw)
    computed = 0
    for _, _, text in scrolls:
        computed = zlib.crc32(text, computed)
    if computed != entries_crc:
        raise ImageError(path, f"entries checksum mismatch: stored 0x{entries_crc:08X}, "
                               f"computed 0x{computed:08X}", **tw)
    parsed.sort()
    entries = []
    fill = {}
    for seq, coord, value, index, offset in parsed:
        key = morton_key(coord, dim_bits)
        s = set_index(key, set_bits)
        fill[s] = fill.get(s, 0) + 1
        if fill[s] > ways:
            raise ImageError(path, f"does not fit its own memory: set {s} already holds {ways} "
                                   f"entries earlier in load order (ways={ways})",
                             entry=index, coord=format_coord(coord),
                             phext=format_coord(to_phext(coord)), offset=offset)
        entries.append((key, value))
    return MemoryImage(dim_bits, set_bits, ways, tuple(entries), path=path,
                       sources=tuple((index, offset) for _, _, _, index, offset in parsed))


def read_image(path):
    """Read and check the image at ``path``; see :func:`decode_image`.

    An unreadable file raises the usual OSError (it names the file); a readable
    file that is not a sound image raises :class:`ImageError`.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        data = f.read()
    return decode_image(data, path)


# -- loading ---------------------------------------------------------------------------

def check_fits(image, config):
    """Raise :class:`ImageError` saying why ``image`` cannot be loaded into a core of ``config``.

    ``config`` is a :class:`CoreConfig` (or anything with ``dim_bits``,
    ``set_bits``, ``ways``).  ``dim_bits`` must be equal: a core's coordinate
    range is part of what its programs compute (CADD faults at its edge), so an
    image does not cross it.  ``set_bits`` and ``ways`` may differ: the image
    loads if, scattered in load order under the core's placement, no set
    receives more entries than the core has ways (placement then differs from
    the image's own memory, contents do not).
    """
    if image.dim_bits != config.dim_bits:
        raise ImageError(image.path, f"image has dim_bits={image.dim_bits} but the core has "
                                     f"dim_bits={config.dim_bits}: an image loads only into a core "
                                     f"with the same coordinate range")
    fill = {}
    sources = image.sources or ((None, None),) * len(image.entries)
    for (key, _), (index, offset) in zip(image.entries, sources):
        s = set_index(key, config.set_bits)
        fill[s] = fill.get(s, 0) + 1
        if fill[s] > config.ways:
            coord = morton_coord(key, image.dim_bits)
            written = ""
            if (image.set_bits, image.ways) != (config.set_bits, config.ways):
                written = (f" (the image was written for set_bits={image.set_bits}, "
                           f"ways={image.ways})")
            raise ImageError(image.path, f"does not fit: set {s} of the core (set_bits="
                                         f"{config.set_bits}, ways={config.ways}) is already full "
                                         f"when this entry loads{written}",
                             part="entry", entry=index, coord=format_coord(coord),
                             phext=format_coord(to_phext(coord)), offset=offset)


def slot_entries(slots):
    """Entries in slot order, ``(key, value)``, from ``slots[set][way]`` (ArchState.memory form).

    Slot order is the load order that reproduces the placement: within each set
    the ways keep their order, only free ways between them are closed up.
    """
    return [slot for ways in slots for slot in ways if slot is not None]


def format_listing(image):
    """A human listing: the parameters, then one line per entry in load order."""
    lines = [f"# {FORMAT_NAME} {FORMAT_VERSION}: dim_bits={image.dim_bits} set_bits={image.set_bits} "
             f"ways={image.ways} entries={len(image.entries)}"]
    for seq, (key, value) in enumerate(image.entries):
        coord = Coord(morton_coord(key, image.dim_bits), image.dim_bits)
        lines.append(f"{seq:5d}  {format_coord(coord):<24}  0x{value:08X}  {_f32_text(value)}")
    return "\n".join(lines) + "\n"
