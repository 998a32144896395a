"""sim/image/memory_image.py: the phext memory-image format, its atomic writer and its checking reader.

Expected bytes and messages are built here from the format's definition
(docs/image-format.md) with zlib's CRC-32 and a minimal phext reader written
from the phext delimiter table, never taken from the code under test; placement
comes from the golden memory (sim/golden/memory.py).
"""

import os
import struct
import zlib

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from sim.isa.coord import format_coord, morton_coord, morton_key
from sim.isa.encoding import CoreConfig
from sim.image.memory_image import (
    LIBPHEXT_MAX, ImageError, MemoryImage, check_fits, decode_image, encode_image, format_listing,
    from_phext, read_image, slot_entries, to_phext, trailer_phext, write_image,
)
from sim.golden.memory import CoordinateMemory, MemoryFullError
from tests.support.placement import key_in_set, keys_in_set

# -- an independent minimal phext reader ---------------------------------------------------
# Delimiters from the phext table: library 0x01, shelf 0x1F, series 0x1E, collection 0x1D,
# volume 0x1C, book 0x1A, chapter 0x19, section 0x18, scroll 0x17.  A break adds one to its
# dimension and resets every lower one to 1; empty scrolls do not exist; 0x0A is text.
DELIMS = {0x01: 0, 0x1F: 1, 0x1E: 2, 0x1D: 3, 0x1C: 4, 0x1A: 5, 0x19: 6, 0x18: 7, 0x17: 8}


def phext_scrolls(data):
    """[(phext coordinate 9-tuple, byte offset, text bytes)] for every non-empty scroll."""
    pos = [1] * 9
    out = []
    text = bytearray()
    start = 0
    for i, b in enumerate(data):
        if b in DELIMS:
            if text:
                out.append((tuple(pos), start, bytes(text)))
                text.clear()
            d = DELIMS[b]
            pos[d] += 1
            for lower in range(d + 1, 9):
                pos[lower] = 1
        else:
            if not text:
                start = i
            text.append(b)
    if text:
        out.append((tuple(pos), start, bytes(text)))
    return out


def f32_view(bits):
    return "%.9g" % struct.unpack("<f", struct.pack("<I", bits))[0]


def entry_line(seq, coord_text, value):
    body = f"seq={seq} coord={coord_text} value=0x{value:08X} f32={f32_view(value)}"
    return f"{body} crc32=0x{zlib.crc32(body.encode()):08X}\n".encode()


def trailer(dim_bits, set_bits, ways, count, lines, version=1):
    entries_crc = 0
    for line in lines:
        entries_crc = zlib.crc32(line, entries_crc)
    body = (f"vtpu-image {version}\ndim_bits={dim_bits}\nset_bits={set_bits}\nways={ways}\n"
            f"entries={count}\nentries_crc32=0x{entries_crc:08X}\n")
    return f"{body}crc32=0x{zlib.crc32(body.encode()):08X}\n".encode()


def C(text):
    return tuple(int(x) for x in text.replace("/", ".").split("."))


# -- the golden example: hand-built bytes -------------------------------------------------
# dim_bits=4, set_bits=2, ways=2; load order: 0.0.0/0.0.0/0.0.7 = 1.0f, 0.0.0/0.0.0/0.0.0 = 42,
# 1.0.0/0.0.0/0.0.2 = -pi.  Keys by hand: scroll 7 -> bits 8, 17, 26 = 67240192 (set 0);
# 0 -> 0 (set 0); library 1 + scroll 2 -> bits 0, 17 = 131073 (set 1).
EX_ENTRIES = [(67240192, 0x3F800000), (0, 42), (131073, 0xC0490FDB)]
EX_L1 = entry_line(1, "0.0.0/0.0.0/0.0.0", 42)           # file order: phext 1.1.1/1.1.1/1.1.1
EX_L0 = entry_line(0, "0.0.0/0.0.0/0.0.7", 0x3F800000)   # phext 1.1.1/1.1.1/1.1.8
EX_L2 = entry_line(2, "1.0.0/0.0.0/0.0.2", 0xC0490FDB)   # phext 2.1.1/1.1.1/1.1.3
EX_TRAILER = trailer(4, 2, 2, 3, [EX_L1, EX_L0, EX_L2])  # phext 17.1.1/1.1.1/1.1.1
EX_BYTES = (EX_L1 + b"\x17" * 7 + EX_L0 + b"\x01" + b"\x17" * 2 + EX_L2 + b"\x01" * 15
            + EX_TRAILER)
EX_OFF = [0, len(EX_L1) + 7, len(EX_L1) + 7 + len(EX_L0) + 3]
EX_TOFF = len(EX_BYTES) - len(EX_TRAILER)


def test_example_keys_from_first_principles():
    assert [morton_key(C(t)) for t in ("0.0.0/0.0.0/0.0.7", "0.0.0/0.0.0/0.0.0",
                                       "1.0.0/0.0.0/0.0.2")] == [k for k, _ in EX_ENTRIES]
    assert f32_view(0x3F800000) == "1" and f32_view(0xC0490FDB) == "-3.14159274"


def test_encode_gives_the_hand_built_bytes():
    assert encode_image(EX_ENTRIES, dim_bits=4, set_bits=2, ways=2) == EX_BYTES


def test_decode_hand_built_bytes():
    image = decode_image(EX_BYTES, "ex.phext")
    assert image == MemoryImage(4, 2, 2, tuple(EX_ENTRIES))
    assert image.geometry == (4, 2, 2) and image.path == "ex.phext"
    assert image.sources == ((1, EX_OFF[1]), (0, 0), (2, EX_OFF[2]))
    assert image.config() == CoreConfig(dim_bits=4, set_bits=2, ways=2)


def test_example_is_phext_with_documented_positions():
    scrolls = phext_scrolls(EX_BYTES)
    assert [(p, o) for p, o, _ in scrolls] == [
        (C("1.1.1/1.1.1/1.1.1"), 0), (C("1.1.1/1.1.1/1.1.8"), EX_OFF[1]),
        (C("2.1.1/1.1.1/1.1.3"), EX_OFF[2]), (C("17.1.1/1.1.1/1.1.1"), EX_TOFF)]
    assert [t for _, _, t in scrolls] == [EX_L1, EX_L0, EX_L2, EX_TRAILER]


def test_listing():
    text = format_listing(decode_image(EX_BYTES))
    assert text.splitlines()[0] == "# vtpu-image 1: dim_bits=4 set_bits=2 ways=2 entries=3"
    assert "0.0.0/0.0.0/0.0.7" in text.splitlines()[1] and "0x3F800000" in text.splitlines()[1]
    assert text.splitlines()[3].split()[-1] == "-3.14159274"


def test_empty_image():
    data = encode_image([], dim_bits=2, set_bits=0, ways=1)
    assert data == b"\x01" * 4 + trailer(2, 0, 1, 0, [])     # trailer at library 2**2 + 1 = 5
    assert decode_image(data) == MemoryImage(2, 0, 1, ())


# -- coordinate mapping -------------------------------------------------------------------

def test_mapping_functions():
    assert to_phext((0,) * 9) == (1,) * 9
    assert to_phext((2047,) * 9) == (2048,) * 9
    assert from_phext((1,) * 9) == (0,) * 9
    assert from_phext((5, 1, 1, 1, 1, 1, 1, 1, 2048)) == (4, 0, 0, 0, 0, 0, 0, 0, 2047)
    with pytest.raises(ValueError):
        from_phext((0, 1, 1, 1, 1, 1, 1, 1, 1))
    assert trailer_phext(11) == (2049,) + (1,) * 8
    # libphext's validated range 1..999 holds hardware 0..998 and no more
    assert LIBPHEXT_MAX == 999
    assert max(to_phext((998,) * 9)) == 999 and max(to_phext((999,) * 9)) == 1000


EDGE_COORDS = ([(0,) * 9, (2047,) * 9, (998,) * 9, (999,) * 9]
               + [tuple(2047 if i == d else 0 for i in range(9)) for d in range(9)]
               + [tuple(0 if i == d else 2047 for i in range(9)) for d in range(9)])


def test_mapping_edges_in_every_dimension(tmp_path):
    entries = [(morton_key(c), i * 0x01010101) for i, c in enumerate(EDGE_COORDS)]
    path = tmp_path / "edges.phext"
    write_image(path, entries, dim_bits=11, set_bits=0, ways=len(entries))
    data = path.read_bytes()
    scrolls = phext_scrolls(data)
    got = {p: t for p, _, t in scrolls}
    for i, c in enumerate(EDGE_COORDS):
        p = tuple(x + 1 for x in c)
        assert got[p] == entry_line(i, format_coord(c), i * 0x01010101), c
    assert scrolls[-1][0] == (2049,) + (1,) * 8
    assert read_image(path).entries == tuple(entries)


# -- round trip --------------------------------------------------------------------------

def dims(dim_bits):
    top = (1 << dim_bits) - 1
    return st.one_of(st.integers(0, min(3, top)), st.just(top), st.integers(0, top))


@st.composite
def memories(draw):
    """A golden memory after random scatters and erases, and its parameters."""
    dim_bits = draw(st.sampled_from([1, 2, 4, 11]))
    set_bits = draw(st.integers(0, 3))
    ways = draw(st.integers(1, 4))
    mem = CoordinateMemory(dim_bits, set_bits, ways)
    coord = st.tuples(*[dims(dim_bits)] * 9)
    values = st.one_of(st.integers(0, 2**32 - 1), st.sampled_from(
        [0, 0x7FC00000, 0x7F800000, 0xFF800000, 0x80000000, 0x00000001, 0xFFFFFFFF]))
    ops = draw(st.lists(st.tuples(st.booleans(), coord, values), max_size=14))
    for erase, c, v in ops:
        key = morton_key(c, dim_bits)
        if erase:
            mem.erase(key)
        elif not mem.would_fault(key):
            mem.scatter(key, v)
    return dim_bits, set_bits, ways, mem


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(memories())
def test_round_trip_reproduces_entries_and_placement(tmp_path_factory, m):
    dim_bits, set_bits, ways, mem = m
    entries = slot_entries(mem.slots())
    path = tmp_path_factory.mktemp("rt") / "m.phext"
    write_image(path, entries, dim_bits=dim_bits, set_bits=set_bits, ways=ways)
    image = read_image(path)
    assert image.geometry == (dim_bits, set_bits, ways)
    assert list(image.entries) == entries
    check_fits(image, CoreConfig(dim_bits=dim_bits, set_bits=set_bits, ways=ways))
    again = CoordinateMemory(dim_bits, set_bits, ways)
    again.load(image.entries)
    assert again.entries() == mem.entries()
    for before, after in zip(mem.slots(), again.slots()):
        # within a set the order of ways is kept; free ways between entries close up
        assert [s for s in after if s is not None] == [s for s in before if s is not None]
        assert after[:len([s for s in before if s])] == tuple(s for s in before if s)
    # the file is a phext document with each entry at its coordinate plus one
    scrolls = phext_scrolls(path.read_bytes())
    assert scrolls[-1][0] == ((1 << dim_bits) + 1,) + (1,) * 8
    assert scrolls[-1][2].startswith(b"vtpu-image 1\n")
    by_pos = {p: t for p, _, t in scrolls[:-1]}
    assert len(by_pos) == len(entries)
    for seq, (key, value) in enumerate(entries):
        c = morton_coord(key, dim_bits)
        assert by_pos[tuple(x + 1 for x in c)] == entry_line(seq, format_coord(c), value)


def test_placement_identical_without_erases():
    mem = CoordinateMemory(11, 2, 3)
    keys = [key_in_set(s, t, 2, 99) for s, t in ((1, 0), (1, 1), (2, 0), (1, 2), (2, 1), (2, 2), (3, 0))]
    for i, key in enumerate(keys):                     # sets 1 1 2 1 2 2 3
        mem.scatter(key, i)
    image = decode_image(encode_image(slot_entries(mem.slots()), dim_bits=11, set_bits=2, ways=3))
    again = CoordinateMemory(11, 2, 3)
    again.load(image.entries)
    assert again.slots() == mem.slots()


def test_dict_input_keeps_its_order():
    d = {131073: 1, 0: 2}
    assert decode_image(encode_image(d, dim_bits=4, set_bits=0, ways=2)).entries == ((131073, 1), (0, 2))


# -- writer refusals ---------------------------------------------------------------------

SET0_KEYS = keys_in_set(0, 3, 2, 36)

@pytest.mark.parametrize("entries, params, message", [
    ([(0, 1), (0, 2)], (4, 2, 2),
     "out.phext: input entry 1: coordinate 0.0.0/0.0.0/0.0.0 was already given as input entry 0"),
    ([(0, 2**32)], (4, 2, 2), "out.phext: input entry 0: value 4294967296 is not a 32-bit unsigned integer"),
    ([(0, -1)], (4, 2, 2), "out.phext: input entry 0: value -1 is not a 32-bit unsigned integer"),
    ([(1 << 36, 0)], (4, 2, 2),
     "out.phext: input entry 0: key 68719476736 is not a 36-bit Morton key (dim_bits=4)"),
    # three keys of set 0 (tags 0, 1, 2; docs/isa.md 5)
    ([(k, 0) for k in SET0_KEYS], (4, 2, 2),
     f"out.phext: input entry 2: coordinate {format_coord(morton_coord(SET0_KEYS[2], 4))} does not "
     "fit: set 0 already holds 2 entries (ways=2)"),
    ([(0,)], (4, 2, 2), "out.phext: input entry 0: (0,) is not a (key, value) pair"),
    ([], (4, 2, 0), "out.phext: invalid memory parameters: ways must be at least 1, not 0"),
    ([], (17, 2, 1), "out.phext: invalid memory parameters: dim_bits must be 1..16, not 17"),
])
def test_writer_refuses_and_writes_nothing(tmp_path, monkeypatch, entries, params, message):
    monkeypatch.chdir(tmp_path)
    dim_bits, set_bits, ways = params
    with pytest.raises(ImageError) as info:
        write_image("out.phext", entries, dim_bits=dim_bits, set_bits=set_bits, ways=ways)
    assert str(info.value) == message
    assert os.listdir(tmp_path) == []


# -- atomicity ---------------------------------------------------------------------------

def _old_file(tmp_path):
    path = tmp_path / "img.phext"
    path.write_bytes(EX_BYTES)
    return path


def _assert_untouched(tmp_path, path):
    assert path.read_bytes() == EX_BYTES
    assert sorted(os.listdir(tmp_path)) == ["img.phext"]


NEW = [(0, 7), (1, 8)]


def test_crash_at_rename_leaves_old_file(tmp_path, monkeypatch):
    path = _old_file(tmp_path)

    def boom(src, dst):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        write_image(path, NEW, dim_bits=11, set_bits=8, ways=4)
    monkeypatch.undo()
    _assert_untouched(tmp_path, path)


def test_crash_at_fsync_leaves_old_file(tmp_path, monkeypatch):
    path = _old_file(tmp_path)

    def boom(fd):
        raise OSError(5, "Input/output error")
    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError):
        write_image(path, NEW, dim_bits=11, set_bits=8, ways=4)
    monkeypatch.undo()
    _assert_untouched(tmp_path, path)


@pytest.mark.parametrize("exc", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_crash_mid_write_leaves_old_file(tmp_path, monkeypatch, exc):
    """Half the bytes reach the temporary file, then the write fails (or the user interrupts)."""
    path = _old_file(tmp_path)
    real_fdopen = os.fdopen

    class HalfWriter:
        def __init__(self, f):
            self.f = f

        def write(self, data):
            self.f.write(data[:len(data) // 2])
            self.f.flush()
            raise exc

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *a):
            self.f.close()

    monkeypatch.setattr(os, "fdopen", lambda fd, mode: HalfWriter(real_fdopen(fd, mode)))
    with pytest.raises(type(exc)):
        write_image(path, NEW, dim_bits=11, set_bits=8, ways=4)
    monkeypatch.undo()
    _assert_untouched(tmp_path, path)


def test_missing_directory_creates_nothing(tmp_path):
    with pytest.raises(FileNotFoundError):
        write_image(tmp_path / "no" / "img.phext", NEW, dim_bits=11, set_bits=8, ways=4)
    assert os.listdir(tmp_path) == []


def test_replace_and_modes(tmp_path):
    path = _old_file(tmp_path)
    os.chmod(path, 0o600)
    n = write_image(path, NEW, dim_bits=11, set_bits=8, ways=4)
    assert n == path.stat().st_size
    assert read_image(path).entries == tuple(NEW)
    assert (path.stat().st_mode & 0o777) == 0o600
    fresh = tmp_path / "fresh.phext"
    write_image(fresh, NEW, dim_bits=11, set_bits=8, ways=4)
    assert (fresh.stat().st_mode & 0o777) == 0o644
    assert sorted(os.listdir(tmp_path)) == ["fresh.phext", "img.phext"]


# -- directed corruption: exact messages ---------------------------------------------------

def _where(i, hw, off):
    return f"entry {i} at {hw} (phext {format_coord(to_phext(C(hw)))}, byte {off})"


def test_flipped_value_digit_names_the_entry():
    bad_l0 = EX_L0.replace(b"0x3F800000", b"0x3F800001")
    data = EX_BYTES.replace(EX_L0, bad_l0)
    body = bad_l0[:bad_l0.index(b" crc32=")]
    with pytest.raises(ImageError) as info:
        decode_image(data, "m.phext")
    e = info.value
    assert str(e) == (f"m.phext: {_where(1, '0.0.0/0.0.0/0.0.7', EX_OFF[1])}: checksum mismatch: "
                      f"stored 0x{zlib.crc32(EX_L0[:EX_L0.index(b' crc32=')]):08X}, "
                      f"computed 0x{zlib.crc32(body):08X}")
    assert (e.entry, e.offset, e.part, e.coord) == (1, EX_OFF[1], "entry", "0.0.0/0.0.0/0.0.7")


def test_missing_scroll_break_names_the_moved_entry():
    data = EX_BYTES.replace(b"\x17" * 7, b"\x17" * 6, 1)      # entry 1 slides to scroll 7
    with pytest.raises(ImageError) as info:
        decode_image(data, "m.phext")
    assert str(info.value) == (
        f"m.phext: {_where(1, '0.0.0/0.0.0/0.0.6', EX_OFF[1] - 1)}: the entry says "
        f"coord=0.0.0/0.0.0/0.0.7 but stands at the phext position of 0.0.0/0.0.0/0.0.6")


def test_malformed_entry():
    data = EX_BYTES.replace(b"seq=2 ", b"sec=2 ")
    with pytest.raises(ImageError) as info:
        decode_image(data, "m.phext")
    assert str(info.value).startswith(
        f"m.phext: {_where(2, '1.0.0/0.0.0/0.0.2', EX_OFF[2])}: malformed entry: expected "
        f"'seq=N coord=lb.sf.sr/cn.vm.bk/ch.sn.sc value=0xXXXXXXXX f32=F crc32=0xXXXXXXXX', "
        f"found 'sec=2 coord=1.0.0/0.0.0/0.0.2")


def test_truncated_before_trailer():
    data = EX_BYTES[:EX_OFF[2] + len(EX_L2)]
    with pytest.raises(ImageError) as info:
        decode_image(data, "m.phext")
    assert str(info.value) == (f"m.phext: byte {len(data)}: no trailer: the file ends with an entry "
                               f"(file truncated, or not a memory image)")


def test_truncated_inside_last_entry():
    data = EX_BYTES[:EX_OFF[2] + 20]
    with pytest.raises(ImageError) as info:
        decode_image(data, "m.phext")
    assert info.value.entry == 2 and "malformed entry" in str(info.value)


def test_truncated_inside_trailer():
    data = EX_BYTES[:-5]
    with pytest.raises(ImageError) as info:
        decode_image(data, "m.phext")
    assert str(info.value).startswith(
        f"m.phext: trailer (phext 17.1.1/1.1.1/1.1.1, byte {EX_TOFF}): malformed trailer "
        f"(file truncated, or not a memory image): found 'vtpu-image 1\\ndim_bits=4")


def test_trailer_parameter_changed():
    bad = EX_TRAILER.replace(b"ways=2", b"ways=3")
    with pytest.raises(ImageError) as info:
        decode_image(EX_BYTES.replace(EX_TRAILER, bad), "m.phext")
    stored = int(bad[-9:-1], 16)
    computed = zlib.crc32(bad[:bad.rindex(b"crc32=")])
    assert str(info.value) == (f"m.phext: trailer (phext 17.1.1/1.1.1/1.1.1, byte {EX_TOFF}): "
                               f"checksum mismatch: stored 0x{stored:08X}, computed 0x{computed:08X}")


def test_unknown_version():
    t = trailer(4, 2, 2, 3, [EX_L1, EX_L0, EX_L2], version=2)
    with pytest.raises(ImageError) as info:
        decode_image(EX_BYTES.replace(EX_TRAILER, t), "m.phext")
    assert str(info.value) == (f"m.phext: trailer (phext 17.1.1/1.1.1/1.1.1, byte {EX_TOFF}): "
                               f"image format version 2; this reader knows only version 1")


def test_trailer_in_wrong_place():
    data = EX_BYTES.replace(b"\x01" * 15, b"\x01" * 14)
    with pytest.raises(ImageError) as info:
        decode_image(data, "m.phext")
    assert str(info.value) == (f"m.phext: trailer (phext 16.1.1/1.1.1/1.1.1, byte {EX_TOFF - 1}): "
                               f"an image with dim_bits=4 keeps its trailer at phext 17.1.1/1.1.1/1.1.1")


def test_entry_removed_whole():
    # drop entry seq=0 (file entry 1) and its scroll breaks; entry 2 keeps its position
    data = EX_L1 + b"\x01" + b"\x17" * 2 + EX_L2 + b"\x01" * 15 + EX_TRAILER
    with pytest.raises(ImageError) as info:
        decode_image(data, "m.phext")
    toff = len(data) - len(EX_TRAILER)
    assert str(info.value) == (f"m.phext: trailer (phext 17.1.1/1.1.1/1.1.1, byte {toff}): the trailer "
                               f"says 3 entries but the file holds 2: missing seq 0")


def test_entry_replaced_by_another_valid_entry():
    other = entry_line(0, "0.0.0/0.0.0/0.0.7", 0x40000000)
    data = EX_BYTES.replace(EX_L0, other)
    lines_crc = zlib.crc32(EX_L1 + other + EX_L2)
    stored = zlib.crc32(EX_L1 + EX_L0 + EX_L2)
    with pytest.raises(ImageError) as info:
        decode_image(data, "m.phext")
    assert str(info.value) == (f"m.phext: trailer (phext 17.1.1/1.1.1/1.1.1, byte {EX_TOFF}): entries "
                               f"checksum mismatch: stored 0x{stored:08X}, computed 0x{lines_crc:08X}")


def _crafted(lines_at, dim_bits, set_bits, ways, count=None):
    """An image with valid checksums built from ``[(phext coord, line)]`` in phext order."""
    data = bytearray()
    here = [1] * 9
    for pos, line in lines_at + [((((1 << dim_bits) + 1),) + (1,) * 8, None)]:
        d = next((i for i in range(9) if pos[i] != here[i]), None)
        if d is not None:
            data += bytes([list(DELIMS)[d]]) * (pos[d] - here[d])
            for lower in range(d + 1, 9):
                data += bytes([list(DELIMS)[lower]]) * (pos[lower] - 1)
        here = list(pos)
        if line is not None:
            data += line
    lines = [line for _, line in lines_at]
    data += trailer(dim_bits, set_bits, ways, len(lines) if count is None else count, lines)
    assert phext_scrolls(bytes(data))[-1][0][0] == (1 << dim_bits) + 1
    return bytes(data)


def test_crafted_coordinate_outside_dim_bits():
    line = entry_line(0, "0.0.0/0.0.0/0.0.16", 5)      # 16 > 15 = max of dim_bits 4
    data = _crafted([((1,) * 8 + (17,), line)], 4, 0, 1)
    with pytest.raises(ImageError) as info:
        decode_image(data, "m.phext")
    assert str(info.value) == (f"m.phext: {_where(0, '0.0.0/0.0.0/0.0.16', 16)}: coordinate "
                               f"outside 0..15 of dim_bits=4")


def test_crafted_repeated_seq():
    a = entry_line(0, "0.0.0/0.0.0/0.0.0", 5)
    b = entry_line(0, "0.0.0/0.0.0/0.0.1", 6)
    data = _crafted([((1,) * 9, a), ((1,) * 8 + (2,), b)], 4, 0, 2)
    with pytest.raises(ImageError) as info:
        decode_image(data, "m.phext")
    assert str(info.value) == (f"m.phext: {_where(1, '0.0.0/0.0.0/0.0.1', len(a) + 1)}: seq=0 repeats "
                               f"the seq of entry 0")


def test_crafted_seq_beyond_count():
    a = entry_line(3, "0.0.0/0.0.0/0.0.0", 5)
    data = _crafted([((1,) * 9, a)], 4, 0, 2)
    with pytest.raises(ImageError) as info:
        decode_image(data, "m.phext")
    assert str(info.value) == (f"m.phext: {_where(0, '0.0.0/0.0.0/0.0.0', 0)}: seq=3 but the trailer "
                               f"says the image holds 1 entries")


def test_crafted_overfull_set():
    # ways=1, set_bits=0: the second entry in load order (seq=1, file entry 0) does not fit
    a = entry_line(1, "0.0.0/0.0.0/0.0.0", 5)
    b = entry_line(0, "0.0.0/0.0.0/0.0.1", 6)
    data = _crafted([((1,) * 9, a), ((1,) * 8 + (2,), b)], 4, 0, 1)
    with pytest.raises(ImageError) as info:
        decode_image(data, "m.phext")
    assert str(info.value) == (f"m.phext: {_where(0, '0.0.0/0.0.0/0.0.0', 0)}: does not fit its own "
                               f"memory: set 0 already holds 1 entries earlier in load order (ways=1)")


def test_not_an_image():
    with pytest.raises(ImageError) as info:
        decode_image(b"hello\x17world\n", "notes.phext")
    assert str(info.value) == ("notes.phext: byte 0: not a memory image: no scroll is an entry or "
                               "a trailer")
    with pytest.raises(ImageError) as info:
        decode_image(b"", "empty.phext")
    assert str(info.value) == ("empty.phext: byte 0: empty image: no trailer (file truncated, "
                               "or not a memory image)")


def test_runaway_breaks():
    with pytest.raises(ImageError) as info:
        decode_image(b"\x17" * 70000, "x")
    assert info.value.offset == 65536 and "beyond any image" in str(info.value)


def test_read_missing_file_is_oserror(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_image(tmp_path / "absent.phext")


# -- fuzzing: corrupt bytes never load as a different memory ------------------------------

def _fuzz_base():
    entries = [(morton_key(c), v) for c, v in [
        (C("0.0.0/0.0.0/0.0.3"), 0x3F800000), (C("0.0.0/0.0.0/0.0.0"), 7), (C("2.1.0/0.3.0/1.0.2"), 0xDEADBEEF),
        (C("0.0.0/0.0.0/0.1.0"), 0x7FC00000), (C("31.31.31/31.31.31/31.31.31"), 0)]]
    return entries, encode_image(entries, dim_bits=5, set_bits=1, ways=4)


FUZZ_ENTRIES, FUZZ_BYTES = _fuzz_base()
FUZZ_IMAGE = MemoryImage(5, 1, 4, tuple(FUZZ_ENTRIES))
INTERESTING = st.one_of(st.integers(0, 255), st.sampled_from(list(DELIMS) + list(b"0123456789ABx=. \n")))


@st.composite
def corruptions(draw):
    data = bytearray(FUZZ_BYTES)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "dup"]))
        i = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[i] = draw(INTERESTING.filter(lambda b, old=data[i]: b != old))
        elif kind == "insert":
            data[i:i] = bytes([draw(INTERESTING)])
        elif kind == "delete":
            del data[i:i + draw(st.integers(1, 8))]
        elif kind == "truncate":
            del data[i:]
        elif kind == "dup":
            n = draw(st.integers(1, 40))
            data[i:i] = data[i:i + n]
    return bytes(data)


@settings(max_examples=400, deadline=None)
@given(corruptions())
def test_corruption_is_named_or_harmless(data):
    try:
        image = decode_image(data, "f.phext")
    except ImageError as e:
        assert e.offset is not None and 0 <= e.offset <= len(data)
        assert str(e).startswith("f.phext: ")
        return
    # accepted: then it must be exactly the same memory (e.g. a stray trailing break)
    assert image == FUZZ_IMAGE


def _entry_spans(data):
    return [(o, o + len(t)) for p, o, t in phext_scrolls(data)][:-1]


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_flip_inside_an_entry_names_that_entry(data):
    spans = _entry_spans(FUZZ_BYTES)
    k = data.draw(st.integers(0, len(spans) - 1))
    start, end = spans[k]
    i = data.draw(st.integers(start, end - 1))
    new = data.draw(st.integers(0, 255).filter(lambda b: b != FUZZ_BYTES[i] and b not in DELIMS))
    bad = FUZZ_BYTES[:i] + bytes([new]) + FUZZ_BYTES[i + 1:]
    with pytest.raises(ImageError) as info:
        decode_image(bad, "f.phext")
    assert (info.value.entry, info.value.offset) == (k, start)


# -- check_fits --------------------------------------------------------------------------

def test_check_fits_refuses_other_dim_bits():
    image = decode_image(EX_BYTES, "m.phext")
    with pytest.raises(ImageError) as info:
        check_fits(image, CoreConfig(dim_bits=5, set_bits=2, ways=2))
    assert str(info.value) == ("m.phext: image has dim_bits=4 but the core has dim_bits=5: an image "
                               "loads only into a core with the same coordinate range")


def test_check_fits_other_geometry():
    image = decode_image(EX_BYTES, "m.phext")
    check_fits(image, CoreConfig(dim_bits=4, set_bits=0, ways=3))     # all three in one set
    # low key bit: 67240192 -> 0, 0 -> 0, 131073 -> 1: two entries in set 0, one in set 1
    check_fits(image, CoreConfig(dim_bits=4, set_bits=1, ways=2))
    with pytest.raises(ImageError):
        check_fits(image, CoreConfig(dim_bits=4, set_bits=1, ways=1))


def test_check_fits_names_the_entry_that_does_not_fit():
    image = decode_image(EX_BYTES, "m.phext")
    with pytest.raises(ImageError) as info:
        check_fits(image, CoreConfig(dim_bits=4, set_bits=0, ways=2))
    # load order: 0.0.0/0.0.0/0.0.7, 0.0.0/0.0.0/0.0.0, 1.0.0/0.0.0/0.0.2 -> the third overflows set 0
    assert str(info.value) == (
        f"m.phext: {_where(2, '1.0.0/0.0.0/0.0.2', EX_OFF[2])}: does not fit: set 0 of the core "
        f"(set_bits=0, ways=2) is already full when this entry loads (the image was written for "
        f"set_bits=2, ways=2)")


@settings(max_examples=100, deadline=None)
@given(memories(), st.integers(0, 3), st.integers(1, 4))
def test_check_fits_agrees_with_the_golden_memory(m, set_bits, ways):
    dim_bits, s0, w0, mem = m
    image = decode_image(encode_image(slot_entries(mem.slots()), dim_bits=dim_bits, set_bits=s0,
                                      ways=w0))
    target = CoordinateMemory(dim_bits, set_bits, ways)
    try:
        target.load(image.entries)
        golden_fits = True
    except MemoryFullError as e:
        golden_fits = False
        failing = e.index
    try:
        check_fits(image, CoreConfig(dim_bits=dim_bits, set_bits=set_bits, ways=ways))
        fits = True
    except ImageError as e:
        fits = False
        checked_failing = e.entry
    assert fits == golden_fits
    if not fits:
        assert checked_failing == image.sources[failing][0]


# -- optional cross-check with the phext package (libphext-py) -------------------------------

def test_libphext_reads_entries_at_documented_coordinates():
    phext = pytest.importorskip("phext.phext", reason="the 'phext' package (libphext-py) is not installed")
    coordinate = pytest.importorskip("phext.coordinate", reason="the 'phext' package is not installed")
    entries = [(morton_key(c), i) for i, c in enumerate(
        [C("0.0.0/0.0.0/0.0.0"), C("0.0.0/0.0.0/0.0.7"), C("1.0.0/0.0.2/0.0.2"), C("998.998.998/998.998.998/998.998.998")])]
    text = encode_image(entries, dim_bits=11, set_bits=0, ways=4).decode("ascii")
    p = phext.Phext()
    for seq, (key, _) in enumerate(entries):
        c = morton_coord(key, 11)
        where = coordinate.Coordinate.from_string(format_coord(to_phext(c)))
        assert p.fetch(text, where) == entry_line(seq, format_coord(c), seq).decode()


# -- vtpu image dump / check (sim/cli/image.py) ----------------------------------------------

def _vtpu(argv):
    import sim.cli.image  # noqa: F401  (registers the subcommand)
    from sim.cli.main import main
    return main(argv)


def test_cli_dump_and_check(tmp_path, capsys):
    import json
    path = tmp_path / "ex.phext"
    path.write_bytes(EX_BYTES)
    assert _vtpu(["image", "dump", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "# vtpu-image 1: dim_bits=4 set_bits=2 ways=2 entries=3"
    assert out[1].split() == ["0", "0.0.0/0.0.0/0.0.7", "0x3F800000", "1"]
    assert _vtpu(["image", "dump", "--json", str(path)]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert [(e["seq"], e["coord"], e["key"], e["value"]) for e in obj["entries"]] == [
        (0, "0.0.0/0.0.0/0.0.7", 67240192, 0x3F800000), (1, "0.0.0/0.0.0/0.0.0", 0, 42),
        (2, "1.0.0/0.0.0/0.0.2", 131073, 0xC0490FDB)]
    assert _vtpu(["image", "check", str(path)]) == 0
    assert capsys.readouterr().out == f"{path}: ok: 3 entries, fits dim_bits=4 set_bits=2 ways=2\n"
    assert _vtpu(["image", "check", "--set-bits", "0", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"vtpu: error: {path}: entry 2 at 1.0.0/0.0.0/0.0.2") and "does not fit" in err


def test_cli_reports_corrupt_and_missing_files(tmp_path, capsys):
    path = tmp_path / "bad.phext"
    path.write_bytes(EX_BYTES.replace(b"0x3F800000", b"0x3F800001"))
    assert _vtpu(["image", "dump", str(path)]) == 2
    assert capsys.readouterr().err.startswith(
        f"vtpu: error: {path}: entry 1 at 0.0.0/0.0.0/0.0.7 (phext 1.1.1/1.1.1/1.1.8, byte 90): "
        f"checksum mismatch")
    assert _vtpu(["image", "dump", str(tmp_path / "absent.phext")]) == 2
    assert capsys.readouterr().err == (f"vtpu: error: {tmp_path / 'absent.phext'}: cannot read: "
                                       f"No such file or directory\n")
