"""Golden model, assembler, simulation engines, host link client and the vtpu command."""
