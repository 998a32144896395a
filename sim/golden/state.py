"""The architectural state of a Sentron core, as every engine reports it.

Engines (golden model, RTL on Amaranth's simulator, fast simulation, a board over
the host link) all return this one plain record, so they can be compared field
by field and printed by one report.
"""

from dataclasses import dataclass, field, asdict

from sim.isa.encoding import Fault

__all__ = ["ArchState"]


@dataclass(frozen=True)
class ArchState:
    """Everything a program can observe, plus the counters.

    ``memory`` lists the stored entries slot by slot: ``memory[set][way]`` is
    ``(key, value)`` or ``None`` for a free way; so two engines agree on memory
    only if they agree on placement too.
    """
    regs: tuple          # 32 ints, 0 <= r < 2**32
    cregs: tuple         # 8 coordinates, each a 9-tuple of ints
    pc: int
    halted: bool
    fault: Fault
    fault_pc: int
    cycles: int
    siws: int
    ops: int
    memory: tuple        # [set][way] -> (key, value) | None

    def entries(self):
        """Stored entries as ``{key: value}``, in slot order."""
        return {slot[0]: slot[1] for ways in self.memory for slot in ways if slot is not None}

    def ops_per_cycle(self):
        return self.ops / self.cycles if self.cycles else 0.0

    def diff(self, other):
        """Names of the fields in which ``other`` differs from this state."""
        return [name for name in self.__dataclass_fields__
                if getattr(self, name) != getattr(other, name)]
