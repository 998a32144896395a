"""The D lane (dense ALU): the single-cycle integer ALU and the pipelined binary32 float unit."""
