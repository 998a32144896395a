"""Reports of an :class:`~sim.golden.state.ArchState`: the text and JSON that ``vtpu`` prints.

Every engine returns the same ``ArchState``, so one report serves the golden
model, the RTL engines and a board; commands that print state use these
functions rather than formatting registers themselves.
"""

import math
import struct

from sim.isa.coord import format_coord, morton_coord
from sim.isa.encoding import DIM_SHORT, CoreConfig, Fault
from sim.golden.fp32 import round_to_f32

__all__ = ["float_text", "int32", "state_to_dict", "format_state", "outcome", "exit_status",
           "format_retire"]


def int32(bits):
    """The register bits read as a two's-complement int32."""
    bits &= 0xFFFF_FFFF
    return bits - (1 << 32) if bits & 0x8000_0000 else bits


def _f32(bits):
    return struct.unpack("<f", struct.pack("<I", bits & 0xFFFF_FFFF))[0]


def float_text(bits):
    """The register bits read as binary32, in the shortest decimal that reads back to the
    same binary32 value (so 0x3DCCCCCD prints as 0.1, not 0.10000000149011612)."""
    x = _f32(bits)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    for digits in range(1, 10):
        text = f"{x:.{digits}g}"
        if round_to_f32(float(text)) == bits & 0xFFFF_FFFF:
            break
    return repr(float(text))      # Python's layout: 32640.0, 0.1, 1e-45, -0.0


def _float_json(bits):
    """Float view for JSON: a number when finite, else the strings "inf", "-inf", "nan"
    (strict JSON has no infinities)."""
    x = _f32(bits)
    return float(float_text(bits)) if math.isfinite(x) else float_text(bits)


def outcome(state):
    """One phrase: how the run ended."""
    if not state.halted:
        return "not halted (stopped by the cycle limit)"
    if state.fault != Fault.NONE:
        return f"fault {Fault(state.fault).name} (code {int(state.fault)}) at {state.fault_pc:04d}"
    return "halted"


def exit_status(state):
    """The ``vtpu`` exit status for a run that ended in ``state``: 0 clean halt, else 1."""
    return 0 if state.halted and state.fault == Fault.NONE else 1


def _memory_entries(state, config):
    for set_index, ways in enumerate(state.memory):
        for way, slot in enumerate(ways):
            if slot is not None:
                key, value = slot
                yield set_index, way, key, value


def state_to_dict(state, config=None):
    """A JSON-ready dict of the state: every field, plus the int and float views."""
    config = config or CoreConfig()
    regs = [{"reg": f"r{i}", "bits": f"0x{v:08x}", "int": int32(v), "float": _float_json(v)}
            for i, v in enumerate(state.regs) if v]
    memory = [{"coord": format_coord(morton_coord(key, config.dim_bits)), "key": key,
               "set": s, "way": w, "bits": f"0x{value:08x}", "int": int32(value),
               "float": _float_json(value)}
              for s, w, key, value in _memory_entries(state, config)]
    return {
        "outcome": outcome(state),
        "halted": bool(state.halted),
        "fault": {"name": Fault(state.fault).name, "code": int(state.fault),
                  "pc": state.fault_pc},
        "pc": state.pc,
        "cycles": state.cycles,
        "siws": state.siws,
        "ops": state.ops,
        "ops_per_cycle": round(state.ops_per_cycle(), 4),
        "regs": list(state.regs),
        "nonzero_regs": regs,
        "cregs": [format_coord(c) for c in state.cregs],
        "memory": memory,
    }


def format_state(state, config=None):
    """A human-readable report of the state."""
    config = config or CoreConfig()
    out = [f"status     {outcome(state)}; pc {state.pc:04d}",
           f"counters   cycles {state.cycles}  siws {state.siws}  ops {state.ops}  "
           f"ops/cycle {state.ops_per_cycle():.3f}"]
    nonzero = [(i, v) for i, v in enumerate(state.regs) if v]
    out.append(f"registers  {len(nonzero)} nonzero" + (":" if nonzero else ""))
    for i, v in nonzero:
        out.append(f"  r{i:<3d} 0x{v:08x}  int {int32(v):<11d}  float {float_text(v)}")
    cregs = [(i, c) for i, c in enumerate(state.cregs) if any(c)]
    out.append(f"coords     {len(cregs)} nonzero" + (":" if cregs else ""))
    for i, c in cregs:
        dims = " ".join(f"{DIM_SHORT[d]}={v}" for d, v in enumerate(c) if v)
        out.append(f"  c{i}   {format_coord(c):<24s} ({dims})")
    entries = list(_memory_entries(state, config))
    out.append(f"memory     {len(entries)} entr{'y' if len(entries) == 1 else 'ies'}"
               + (":" if entries else ""))
    for s, w, key, value in entries:
        coord = format_coord(morton_coord(key, config.dim_bits))
        out.append(f"  {coord:<24s} key {key:<8d} set {s:<3d} way {w}  0x{value:08x}  "
                   f"int {int32(value):<11d}  float {float_text(value)}")
    return "\n".join(out) + "\n"


def format_retire(cycle, pc, text, fault=None):
    """One trace line: retire cycle, address, the SIW's text, and its fault if it faulted."""
    line = f"{cycle:>8d}  {pc:04d}  {text}"
    if fault:
        line += f"    <- fault {Fault(fault).name}"
    return line
