"""The ISA's tables: encodings, assembly syntax, coordinate text and host-link numbers.

The one part of ``sim/`` that ``hdl/`` may import: numbers and names, never behaviour.
"""
