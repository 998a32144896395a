"""The host's side of a GPT run: the control words, the image to load, running an engine, reading the names back.

Why a module: ``vtpu gpt``, the tests and the benchmarks all drive the core the
same way the issue asks a host to, and nothing more: load the program and a
memory image (the weights and the control words) with ``write_memory``, run,
and read the generated tokens back from the names region of coordinate
memory (docs/gpt.md section 7).
"""

import struct
from dataclasses import dataclass

from sim.image.memory_image import read_image
from sim.isa.coord import morton_key

from .model import (BLOCK_SIZE, BOS, CONTROL_WORDS, LAYOUT, N_EMBD, VOCAB_SIZE, WEIGHTS_PATH,
                    decode)

__all__ = ["MAX_SAMPLES", "control_entries", "gpt_image_entries", "read_tokens",
           "read_names", "read_logits", "Generation", "generate_on"]

#: Rows of the names region: the most names one run can return.
MAX_SAMPLES = LAYOUT["names"].rows


def _f32_bits(value):
    return struct.unpack("<I", struct.pack("<f", value))[0]


def control_entries(*, samples, seed=1, temperature=None, greedy=False):
    """The control row's entries ``(key, value)``: seed, 1/temperature (binary32), samples, greedy.

    ``temperature`` None with ``greedy``; sampling needs a positive one and a seed
    in 1..2**32-1.  ``samples`` is 1..:data:`MAX_SAMPLES`.
    """
    if isinstance(samples, bool) or not isinstance(samples, int) or not 1 <= samples <= MAX_SAMPLES:
        raise ValueError(f"samples must be 1..{MAX_SAMPLES}, not {samples!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 < seed < 1 << 32:
        raise ValueError(f"the seed must be 1..2**32-1, not {seed!r}")
    if not greedy and not (isinstance(temperature, (int, float)) and temperature > 0):
        raise ValueError(f"sampling needs a positive temperature, not {temperature!r}")
    words = {"seed": seed, "inv_temperature": _f32_bits(1.0 / temperature) if not greedy else 0,
             "samples": samples, "greedy": int(bool(greedy))}
    control = LAYOUT["control"]
    return [(control.key(0, CONTROL_WORDS.index(name)), value) for name, value in words.items()]


def gpt_image_entries(control, weights_path=WEIGHTS_PATH):
    """The entries the host loads: the weights image's, then the control words."""
    return list(read_image(weights_path).entries) + list(control)


def read_tokens(entries, samples):
    """The tokens of each name from a memory's ``{key: value}``: up to BOS or 16 letters."""
    names = LAYOUT["names"]
    result = []
    for s in range(samples):
        tokens = []
        for t in range(BLOCK_SIZE):
            token = entries.get(names.key(s, t))
            if token is None or token == BOS:
                break
            if not 0 <= token < VOCAB_SIZE:
                raise ValueError(f"name {s}, position {t}: {token} is not a token")
            tokens.append(token)
        result.append(tokens)
    return result


def read_names(entries, samples):
    return [decode(tokens) for tokens in read_tokens(entries, samples)]


def read_logits(entries, position):
    """The 27 logits (binary32 bit patterns) the logit-dumping program left for ``position``."""
    from .program import ROWS
    row = ROWS["logit_dump"] + 2 * position
    slots = [entries.get(morton_key((row + k // N_EMBD, 0, 0, 0, 0, 0, 0, 0, k % N_EMBD), 11), 0)
             for k in range(2 * N_EMBD)]
    return slots[:VOCAB_SIZE]


@dataclass
class Generation:
    """One run's result: ``names``, the final ``state``, and the run's counters."""
    names: list
    tokens: int
    state: object

    @property
    def cycles(self):
        return self.state.cycles

    @property
    def ops(self):
        return self.state.ops

    @property
    def cycles_per_token(self):
        return self.cycles / self.tokens if self.tokens else 0.0

    @property
    def ops_per_token(self):
        return self.ops / self.tokens if self.tokens else 0.0

    @property
    def ops_per_cycle(self):
        return self.ops / self.cycles if self.cycles else 0.0


def generate_on(engine, words, control, *, samples, max_cycles=None):
    """Load ``words`` and the image (weights + ``control``) into ``engine``, run, read the names.

    ``tokens`` counts the forward passes: each name's letters plus its BOS (none
    after 16 letters).
    """
    engine.load_program(words)
    engine.write_memory(gpt_image_entries(control))
    state = engine.run(max_cycles)
    entries = state.entries()
    tokens = read_tokens(entries, samples) if state.halted else []
    steps = sum(min(len(t) + 1, BLOCK_SIZE) for t in tokens)
    return Generation([decode(t) for t in tokens], steps, state)
