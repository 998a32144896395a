"""Board top levels (iCEBreaker, ULX3S) and the tools that build and flash their bitstreams."""
