"""The registry of proofs: what ``python -m formal``, tests/test_formal.py and
tests/test_formal_core.py run.

Each entry builds a harness and says how to prove it.  With ``mode`` "prove"
(the default) ``depth`` is k of the k-induction (a BMC base case of k steps from
the initial state, then the induction step over k steps from *any* state), and a
PASS is a complete, unbounded proof for that configuration.  With ``mode`` "bmc"
(the ``core_*`` entries) a PASS is a *bounded* proof: no assertion fails in the
first ``depth`` cycles (steps 0 .. depth-1); see formal/README.md.
"""

from sim.isa.encoding import CoreConfig, Timing

from .core_proof import CoreCommitProof
from .memory_proof import MemoryShadowProof
from .pipeline_memory_proof import MEMORY_PROOF_DEPTH, PipelinedMemoryShadowProof
from .morton_proof import MortonRoundTrip
from .regfile_proof import RegisterFileProof
from .sby import run_sby

__all__ = ["Proof", "PROOFS"]


class Proof:
    def __init__(self, name, make, depth, summary, slow=False, mode="prove", script=(),
                 config=None):
        self.name = name
        self.make = make
        self.depth = depth
        self.summary = summary
        self.slow = slow
        self.mode = mode
        self.script = tuple(script)     # extra Yosys commands before ``prep``
        self.config = config

    def run(self, workdir=None, timeout=3600):
        """Build the harness and run SymbiYosys on it; an :class:`SbyResult`."""
        return run_sby(self.make(), name=self.name, mode=self.mode, depth=self.depth,
                       script_extra=self.script, workdir=workdir, timeout=timeout)


def _core(name, config, depth, summary, slow=False):
    return Proof(name, lambda: CoreCommitProof(config), depth, summary, slow=slow, mode="bmc",
                 script=CoreCommitProof.FREE_START_SCRIPT, config=config)


def _bram_files():
    """The shapes of the block RAM register files of the iCEBreaker's core."""
    from boards.icebreaker import CONFIG
    from hdl.core import block_ram_register_files
    return block_ram_register_files(CONFIG.dim_bits)


#: The core proofs' configurations (docs/isa.md section 9 names the real ones).
CORE_SMALL = CoreConfig(dim_bits=1, set_bits=1, ways=1, prog_depth=4, float_latency=2)
CORE_WAYS2 = CoreConfig(dim_bits=1, set_bits=1, ways=2, prog_depth=4, float_latency=3)
#: The same for the pipelined core (hdl/pipeline/), at its smallest float latencies.
PIPELINE_SMALL = CORE_SMALL.with_timing(Timing.pipelined(5))
PIPELINE_WAYS2 = CORE_WAYS2.with_timing(Timing.pipelined(6))


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
    Proof("regfile_data", lambda: RegisterFileProof(**_bram_files()[0]), 8,
          "block RAM data register file of the iCEBreaker's core (32 x 32 bits, 5 read and "
          "4 write ports, 2 copies, 5 clocks per cycle) reads exactly what the flip-flop file "
          "would: every register as of the cycle's start, the higher write port winning"),
    Proof("regfile_coord", lambda: RegisterFileProof(**_bram_files()[1]), 8,
          "the same for its block RAM coordinate register file (8 x 54 bits, 3 read ports, "
          "1 write port, 1 copy)"),
    _core("core_small", CORE_SMALL, 6,
          "Sentron core (B=1, 2 sets x 1 way, 4 SIWs, F=2), BOUNDED: the first 3 SIWs of every "
          "run (2 with the state after) commit exactly their lanes, a fault commits nothing"),
    _core("core_ways2", CORE_WAYS2, 7,
          "the same, B=1, 2 sets x 2 ways, 4 SIWs, F=3, the first 4 (3) SIWs of a run (slow)",
          slow=True),
    Proof("pipeline_memory_1_1_2",
          lambda: PipelinedMemoryShadowProof(dim_bits=1, set_bits=1, ways=2), MEMORY_PROOF_DEPTH,
          "the pipelined core's coordinate memory (stages A M N T W), 9-bit keys, 2 sets x 2 "
          "ways: no entry lost/changed/invented, exact w_full, lowest-free placement, in-flight "
          "writes patched in"),
    Proof("pipeline_memory_1_2_3",
          lambda: PipelinedMemoryShadowProof(dim_bits=1, set_bits=2, ways=3), MEMORY_PROOF_DEPTH,
          "the same, 9-bit keys, 4 sets x 3 ways (slow)", slow=True),
    Proof("pipeline_memory_2_1_2",
          lambda: PipelinedMemoryShadowProof(dim_bits=2, set_bits=1, ways=2), MEMORY_PROOF_DEPTH,
          "the same, 18-bit keys, 2 sets x 2 ways (slow)", slow=True),
    _core("pipeline_core_small", PIPELINE_SMALL, 10,
          "the pipelined core (F D R X M N T W; B=1, 2 sets x 1 way, 4 SIWs, F=5), BOUNDED: the "
          "first 2 SIWs of every run (1 with the state after) commit exactly their lanes, a "
          "fault commits nothing"),
    _core("pipeline_core_ways2", PIPELINE_WAYS2, 12,
          "the same, B=1, 2 sets x 2 ways, 4 SIWs, F=6, the first 4 (3) SIWs of a run (slow)",
          slow=True),
]}
