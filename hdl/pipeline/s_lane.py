"""The S lane of the pipelined Sentron core: one SIW's GATHER, SCATTER or ERASE, from its key in X to its write in W.

Why it looks like this
----------------------
* **The coordinate memory sits beside the S lane, not inside it.**  The memory
  is state, like the register files, and it has two users: the S lane while the
  core runs, and the debug unit (``hdl/pipeline/debug_unit.py``) while it is idle, whose
  MEM_* and SLOT_READ commands go through the same ports, so that the host goes
  through exactly the placement logic a SCATTER does.  The core hands the
  memory's ports (``mem``, named as the memory's own) to one user or the other,
  as it does with the register-file ports it shares with the host.
* **The key is made in X** from ``ck`` as the operand network delivers it (the
  value before the SIW, whatever the SIWs ahead of it did to it), and enters
  the memory's pipeline there (``hdl/pipeline/coord_memory.py``): the answer comes back
  in W, MEM_FULL to the issue unit, the GATHER value to the register file.
* **The lane decides nothing.**  A bubble asks the memory for NOP; the memory
  writes only with ``w_commit``, which is the issue unit's.
"""

from amaranth.hdl import Module, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from sim.isa.encoding import DEFAULT_DIM_BITS, NDIMS, SOp

from .coord_memory import coord_memory_signature
from ..morton import morton_key_value

__all__ = ["SLane"]


class SLane(wiring.Component):
    """The S lane between the SIW and the coordinate memory (docs/isa.md section 3, S lane table).

    Parameters
    ----------
    dim_bits : int
        Bits ``B`` per dimension; keys have ``9*B`` bits.
    ways : int
        Ways of the coordinate memory (the width of its slot dump).

    Attributes
    ----------
    x_valid : In(1)
        There is an SIW in X (low for a bubble).
    x_op : In(SOp)
        Its S-lane operation.
    x_squash : In(1)
        The SIW in X is squashed this cycle: its op does not enter the memory.
    x_ck : In(9*B)
        Its ``[ck]`` before the SIW.
    x_wdata : In(32)
        The value a SCATTER stores (its ``rs``).
    w_rdata : Out(32)
        For the SIW in W: what a GATHER reads (the stored value, 0 if absent).
    w_mem_full : Out(1)
        For the SIW in W: its SCATTER meets a full set (fault MEM_FULL).
    w_commit : In(1)
        The SIW in W commits (its write is done only then).
    squash : In(1)
        The SIWs behind W are squashed this cycle (the run ends): their memory
        ops are dropped.
    mem : Out(coord_memory_signature)
        The memory's ports, as :class:`hdl.pipeline.coord_memory.CoordinateMemory` names them.
    """

    def __init__(self, dim_bits=DEFAULT_DIM_BITS, ways=4):
        if not isinstance(dim_bits, int) or dim_bits < 1:
            raise ValueError(f"dim_bits must be a positive integer, not {dim_bits!r}")
        self.dim_bits = dim_bits
        coord_bits = NDIMS * dim_bits
        super().__init__({
            "x_valid": In(1),
            "x_op": In(SOp),
            "x_ck": In(coord_bits),
            "x_wdata": In(32),
            "w_rdata": Out(32),
            "w_mem_full": Out(1),
            "w_commit": In(1),
            "x_squash": In(1),
            "squash": In(1),
            "mem": Out(coord_memory_signature(coord_bits, ways).flip()),
        })

    def elaborate(self, platform):
        m = Module()
        mem = self.mem
        m.d.comb += [
            mem.a_key.eq(morton_key_value(self.x_ck, NDIMS, self.dim_bits)),
            mem.a_op.eq(Mux(self.x_valid & ~self.x_squash, self.x_op, SOp.NOP)),
            mem.a_wdata.eq(self.x_wdata),
            self.w_rdata.eq(mem.w_rdata),
            self.w_mem_full.eq(mem.w_full),
            mem.w_commit.eq(self.w_commit),
            mem.flush.eq(self.squash),
        ]
        return m
