"""The registry of proofs: what ``python -m formal`` and tests/test_formal.py run.

Each entry builds a harness and says how to prove it.  ``depth`` is k of the
k-induction (``mode prove``: a BMC base case of k steps from the initial state,
then the induction step over k steps from *any* state).  A PASS is a complete,
unbounded proof for that configuration; see formal/README.md.
"""

from .memory_proof import MemoryShadowProof
from .morton_proof import MortonRoundTrip

__all__ = ["Proof", "PROOFS"]


class Proof:
    def __init__(self, name, make, depth, summary, slow=False):
        self.name = name
        self.make = make
        self.depth = depth
        self.summary = summary
        self.slow = slow


PROOFS = {p.name: p for p in [
    Proof("morton", lambda: MortonRoundTrip(dims=9, bits=11), 1,
          "Morton encoder/decoder (9 x 11 bits) are inverse bijections, every input"),
    Proof("memory_1_1_2", lambda: MemoryShadowProof(dim_bits=1, set_bits=1, ways=2), 4,
          "coordinate memory, 9-bit keys, 2 sets x 2 ways: no entry lost/changed/invented, "
          "exact x_full, lowest-free placement, transparent read"),
    Proof("memory_1_2_3", lambda: MemoryShadowProof(dim_bits=1, set_bits=2, ways=3), 4,
          "the same, 9-bit keys, 4 sets x 3 ways"),
    Proof("memory_2_1_2", lambda: MemoryShadowProof(dim_bits=2, set_bits=1, ways=2), 1,
          "the same, 18-bit keys, 2 sets x 2 ways (slow: parity of an 18-bit fold)", slow=True),
]}
