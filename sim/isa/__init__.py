"""The ISA's tables: encodings, assembly syntax, coordinate text, host-link numbers and the set index.

The one part of ``sim/`` that ``hdl/`` may import: numbers and names, never behaviour.
"""
