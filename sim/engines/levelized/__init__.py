"""Amaranth's Python simulator with the design's combinational logic levelized: settled in one pass.

Why
---
Amaranth 0.5's simulator (``amaranth.sim.pysim``) compiles the combinational
statements of each fragment (each elaborated module) into one Python function,
and runs every function whose inputs changed once per *delta cycle*; reading a
signal, a function sees its value from before the delta cycle.  So a value that
passes through ``n`` combinational signals in a row settles only after ``n``
delta cycles, and every delta cycle re-runs each whole fragment any of whose
inputs just changed.  In the Sentron core (``hdl/core.py``) a clock edge took
about fifteen delta cycles, and the decoder, the coordinate memory and the float
unit's first step ran four to six times per clock.  The generated code also
repeats shared subexpressions (the decoder's ``illegal``, used by ten outputs, is
computed ten times) and masks every value at every use.

:class:`LevelizedEngine` is the same simulator (the same signal states, delta
cycles, triggers, testbenches, waveforms) with another compiler:

1. **Per-signal nodes** (:mod:`.graph`).  The comb statements of a fragment are
   split per driven signal (signals assigned together by one ``Cat`` on the left
   stay together): a node is the statements that assign its signals, their
   ``If``/``Switch`` structure kept.
2. **Levelized** (:mod:`.engine`).  The nodes of the whole design are ordered so
   that each comes after every node whose signals it reads (Tarjan's strongly
   connected components), and one Python function evaluates them in that order,
   each read of an earlier node's signal taking the value just computed: one run
   settles the whole design.  A node that reads its own signals (through others,
   or a struct's field another field of which it computes) is iterated until
   nothing changes, as the delta cycles would; :class:`SettleError` if it does
   not settle.  The clocked logic of each clock domain is one function too.
3. **Leaner code** (:mod:`.codegen`): each subexpression computed once per scope
   of the generated code, no mask where a value needs none, a ``Mux`` as a
   conditional expression, an XOR tree over bits of one value as one bit count.

Signals change at the same simulated times, to the same values, as with
Amaranth's own compiler (tests/test_levelized.py compares the two on random
designs and on the core, every signal in every clock); a clock edge costs two
delta cycles (the registers, then the logic).  Only the number of delta cycles
and of evaluations differs, which a testbench cannot observe.

The engine builds on pysim's private compiler classes (Amaranth 0.5):
:func:`available` says whether they are there, and :func:`make_simulator` falls
back to Amaranth's own engine if they are not.
"""

from .engine import LevelizedEngine, SettleError, available, make_simulator, value_reader

__all__ = ["LevelizedEngine", "SettleError", "available", "make_simulator", "value_reader"]
