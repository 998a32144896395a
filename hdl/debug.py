"""The Sentron debug port: how a test bench, the host link or a board reaches the core.

One request at a time: the requester holds ``req.valid`` with a command and its
operands until the core answers with a one-cycle ``resp.valid`` pulse.  Every
command but HALT is refused (``resp.error``) while the core runs, so nothing a
host does can tear an SIW apart.  Status and counters are always visible.
"""

from amaranth.hdl import unsigned
from amaranth.lib import enum, wiring
from amaranth.lib.wiring import In, Out

from sim.isa.encoding import NDIMS, PC_BITS

__all__ = ["DebugCmd", "DebugError", "DebugSignature", "COUNTER_BITS"]

#: Width of the cycle, SIW and op counters.
COUNTER_BITS = 48


class DebugCmd(enum.Enum, shape=4):
    """Debug port commands.  Operands: ``addr``, ``data`` (64 bits), ``coord``."""
    NOP = 0
    WRITE_PROG = 1    # program[addr] = data
    SET_LEN = 2       # program length = addr (0..prog_depth); pc = 0
    READ_PROG = 3     # -> data = program[addr]
    READ_REG = 4      # -> data = r[addr]
    WRITE_REG = 5     # r[addr] = data[31:0]
    READ_CREG = 6     # -> coord = c[addr]
    WRITE_CREG = 7    # c[addr] = coord
    WRITE_PC = 8      # pc = addr
    MEM_READ = 9      # -> data = memory[key(coord)] (0 if absent), hit
    MEM_WRITE = 10    # memory[key(coord)] = data[31:0]; error MEM_FULL if the set is full
    MEM_ERASE = 11    # forget memory[key(coord)]
    SLOT_READ = 12    # addr = set * ways + way -> hit = valid, coord = its coordinate, data = value
    RUN = 13          # run from pc until HALT or a fault (clears fault)
    STEP = 14         # run exactly one SIW
    HALT = 15         # stop at the next SIW boundary (accepted while running)


class DebugError(enum.Enum, shape=2):
    NONE = 0
    BUSY = 1          # the core is running; only HALT is accepted
    RANGE = 2         # addr out of range (register, program address, slot, length)
    MEM_FULL = 3      # MEM_WRITE of a new coordinate into a full set


class DebugSignature(wiring.Signature):
    """Requester's view is ``DebugSignature(...).flip()``; the core holds this one.

    Members (from the core's side):

    ``req_valid``, ``req_cmd``, ``req_addr``, ``req_data``, ``req_coord``: In.
        A request; hold all of them steady until ``resp_valid``.
        ``req_coord`` packs dimension ``d`` at bits ``[d*B, (d+1)*B)``.
    ``resp_valid``: Out(1).  One-cycle pulse: the request is done.
    ``resp_error``: Out(DebugError).  Why it was refused; NONE if it was done.
    ``resp_data``, ``resp_coord``, ``resp_hit``: Out.  Results, valid with ``resp_valid``.
    ``running``: Out(1).  The core is executing SIWs (RUN or STEP in progress).
    ``fault``: Out(4), ``fault_pc``: Out(PC_BITS + 1), ``pc``: Out(PC_BITS + 1) (an SIW at
        the last address leaves pc = 1024, which faults PC_RANGE rather than wrapping),
        ``prog_len``: Out(PC_BITS + 1).
    ``cycles``, ``siws``, ``ops``: Out(COUNTER_BITS).
    """

    def __init__(self, dim_bits):
        coord_bits = NDIMS * dim_bits
        super().__init__({
            "req_valid": In(1),
            "req_cmd": In(DebugCmd),
            "req_addr": In(16),
            "req_data": In(64),
            "req_coord": In(coord_bits),
            "resp_valid": Out(1),
            "resp_error": Out(DebugError),
            "resp_data": Out(64),
            "resp_coord": Out(coord_bits),
            "resp_hit": Out(1),
            "running": Out(1),
            "fault": Out(4),
            "fault_pc": Out(PC_BITS + 1),
            "pc": Out(PC_BITS + 1),
            "prog_len": Out(PC_BITS + 1),
            "cycles": Out(COUNTER_BITS),
            "siws": Out(COUNTER_BITS),
            "ops": Out(COUNTER_BITS),
        })
