"""Proof harness: the Morton encoder and decoder are inverse bijections, for every input.

Both units are combinational, so one time step covers every input: a BMC of depth
1 over free inputs is already a complete proof (there is no state to induct over).
"""

from amaranth.hdl import Assert, Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from hdl.morton import MortonDecoder, MortonEncoder
from sim.isa.encoding import DEFAULT_DIM_BITS, NDIMS

__all__ = ["MortonRoundTrip"]


class MortonRoundTrip(wiring.Component):
    """``decode(encode(coord)) == coord`` and ``encode(decode(key)) == key``.

    ``coord`` and ``key`` are free top-level inputs: the solver may pick any value.
    Together the two equalities make each unit a bijection with the other as its
    inverse (a left and a right inverse).
    """

    def __init__(self, dims=NDIMS, bits=DEFAULT_DIM_BITS):
        self.dims = dims
        self.bits = bits
        super().__init__({"coord": In(dims * bits), "key": In(dims * bits)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.enc1 = enc1 = MortonEncoder(self.dims, self.bits)
        m.submodules.dec1 = dec1 = MortonDecoder(self.dims, self.bits)
        m.submodules.dec2 = dec2 = MortonDecoder(self.dims, self.bits)
        m.submodules.enc2 = enc2 = MortonEncoder(self.dims, self.bits)
        m.d.comb += [
            enc1.coord.eq(self.coord), dec1.key.eq(enc1.key),
            dec2.key.eq(self.key), enc2.coord.eq(dec2.coord),
            Assert(dec1.coord == self.coord, "decoder(encoder(coord)) != coord"),
            Assert(enc2.key == self.key, "encoder(decoder(key)) != key"),
        ]
        return m
