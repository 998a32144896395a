"""``vtpu demo``: the four micro_vtpu demonstrations, as real Sentron programs.

The original micro_vtpu narrative shows bonding, love, performance and
persistence.  Here each is a small program assembled and run on an engine
(the golden model by default, the RTL engines with ``--engine``); every number
printed is read from the engine's final state, none is written into the text.
"""

from dataclasses import dataclass

from sim.asm.assembler import assemble
from sim.isa.coord import format_coord, morton_coord, morton_key
from sim.asm.disasm import disassemble
from sim.isa.encoding import CoreConfig, Fault
from .report import float_text, int32

__all__ = ["DEMOS", "Demo", "run_demos"]


@dataclass
class Demo:
    name: str
    title: str
    source: str


BONDING = """\
# bonding: agent 1 writes through its coordinate register c0, agent 2 reads through
# its own register c1; the shared coordinate is what bonds them.
    CLI c0, 1.0.0/0.0.0/0.0.0       # agent 1's view
    CLI c1, 1.0.0/0.0.0/0.0.0       # agent 2's view, set independently
    LI r1, 42
    SCATTER [c0], r1                # agent 1 scatters 42
    GATHER r2, [c1]                 # agent 2 gathers it: r2 = 42
    HALT
"""

LOVE = """\
# love: the Z-order (Morton) keys of three coordinates, computed by KEY.
    CLI c0, 1.0.0/0.0.0/0.0.0
    CLI c1, 1.0.0/0.0.0/0.0.1
    CLI c2, 2.0.0/0.0.0/0.0.0
    KEY r1, c0                      # 1
    KEY r2, c1                      # 257
    KEY r3, c2                      # 512
    HALT
"""

PERFORMANCE = """\
# performance: one SIW retires a float ADD, a GATHER and a coordinate step at once.
    CLI c0, 0.0.0/0.0.0/0.0.1
    FLI r1, 1.5
    FLI r2, 2.25
    LI r5, 7
    SCATTER [c0], r5
triple:
    ADD r3, r1, r2 | GATHER r4, [c0] | CADD c0.sc, 1
    HALT
"""

PERSISTENCE = """\
# persistence: store k*k (as a float) at 3.0.0/0.0.0/0.0.k for k = 0..3, then list
# what the coordinate memory holds.  (The set index spreads the row over four sets,
# docs/isa.md section 5; examples/memory_full.vasm fills the whole memory.)
    CLI c0, 3.0.0/0.0.0/0.0.0
    CLI c1, 0.0.0/0.0.0/0.0.4       # loop limit: scroll < 4
loop:
    CGET r1, c0.sc
    ITOF r2, r1
    MUL r3, r2, r2
    SCATTER [c0], r3 | LOOP c0.sc < c1.sc, loop
    HALT
"""

DEMOS = (
    Demo("bonding", "one agent scatters 42, another gathers it", BONDING),
    Demo("love", "Z-order keys of neighbouring coordinates", LOVE),
    Demo("performance", "three lanes retire in one SIW", PERFORMANCE),
    Demo("persistence", "the stored entries of the coordinate memory", PERSISTENCE),
)


def _run(make, demo, max_cycles):
    program = assemble(demo.source, f"<demo {demo.name}>")
    engine = make()
    engine.load_program(program.words)
    return program, engine, engine.run(max_cycles)


def _entries(state, config):
    return [(format_coord(morton_coord(key, config.dim_bits)), value)
            for key, value in state.entries().items()]


READBACK = """\
# read back one entry that an earlier core stored
    CLI c0, 3.0.0/0.0.0/0.0.3
    GATHER r1, [c0]
    HALT
"""


def _reload(make, state, config):
    """Write the state's memory to an image file, read it back, load it into a new engine
    with the READBACK program; return (engine, path, entries read)."""
    import os
    import tempfile
    from sim.image.memory_image import read_image, slot_entries, write_image
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "persistence.phext")
        write_image(path, slot_entries(state.memory), dim_bits=config.dim_bits,
                    set_bits=config.set_bits, ways=config.ways)
        image = read_image(path)
    engine = make()
    engine.load_program(assemble(READBACK, "<demo readback>").words)
    engine.write_memory(image.entries)
    return engine, path, image.entries


def _cross_check(program, state, config, max_cycles):
    """Run the program on the golden model too; (equal, a line saying so or what differs)."""
    from sim.engines.interface import make_engine
    golden = make_engine("golden", config)
    golden.load_program(program.words)
    expected = golden.run(max_cycles)
    differ = state.diff(expected)
    if not differ:
        return True, (f"cross-checked against the golden model: identical final state "
                      f"(registers, coordinates, memory, {expected.cycles} cycles)")
    return False, f"CROSS-CHECK FAILED: differs from the golden model in {', '.join(differ)}"


def run_demos(engine_name="golden", config=None, out=print, max_cycles=100_000):
    """Run the four demos on ``engine_name``, printing what each shows; return True if all
    ran to HALT with the results they exist to show."""
    from sim.engines.interface import make_engine
    config = config or CoreConfig()

    def make():
        return make_engine(engine_name, config)

    ok = True
    out(f"micro_vtpu demos on the {engine_name} engine")
    for number, demo in enumerate(DEMOS, 1):
        program, engine, state = _run(make, demo, max_cycles)
        out("")
        out(f"{number}. {demo.name}: {demo.title}")
        if engine_name != "golden":
            same, text = _cross_check(program, state, config, max_cycles)
            out(f"   {text}")
            ok &= same
        if not state.halted or state.fault != Fault.NONE:
            out(f"   did not halt cleanly: fault {Fault(state.fault).name} at {state.fault_pc:04d}")
            ok = False
            continue
        cost = f"{state.cycles} cycles, {state.siws} SIWs, {state.ops} ops"
        if demo.name == "bonding":
            where = format_coord(state.cregs[0])
            stored = dict(_entries(state, config)).get(where)
            out(f"   agent 1 (c0 = {where}) scattered r1 = {int32(state.regs[1])}")
            out(f"   agent 2 (c1 = {format_coord(state.cregs[1])}) gathered r2 = {int32(state.regs[2])}")
            out(f"   memory holds {stored} at {where}   [{cost}]")
            ok &= state.regs[2] == state.regs[1] == 42
        elif demo.name == "love":
            for reg, creg in ((1, 0), (2, 1), (3, 2)):
                key = state.regs[reg]
                out(f"   KEY c{creg} = {format_coord(state.cregs[creg]):<20s} -> {key:>4d} (0x{key:03x})")
            out(f"   [{cost}]")
            ok &= [state.regs[1], state.regs[2], state.regs[3]] == [1, 257, 512]
        elif demo.name == "performance":
            address = program.labels["triple"]
            # Step a second engine through the program to watch that one SIW retire.
            stepper = make()
            stepper.load_program(program.words)
            before = stepper.state()
            while before.pc != address:
                before = stepper.step()
            after = stepper.step()
            lanes = after.ops - before.ops
            out(f"   SIW {address:04d}: {disassemble(program.words[address])}")
            out(f"   retired {lanes} operations in one SIW: r3 = {float_text(state.regs[3])}, "
                f"r4 = {int32(state.regs[4])}, c0 -> {format_coord(state.cregs[0])}")
            out(f"   whole program: {cost}, {state.ops_per_cycle():.2f} ops/cycle")
            ok &= lanes == 3
        elif demo.name == "persistence":
            entries = _entries(state, config)
            out(f"   {len(entries)} stored entries:")
            for coord, value in entries:
                out(f"     {coord:<20s} = {float_text(value)}")
            out(f"   [{cost}]")
            ok &= len(entries) == 4
            # Memory outlives the process: save an image, load it into a fresh core, read back.
            fresh, path, loaded = _reload(make, state, config)
            fresh_state = fresh.run(max_cycles)
            out(f"   saved as a memory image ({len(loaded)} entries), loaded into a fresh core:")
            out(f"     GATHER {format_coord(fresh_state.cregs[0])} -> {float_text(fresh_state.regs[1])}"
                f"   [{fresh_state.cycles} cycles]")
            ok &= fresh_state.regs[1] == state.entries().get(morton_key(fresh_state.cregs[0]))
    return ok

