"""Flip-flop register files of the Sentron core: 32 data registers and 8 coordinate registers.

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
"""

from amaranth.hdl import Array, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["RegisterFile"]


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
        abits = range(depth)
        read_sig = wiring.Signature({"addr": In(abits), "data": Out(width)})
        write_sig = wiring.Signature({"en": In(1), "addr": In(abits), "data": In(width)})
        members = {}
        if read_ports:
            members["read"] = Out(read_sig).array(read_ports)
        if write_ports:
            members["write"] = Out(write_sig).array(write_ports)
        super().__init__(members)
        self.storage = [Signal(width, name=f"reg{i}", init=init[i]) for i in range(depth)]

    def elaborate(self, platform):
        m = Module()
        regs = Array(self.storage)
        for port in getattr(self, "read", []):
            m.d.comb += port.data.eq(regs[port.addr])
        for port in getattr(self, "write", []):
            with m.If(port.en):
                m.d.sync += regs[port.addr].eq(port.data)
        return m
