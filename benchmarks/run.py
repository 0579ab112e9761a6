"""All three speed measurements from one run, each section a script of its own.

1. ``strategies_vs_hypothesis.py``: examples/s of our strategies against
   ``hypothesis.extra.numpy`` and hypothesis-torch (process CPU time);
2. and 3. ``suite_overhead.py``: the whole suite's wall time with ``-n 0``
   and ``-n 2``, and each suite's time per example against a bare ``@given``
   drawing the same data.

    python benchmarks/run.py --examples 1000 --repeats 5 --suite-repeats 3

See each script's docstring for its method.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import strategies_vs_hypothesis
import suite_overhead


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--baseline", type=Path, help="a directory with an older strategies/")
    parser.add_argument("--suite-repeats", type=int, default=3)
    parser.add_argument("--omp-threads", type=int)
    args = parser.parse_args()
    print("== 1. strategies against Hypothesis and hypothesis-torch ==")
    argv = ["--examples", str(args.examples), "--repeats", str(args.repeats)]
    if args.baseline:
        argv += ["--baseline", str(args.baseline)]
    strategies_vs_hypothesis.main(argv)
    print()
    argv = ["--repeats", str(args.suite_repeats)]
    if args.omp_threads:
        argv += ["--omp-threads", str(args.omp_threads)]
    suite_overhead.main(argv)


if __name__ == "__main__":
    main()
