"""One operation of one lane, and what it reads and writes: the kernel compiler's unit.

Why a module of its own: every part of the compiler (dependence graph, schedulers,
register renaming, stall prediction) asks the same questions of an operation --
which lane it needs, which data registers, coordinate-register dimensions and
memory it reads and writes, how many cycles its result takes -- and they must all
get the ISA's answer (docs/isa.md sections 3 and 7), written once, here.

Resources are named by tuples: ``("r", n)`` a data register, ``("c", k, d)``
dimension ``d`` of coordinate register ``ck``.  Memory is one more resource, kept
apart (:attr:`Op.memory`), because whether two accesses meet depends on their
coordinates (``sim/asm/addresses.py``).
"""

from sim.asm.disasm import format_slot
from sim.golden.decode import D_READS_RD
from sim.isa.encoding import D_OPERANDS, NDIMS, COp, DOp, SOp

__all__ = ["Op", "CONTROL_OPS", "register_fields"]

#: C operations that end a basic block.
CONTROL_OPS = frozenset({COp.LOOP, COp.JUMP, COp.HALT})


def register_fields(lane, op):
    """``(read fields, written field or None)``: the slot fields of ``op`` that name data
    registers (docs/isa.md section 7, "Registers read" / "Registers written")."""
    if lane == "D":
        if op == DOp.NOP:
            return (), None
        reads = tuple(f for f in ("rs1", "rs2") if f in D_OPERANDS[op])
        if op in D_READS_RD:
            reads += ("rd",)
        return reads, "rd"
    if lane == "S":
        if op == SOp.GATHER:
            return (), "reg"
        return (("reg",) if op == SOp.SCATTER else ()), None
    if op in (COp.CGET, COp.KEY):
        return (), "reg"
    return (("reg",) if op == COp.CPUT else ()), None


def _whole(k):
    return frozenset(("c", k, d) for d in range(NDIMS))


class Op:
    """One non-NOP slot: ``lane`` ("D", "S", "C"), ``op`` (a DOp, SOp or COp member) and
    ``fields`` (the slot's operand fields, as :func:`sim.asm.disasm.decode_siw` gives them).

    ``index`` is its position in the serial program, ``line`` and ``file`` where its
    source is (0 and "" for an operation that has no source).  A renamed or rewritten
    copy (:meth:`renamed`, :meth:`loop_as_cadd`) keeps the origin of the original.
    """

    __slots__ = ("lane", "op", "fields", "index", "line", "file", "reads", "writes",
                 "creg_reads", "creg_writes", "memory")

    def __init__(self, lane, op, fields, index=0, line=0, file=""):
        if lane not in ("D", "S", "C"):
            raise ValueError(f"lane must be D, S or C, not {lane!r}")
        if op.value == 0:
            raise ValueError("a NOP is not an operation")
        self.lane, self.op, self.fields = lane, op, dict(fields)
        self.index, self.line, self.file = index, line, file
        read_fields, write_field = register_fields(lane, op)
        #: ``(field, register)`` for every data register read, and the one written (or None).
        self.reads = tuple((f, self.fields[f]) for f in read_fields)
        self.writes = (write_field, self.fields[write_field]) if write_field else None
        self.creg_reads, self.creg_writes = self._coordinate_access()
        #: "read" (GATHER), "write" (SCATTER, ERASE) or None.
        self.memory = {SOp.GATHER: "read", SOp.SCATTER: "write", SOp.ERASE: "write"}.get(op) \
            if lane == "S" else None

    def _coordinate_access(self):
        """``(dims read, dims written)`` as sets of ``("c", k, d)``."""
        f = self.fields
        if self.lane == "S":
            return _whole(f["ck"]), frozenset()
        if self.lane != "C":
            return frozenset(), frozenset()
        op = self.op
        one = frozenset({("c", f["ck"], f["dim"])}) if "dim" in f else frozenset()
        if op == COp.CSET or op == COp.CPUT:
            return frozenset(), one
        if op == COp.CADD:
            return one, one
        if op == COp.CMOV:
            return _whole(f["cj"]), _whole(f["ck"])
        if op == COp.CCLR:
            return frozenset(), _whole(f["ck"])
        if op == COp.CGET:
            return one, frozenset()
        if op == COp.KEY:
            return _whole(f["ck"]), frozenset()
        if op == COp.LOOP:
            return one | {("c", f["cj"], f["dim2"])}, one
        return frozenset(), frozenset()          # JUMP, HALT

    # ------------------------------------------------------------------ questions

    @property
    def is_control(self):
        """LOOP, JUMP or HALT: the operation ends a basic block."""
        return self.lane == "C" and self.op in CONTROL_OPS

    @property
    def target(self):
        """The branch target address of a LOOP or JUMP, else None."""
        return self.fields.get("target") if self.lane == "C" else None

    @property
    def address_register(self):
        """The coordinate register ``ck`` of a GATHER, SCATTER or ERASE, else None."""
        return self.fields["ck"] if self.lane == "S" else None

    @property
    def coordinate_registers(self):
        """Numbers of the coordinate registers it reads or writes."""
        return {k for _, k, _ in self.creg_reads | self.creg_writes}

    def latency(self, timing):
        """Cycles until the data register it writes is ready (``timing``: a
        :class:`sim.isa.encoding.Timing`); None if it writes none."""
        return timing.latency(self.op) if self.writes else None

    @property
    def where(self):
        """``file:line`` of its source."""
        return f"{self.file}:{self.line}"

    # ------------------------------------------------------------------ copies

    def renamed(self, registers):
        """A copy whose data-register fields are replaced: ``registers`` maps a field
        name (``rd``, ``rs1``, ``rs2``, ``reg``) to its new register."""
        fields = dict(self.fields)
        fields.update(registers)
        return Op(self.lane, self.op, fields, self.index, self.line, self.file)

    def loop_as_cadd(self):
        """For a LOOP ``ck.dim < cj.dim2``: ``CADD ck.dim, 1``, its effect when it is known
        to branch back (in a software pipeline's prologue)."""
        assert self.lane == "C" and self.op == COp.LOOP
        return Op("C", COp.CADD, {"ck": self.fields["ck"], "dim": self.fields["dim"], "imm12": 1},
                  self.index, self.line, self.file)

    def text(self, target_text=str):
        """Its assembly text; ``target_text(address)`` writes a branch target."""
        return format_slot(self.lane, self.op, self.fields, target_text)

    def __repr__(self):
        return f"Op({self.text()!r} @{self.where})"
