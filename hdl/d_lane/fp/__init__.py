"""Combinational building blocks of the binary32 float unit (``hdl/d_lane/float_unit.py``).

Each module holds one concept, written once and used wherever the datapath
needs it: :mod:`.fields` splits a binary32 word into its parts, :mod:`.normalize`
counts leading zeros and shifts a significand into place (handling subnormal
results), :mod:`.round` rounds to nearest even and packs the word.  They build
Amaranth expressions only; the pipeline registers live in the float unit.
"""
