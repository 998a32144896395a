"""What every Sentron core is, whatever its pipeline: the configuration it checks, its debug port, its units and what observers see.

Why a base class: the three-stage core (``hdl.core``) and the pipelined one
(``hdl.pipeline.core``) differ in how an SIW travels, not in what a core holds
or shows.  Both refuse a configuration whose timing table is not theirs, both
own a program memory, a decoder, an issue unit, the three lanes, the coordinate
memory and a debug unit under the same submodule names, and both give a test
bench and the lockstep checker the same observation points (the retiring SIW,
the counters, the register files).  Those live here once; each core adds its
datapath in ``elaborate`` and names the stage its SIWs retire from.
"""

from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import Out

from sim.isa.encoding import NDIMS, SIW_BITS, CoreConfig

from .debug import DebugSignature
from .decoder import Decoder

__all__ = ["SentronBase", "plug"]


class SentronBase(wiring.Component):
    """The part of a Sentron core that does not depend on its pipeline.

    ``config`` (a :class:`CoreConfig`, or None for the default) must have the timing
    table ``implemented_timing(config.float_latency)``, the one the subclass's
    pipeline has (``what`` names it in the error).  Sets ``config``,
    ``regfile_kind``, ``coord_bits``, the ``debug`` port, the program memory and
    the decoder; the subclass makes the other units and then calls
    :meth:`_observe` and, in ``elaborate``, :meth:`_add_units`.
    """

    def __init__(self, config, regfile, implemented_timing, what):
        config = config if config is not None else CoreConfig()
        if not isinstance(config, CoreConfig):
            raise TypeError(f"config must be a CoreConfig, not {config!r}")
        implemented = implemented_timing(config.float_latency)
        if config.timing != implemented:
            raise ValueError(f"{what} has the timing table {implemented}; the configuration "
                             f"asks for {config.timing} (hdl.cores.core_class finds the core "
                             f"that has it)")
        self.config = config
        self.regfile_kind = regfile
        self.coord_bits = NDIMS * config.dim_bits
        super().__init__({"debug": Out(DebugSignature(config.dim_bits))})
        self._prog = Memory(shape=SIW_BITS, depth=config.prog_depth, init=[])
        self._decoder = Decoder(has_float=config.has_float)

    def _observe(self, retiring, retire_fault, commit, stall, memory):
        """The observation points (the subclass's docstring lists them) of a core whose
        SIWs retire from ``retiring`` (the issue unit's record of that stage), with
        its ``retire_fault`` and ``commit``, the interlock's ``stall``, and
        ``memory``: the coordinate memory's (key, op, slots) of the retiring SIW."""
        iu = self._issue
        self.retire = iu.retire
        self.retire_pc = retiring.pc
        self.retire_fault = retire_fault
        self.retire_ops = retiring.dec.ops
        self.commit = commit
        self.retire_mem_key, self.retire_mem_op, self.retire_mem_slots = memory
        self.regs = self._regs.storage
        self.cregs = self._cregs.storage
        self.cycles = iu.cycles
        self.siws = iu.siws
        self.ops = iu.ops
        self.pc_full = iu.pc
        self.fault_pc_full = iu.fault_pc
        self.stall = stall
        self.run_state = iu.state

    def _plug_debug_unit(self, m, idle, shared):
        """Wire the debug unit (its request valid and answer valid are the core's
        own): the request, the answer and the status the port always shows; and,
        while ``idle``, the ports in ``shared``, (port, the unit's view of it) pairs:
        the fetch, and the ports the lanes use in execute, empty while the core is
        idle.  The program memory's write port and the run controls are the unit's
        always."""
        du, dbg, iu = self._debug_unit, self.debug, self._issue
        m.d.comb += [
            du.req_cmd.eq(dbg.req_cmd),
            du.req_addr.eq(dbg.req_addr),
            du.req_data.eq(dbg.req_data),
            du.req_coord.eq(dbg.req_coord),
            dbg.resp_error.eq(du.resp_error),
            dbg.resp_data.eq(du.resp_data),
            dbg.resp_coord.eq(du.resp_coord),
            dbg.resp_hit.eq(du.resp_hit),
            dbg.running.eq(iu.running),
            dbg.fault.eq(iu.fault),
            dbg.fault_pc.eq(iu.fault_pc),
            dbg.pc.eq(iu.pc),
            dbg.prog_len.eq(du.prog_len),
            dbg.cycles.eq(iu.cycles),
            dbg.siws.eq(iu.siws),
            dbg.ops.eq(iu.ops),
            du.idle.eq(idle),
        ]
        for port, view in shared:
            plug(m, port, view, when=idle)
        plug(m, self._prog.write_port(), du.prog_write)
        plug(m, iu, du.run)

    def _add_units(self, m):
        """Add the units every core has to ``m``, under the names both cores share
        (the board tops, the synthesis breakdown and the tests find them so)."""
        m.submodules.prog = self._prog
        m.submodules.decoder = self._decoder
        m.submodules.issue = self._issue
        m.submodules.s_lane = self._s_lane
        m.submodules.d_lane = self._d_lane
        m.submodules.c_lane = self._c_lane
        m.submodules.coord_memory = self.coord_memory
        m.submodules.debug_unit = self._debug_unit


def plug(m, port, user, when=None):
    """Connect ``user``, an interface holding some of ``port``'s members flipped, to ``port``.

    Each member ``user`` drives goes into ``port`` (with ``when``: only while it
    holds, overriding what was assigned before); each member ``port`` drives
    reaches ``user`` always.  So a port shared by a lane and the debug unit is
    plugged into the lane first and into the debug unit with ``when=idle``.
    """
    inputs, outputs = [], []
    for name, member in user.signature.members.items():
        if not member.is_port:
            raise TypeError(f"{name}: only plain port members can be plugged, not {member!r}")
        mine, theirs = getattr(user, name), getattr(port, name)
        if member.flow == Out:
            inputs.append(theirs.eq(mine))
        else:
            outputs.append(mine.eq(theirs))
    m.d.comb += outputs
    if when is None:
        m.d.comb += inputs
    else:
        with m.If(when):
            m.d.comb += inputs
