"""Simulation engines behind one interface: golden, the RTL in Amaranth's simulator (and its
driver and lockstep checker), the generated Verilog, and the fast compiled engine."""
