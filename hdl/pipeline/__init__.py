"""The eight-stage Sentron core (F D R X M N T W): the microarchitecture built for the ECP5 fabric's clock.

Its own issue unit, operand network, coordinate memory, S lane, debug unit and
core; it shares the decoder, the lanes' arithmetic, the register files and the
debug port with the three-stage core of ``hdl/`` (``hdl.core.Sentron``, the
compact one, which the iCEBreaker builds).  Which of the two a configuration
needs follows from its timing table (:func:`hdl.cores.core_class`).
"""
