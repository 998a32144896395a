"""Golden model, assembler, simulation engines and the vtpu command."""
