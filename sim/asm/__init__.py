"""Assembly: the assembler, the disassembler and the program file formats (.vasm, .vhex)."""
