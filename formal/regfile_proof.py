"""Proof harness: the block RAM register file reads what the flip-flop file would.

:class:`hdl.regfile.BlockRamRegisterFile` serves many ports from one-port block
RAMs by taking ``steps`` clocks per cycle, with pending writes and a bypass; the
property it must have is the flip-flop file's (docs/isa.md section 3, parallel
semantics): in the last clock of a cycle every read port shows its register as
of the cycle's start, that is with the writes of every earlier cycle and none of
this one's, and of two writes to one register in a cycle the higher port wins.

As in memory_proof.py, the property is stated for one tracked register ``R``, an
``AnyConst``, so it holds for every register.  The harness keeps ``shadow``, R's
value by that specification alone: at the end of each cycle the highest enabled
write port naming R sets it.  The read addresses are free inputs taken at the
end of each cycle and held through the next (the core's guarantee: they come
from its registers); the write ports are free inputs in every clock (the file
samples them at the cycle's end).  Asserted in every clock:

* ``read``: a read port that names R and has been answered this cycle (from
  clock ``slot + 2`` on, which includes the cycle's last) shows ``shadow``;
* ``copy``: each block RAM copy holds R's value once its pending writes land:
  its row for R (read through a probe port that exists only in the proof),
  overridden by the pending writes to R not yet written, is ``shadow``;
* ``phase``: the clock counter stays in 0..steps-1.

The last two are the invariants that let k-induction close: with them it proves
``read`` for unboundedly long runs, a complete proof for the configuration.
"""

from amaranth.asserts import AnyConst
from amaranth.hdl import Assert, Assume, Module, Mux, ResetSignal, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from hdl.regfile import BlockRamRegisterFile

__all__ = ["RegisterFileProof"]


def probed(regfile_class):
    """``regfile_class`` with, per block RAM copy, an asynchronous probe read port:
    ``probe_addr`` selects a register, ``probe_rows[c]`` is copy ``c``'s row of it."""

    class Probed(regfile_class):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.probe_addr = Signal(range(self.depth), name="probe_addr")
            self.probe_rows = [Signal(self.width, name=f"probe_copy{c}")
                               for c in range(self.copies)]

        def elaborate(self, platform):
            m = super().elaborate(platform)
            for c, row in enumerate(self.probe_rows):
                port = m.submodules[f"copy{c}"].read_port(domain="comb")
                m.d.comb += [port.addr.eq(self.probe_addr), row.eq(port.data)]
            return m

    Probed.__name__ = Probed.__qualname__ = f"Probed{regfile_class.__name__}"
    return Probed


class RegisterFileProof(wiring.Component):
    """The tracked-register harness (module docstring) around a block RAM file."""

    def __init__(self, width=2, depth=4, read_ports=3, write_ports=3, steps=5, copies=1,
                 regfile_class=BlockRamRegisterFile):
        self.dut = probed(regfile_class)(width, depth, read_ports, write_ports, steps=steps,
                                         copies=copies)
        abits = range(depth)
        super().__init__({
            "next_addr": In(abits).array(read_ports),
            "w_en": In(1).array(write_ports),
            "w_addr": In(abits).array(write_ports),
            "w_data": In(width).array(write_ports),
        })

    def elaborate(self, platform):
        m = Module()
        # A reset clears the file's registers but not its block RAM (nor the LUT RAM
        # of LutRamRegisterFile): the property is about a running file, rst stays low.
        m.d.comb += Assume(~ResetSignal("sync"))
        m.submodules.dut = dut = self.dut
        steps, copies = dut.steps, dut.copies
        reads, writes = dut.read, dut.write

        phase = Signal(range(steps + 1))       # one value too wide, so "phase" can fail
        edge = phase == steps - 1
        m.d.sync += phase.eq(Mux(edge, 0, phase + 1))
        m.d.comb += [dut.phase.eq(phase), Assert(phase < steps, "phase: counter out of range")]

        r = Signal(range(dut.depth))
        m.d.comb += [r.eq(AnyConst(range(dut.depth))), dut.probe_addr.eq(r)]

        # The read addresses: taken at the cycle's end, held through the next cycle.
        addrs = [Signal(range(dut.depth), name=f"addr{i}") for i in range(len(reads))]
        for port, addr, nxt in zip(reads, addrs, self.next_addr):
            m.d.comb += port.addr.eq(addr)
            with m.If(edge):
                m.d.sync += addr.eq(nxt)
        for port, en, addr, data in zip(writes, self.w_en, self.w_addr, self.w_data):
            m.d.comb += [port.en.eq(en), port.addr.eq(addr), port.data.eq(data)]

        # The specification: R's value; the highest enabled port naming R wins.
        shadow = Signal(dut.width)
        with m.If(edge):
            for port in writes:
                with m.If(port.en & (port.addr == r)):
                    m.d.sync += shadow.eq(port.data)

        # read: answered reads of R show the shadow.
        for i, (port, addr) in enumerate(zip(reads, addrs)):
            answered = phase >= i // copies + 2
            m.d.comb += Assert(~(answered & (addr == r)) | (port.data == shadow),
                               f"read: port {i} does not show register R as of the cycle's start")

        # copy: each copy's row of R, with the pending writes to R still to land, is R.
        for c, row in enumerate(dut.probe_rows):
            value = row
            for j, (en, addr, data) in enumerate(dut.pending):
                value = Mux((phase <= j) & en & (addr == r), data, value)
            m.d.comb += Assert(value == shadow,
                               f"copy: block RAM copy {c} will not hold register R's value")
        return m
