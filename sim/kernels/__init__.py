"""Tensor kernels for the Sentron, written as serial assembly for the kernel compiler.

Each kernel is a Python function that takes where its operands are (registers,
rows and matrices in coordinate memory, free registers) and returns serial
assembly lines: one operation per line, in program order, which runs as it
stands on any engine and which the kernel compiler packs into SIWs.  The
operation order, error bound and lane bound of each are in docs/kernels.md.
"""
