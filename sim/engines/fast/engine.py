"""The fast simulation engine: ``vtpu sim --engine fast``, the Amaranth core compiled to C++.

Why it exists: Amaranth's Python simulator runs the Sentron core at thousands to
tens of thousands of cycles per second, too slow for long programs and long
random runs.  This engine simulates *the same Amaranth design* (no second model
to keep in step) at over a million cycles per second: ``build.py`` compiles the
core, inside the top level of ``top.py``, into a shared library with the C++
harness of ``cxx/``, once per design and configuration; this module loads that
library with :mod:`ctypes`, and Python crosses into C++ once per debug command,
per run or per state dump, never per cycle.  See docs/fast-engine.md.
"""

import ctypes
import sys
import time
from pathlib import Path

from sim.isa.coord import Coord, morton_coord, morton_key
from sim.golden.decode import decode
from sim.isa.encoding import NDIMS, SIW_BITS, COp, CoreConfig, Fault
from sim.engines.interface import Engine, register_engine
from sim.engines.fast.build import FastEngineError, default_backend, library_for
from sim.golden.memory import CoordinateMemory, MemoryFullError
from sim.golden.state import ArchState

__all__ = ["FastEngine", "FastEngineError", "default_design"]

#: The version of the harness's C interface (``vtpu_abi_version()`` in
#: cxx/harness.cc) this module speaks.
_ABI_VERSION = 2

# Debug commands and errors: the numbers of hdl/debug.py's DebugCmd / DebugError.
# (Repeated here so that using a compiled library needs no Amaranth import; a test
# checks them against hdl/debug.py.)
_CMD = dict(NOP=0, WRITE_PROG=1, SET_LEN=2, READ_PROG=3, READ_REG=4, WRITE_REG=5,
            READ_CREG=6, WRITE_CREG=7, WRITE_PC=8, MEM_READ=9, MEM_WRITE=10, MEM_ERASE=11,
            SLOT_READ=12, RUN=13, STEP=14, HALT=15)
_ERRORS = {0: "NONE", 1: "BUSY", 2: "RANGE", 3: "MEM_FULL", -1: "no answer from the core"}
#: How many cycles before max_cycles the harness sends HALT: 1 for the core to
#: act on it in time, plus 1 for the request register of the top level
#: (sim/engines/fast/top.py).
_HALT_LEAD = 2
#: vtpu_run's max_cycles meaning 'no limit'.
_NO_LIMIT = (1 << 64) - 1


def _load_library(path):
    lib = ctypes.CDLL(str(path))
    u32, u64, i32, vp = ctypes.c_uint32, ctypes.c_uint64, ctypes.c_int, ctypes.c_void_p
    p_u32, p_u64, p_i32 = (ctypes.POINTER(t) for t in (u32, u64, i32))
    signatures = {
        "vtpu_abi_version": ([], i32),
        "vtpu_coord_words": ([], i32),
        "vtpu_create": ([], vp),
        "vtpu_destroy": ([vp], None),
        "vtpu_reset": ([vp], None),
        "vtpu_ticks": ([vp], u64),
        "vtpu_request": ([vp, i32, u32, u64, p_u32, p_u64, p_u32, p_i32], i32),
        "vtpu_status": ([vp, p_u64], None),
        "vtpu_run": ([vp, i32, u64, i32], i32),
        "vtpu_trace_count": ([vp], u64),
        "vtpu_trace_copy": ([vp, p_u64], None),
        "vtpu_last_retire_pc": ([vp], u64),
        "vtpu_load_program": ([vp, p_u64, u32, u32, u32], i32),
        "vtpu_read_many": ([vp, u32, u32, p_u64, p_u32, p_i32], i32),
    }
    for name, (args, res) in signatures.items():
        fn = getattr(lib, name)
        fn.argtypes, fn.restype = args, res
    if lib.vtpu_abi_version() != _ABI_VERSION:
        raise FastEngineError(f"{path}: harness interface version {lib.vtpu_abi_version()}, "
                              f"expected {_ABI_VERSION}")
    return lib


def default_design(config):
    """The core as the ULX3S builds it: its LUT RAM register file (hdl/regfile.py) is
    arrays in C++ rather than 32-way multiplexers, about 10% more cycles per second."""
    from hdl.cores import core_class
    return core_class(config)(config, regfile="lutram")


class FastEngine(Engine):
    """The Sentron core compiled to C++, behind the :class:`~sim.engines.interface.Engine` interface.

    ``design``: a function ``config -> component`` with a ``debug`` port
    (default ``hdl.core.Sentron``); tests pass a small stand-in.  ``backend``:
    ``verilator`` or ``cxxrtl`` (default :func:`default_backend`).  ``log``:
    called with a line of text before slow build steps.  ``library``: a library
    already built for this configuration (``engine.library_path``), used as it is:
    a test session pins the design it started with even if ``hdl/`` changes.

    After each :meth:`run` or :meth:`step`, :attr:`last_run` holds ``(cycles,
    seconds, cpu_seconds)``: the simulated cycles of that run and the wall-clock
    and CPU time it took; :meth:`cycles_per_second` is their ratio.

    ``run(max_cycles)`` stops exactly where the golden model does (the host's
    HALT goes out ahead of the limit, see :meth:`_run`), except for a limit below
    ``cycles + 3``: the host's HALT cannot reach the core before its first retire
    slot, so the run then retires exactly one SIW (as :meth:`step` would) and the
    counter reads ``cycles + 3``, where the model retires none.
    """
    name = "fast"

    def __init__(self, config=None, design=None, backend=None, log=None, library=None):
        self.config = config if config is not None else CoreConfig()
        factory = design if design is not None else default_design
        self.backend = backend or default_backend()
        self.library_path = Path(library) if library is not None else \
            library_for(factory, self.config, self.backend, log=log)
        self._lib = _load_library(self.library_path)
        self._cw = self._lib.vtpu_coord_words()
        self._h = self._lib.vtpu_create()
        if not self._h:
            raise MemoryError("cannot allocate the fast engine's model")
        self._halted = True
        self.words = []
        self.last_run = (0, 0.0, 0.0)

    def __del__(self):
        h, lib = getattr(self, "_h", None), getattr(self, "_lib", None)
        if h and lib is not None:
            lib.vtpu_destroy(h)
            self._h = None

    # -- low level: one debug request

    def _coord_words(self, dims):
        value = sum(v << (d * self.config.dim_bits) for d, v in enumerate(dims))
        arr = (ctypes.c_uint32 * self._cw)()
        for i in range(self._cw):
            arr[i] = (value >> (32 * i)) & 0xFFFF_FFFF
        return arr

    def _dims(self, words, offset=0):
        value = sum(words[offset + i] << (32 * i) for i in range(self._cw))
        mask = (1 << self.config.dim_bits) - 1
        return tuple((value >> (d * self.config.dim_bits)) & mask for d in range(NDIMS))

    def request(self, cmd, addr=0, data=0, coord=(0,) * NDIMS):
        """Send one debug command (a name of hdl/debug.py's DebugCmd); return
        ``(error, data, coord, hit)`` with ``error`` a DebugError name."""
        d_out = ctypes.c_uint64()
        c_out = (ctypes.c_uint32 * self._cw)()
        hit = ctypes.c_int()
        err = self._lib.vtpu_request(self._h, _CMD[cmd], addr, data, self._coord_words(coord),
                                     ctypes.byref(d_out), c_out, ctypes.byref(hit))
        return _ERRORS.get(err, str(err)), d_out.value, self._dims(c_out), bool(hit.value)

    def _checked(self, cmd, addr=0, data=0, coord=(0,) * NDIMS):
        result = self.request(cmd, addr, data, coord)
        if result[0] != "NONE":
            raise FastEngineError(f"debug command {cmd} (addr {addr}) refused: {result[0]}")
        return result

    def _read_many(self, cmd, count):
        data = (ctypes.c_uint64 * count)()
        coords = (ctypes.c_uint32 * (count * self._cw))()
        hits = (ctypes.c_int * count)()
        r = self._lib.vtpu_read_many(self._h, _CMD[cmd], count, data, coords, hits)
        if r != 0:
            raise FastEngineError(f"debug command {cmd} (addr {-r - 1}) refused or unanswered")
        return data, coords, hits

    def status(self):
        """The always-visible status outputs as a dict."""
        out = (ctypes.c_uint64 * 8)()
        self._lib.vtpu_status(self._h, out)
        names = ("running", "fault", "fault_pc", "pc", "prog_len", "cycles", "siws", "ops")
        return dict(zip(names, out))

    # -- the Engine interface

    def load_program(self, words):
        words = list(words)
        if len(words) > self.config.prog_depth:
            raise ValueError(f"program has {len(words)} SIWs; program memory holds "
                             f"{self.config.prog_depth}")
        for i, w in enumerate(words):
            if not isinstance(w, int) or not 0 <= w < 1 << SIW_BITS:
                raise ValueError(f"SIW {i}: {w!r} is not a {SIW_BITS}-bit unsigned integer")
        arr = (ctypes.c_uint64 * max(1, len(words)))(*words)
        r = self._lib.vtpu_load_program(self._h, arr, len(words), _CMD["WRITE_PROG"],
                                        _CMD["SET_LEN"])
        if r != 0:
            raise FastEngineError(f"loading the program failed at word {-r - 1}")
        self.words = words

    def write_memory(self, entries):
        cfg = self.config
        for index, (key, value) in enumerate(entries):
            err = self.request("MEM_WRITE", 0, value & 0xFFFF_FFFF,
                               morton_coord(key, cfg.dim_bits))[0]
            if err == "MEM_FULL":
                # The set index only for the message: the placement is the core's.
                set_index = CoordinateMemory(cfg.dim_bits, cfg.set_bits, cfg.ways).set_of(key)
                raise MemoryFullError(key, set_index, index=index, dim_bits=cfg.dim_bits)
            if err != "NONE":
                raise FastEngineError(f"MEM_WRITE of entry {index} refused: {err}")

    def _run(self, cmd, max_cycles, trace=False):
        """RUN or STEP; return ``(ended, records)``: whether the program ended by
        itself (HALT or a fault) rather than by the host's HALT at ``max_cycles``,
        and with ``trace`` the ``(cycle, pc, fault)`` of every retirement."""
        start_cycles = self.status()["cycles"]
        t0, c0 = time.perf_counter(), time.process_time()
        # The core must see the host's HALT in the cycle the counter reads
        # max_cycles - 1: the SIW retiring in that cycle still retires and none
        # after it, which is exactly the golden model's rule (no SIW whose retire
        # cycle is >= max_cycles), and the counter then reads max_cycles.  The
        # request register of _probed delays it by one more cycle.
        limit = _NO_LIMIT if max_cycles is None else max(0, min(int(max_cycles) - _HALT_LEAD,
                                                                _NO_LIMIT - 1))
        r = self._lib.vtpu_run(self._h, _CMD[cmd], limit, int(trace))
        seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
        if r < 0:
            err = _ERRORS.get(-100 - r, _ERRORS.get(r, str(r)))
            raise FastEngineError(f"{cmd} failed: {err}")
        st = self.status()
        self.last_run = (st["cycles"] - start_cycles, seconds, cpu_seconds)
        records = []
        if trace:
            n = self._lib.vtpu_trace_count(self._h)
            buf = (ctypes.c_uint64 * (3 * n))()
            self._lib.vtpu_trace_copy(self._h, buf)
            records = [(buf[3 * i], buf[3 * i + 1], Fault(buf[3 * i + 2])) for i in range(n)]
        ended = r == 1
        if not ended:
            # The host's HALT and the program's own end can meet: a run whose last
            # SIW faulted or was a HALT ended by itself (as sim/engines/rtl.py says).
            last = self._lib.vtpu_last_retire_pc(self._h)
            ended = st["fault"] != Fault.NONE or (
                last < len(self.words) and decode(self.words[last]).c_op == COp.HALT)
        return ended, records

    def run(self, max_cycles=None):
        self._halted = self._run("RUN", max_cycles)[0]
        return self.state()

    def trace_run(self, max_cycles=None):
        """Run like :meth:`run`; also return ``(cycle, pc, word, fault)`` per retired
        SIW, ``fault`` None if it committed (``vtpu sim --trace --engine fast``)."""
        self._halted, records = self._run("RUN", max_cycles, trace=True)
        return self.state(), [(c, pc, self.words[pc] if pc < len(self.words) else None,
                               f if f != Fault.NONE else None) for c, pc, f in records]

    def step(self):
        self._run("STEP", None)
        self._halted = True
        return self.state()

    def cycles_per_second(self, cpu=False):
        """Simulated cycles per second of the last run or step: per second of wall
        time, or with ``cpu`` per second of this process's CPU time (the figure
        that does not depend on how busy the machine is).  0.0 before any run."""
        cycles, seconds, cpu_seconds = self.last_run
        t = cpu_seconds if cpu else seconds
        return cycles / t if t > 0 else 0.0

    def state(self):
        cfg = self.config
        st = self.status()
        regs, _, _ = self._read_many("READ_REG", 32)
        _, cwords, _ = self._read_many("READ_CREG", 8)
        cregs = tuple(Coord(self._dims(cwords, i * self._cw), cfg.dim_bits) for i in range(8))
        nslots = cfg.sets * cfg.ways
        values, swords, hits = self._read_many("SLOT_READ", nslots)
        memory = []
        for s in range(cfg.sets):
            ways = []
            for w in range(cfg.ways):
                i = s * cfg.ways + w
                if hits[i]:
                    key = morton_key(self._dims(swords, i * self._cw), cfg.dim_bits)
                    ways.append((key, values[i] & 0xFFFF_FFFF))
                else:
                    ways.append(None)
            memory.append(tuple(ways))
        return ArchState(regs=tuple(r & 0xFFFF_FFFF for r in regs), cregs=cregs, pc=st["pc"],
                         halted=self._halted and not st["running"], fault=Fault(st["fault"]),
                         fault_pc=st["fault_pc"], cycles=st["cycles"], siws=st["siws"],
                         ops=st["ops"], memory=tuple(memory))


def _log_to_stderr(line):
    print(line, file=sys.stderr, flush=True)


#: ``make_engine("fast", config)`` (``vtpu sim --engine fast``) tells on stderr when
#: it compiles, since the first build of a configuration takes a minute or two.
register_engine("fast", lambda config: FastEngine(config, log=_log_to_stderr))
