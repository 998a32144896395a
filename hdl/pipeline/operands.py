"""The operand network of the pipelined Sentron core: each X-stage operand from the register file or from an older SIW still on its way to W.

Why it looks like this
----------------------
An SIW reads its registers in R and uses them in X, but the four SIWs ahead of
it (in M, N, T and W when it is in X) have computed results they write only in
W, and W writes at the end of the cycle the SIW is in R.  Each operand is
therefore taken, newest first, from

1. the SIW one, two, three or four stages ahead, if it writes that register
   with a value it already has (its *stage writers*; a GATHER's value exists
   only from W on, a float op's never: the interlock keeps their consumers in R
   until their values are in W or in the register file);
2. else the register file as read in R, with the writes landing at the end of
   that cycle (W's, and the float unit's) laid over it (the *late writes*).

The choice is made in R, from registered addresses and the registered stage
contents, and registered as a one-hot select, so X spends one AND-OR level on it;
the values compared in R are the writers *now* in X, M, N and T, which are
exactly the ones in M, N, T and W when the SIW reaches X, because nothing after
R ever stalls.  A writer's value is used whether or not that SIW will commit:
if it faults, every younger SIW is squashed, so nothing that used it commits.
"""

from amaranth.hdl import Cat, Const, Mux, Signal

__all__ = ["forwarded_operand"]


def forwarded_operand(m, name, addr, file_data, late_writes, stage_writers):
    """The X-stage value of one operand (a Signal), built into module ``m``.

    Parameters
    ----------
    name : str
        Prefix of the registers made here.
    addr : Value
        The register the R SIW reads.
    file_data : Value
        The register file's read port for ``addr``, in R.
    late_writes : list of (en, addr, data)
        Writes done at the end of this cycle, in R (none of them to the same
        register: the interlock keeps two writes of one register apart).
    stage_writers : list of (en, addr, data), newest first
        ``en`` and ``addr``: a writer as it stands in R's cycle (in X, M, N or T);
        ``data``: its value one cycle later, when the R SIW is in X.
    """
    width = len(file_data)
    read = file_data
    for en, waddr, data in late_writes:
        read = Mux(en & (waddr == addr), data, read)
    operand = Signal(width, name=f"{name}_r")
    m.d.sync += operand.eq(read)
    # One-hot: writer i is the newest one that writes addr.
    select = Signal(len(stage_writers), name=f"{name}_sel")
    newer = Const(0, 1)
    hits = []
    for en, waddr, _ in stage_writers:
        hit = en & (waddr == addr)
        hits.append(hit & ~newer)
        newer = newer | hit
    m.d.sync += select.eq(Cat(*hits))
    value = operand & (~select.any()).replicate(width)
    for i, (_, _, data) in enumerate(stage_writers):
        value = value | (data & select[i].replicate(width))
    out = Signal(width, name=f"{name}_x")
    m.d.comb += out.eq(value)
    return out

