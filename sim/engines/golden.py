"""The golden model as a simulation engine: ``vtpu sim --engine golden``.

A thin adapter from the :class:`sim.engines.interface.Engine` interface to
:class:`sim.golden.machine.Machine`, so tools and equivalence tests can drive the
reference and the hardware engines the same way.
"""

from sim.isa.encoding import CoreConfig
from .interface import Engine, register_engine
from sim.golden.machine import Machine

__all__ = ["GoldenEngine"]


class GoldenEngine(Engine):
    """The executable specification behind the Engine interface."""
    name = "golden"

    def __init__(self, config=None):
        self.config = config if config is not None else CoreConfig()
        self.machine = Machine(self.config)

    def load_program(self, words):
        self.machine.load_program(words)

    def write_memory(self, entries):
        self.machine.write_memory(entries)

    def run(self, max_cycles=None):
        return self.machine.run(max_cycles)

    def step(self):
        return self.machine.step()

    def state(self):
        return self.machine.state()


register_engine("golden", GoldenEngine)
