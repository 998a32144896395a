"""The Sentron's two microarchitectures, and which one a configuration names.

One ISA, two ways to build it, each for the fabric it was measured on:

* ``hdl.core.Sentron``, three stages (F D X): the compact core.  Every result
  but a float one is ready for the next SIW; its register files may be block
  RAM served over several clocks, which is what fits the iCE40 UP5K
  (boards/icebreaker.py).
* ``hdl.pipeline.core.Sentron``, eight stages (F D R X M N T W): the core built
  for the ECP5's clock (boards/ulx3s.py), a few logic levels per stage, with a
  GATHER latency of 4 and a LOOP exit of 3 (docs/isa.md section 7).

A configuration's timing table (``CoreConfig.timing``) is what tells them
apart: each core implements exactly one table per float latency, and refuses a
configuration with another.  So the golden model, the compiler and the
hardware agree on every cycle by construction, and whoever builds a core for a
configuration (the simulators, the lockstep checker, the board tops) asks
:func:`core_class` instead of choosing.
"""

from . import core as three_stage
from .pipeline import core as pipelined

__all__ = ["core_class", "CORES"]

#: Every core, with the function giving its timing table for a float latency.
CORES = ((three_stage.Sentron, three_stage.implemented_timing),
         (pipelined.Sentron, pipelined.implemented_timing))


def core_class(config):
    """The Sentron class that implements ``config`` (a ``CoreConfig``): the one whose
    timing table at ``config.float_latency`` is ``config.timing``.  ValueError,
    naming every core's table, for a configuration no core implements."""
    tables = []
    for cls, timing in CORES:
        try:
            table = timing(config.float_latency)
        except ValueError as error:             # no such core at this float latency
            tables.append(f"{cls.__module__}: none ({error})")
            continue
        if table == config.timing:
            return cls
        tables.append(f"{cls.__module__}: {table}")
    tables = "; ".join(tables)
    raise ValueError(f"no core implements the timing table {config.timing} (at float latency "
                     f"{config.float_latency} the cores have: {tables})")
