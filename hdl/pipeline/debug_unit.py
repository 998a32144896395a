"""The pipelined Sentron core's debug unit: the core's end of the debug port, executing one host command at a time.

Why it looks like this
----------------------
* **A component whose signature is the host's reach.**  Every command reads or
  writes one piece of the core: the program memory, a data or coordinate
  register, the coordinate memory, ``pc`` and the run state.  Each of those is a
  port group here, shaped and named like the port it is plugged into (a
  register-file read port, the memory's ports, the issue unit's run controls),
  so the signature says exactly what a host can touch, and the core plugs
  each group in with one mechanism (``hdl/pipeline/core.py``).  Grouped like that the
  list stays short (the debug port's ten request and answer members, ``idle``,
  ``prog_len`` and eight port groups), so a component it is, not named steps
  inside the core: it is read, and elaborated, on its own.
* **It borrows the lanes' ports while the core is idle.**  X is empty then, so
  the fetch port of the program memory, the register-file ports the lanes use
  in X and the coordinate memory's D and X ports are free; the core gives them
  to this unit whenever the run state is IDLE.  So the unit drives every shared port all the time, as the request in
  hand would have it, and the core decides who is heard.  A dedicated host port
  on each register file would cost a multiplexer per flip-flop; on the memory,
  a second copy of its placement logic.
* **Memory commands take the memory's stages**, as a GATHER or SCATTER does:
  the key enters the memory in the cycle the command is accepted (its A
  stage), and :data:`~hdl.pipeline.coord_memory.MEMORY_STAGES` cycles later (W) the
  answer is in the memory's registers and MEM_WRITE and MEM_ERASE commit
  their write.  READ_PROG waits a cycle for the
  program memory's synchronous read in the same way.
* **One command at a time**, answered with a one-cycle ``resp_valid``.  A
  request is accepted only in a cycle where ``resp_valid`` is low, because a
  requester that saw the answer drops (or changes) its request in the next
  cycle, not in the answer's own.  While the core runs only HALT is accepted;
  everything else gets BUSY, so nothing a host does can tear an SIW apart.
"""

from amaranth.hdl import Array, Module, Mux, Signal

from sim.isa.encoding import NDIMS, SOp

from .. import debug_unit as three_stage
from ..debug import DebugCmd, DebugError
from ..morton import morton_coord_value
from .coord_memory import MEMORY_STAGES, coord_memory_signature

__all__ = ["DebugUnit"]


#: Cycles after acceptance at which a command that waits is answered from what
#: its port delivers then (the answer is seen one cycle later).
_READ_PROG_PHASE = 1
_MEMORY_PHASE = MEMORY_STAGES - 1


class DebugUnit(three_stage.DebugUnit):
    """Executes debug-port commands on the pipelined core's state: the three-stage
    core's unit (:class:`hdl.debug_unit.DebugUnit`: the same ports, parameters and
    commands) with the pipelined memory, whose commands are answered and
    committed :data:`~hdl.pipeline.coord_memory.MEMORY_STAGES` cycles after their
    acceptance."""

    memory_signature = staticmethod(coord_memory_signature)

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        B = cfg.dim_bits
        mem = self.mem
        cmd = self.req_cmd

        # Cycles since a waiting command was accepted (0: none in hand).
        phase = Signal(range(_MEMORY_PHASE + 2))
        accept = self.req_valid & ~self.resp_valid & (phase == 0)
        m.d.sync += self.resp_valid.eq(0)

        answer = self._answer

        # The memory gets the key in every cycle and the command's operation with
        # acceptance; it is answered and committed in W.
        mem_key, slot_way = self._shared_ports(m)
        m.d.comb += [mem.a_key.eq(mem_key), mem.a_wdata.eq(self.req_data[:32])]
        # The op enters only with acceptance: every other cycle is a NOP, so the
        # memory never holds a copy of the command that would not be committed.
        with m.If(accept):
            with m.Switch(cmd):
                with m.Case(DebugCmd.MEM_READ):
                    m.d.comb += mem.a_op.eq(SOp.GATHER)
                with m.Case(DebugCmd.MEM_WRITE):
                    m.d.comb += mem.a_op.eq(SOp.SCATTER)
                with m.Case(DebugCmd.MEM_ERASE):
                    m.d.comb += mem.a_op.eq(SOp.ERASE)

        with m.If(phase != 0):
            m.d.sync += phase.eq(phase + 1)
        with m.If(phase == _READ_PROG_PHASE):
            with m.If(cmd == DebugCmd.READ_PROG):
                m.d.sync += [phase.eq(0)] + answer(data=self.prog_read.data)
        # In W the memory's answer is in its registers, and the write is committed
        # (by the command as accepted: the requester may present its next
        # request in the answer's cycle, one cycle later).
        held_cmd = Signal.like(cmd)
        with m.If(accept):
            m.d.sync += held_cmd.eq(cmd)
        with m.If(phase == _MEMORY_PHASE + 1):
            m.d.sync += phase.eq(0)
            m.d.comb += mem.w_commit.eq((held_cmd == DebugCmd.MEM_WRITE) |
                                        (held_cmd == DebugCmd.MEM_ERASE))
            with m.Switch(held_cmd):
                with m.Case(DebugCmd.MEM_READ):
                    m.d.sync += answer(data=mem.w_rdata, hit=mem.w_hit)
                with m.Case(DebugCmd.MEM_WRITE):
                    m.d.sync += answer(Mux(mem.w_full, DebugError.MEM_FULL, DebugError.NONE),
                                       hit=mem.w_hit)
                with m.Case(DebugCmd.MEM_ERASE):
                    m.d.sync += answer(hit=mem.w_hit)
                with m.Case(DebugCmd.SLOT_READ):
                    slot = Array(mem.w_slots)[slot_way]
                    m.d.sync += answer(hit=slot.valid, data=slot.value,
                                       coord=morton_coord_value(slot.key, NDIMS, B))

        self._serve(m, accept, phase.eq(1))
        return m
