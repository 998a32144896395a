"""Board top levels, host link and bitstream builds."""
