"""Formal proofs of the Sentron hardware units, run with SymbiYosys from PyPI (yowasp).

Each proof is an Amaranth harness (a component holding the unit under proof, its
assumptions and assertions) converted to RTLIL and handed to ``yowasp-sby``.
See formal/README.md for what each proof establishes, fully or up to a bound.
"""
