"""The C lane of the Sentron core: coordinate arithmetic and control flow of one SIW, in X.

Why it looks like this
----------------------
* **Purely combinational.**  The C lane reads the coordinate registers as they
  were before the SIW and produces everything the SIW would commit: the new value
  of ``ck``, the data-register result of CGET/KEY, the branch decision and the
  next ``pc``.  The issue unit decides whether to commit (it knows about faults of
  the other lanes), so nothing here has state and it can be tested exhaustively
  against the golden model without a clock.
* **One dimension at a time.**  Every operation that touches a single dimension
  (CSET, CADD, CPUT, LOOP, CGET) selects ``ck.dim`` with a word select, computes
  the new value, and writes it back into a copy of ``ck`` with only that
  dimension replaced.  The range check of section 3 ("a coordinate never wraps")
  is each operation's own test, exact in a width just large enough for it
  (CPUT's: the 32-bit source's bits above ``B``; LOOP's: the carry of ``+ 1``).
* **Branches resolve here.**  LOOP and JUMP are predicted taken in D; the C lane
  reports ``x_loop_not_taken`` so the issue unit can squash the wrongly fetched SIW
  (the ``p_k = 1`` term of the timing model, docs/isa.md section 7).
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from sim.isa.encoding import DEFAULT_DIM_BITS, NDIMS, PC_BITS, COp

from .morton import morton_key_value

__all__ = ["CLane"]


class CLane(wiring.Component):
    """Combinational C lane (docs/isa.md section 3, C lane table).

    Every port belongs to the X stage (``x_``): the C lane computes from the
    registers the SIW in X reads, and the issue unit commits what it produces at
    the end of that cycle.

    Parameters
    ----------
    dim_bits : int
        Bits ``B`` per dimension; ``max`` = ``2**B - 1``.

    Attributes
    ----------
    x_op : In(COp)
        The C-lane opcode.  Undefined opcodes behave as NOP (the SIW is illegal
        and commits nothing anyway).
    x_ck, x_cj : In(9*B)
        Values of coordinate registers ``ck`` and ``cj`` before the SIW, dimension
        ``d`` at bits ``[d*B, (d+1)*B)``.
    x_dim, x_dim2 : In(4)
        Dimension fields.  Values above 8 make the SIW illegal; the outputs are
        then meaningless but well defined.
    x_imm11 : In(11)
        CSET's unsigned value.
    x_imm12 : In(signed(12))
        CADD's signed delta.
    x_rs : In(32)
        CPUT's source register value.
    x_pc : In(PC_BITS)
        Address of this SIW.
    x_target : In(PC_BITS)
        LOOP / JUMP target.
    x_ck_we : Out(1)
        The operation writes ``ck`` (CSET, CADD, CMOV, CCLR, CPUT, LOOP); valid
        even when ``x_range_fault``.
    x_ck_new : Out(9*B)
        The value ``ck`` would get.
    x_range_fault : Out(1)
        CSET, CADD, CPUT or LOOP would leave ``0..max``: fault COORD_RANGE.
    x_reg_we : Out(1)
        The operation writes a data register (CGET, KEY).
    x_reg_data : Out(32)
        CGET's zero-extended dimension or KEY's low 32 key bits.
    x_halt : Out(1)
        The operation is HALT.
    x_loop_not_taken : Out(1)
        A LOOP that falls through (its predicted-taken fetch must be squashed).
    x_branch : Out(1)
        The next SIW is ``x_target`` (JUMP, or a LOOP that branches), not ``pc + 1``:
        ``x_next_pc``'s select alone, for a core that makes the address a stage later.
    x_next_pc : Out(PC_BITS + 1)
        The address of the next SIW: the target for JUMP and a taken LOOP,
        else ``pc + 1``.  One bit wider than an address so that falling through
        the last word of a full program memory (address 1023) leads to address
        1024, which is PC_RANGE (docs/isa.md section 4: running off the end never
        executes stale words), rather than wrapping to 0.
    """

    def __init__(self, dim_bits=DEFAULT_DIM_BITS):
        if not isinstance(dim_bits, int) or dim_bits < 1:
            raise ValueError(f"dim_bits must be a positive integer, not {dim_bits!r}")
        self.dim_bits = dim_bits
        coord_bits = NDIMS * dim_bits
        super().__init__({
            "x_op": In(COp),
            "x_ck": In(coord_bits),
            "x_cj": In(coord_bits),
            "x_dim": In(4),
            "x_dim2": In(4),
            "x_imm11": In(11),
            "x_imm12": In(signed(12)),
            "x_rs": In(32),
            "x_pc": In(PC_BITS),
            "x_target": In(PC_BITS),
            "x_ck_we": Out(1),
            "x_ck_new": Out(coord_bits),
            "x_range_fault": Out(1),
            "x_reg_we": Out(1),
            "x_reg_data": Out(32),
            "x_halt": Out(1),
            "x_loop_not_taken": Out(1),
            "x_branch": Out(1),
            "x_next_pc": Out(PC_BITS + 1),
        })

    def elaborate(self, platform):
        m = Module()
        B = self.dim_bits
        max_value = (1 << B) - 1

        def dim_of(coord, index):
            # Dimensions 9..15 select nothing: the result is 0 (the SIW is illegal).
            return Mux(index < NDIMS, coord.word_select(index[:4], B), 0)

        ck_dim = dim_of(self.x_ck, self.x_dim)
        cj_dim2 = dim_of(self.x_cj, self.x_dim2)

        # Each operation's candidate for the dimension, exact in a signal just wide
        # enough for it, and its own range check: no arithmetic wider than B + 3 bits
        # sits on the path from ``ck`` to the branch decision (a 35-bit adder and
        # compare did, and was the pipelined core's critical path).
        added = Signal(signed(max(B, 12) + 2))           # CADD: dim + simm12
        stepped = Signal(B + 1)                          # LOOP: dim + 1
        m.d.comb += [added.eq(ck_dim + self.x_imm12), stepped.eq(ck_dim + 1)]
        imm_high = self.x_imm11[B:] if B < 11 else Const(0, 1)
        rs_high = self.x_rs[B:] if B < 32 else Const(0, 1)
        new_dim = Signal(B)
        out_of_range = Signal()
        with m.Switch(self.x_op):
            with m.Case(COp.CSET):
                m.d.comb += [new_dim.eq(self.x_imm11), out_of_range.eq(imm_high.any())]
            with m.Case(COp.CADD):
                m.d.comb += [new_dim.eq(added),
                             out_of_range.eq((added < 0) | (added > max_value))]
            with m.Case(COp.CPUT):
                m.d.comb += [new_dim.eq(self.x_rs), out_of_range.eq(rs_high.any())]
            with m.Case(COp.LOOP):
                m.d.comb += [new_dim.eq(stepped), out_of_range.eq(stepped[B])]

        one_dim = Cat(*(Mux(self.x_dim == d, new_dim, self.x_ck.word_select(d, B))
                        for d in range(NDIMS)))
        with m.Switch(self.x_op):
            with m.Case(COp.CSET, COp.CADD, COp.CPUT, COp.LOOP):
                m.d.comb += [
                    self.x_ck_we.eq(1),
                    self.x_ck_new.eq(one_dim),
                    self.x_range_fault.eq(out_of_range),
                ]
            with m.Case(COp.CMOV):
                m.d.comb += [self.x_ck_we.eq(1), self.x_ck_new.eq(self.x_cj)]
            with m.Case(COp.CCLR):
                m.d.comb += [self.x_ck_we.eq(1), self.x_ck_new.eq(0)]
            with m.Case(COp.CGET):
                m.d.comb += [self.x_reg_we.eq(1), self.x_reg_data.eq(ck_dim)]
            with m.Case(COp.KEY):
                key = morton_key_value(self.x_ck, NDIMS, B)
                m.d.comb += [self.x_reg_we.eq(1), self.x_reg_data.eq(key[:32])]
            with m.Case(COp.HALT):
                m.d.comb += self.x_halt.eq(1)

        is_loop = self.x_op == COp.LOOP
        loop_taken = is_loop & (stepped < cj_dim2)
        branch = (self.x_op == COp.JUMP) | loop_taken
        m.d.comb += [
            self.x_loop_not_taken.eq(is_loop & ~loop_taken),
            self.x_branch.eq(branch),
            self.x_next_pc.eq(Mux(branch, self.x_target, self.x_pc + 1)),
        ]
        return m
