"""The ``vtpu`` command: one module per group of subcommands, ``main`` ties them together."""
