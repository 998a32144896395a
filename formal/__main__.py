"""``python -m formal [--keep DIR] [NAME...]``: run the proofs, print each verdict.

With ``--keep DIR`` each job (RTLIL, .sby file, SymbiYosys logs and any
counterexample trace) stays in ``DIR/NAME`` (use a build/ folder: these are build
outputs, never committed).  Exit status 0 only if every proof passes.
"""

import argparse
import sys
import time
from pathlib import Path

from boards.toolchain import ToolchainError

from .proofs import PROOFS
from .sby import prepare_tools, sby_available


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m formal", description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help=f"proofs to run (default: all): {', '.join(PROOFS)}")
    parser.add_argument("--keep", metavar="DIR", help="keep each job under DIR/NAME")
    args = parser.parse_args(argv)
    missing = sby_available()
    if missing:
        print(f"error: {missing} is not installed", file=sys.stderr)
        return 2
    for name in args.names:
        if name not in PROOFS:
            parser.error(f"unknown proof {name!r}; known: {', '.join(PROOFS)}")
    try:
        prepare_tools()       # a tool's first run on this machine is not a proof's time
    except ToolchainError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    ok = True
    for name in args.names or list(PROOFS):
        proof = PROOFS[name]
        start = time.monotonic()
        result = proof.run(workdir=Path(args.keep) / name if args.keep else None)
        print(f"{result.status:7} {name:14} {proof.mode} depth {proof.depth}  "
              f"{time.monotonic() - start:6.1f} s  {proof.summary}")
        ok &= result.status == "PASS"
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
