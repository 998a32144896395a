"""The golden model: docs/isa.md executed in plain Python (machine, decode, memory, fp32, state).

It imports nothing but the ISA tables (``sim.isa``) and the standard library: never
``hdl`` nor amaranth, so it stays an independent implementation of the ISA.
"""
