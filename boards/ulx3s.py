"""ULX3S (Lattice ECP5 LFE5U-85F) top level: PLL, Sentron + host link, LEDs.

The 25 MHz oscillator feeds an ``EHXPLLL`` that makes :data:`DEFAULT_FREQ`.  The
85F has 84k LUTs, 208 block RAMs of 18 kbit and 156 18x18 multipliers, so the
core keeps the ISA's defaults except for a coordinate memory eight times the
default's (:data:`CONFIG`): 2048 sets of 4 ways, 8192 entries, enough for the
GPT's weights (docs/gpt.md), in 56 of the block RAMs (docs/boards.md).  It is
the pipelined core (``hdl/pipeline/``, eight stages, float latency 7: the
timing table ``Timing.pipelined(7)``), the one built for this fabric's clock: its
float unit is no deeper than 40 MHz needs, since the clock is bounded by the
coordinate memory and the register read, not by the float unit (docs/boards.md),
and every stage more costs cycles (reduction.vasm: 2.90 ops/cycle at 7, 2.89 at
8; the GPT: docs/gpt.md).  The host link is on
the FTDI USB UART (``/dev/ttyUSB0`` on the host), at the fastest of the FT231X's
rates (:data:`BRIDGE_RATES`) that the system clock divides cleanly.

LEDs (D0..D3): running, halted, fault, link busy.
"""

from amaranth.hdl import Instance, Module, Signal
from amaranth.lib import io, wiring
from amaranth_boards.ulx3s import ULX3S_85F_Platform

from sim.isa.encoding import CoreConfig, Timing

from .pll import ecp5_pll
from .top import BoardTop, LinkRate, connect_board

__all__ = ["ULX3STop", "CONFIG", "REGFILE", "DEFAULT_FREQ", "BRIDGE_RATES", "system_clock",
           "link_rate", "platform"]

#: The core on the 85F: the ISA's defaults, with 2048 sets x 4 ways of coordinate
#: memory, on the pipelined core (float latency 7).
CONFIG = CoreConfig(set_bits=11, ways=4).with_timing(Timing.pipelined(7))
#: The data register file in the slices' distributed RAM (hdl/regfile.py): in
#: flip-flops it is half the core's logic and a routing knot.
REGFILE = "lutram"
#: System clock made by the PLL from 25 MHz.
DEFAULT_FREQ = 40e6
#: Host-link rates, fastest first: those the FT231X makes exactly from its 3 MHz
#: baud clock (divided by 1, 1.5, 2 and 3; it goes no faster than 3 Mbaud).  The
#: default is the first the system clock divides within hdl/uart.py's 2 %: at
#: 40 MHz, 3 Mbaud would take a divisor of 13.3 (13: 2.6 % fast), so 2 Mbaud
#: (divisor 20, exact); from 75 MHz on always 3 Mbaud (100 MHz: 33, 1 % fast).
BRIDGE_RATES = (3_000_000, 2_000_000, 1_500_000, 1_000_000)
#: Host-link idle timeout: 10 ms, far above any gap inside a frame written at once.
TIMEOUT_S = 0.010

#: (resource, number, BoardTop LED) of each status LED.
_LEDS = (("led", 0, "led_running"), ("led", 1, "led_halted"),
         ("led", 2, "led_fault"), ("led", 3, "led_link"))


def platform():
    return ULX3S_85F_Platform()


def system_clock(freq=DEFAULT_FREQ):
    """The clock the PLL makes for a requested ``freq``: the highest it reaches not above it."""
    return ecp5_pll(25e6, freq).f_out


def link_rate(freq=DEFAULT_FREQ, baud=None):
    """The host link's :class:`~boards.top.LinkRate` at :func:`system_clock` ``(freq)``:
    ``baud``, or if None the fastest of :data:`BRIDGE_RATES` that clock divides cleanly."""
    return LinkRate.choose(system_clock(freq), BRIDGE_RATES, baud)


class ULX3STop(wiring.Component):
    """The ULX3S bitstream's top level (elaborates only on a ULX3S platform).

    ``baud``: the host link's rate (:func:`link_rate`; ``self.rate``).  A rate the
    clock cannot divide cleanly is a :class:`hdl.uart.BaudError`.
    """

    def __init__(self, config=CONFIG, freq=DEFAULT_FREQ, memory_init=(), baud=None, core=None):
        self.pll = ecp5_pll(25e6, freq)
        self.freq = self.pll.f_out
        self.rate = link_rate(freq, baud)
        self.top = BoardTop(config, divisor=self.rate.divisor,
                            timeout=int(self.freq * TIMEOUT_S), memory_init=memory_init, core=core,
                            regfile=REGFILE)
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        pll = self.pll

        m.submodules.clk25 = clk25 = io.Buffer("i", platform.request("clk25", 0, dir="-"))
        pll_clk = Signal()
        locked = Signal()
        m.submodules.pll = Instance(
            "EHXPLLL",
            a_FREQUENCY_PIN_CLKI=f"{pll.f_in / 1e6:.6f}",
            a_FREQUENCY_PIN_CLKOP=f"{pll.f_out / 1e6:.6f}",
            a_ICP_CURRENT="12", a_LPF_RESISTOR="8",
            a_MFG_ENABLE_FILTEROPAMP="1", a_MFG_GMCREF_SEL="2",
            p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
            p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA", p_OUTDIVIDER_MUXB="DIVB",
            p_OUTDIVIDER_MUXC="DIVC", p_OUTDIVIDER_MUXD="DIVD",
            p_CLKI_DIV=pll.clki_div, p_CLKOP_ENABLE="ENABLED", p_CLKOP_DIV=pll.clkop_div,
            p_CLKOP_CPHASE=pll.clkop_div - 1, p_CLKOP_FPHASE=0,
            p_FEEDBK_PATH="CLKOP", p_CLKFB_DIV=pll.clkfb_div,
            i_CLKI=clk25.i, o_CLKOP=pll_clk, i_CLKFB=pll_clk,
            i_RST=0, i_STDBY=0, i_PHASESEL0=0, i_PHASESEL1=0, i_PHASEDIR=1, i_PHASESTEP=1,
            i_PHASELOADREG=1, i_PLLWAKESYNC=0, i_ENCLKOP=0, o_LOCK=locked)
        connect_board(m, platform, self.top, pll_clk, locked, self.freq, _LEDS)
        return m
