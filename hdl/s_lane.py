"""The S lane of the Sentron core: one SIW's GATHER, SCATTER or ERASE, from its key in D to the memory's answer in X.

Why it looks like this
----------------------
* **The coordinate memory sits beside the S lane, not inside it.**  The memory
  is state, like the register files, and it has two users: the S lane while the
  core runs, and the debug unit (``hdl/debug_unit.py``) while it is idle, whose
  MEM_* and SLOT_READ commands use the same D and X ports so that the host goes
  through exactly the placement logic a SCATTER does.  Inside the S lane, the
  memory would need a second, host-facing copy of each of its ports and a
  multiplexer that has nothing to do with an SIW; beside it, the core hands the
  memory's ports (``mem``, named as the memory's own) to one user or the other,
  as it does with the register-file ports it shares with the host.
* **The set is read in D.**  The memory reads synchronously, so the key of the
  SIW in D goes to the memory in D and the rows arrive in X.  ``ck`` must then
  be the value the SIW sees in X: if the SIW now in X writes that coordinate
  register (the C lane's ``ck``, landing at the end of this cycle), D takes the
  C lane's new value instead of the register file's.  X's commit is not
  required: if X faults, the SIW in D is squashed and its lookup unused.
* **X's key is a register**, the key D looked up, computed from ``ck`` as
  forwarded: a register replaces a coordinate-register read port in X, and it
  is the key the memory's rows belong to (the memory's guarantee).
* **X decides nothing.**  A bubble asks the memory for NOP; the memory writes
  only with ``x_commit``, which is the issue unit's; MEM_FULL goes back to the
  issue unit, which picks the SIW's fault.
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from sim.isa.encoding import DEFAULT_DIM_BITS, NDIMS, SOp

from .morton import morton_key_value

__all__ = ["SLane"]


class SLane(wiring.Component):
    """The S lane between the SIW and the coordinate memory (docs/isa.md section 3, S lane table).

    Parameters
    ----------
    dim_bits : int
        Bits ``B`` per dimension; keys have ``9*B`` bits.

    Attributes
    ----------
    d_ck_addr : In(3)
        The S lane's ``ck`` field of the SIW in D.
    d_ck : In(9*B)
        That coordinate register's value as the register file holds it.
    x_ck_we, x_ck_addr, x_ck_new : In
        The coordinate register the SIW in X writes (the C lane's ``ck``,
        ``x_ck_we`` whether or not the SIW commits) and its new value.
    x_valid : In(1)
        There is an SIW in X (low for a bubble).
    x_op : In(SOp)
        Its S-lane operation.
    x_wdata : In(32)
        The value a SCATTER stores (its ``rs``).
    x_commit : In(1)
        The SIW commits this cycle (the memory writes only then).
    x_rdata : Out(32)
        What a GATHER reads: the stored value, 0 if absent.
    x_mem_full : Out(1)
        The SCATTER meets a full set: fault MEM_FULL.
    mem : the memory's ports ``d_key``, ``x_key``, ``x_op``, ``x_wdata``, ``x_commit`` (Out),
        ``x_rdata``, ``x_full`` (In), as :class:`hdl.coord_memory.CoordinateMemory` names them.
    """

    def __init__(self, dim_bits=DEFAULT_DIM_BITS):
        if not isinstance(dim_bits, int) or dim_bits < 1:
            raise ValueError(f"dim_bits must be a positive integer, not {dim_bits!r}")
        self.dim_bits = dim_bits
        coord_bits = NDIMS * dim_bits
        super().__init__({
            "d_ck_addr": In(3),
            "d_ck": In(coord_bits),
            "x_ck_we": In(1),
            "x_ck_addr": In(3),
            "x_ck_new": In(coord_bits),
            "x_valid": In(1),
            "x_op": In(SOp),
            "x_wdata": In(32),
            "x_commit": In(1),
            "x_rdata": Out(32),
            "x_mem_full": Out(1),
            "mem": Out(wiring.Signature({
                "d_key": Out(coord_bits),
                "x_key": Out(coord_bits),
                "x_op": Out(SOp),
                "x_wdata": Out(32),
                "x_commit": Out(1),
                "x_rdata": In(32),
                "x_full": In(1),
            })),
        })

    def elaborate(self, platform):
        m = Module()
        mem = self.mem

        def key(coord):
            return morton_key_value(coord, NDIMS, self.dim_bits)

        # D: the set of [ck] is read this cycle, with ck as the SIW in X leaves it.
        forward = self.x_valid & self.x_ck_we & (self.x_ck_addr == self.d_ck_addr)
        d_ck = Mux(forward, self.x_ck_new, self.d_ck)
        # X: the key D looked up.
        x_key = Signal.like(mem.x_key, name="x_key")
        m.d.sync += x_key.eq(key(d_ck))
        m.d.comb += [
            mem.d_key.eq(key(d_ck)),
            mem.x_key.eq(x_key),
            mem.x_op.eq(Mux(self.x_valid, self.x_op, SOp.NOP)),
            mem.x_wdata.eq(self.x_wdata),
            mem.x_commit.eq(self.x_commit),
            self.x_rdata.eq(mem.x_rdata),
            self.x_mem_full.eq(mem.x_full),
        ]
        return m
