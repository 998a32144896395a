"""Register files of the Sentron core: 32 data registers and 8 coordinate registers.

Why flip-flops and not block RAM
--------------------------------
One SIW reads up to five data registers in X (D's rs1, rs2 and rd for MAC/LIH,
the S lane's rs, the C lane's rs) and writes up to four in one cycle (the D lane's
integer result, GATHER, CGET/KEY, and the float unit's result of an earlier
SIW).  Block RAMs offer one or two ports; flip-flops offer any number, read
combinationally in the same cycle, which is what parallel semantics
(docs/isa.md section 3: every lane reads the state before the SIW) needs without
bypass networks.  The coordinate registers are read by the C lane, the S lane's
key and the D-stage key forwarding, so they are flip-flops for the same reason.

Every register is also a plain :class:`Signal` in :attr:`RegisterFile.storage`,
so a test bench or a lockstep checker can observe the whole file directly.

Why a second implementation with LUT RAM
----------------------------------------
In flip-flops, each read port is a ``depth``:1 multiplexer per bit: for the data
file (5 read ports of 32 x 32 bits) about 8,800 LUT4s, half the core, and on an
ECP5 so dense a knot of wires that the router does not converge.  ECP5 slices
also hold 16 x 4 distributed RAMs with a synchronous write and an asynchronous
read: :class:`LutRamRegisterFile` builds the same ports from them with a *live
value table* (LVT; LaForest and Steffan, FPGA 2010): one RAM bank per write
port, copied once per read port (Yosys makes the copies), and a small
flip-flop table that remembers, per register, which bank holds its newest
value.  A read takes that bank's word.  Same behaviour, cycle for cycle, as the
flip-flop file; about a fifth of the logic.

Why a third implementation in block RAM, a few clocks per cycle
---------------------------------------------------------------
iCE40 has no distributed RAM, and its block RAMs have one read and one write
port, read synchronously: five reads and four writes of one cycle would need
twenty live-value banks of two block RAMs each, more than the UP5K holds.  But
a core that takes ``steps`` clocks for each of its cycles can serve many ports
from one block RAM in turn.  :class:`BlockRamRegisterFile` does that for a core
whose *architectural* cycle is ``steps`` clocks long (``hdl/core.py``,
``regfile="bram"``): the core's own state moves only in the last clock of each
step sequence, when ``phase`` is ``steps - 1`` (the *edge*); in between, the file
reads the ports' addresses one after another from its block RAM copies into
operand registers, and writes the previous edge's writes, one per clock.  To
the core it behaves exactly like the flip-flop file, cycle for cycle of the
architecture, with no multiplexer trees: a few hundred LUTs instead of nine
thousand on the iCE40.
"""

from amaranth.hdl import Array, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

__all__ = ["RegisterFile", "LutRamRegisterFile", "BlockRamRegisterFile", "REGFILE_KINDS",
           "make_register_file", "read_port_signature", "write_port_signature"]


def read_port_signature(width, depth):
    """One read port of a register file, from the file's side: ``addr`` In, ``data`` Out.
    (A user of the port, such as the core's debug unit, holds it flipped.)"""
    return wiring.Signature({"addr": In(range(depth)), "data": Out(width)})


def write_port_signature(width, depth):
    """One write port of a register file, from the file's side: ``en``, ``addr``, ``data`` In."""
    return wiring.Signature({"en": In(1), "addr": In(range(depth)), "data": In(width)})


class RegisterFile(wiring.Component):
    """``depth`` registers of ``width`` bits, combinational reads, synchronous writes.

    Parameters
    ----------
    width : int
        Bits per register.
    depth : int
        Number of registers.
    read_ports : int
        Number of combinational read ports.
    write_ports : int
        Number of write ports.
    init : sequence of int
        Reset values (default all zero).

    Attributes
    ----------
    read[i].addr : In(range(depth))
        Register to read.
    read[i].data : Out(width)
        Its value as of the start of this cycle (writes of this cycle are not
        visible until the next one).
    write[i].en, write[i].addr, write[i].data : In
        Write ``data`` to register ``addr`` at the end of the cycle.  The core
        guarantees that two enabled ports never name the same register (illegal
        SIW rule 4 and the WAW interlock); if they did, the higher-numbered port
        would win.
    storage : list of Signal(width)
        The registers themselves, for observation.
    """

    def __init__(self, width, depth, read_ports, write_ports, init=()):
        for name, value, low in (("width", width, 1), ("depth", depth, 1),
                                 ("read_ports", read_ports, 0), ("write_ports", write_ports, 0)):
            if not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, not {value!r}")
        init = list(init) + [0] * (depth - len(init))
        if len(init) != depth:
            raise ValueError(f"init has {len(init)} values for {depth} registers")
        self.width = width
        self.depth = depth
        members = self._extra_members()
        if read_ports:
            members["read"] = Out(read_port_signature(width, depth)).array(read_ports)
        if write_ports:
            members["write"] = Out(write_port_signature(width, depth)).array(write_ports)
        super().__init__(members)
        self.storage = [Signal(width, name=f"reg{i}", init=init[i]) for i in range(depth)]

    def _extra_members(self):
        """Signature members beyond the read and write ports (none here)."""
        return {}

    def elaborate(self, platform):
        m = Module()
        regs = Array(self.storage)
        for port in getattr(self, "read", []):
            m.d.comb += port.data.eq(regs[port.addr])
        self._write_storage(m)
        return m

    def _write_storage(self, m, when=1):
        """Every write port writes :attr:`storage` (in a clock where ``when`` holds);
        in port order, so the last one wins."""
        regs = Array(self.storage)
        for port in getattr(self, "write", []):
            with m.If(port.en & when):
                m.d.sync += regs[port.addr].eq(port.data)


class LutRamRegisterFile(RegisterFile):
    """The same ports and behaviour as :class:`RegisterFile`, built from LUT RAM banks.

    One :class:`~amaranth.lib.memory.Memory` bank per write port, each with one
    combinational (asynchronous) read port per read port of the file, which Yosys
    maps to distributed RAM on ECP5 (a copy of the bank per read port).  The
    *live value table* ``lvt[r]`` names the bank that holds register ``r``'s
    newest value; a read port reads every bank at its address and takes the one
    the table names.  Bank 0 starts with ``init`` and the table with all zeros, so
    the reset state is the same as the flip-flop file's; two enabled write ports
    naming the same register leave the higher-numbered port's value, as there.

    :attr:`storage` is a flip-flop *shadow* of the file for observation only
    (test benches, the lockstep checker).  Nothing in the design reads it, so
    synthesis removes it; the read ports never use it.  tests/test_hdl_regfile.py
    checks the read ports themselves against a model.
    """

    def __init__(self, width, depth, read_ports, write_ports, init=()):
        if write_ports < 1:
            raise ValueError("a LUT RAM register file needs at least one write port")
        super().__init__(width, depth, read_ports, write_ports, init)
        self._init = [s.init for s in self.storage]

    def elaborate(self, platform):
        m = Module()
        reads = getattr(self, "read", [])
        writes = self.write
        nbanks = len(writes)
        lvt = Array(Signal(range(max(nbanks, 2)), name=f"lvt{i}") for i in range(self.depth))
        bank_data = []                      # bank_data[b][i]: bank b read at read port i's address
        for b, port in enumerate(writes):
            bank = Memory(shape=self.width, depth=self.depth,
                          init=self._init if b == 0 else [])
            m.submodules[f"bank{b}"] = bank
            wr = bank.write_port()
            m.d.comb += [wr.en.eq(port.en), wr.addr.eq(port.addr), wr.data.eq(port.data)]
            with m.If(port.en):
                m.d.sync += lvt[port.addr].eq(b)
            bank_data.append([])
            for r in reads:
                rd = bank.read_port(domain="comb")
                m.d.comb += rd.addr.eq(r.addr)
                bank_data[b].append(rd.data)
        for i, r in enumerate(reads):
            m.d.comb += r.data.eq(Array(data[i] for data in bank_data)[lvt[r.addr]])
        self._write_storage(m)              # the observation shadow (see the class docstring)
        return m


class BlockRamRegisterFile(RegisterFile):
    """The ports of :class:`RegisterFile` for a core whose cycle is ``steps`` clocks.

    Parameters (besides those of :class:`RegisterFile`)
    ----------------------------------------------------
    steps : int
        Clocks per architectural cycle.
    copies : int
        Block RAM copies of the file, each holding every register; each copy
        serves ``ceil(read_ports / copies)`` reads per cycle, one per clock.

    ``steps`` must be at least ``ceil(read_ports / copies) + 2`` (a read is
    issued, answered a clock later, then held) and at least ``write_ports``.

    Attributes (besides those of :class:`RegisterFile`)
    ---------------------------------------------------
    phase : In(range(steps))
        Which clock of the architectural cycle this is; the core's state, and
        this file's contents as the core sees them, move at the end of clock
        ``steps - 1``.  Read addresses must hold steady through a cycle (they
        come from the core's registers); ``read[i].data`` is valid in the last
        clock; the write ports are sampled in the last clock.

    How: at the edge, the enabled writes are caught in *pending* registers and
    go into every copy one per clock during the next cycle.  Read ``i`` is
    issued on copy ``i % copies`` in clock ``i // copies``; a clock later its
    answer, or the value of the highest-numbered pending write to the same
    register (which the copy may not hold yet), is caught in operand register
    ``i``.  So a read returns the register as of the cycle's start: the writes
    of every earlier edge, none of this one's, as in the flip-flop file.
    """

    def __init__(self, width, depth, read_ports, write_ports, steps, copies=1, init=()):
        if copies < 1:
            raise ValueError(f"copies must be at least 1, not {copies}")
        need = max(-(-read_ports // copies) + 2, write_ports)
        if steps < need:
            raise ValueError(f"{read_ports} reads on {copies} copies and {write_ports} writes "
                             f"need at least {need} steps, not {steps}")
        self.steps = steps
        self.copies = copies
        super().__init__(width, depth, read_ports, write_ports, init)
        self._init = [s.init for s in self.storage]
        #: (en, addr, data) of each write port caught at the last edge (for the proof).
        self.pending = [(Signal(name=f"pend{j}_en"), Signal(range(depth), name=f"pend{j}_addr"),
                         Signal(width, name=f"pend{j}_data")) for j in range(write_ports)]

    def _extra_members(self):
        return {"phase": In(range(self.steps))}

    def elaborate(self, platform):
        m = Module()
        reads = getattr(self, "read", [])
        writes = getattr(self, "write", [])
        edge = self.phase == self.steps - 1
        pending = self.pending
        for (en, addr, data), port in zip(pending, writes):
            with m.If(edge):
                m.d.sync += [en.eq(port.en), addr.eq(port.addr), data.eq(port.data)]

        for c in range(self.copies):
            copy = Memory(shape=self.width, depth=self.depth, init=self._init,
                          attrs={"ram_style": "block"})
            m.submodules[f"copy{c}"] = copy
            wr = copy.write_port()
            for j, (en, addr, data) in enumerate(pending):
                with m.If(self.phase == j):
                    m.d.comb += [wr.en.eq(en), wr.addr.eq(addr), wr.data.eq(data)]
            rd = copy.read_port()            # synchronous, not transparent
            mine = [(i, r) for i, r in enumerate(reads) if i % self.copies == c]
            asked = Signal(range(self.depth), name=f"asked{c}")   # rd's address, a clock late
            m.d.sync += asked.eq(rd.addr)
            for slot, (i, r) in enumerate(mine):
                with m.If(self.phase == slot):
                    m.d.comb += rd.addr.eq(r.addr)
            answer = self._answer(rd.data, asked, pending)    # one bypass per copy
            for slot, (i, r) in enumerate(mine):
                operand = Signal(self.width, name=f"operand{i}")
                with m.If(self.phase == slot + 1):
                    m.d.sync += operand.eq(answer)
                m.d.comb += r.data.eq(operand)
        self._write_storage(m, edge)        # the observation shadow, as in LutRamRegisterFile
        return m

    @staticmethod
    def _answer(data, addr, pending):
        """A copy's answer ``data`` for register ``addr``, or the newest pending write
        to that register (the copy may not hold it yet): later ports win, as in the
        flip-flop file."""
        for en, waddr, wdata in pending:
            data = Mux(en & (waddr == addr), wdata, data)
        return data


#: Register file implementations by name: flip-flops (any FPGA) or LUT RAM (ECP5).
#: (:class:`BlockRamRegisterFile` changes the core's clocking, so ``hdl/core.py``
#: builds it itself for ``regfile="bram"``.)
REGFILE_KINDS = {"ff": RegisterFile, "lutram": LutRamRegisterFile}


def make_register_file(kind, *args, **kwargs):
    """A register file of ``kind`` (a key of :data:`REGFILE_KINDS`)."""
    if kind not in REGFILE_KINDS:
        raise ValueError(f"unknown register file kind {kind!r}; use one of {', '.join(REGFILE_KINDS)}")
    return REGFILE_KINDS[kind](*args, **kwargs)
