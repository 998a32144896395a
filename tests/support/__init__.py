"""Test stimulus and stand-ins: random programs, fake cores, SIW builders (used by tests only)."""
