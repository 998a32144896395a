"""Where and how a benchmark run happens: the repository, the machine, progress on stderr.

Why apart: every section of the run names files relative to the repository and
reports progress the same way, and the page's first line says on what machine the
figures were measured (wall-clock figures depend on it).
"""

import os
import sys

__all__ = ["ROOT", "say", "environment"]

#: The repository's root.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def say(text):
    """A progress line on stderr (the tables go to stdout)."""
    print(text, file=sys.stderr, flush=True)


def environment():
    """The page's machine line: Python, Amaranth, machine, CPUs, load at the start."""
    import platform
    import amaranth
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"Python {platform.python_version()}, Amaranth {amaranth.__version__}, "
            f"{platform.machine()}, {os.cpu_count()} CPUs, load average {load:.1f} at the start")
