"""Amaranth HDL of the Sentron core."""
