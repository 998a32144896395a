"""The fast engine: the Amaranth core compiled to C++ (Verilator or CXXRTL) and run through ctypes."""
