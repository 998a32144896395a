"""Assembly: the assembler, the disassembler, the program file formats (.vasm, .vhex) and the
kernel compiler (``compiler.py``: serial programs packed and software-pipelined)."""
