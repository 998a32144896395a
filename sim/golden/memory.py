"""The coordinate memory of the golden model: a set-associative store keyed by Morton key.

It mirrors the hardware's placement exactly (docs/isa.md section 5), not just its
contents, because *when a set is full* is architecturally visible (a SCATTER of a
new key into a full set is fault MEM_FULL): the set is the key times the ISA's
set-index matrix over GF(2) (:func:`set_index`, :mod:`sim.isa.placement`), an
update hits its way, a new key takes the lowest-numbered free way, and nothing
is ever evicted.
"""

from functools import lru_cache

from sim.isa.coord import format_coord, morton_coord
from sim.isa.encoding import NDIMS
from sim.isa.placement import set_index_columns

__all__ = ["CoordinateMemory", "MemoryFullError", "set_index"]

#: Key bits of the widest core (CoreConfig's dim_bits 16): the byte tables cover them all.
_MAX_KEY_BITS = NDIMS * 16


@lru_cache(maxsize=None)
def _byte_tables(set_bits):
    """Per key byte, the set bits each of its 256 values flips: the matrix applied a byte at a time."""
    columns = set_index_columns(set_bits, _MAX_KEY_BITS)
    tables = []
    for base in range(0, _MAX_KEY_BITS, 8):
        table = [0] * 256
        for byte in range(1, 256):
            low = byte & -byte
            table[byte] = table[byte ^ low] ^ columns[base + low.bit_length() - 1]
        tables.append(tuple(table))
    return tuple(tables)


def set_index(key, set_bits):
    """The set of a Morton key: ``M . key`` over GF(2), ``M`` the ISA's matrix (docs/isa.md 5).

    Column ``k`` of ``M`` is :func:`sim.isa.placement.set_index_columns`' ``k``: key
    bits ``0..set_bits-1`` map to themselves, and the columns of the low levels are
    chosen so that every aligned box over any two dimensions of up to the
    capacity spreads evenly over the sets.
    """
    folded = 0
    for table in _byte_tables(set_bits):
        if not key:
            break
        folded ^= table[key & 0xFF]
        key >>= 8
    return folded


class MemoryFullError(Exception):
    """A store of a new key into a set whose every way is taken; nothing was changed.

    Attributes: ``key``, ``set_index``, and, when raised by :meth:`CoordinateMemory.load`,
    ``index`` (position of the entry in the loaded sequence; else None).
    """

    def __init__(self, key, set_index, index=None, dim_bits=None):
        self.key = key
        self.set_index = set_index
        self.index = index
        where = ""
        if dim_bits is not None:
            try:
                where = f" (coordinate {format_coord(morton_coord(key, dim_bits))})"
            except ValueError:
                pass
        prefix = f"entry {index}: " if index is not None else ""
        super().__init__(f"{prefix}memory full: set {set_index} has no free way for new key "
                         f"{key}{where}")


class CoordinateMemory:
    """``2**set_bits`` sets of ``ways`` ways; each way is free or holds (key, 32-bit value).

    Keys are full Morton keys of ``9 * dim_bits`` bits (the tag is the key without
    its set bits; storing the whole key is equivalent and easier to report).
    """

    def __init__(self, dim_bits, set_bits, ways):
        if not 1 <= dim_bits:
            raise ValueError(f"dim_bits must be at least 1, not {dim_bits}")
        if not 0 <= set_bits <= NDIMS * dim_bits:
            raise ValueError(f"set_bits must be 0..{NDIMS * dim_bits}, not {set_bits}")
        if ways < 1:
            raise ValueError(f"ways must be at least 1, not {ways}")
        self.dim_bits = dim_bits
        self.set_bits = set_bits
        self.ways = ways
        self.key_bits = NDIMS * dim_bits
        self._sets = [[None] * ways for _ in range(1 << set_bits)]

    # -- addressing

    def set_of(self, key):
        """The set a key lives in (:func:`set_index`)."""
        self._check_key(key)
        return set_index(key, self.set_bits)

    def _check_key(self, key):
        if not 0 <= key < (1 << self.key_bits):
            raise ValueError(f"key {key} does not fit in {self.key_bits} bits")

    def _find(self, key):
        """(set, way of key or None, lowest free way or None)."""
        ways = self._sets[self.set_of(key)]
        hit = free = None
        for w, slot in enumerate(ways):
            if slot is None:
                if free is None:
                    free = w
            elif slot[0] == key:
                hit = w
        return ways, hit, free

    # -- the three memory operations

    def gather(self, key):
        """The value stored at ``key``, 0 if none; never changes anything."""
        ways, hit, _ = self._find(key)
        return 0 if hit is None else ways[hit][1]

    def would_fault(self, key):
        """True if scatter(key, ...) would raise MemoryFullError (new key, full set)."""
        _, hit, free = self._find(key)
        return hit is None and free is None

    def scatter(self, key, value):
        """Store ``value`` at ``key``: update its way, else take the lowest free way.

        Raises :class:`MemoryFullError` (and changes nothing) if the key is new and
        its set is full.
        """
        if not 0 <= value < (1 << 32):
            raise ValueError(f"value {value} is not a 32-bit unsigned integer")
        ways, hit, free = self._find(key)
        if hit is None and free is None:
            raise MemoryFullError(key, self.set_of(key), dim_bits=self.dim_bits)
        ways[free if hit is None else hit] = (key, value)

    def erase(self, key):
        """Forget the entry at ``key``, freeing its way; nothing if there is none."""
        ways, hit, _ = self._find(key)
        if hit is not None:
            ways[hit] = None

    # -- whole-memory views

    def slots(self):
        """``slots()[set][way]`` is ``(key, value)`` or None: the ArchState.memory form."""
        return tuple(tuple(ways) for ways in self._sets)

    def entries(self):
        """Stored entries as ``{key: value}``, in slot order."""
        return {slot[0]: slot[1] for ways in self._sets for slot in ways if slot is not None}

    def clear(self):
        """Free every way."""
        for ways in self._sets:
            ways[:] = [None] * self.ways

    def load(self, entries):
        """Scatter ``(key, value)`` pairs in order, as an image load places them.

        On an entry that does not fit, raise :class:`MemoryFullError` whose ``index``
        is that entry's position and whose message names its coordinate; the
        entries before it stay stored (as they would in hardware loading the same
        image), the failing one and those after it are not stored.  A malformed
        entry raises ValueError naming its position, likewise.
        """
        for index, entry in enumerate(entries):
            try:
                key, value = entry
                self.scatter(key, value)
            except MemoryFullError as e:
                raise MemoryFullError(e.key, e.set_index, index, self.dim_bits) from None
            except (TypeError, ValueError) as e:
                raise ValueError(f"entry {index}: {entry!r}: {e}") from None
