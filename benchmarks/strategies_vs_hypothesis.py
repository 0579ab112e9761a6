"""Examples per second of our strategies against Hypothesis' own, side by side.

Each strategy is driven through a bare ``@given`` test whose body only
counts, under identical explicit settings, so the ratio is the cost of drawing
alone. Pairs are measured interleaved (ours, theirs, ours, ...) and each
figure is the median of ``--repeats`` runs, all in one process on one machine.

    python benchmarks/strategies_vs_hypothesis.py --examples 1500 --repeats 3

Set HYPOTHESIS_NO_PLUGINS=1 so that no installed Hypothesis plugin (such as
hypothesis-torch's, which imports torch and registers its RNG) skews the
numbers; the script warns when one is loaded.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import hypothesis.extra.numpy as hnp
import numpy as np
import torch
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import strategies as ours

MAX_DIMS, MAX_SIDE = 4, 8


def _examples_per_second(strategy: st.SearchStrategy, examples: int) -> float:
    count = 0

    @settings(
        max_examples=examples,
        database=None,
        derandomize=True,
        deadline=None,
        phases=(Phase.generate,),
        # Measuring raw drawing speed: the benchmark itself is the slow test.
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def run(_: object) -> None:
        nonlocal count
        count += 1

    start = time.perf_counter()
    run()
    return count / (time.perf_counter() - start)


def _pairs() -> dict[str, tuple[st.SearchStrategy, st.SearchStrategy]]:
    theirs_mbs = hnp.mutually_broadcastable_shapes(
        num_shapes=2, min_dims=0, max_dims=MAX_DIMS, min_side=0, max_side=MAX_SIDE
    )

    def their_pair(shapes: hnp.BroadcastableShapes) -> st.SearchStrategy:
        (a, b), _ = shapes
        elements = st.floats(-100, 100, width=32)
        return st.tuples(
            hnp.arrays(np.float32, a, elements=elements).map(torch.from_numpy),
            hnp.arrays(np.float32, b, elements=elements).map(torch.from_numpy),
        )

    big = (MAX_SIDE + 1) ** MAX_DIMS  # no numel cap: the same space as Hypothesis'
    return {
        "shapes vs array_shapes": (
            ours.shapes(min_dims=0, max_dims=MAX_DIMS, max_side=MAX_SIDE, max_numel=big),
            hnp.array_shapes(min_dims=0, max_dims=MAX_DIMS, min_side=0, max_side=MAX_SIDE),
        ),
        "mutually_broadcastable_shapes": (
            ours.mutually_broadcastable_shapes(
                num_shapes=2, max_dims=MAX_DIMS, max_side=MAX_SIDE, max_numel=big
            ),
            theirs_mbs,
        ),
        "broadcastable_pairs vs arrays->from_numpy": (
            ours.broadcastable_pairs(max_dims=MAX_DIMS, max_side=MAX_SIDE, max_numel=big),
            theirs_mbs.flatmap(their_pair),
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=1500)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if os.environ.get("HYPOTHESIS_NO_PLUGINS") != "1":
        print("note: set HYPOTHESIS_NO_PLUGINS=1 to keep third-party plugins out\n")
    print(f"{args.examples} examples per run, median of {args.repeats}; torch {torch.__version__}")
    print(f"{'pair':45} {'ours/s':>9} {'theirs/s':>9} {'ratio':>6}")
    for name, (mine, theirs) in _pairs().items():
        runs: dict[str, list[float]] = {"ours": [], "theirs": []}
        measure: Callable[[st.SearchStrategy], float] = lambda s: _examples_per_second(  # noqa: E731
            s, args.examples
        )
        for _ in range(args.repeats):
            runs["ours"].append(measure(mine))
            runs["theirs"].append(measure(theirs))
        a, b = statistics.median(runs["ours"]), statistics.median(runs["theirs"])
        print(f"{name:45} {a:9.0f} {b:9.0f} {a / b:6.2f}")


if __name__ == "__main__":
    main()
