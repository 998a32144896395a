"""iCEBreaker (Lattice iCE40UP5K-SG48) top level: clock, Sentron + host link, LEDs.

The 12 MHz oscillator enters on pin 35, which is the PLL's input pad.  The core
placed on this part reaches about 16 MHz (docs/boards.md: place and route reports
the Fmax), below the PLL's lowest output (16 MHz), so by default
(:data:`DEFAULT_FREQ`) the oscillator clocks it directly; a ``--freq`` of 16 MHz
or more gets an ``SB_PLL40_PAD``.  The core is sized to the part (:data:`CONFIG`,
:data:`REGFILE`): the UP5K has 5280 logic cells, 30 block RAMs of 4 kbit and 8
DSP multipliers.  The host link runs at the fastest of the FT2232H's rates
(:data:`BRIDGE_RATES`) that the clock divides cleanly: 3 Mbaud at 12 MHz.

LEDs: the green user LED is *running*, the red one is *fault*; on the snap-off
PMOD, LED1 (left) is *halted* and LED2 is *link busy*.
"""

from amaranth.hdl import Const, Instance, Module, Signal
from amaranth.lib import io, wiring
from amaranth_boards.icebreaker import ICEBreakerPlatform

from sim.isa.encoding import CoreConfig

from .pll import ice40_pll
from .top import BoardTop, LinkRate, connect_board

__all__ = ["ICEBreakerTop", "CONFIG", "REGFILE", "DEFAULT_FREQ", "BRIDGE_RATES", "system_clock",
           "link_rate", "platform"]

#: The core on the UP5K: 6-bit dimensions (coordinates 0..63), 64 sets x 2 ways,
#: 256 SIWs, and no float unit (float operations are illegal SIWs: docs/isa.md
#: section 3, rule 5).  The float unit alone is some 3,000 LUTs, more than half the
#: part; with 8-bit dimensions the rest is 5,680 logic cells, 108 % of it.
CONFIG = CoreConfig(dim_bits=6, set_bits=6, ways=2, prog_depth=256, float_latency=0)
#: Both register files in block RAM, five clocks per core cycle (hdl/core.py): the
#: flip-flop files would be 10,000 LUTs, twice the part, and iCE40 has no LUT RAM.
REGFILE = "bram"
#: System clock: below 16 MHz, the 12 MHz oscillator itself; else made by the PLL.
DEFAULT_FREQ = 12e6
#: Host-link rates, fastest first: those the FT2232H makes exactly from its 12 MHz
#: baud clock (divided by 4, 6, 8 and 12; it goes to 12 Mbaud, but 3 Mbaud is the
#: most the 12 MHz clock takes: a divisor of 4, hdl/uart.py's minimum).  The
#: default is the first the system clock divides within hdl/uart.py's 2 %: 3 Mbaud
#: at 12 MHz (divisor 4, exact).
BRIDGE_RATES = (3_000_000, 2_000_000, 1_500_000, 1_000_000)
#: Host-link idle timeout: 10 ms, far above any gap inside a frame written at once.
TIMEOUT_S = 0.010

#: (resource, number, BoardTop LED) of each status LED.
_LEDS = (("led_g", 0, "led_running"), ("led_r", 0, "led_fault"),
         ("led_r", 1, "led_halted"), ("led_g", 1, "led_link"))


def platform():
    p = ICEBreakerPlatform()
    p.add_resources(p.break_off_pmod)
    return p


def _pll(freq):
    # The PLL makes 16 MHz at least; below that the core runs from the oscillator.
    return ice40_pll(12e6, freq) if freq >= 16e6 else None


def system_clock(freq=DEFAULT_FREQ):
    """The clock for a requested ``freq``: the oscillator's 12 MHz below 16 MHz, else
    the highest the PLL reaches not above ``freq``."""
    pll = _pll(freq)
    return pll.f_out if pll else 12e6


def link_rate(freq=DEFAULT_FREQ, baud=None):
    """The host link's :class:`~boards.top.LinkRate` at :func:`system_clock` ``(freq)``:
    ``baud``, or if None the fastest of :data:`BRIDGE_RATES` that clock divides cleanly."""
    return LinkRate.choose(system_clock(freq), BRIDGE_RATES, baud)


class ICEBreakerTop(wiring.Component):
    """The iCEBreaker bitstream's top level (elaborates only on an ICEBreakerPlatform).

    ``baud``: the host link's rate (:func:`link_rate`; ``self.rate``).  A rate the
    clock cannot divide cleanly is a :class:`hdl.uart.BaudError`.
    """

    def __init__(self, config=CONFIG, freq=DEFAULT_FREQ, memory_init=(), baud=None, core=None):
        self.pll = _pll(freq)
        self.freq = system_clock(freq)
        self.rate = link_rate(freq, baud)
        self.top = BoardTop(config, divisor=self.rate.divisor,
                            timeout=int(self.freq * TIMEOUT_S), memory_init=memory_init, core=core,
                            regfile=REGFILE)
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        pll = self.pll

        clk_pin = platform.request("clk12", dir="-")
        clk = Signal()
        if pll is None:
            m.submodules.clk_buf = clk_buf = io.Buffer("i", clk_pin)
            m.d.comb += clk.eq(clk_buf.i)
            locked = Const(1)
        else:
            locked = Signal()
            m.submodules.pll = Instance(
                "SB_PLL40_PAD",
                p_FEEDBACK_PATH="SIMPLE",
                p_DIVR=pll.divr, p_DIVF=pll.divf, p_DIVQ=pll.divq, p_FILTER_RANGE=pll.filter_range,
                i_PACKAGEPIN=clk_pin.io, i_RESETB=1, i_BYPASS=0,
                o_PLLOUTGLOBAL=clk, o_LOCK=locked)
        connect_board(m, platform, self.top, clk, locked, self.freq, _LEDS)
        return m
