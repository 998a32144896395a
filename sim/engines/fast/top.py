"""The top level the fast engine compiles: a core's debug port plus its observation points.

Why a module of its own: this wrapper is the contract between the Amaranth
design and the C++ harness (``sim/engines/fast/cxx/``), which drives exactly
these ports; the build (``build.py``) compiles it, the engine (``engine.py``)
reads what the harness makes of it.
"""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hdl.debug import DebugSignature
from sim.isa.encoding import PC_BITS

__all__ = ["probed_top"]


def probed_top(core, config):
    """``core`` inside a top level whose ports are its debug port plus observation points.

    Why a wrapper: CXXRTL keeps the top level's ports and is free to optimise any
    internal signal away, and some state the engine reports is not on the debug
    port: ``pc_full`` and ``fault_pc_full`` (the port shows PC_BITS bits, so pc =
    1024 after running off a full program memory would read as 0) and the retire
    strobe (``retire``, ``retire_pc``, ``retire_fault``) that ``--trace`` records.
    A core without an observation point gets the debug port's value (pc) or 0.
    The debug port is wired member by member in the direction hdl/debug.py's
    DebugSignature gives (requests in, answers and status out).

    The request inputs pass through one register stage.  Why: with no
    combinational path from a top-level input into the core, Verilator's
    "input changed" region is empty, and every clock edge costs only the clocked
    logic: about 25% faster (docs/fast-engine.md).  The core sees each request
    one cycle later, which no architectural state shows (the counters count only
    running cycles), except the host's HALT, which is therefore sent one cycle
    earlier (``_HALT_LEAD`` in ``sim/engines/fast/engine.py``).
    """
    class Probed(wiring.Component):
        def __init__(self):
            super().__init__({
                "debug": Out(DebugSignature(config.dim_bits)),
                "pc_full": Out(PC_BITS + 1),
                "fault_pc_full": Out(PC_BITS + 1),
                "retire": Out(1),
                "retire_pc": Out(PC_BITS + 1),
                "retire_fault": Out(4),
            })

        def elaborate(self, platform):
            m = Module()
            m.submodules.core = core
            for name, member in DebugSignature(config.dim_bits).members.items():
                outer, inner = getattr(self.debug, name), getattr(core.debug, name)
                if member.flow == In:
                    # A register per request input; req_valid drops with the answer
                    # (the harness drops its own in the answer's cycle, which the
                    # register would pass on a cycle late).
                    if name == "req_valid":
                        m.d.sync += inner.eq(outer & ~core.debug.resp_valid)
                    else:
                        m.d.sync += inner.eq(outer)
                else:
                    m.d.comb += outer.eq(inner)
            m.d.comb += [
                self.pc_full.eq(getattr(core, "pc_full", core.debug.pc)),
                self.fault_pc_full.eq(getattr(core, "fault_pc_full", core.debug.fault_pc)),
            ]
            for name in ("retire", "retire_pc", "retire_fault"):
                if hasattr(core, name):
                    m.d.comb += getattr(self, name).eq(getattr(core, name))
            return m

    return Probed()
