"""The Programs section: every example on the RTL in lockstep with the golden model, and its table.

Why: the counters (cycles, SIWs, ops, ops/cycle) are the hardware's own, and each
row is only written once the RTL has matched the golden model SIW by SIW and in
its final state.
"""

import os

__all__ = ["bench_program", "program_table", "regfile_text", "REGFILE_TEXT"]

#: A core's data register file kind (hdl/core.py ``regfile_kind``) in words.
REGFILE_TEXT = {"ff": "flip-flops", "lutram": "LUT RAM"}


def regfile_text(core):
    """How ``core`` (an hdl.core.Sentron) builds its data register file, in words."""
    kind = getattr(core, "regfile_kind", "ff")
    return REGFILE_TEXT.get(kind, kind)


def bench_program(path):
    """One example on the RTL in lockstep with the golden model: its counters."""
    from sim.isa.encoding import CoreConfig
    from sim.engines.lockstep import Lockstep
    from sim.golden.machine import Machine
    from sim.asm.progfile import load_program_file
    config = CoreConfig()
    words = load_program_file(path).words
    m = Machine(config)
    m.load_program(words)
    g = m.run(10_000_000)
    with Lockstep(config) as ls:
        ls.run_program(words, max_cycles=g.cycles + 100)
        seconds, siws_checked = ls.last_run_seconds, ls.siws
        ls.compare_full_state()       # every register and memory slot: raises on a difference
        st = ls.engine.call(lambda ctx: ls.engine.read_state(ctx, memory=False))
        regfile = regfile_text(ls.engine.core)
    diff = [f for f in st.diff(g) if f != "memory"]     # memory: compared just above
    if diff:
        raise SystemExit(f"{path}: RTL and golden final states differ in {diff}")
    return {"name": os.path.basename(path), "path": path,
            "cycles": st.cycles, "siws": st.siws, "ops": st.ops, "opc": st.ops_per_cycle(),
            "fault": st.fault.name, "lockstep_seconds": seconds, "checked_siws": siws_checked,
            "regfile": regfile}


def program_table(rows):
    out = ["| example | cycles | SIWs | ops | ops/cycle | end | RTL vs golden |",
           "|---|---:|---:|---:|---:|---|---|"]
    for r in rows:
        out.append(f"| {r['name']} | {r['cycles']} | {r['siws']} | {r['ops']} | {r['opc']:.2f} | "
                   f"{'HALT' if r['fault'] == 'NONE' else r['fault']} | "
                   f"equal (lockstep, {r['checked_siws']} SIWs; full state at the end) |")
    return "\n".join(out)
