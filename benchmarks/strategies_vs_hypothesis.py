"""Examples per second of our strategies against Hypothesis' own and hypothesis-torch's.

Each strategy is driven through a bare ``@given`` test whose body does
nothing, under identical explicit settings (generate phase only, no
database), so a ratio is the cost of drawing alone. The comparisons, on the
same bounds (up to 4 dims, sides 0..8, no element cap):

* ``shapes`` against ``hypothesis.extra.numpy.array_shapes``;
* ``mutually_broadcastable_shapes`` (2 shapes) against Hypothesis' own;
* ``broadcastable_pairs`` (float32) against Hypothesis' broadcastable shapes
  flat-mapped into two ``arrays(float32, shape, elements=...)`` mapped through
  ``torch.from_numpy``;
* ``tensors(shape=shapes(...))`` (float32) against ``arrays(float32,
  array_shapes(...), elements=...)`` mapped through ``torch.from_numpy``, and
  against hypothesis-torch's ``tensor_strategy`` on the same shapes, once
  given the same ``elements`` and once with its defaults (which also draw
  NaNs, sparse layouts and ``requires_grad``).

The other side's elements are ours: finite floats in [-100, 100] at float32's
width, no subnormals. The distributions of shapes are each library's own
within those bounds, so the mean number of elements per example is printed
beside each rate.

Method: each figure is examples per second of *process CPU time* (this
process' user + system time, all threads), which other jobs on a shared
machine disturb far less than wall time. Repetition ``r`` runs every
strategy of a row with ``@seed(r)``, one after another (interleaved), and
each figure is the median over the repetitions; so every rate is a median
over ``--repeats`` different samples of its distribution. With
``--baseline DIR`` (a directory holding an older ``strategies/``, e.g.
``git archive <commit> strategies | tar -x -C DIR``) that version is
measured in the same rows, interleaved too, for before/after ratios.

Before timing, each of our strategies runs once with every health check on.

    python benchmarks/strategies_vs_hypothesis.py --examples 1000 --repeats 5

hypothesis-torch is never a dependency of the kit: install it in a
throwaway environment and run this script with that environment's Python.
Its Hypothesis plugin (which imports torch and registers torch's RNG, ~30%
per example) is switched off with HYPOTHESIS_NO_PLUGINS=1, set by this
script for itself, which favours hypothesis-torch.
"""

from __future__ import annotations

import os

os.environ.setdefault("HYPOTHESIS_NO_PLUGINS", "1")  # before Hypothesis is imported

import argparse
import importlib
import statistics
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import hypothesis.extra.numpy as hnp
import numpy as np
import torch
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parent.parent
MAX_DIMS, MAX_SIDE = 4, 8
NO_CAP = (MAX_SIDE + 1) ** MAX_DIMS  # a numel cap that never binds: Hypothesis' space
ELEMENTS = st.floats(
    -100, 100, width=32, allow_nan=False, allow_infinity=False, allow_subnormal=False
)


def load_strategies(path: Path | None) -> ModuleType:
    """The ``strategies`` package under ``path`` (the checkout by default),
    imported apart from any other copy so that two versions can be compared."""
    root = str(path or REPO)
    saved = {
        k: m for k, m in sys.modules.items() if k == "strategies" or k.startswith("strategies.")
    }
    for k in saved:
        del sys.modules[k]
    sys.path.insert(0, root)
    try:
        module = importlib.import_module("strategies")
    finally:
        sys.path.remove(root)
        for k in [k for k in sys.modules if k == "strategies" or k.startswith("strategies.")]:
            del sys.modules[k]
        sys.modules.update(saved)
    return module


def _numel(value: Any) -> int:
    if isinstance(value, torch.Tensor):
        return value.numel()
    if isinstance(value, tuple) and value and isinstance(value[0], torch.Tensor):
        return sum(t.numel() for t in value if isinstance(t, torch.Tensor))
    return 0


def run_once(
    strategy: st.SearchStrategy, examples: int, repetition: int, health_checks: bool = False
) -> tuple[float, float]:
    """(examples per CPU second, mean elements per example) for one seeded run."""
    count = 0
    elements = 0

    @seed(repetition)
    @settings(
        max_examples=examples,
        database=None,
        derandomize=False,
        deadline=None,
        phases=(Phase.generate,),
        # Timing runs measure raw drawing speed, theirs included: no health
        # checks. Ours are run with every check on before timing.
        suppress_health_check=() if health_checks else list(HealthCheck),
    )
    @given(strategy)
    def bare(value: object) -> None:
        nonlocal count, elements
        count += 1
        elements += _numel(value)

    start = time.process_time()
    bare()
    spent = time.process_time() - start
    return count / spent, elements / max(count, 1)


def rows(ours: ModuleType, ht: ModuleType | None) -> dict[str, dict[str, Any]]:
    """Each row: our strategy (built from ``ours``) and the strategies it is compared with."""
    their_mbs = hnp.mutually_broadcastable_shapes(
        num_shapes=2, min_dims=0, max_dims=MAX_DIMS, min_side=0, max_side=MAX_SIDE
    )
    their_shapes = hnp.array_shapes(min_dims=0, max_dims=MAX_DIMS, min_side=0, max_side=MAX_SIDE)

    def numpy_pair(shapes: Any) -> st.SearchStrategy:
        (a, b), _ = shapes
        return st.tuples(
            hnp.arrays(np.float32, a, elements=ELEMENTS).map(torch.from_numpy),
            hnp.arrays(np.float32, b, elements=ELEMENTS).map(torch.from_numpy),
        )

    table: dict[str, dict[str, Any]] = {
        "shapes": {
            "ours": lambda kit: kit.shapes(max_dims=MAX_DIMS, max_side=MAX_SIDE, max_numel=NO_CAP),
            "hnp.array_shapes": their_shapes,
        },
        "mutually_broadcastable_shapes": {
            "ours": lambda kit: kit.mutually_broadcastable_shapes(
                num_shapes=2, max_dims=MAX_DIMS, max_side=MAX_SIDE, max_numel=NO_CAP
            ),
            "hnp.mutually_broadcastable_shapes": their_mbs,
        },
        "broadcastable_pairs": {
            "ours": lambda kit: kit.broadcastable_pairs(
                max_dims=MAX_DIMS, max_side=MAX_SIDE, max_numel=NO_CAP
            ),
            "hnp mbs -> arrays -> from_numpy": their_mbs.flatmap(numpy_pair),
        },
        "tensors": {
            "ours": lambda kit: kit.tensors(
                shape=kit.shapes(max_dims=MAX_DIMS, max_side=MAX_SIDE, max_numel=NO_CAP)
            ),
            "hnp.arrays -> from_numpy": hnp.arrays(np.float32, their_shapes, elements=ELEMENTS).map(
                torch.from_numpy
            ),
        },
    }
    if ht is not None:
        table["tensors"]["hypothesis-torch, same elements"] = ht.tensor_strategy(
            dtype=torch.float32, shape=their_shapes, elements=ELEMENTS
        )
        table["tensors"]["hypothesis-torch, its defaults"] = ht.tensor_strategy(
            dtype=torch.float32, shape=their_shapes
        )

        def ht_pair(shapes: Any) -> st.SearchStrategy:
            (a, b), _ = shapes
            return st.tuples(
                ht.tensor_strategy(dtype=torch.float32, shape=a, elements=ELEMENTS),
                ht.tensor_strategy(dtype=torch.float32, shape=b, elements=ELEMENTS),
            )

        table["broadcastable_pairs"]["hypothesis-torch, same elements"] = their_mbs.flatmap(ht_pair)
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=1000, help="examples per run")
    parser.add_argument("--repeats", type=int, default=5, help="seeded runs per strategy")
    parser.add_argument("--baseline", type=Path, help="a directory with an older strategies/")
    parser.add_argument("--only", nargs="*", help="row names to run (default: all)")
    args = parser.parse_args(argv)

    kits = {"ours": load_strategies(None)}
    if args.baseline:
        kits["before"] = load_strategies(args.baseline)
    try:
        ht: ModuleType | None = importlib.import_module("hypothesis_torch")
    except ImportError:
        ht = None
    table = rows(kits["ours"], ht)

    load = os.getloadavg()
    print(
        f"torch {torch.__version__}, numpy {np.__version__}, "
        f"hypothesis {importlib.import_module('hypothesis').__version__}, "
        f"hypothesis-torch {getattr(ht, '__version__', 'not installed')}; "
        f"{os.cpu_count()} CPUs, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}"
    )
    print(
        f"{args.examples} examples per run, median of {args.repeats} seeded runs, "
        "examples per CPU second; numel = mean elements per example\n"
    )
    if ht is None:
        print("hypothesis-torch is not installed: its rows are left out (see the docstring)\n")

    for name, row in table.items():
        if args.only and name not in args.only:
            continue
        variants: dict[str, st.SearchStrategy] = {}
        for kit_name, kit in kits.items():
            variants[kit_name] = row["ours"](kit)
        variants.update({k: v for k, v in row.items() if k != "ours"})
        run_once(variants["ours"], 50, 0, health_checks=True)  # raises on a failed check
        rates: dict[str, list[float]] = {k: [] for k in variants}
        sizes: dict[str, list[float]] = {k: [] for k in variants}
        for r in range(args.repeats):
            for k, strategy in variants.items():
                rate, numel = run_once(strategy, args.examples, r)
                rates[k].append(rate)
                sizes[k].append(numel)
        mine = statistics.median(rates["ours"])
        print(f"{name}  (our health checks: pass)")
        print(f"  {'':38} {'examples/s':>10} {'numel':>7} {'ours / this':>11}")
        for k in variants:
            rate = statistics.median(rates[k])
            numel = statistics.mean(sizes[k])
            shown = f"{numel:7.1f}" if numel else f"{'':7}"
            label = "ours (this checkout)" if k == "ours" else k
            ratio = "" if k == "ours" else f"{mine / rate:11.2f}"
            print(f"  {label:38} {rate:10.0f} {shown} {ratio}")
        print()
    load = os.getloadavg()
    print(f"load average at the end: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
