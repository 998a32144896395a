"""PLL settings for the boards' clocks: the highest frequency not above a target.

Both searches walk the divider ranges of the datasheets (the same constraints as
``icepll`` and ``ecppll`` of Project IceStorm and Project Trellis) and choose the
reachable output frequency closest to the target from below, so the design is
never clocked faster than asked.
"""

from dataclasses import dataclass

__all__ = ["Ice40Pll", "Ecp5Pll", "ice40_pll", "ecp5_pll"]


@dataclass(frozen=True)
class Ice40Pll:
    """SB_PLL40 parameters: f_out = f_in * (DIVF + 1) / ((DIVR + 1) * 2**DIVQ)."""
    divr: int
    divf: int
    divq: int
    filter_range: int
    f_in: float
    f_out: float


@dataclass(frozen=True)
class Ecp5Pll:
    """EHXPLLL parameters: f_out = f_in * CLKFB_DIV / CLKI_DIV; f_vco = f_out * CLKOP_DIV."""
    clki_div: int
    clkfb_div: int
    clkop_div: int
    f_in: float
    f_out: float


def ice40_pll(f_in, target):
    """The SB_PLL40 setting giving the highest f_out <= target (Hz)."""
    best = None
    for divr in range(16):
        f_pfd = f_in / (divr + 1)
        if not 10e6 <= f_pfd <= 133e6:
            continue
        for divf in range(128):
            f_vco = f_pfd * (divf + 1)
            if not 533e6 <= f_vco <= 1066e6:
                continue
            for divq in range(1, 7):
                f_out = f_vco / (1 << divq)
                if f_out <= target and (best is None or f_out > best.f_out):
                    # Loop filter range by phase-detector frequency (iCE40 sysCLOCK guide).
                    filter_range = next(i for i, limit in enumerate(
                        (17e6, 26e6, 44e6, 66e6, 101e6, float("inf")), start=1) if f_pfd < limit)
                    best = Ice40Pll(divr, divf, divq, filter_range, f_in, f_out)
    if best is None or best.f_out < 16e6:
        raise ValueError(f"no iCE40 PLL setting reaches {target / 1e6:.2f} MHz from "
                         f"{f_in / 1e6:.2f} MHz (the PLL's output is at least 16 MHz)")
    return best


def ecp5_pll(f_in, target):
    """The EHXPLLL setting giving the highest f_out <= target (Hz)."""
    best = None
    for clki_div in range(1, 129):
        f_pfd = f_in / clki_div
        if not 3.125e6 <= f_pfd <= 400e6:
            continue
        for clkfb_div in range(1, 81):
            f_out = f_pfd * clkfb_div
            if not 3.125e6 <= f_out <= 400e6 or f_out > target:
                continue
            for clkop_div in range(1, 129):
                f_vco = f_out * clkop_div
                if 400e6 <= f_vco <= 800e6:
                    if best is None or f_out > best.f_out:
                        best = Ecp5Pll(clki_div, clkfb_div, clkop_div, f_in, f_out)
                    break
    if best is None:
        raise ValueError(f"no ECP5 PLL setting reaches {target / 1e6:.2f} MHz from "
                         f"{f_in / 1e6:.2f} MHz")
    return best
