"""Deterministic samples of a strategy, for reachability and shrinking checks.

A property that must hold for *every* example is a ``@given`` test; a value
that must *appear* is checked here, over exactly the examples a conformance
run would see: the ``conformance-ci`` budget, derandomized, no database.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

T = TypeVar("T")

#: The example budget of a conformance run (the ``conformance-ci`` profile).
BUDGET: int = settings.get_profile("conformance-ci").max_examples

#: Seeds for shrinking checks: a shrink target must not depend on luck.
SHRINK_SEEDS = range(3)


def examples(strategy: st.SearchStrategy[T], n: int = BUDGET) -> list[T]:
    """The first ``n`` examples ``strategy`` generates, the same on every run."""
    found: list[T] = []

    @settings(
        max_examples=n,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        # Counting only: the @given property tests run with every health check.
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(value: T) -> None:
        found.append(value)

    collect()
    return found


def shrunk(strategy: st.SearchStrategy[T], condition: Callable[[T], Any], seed: int) -> T:
    """The minimal example satisfying ``condition``, from a search seeded with ``seed``."""
    return find(
        strategy,
        condition,
        settings=settings(max_examples=2000, database=None, derandomize=False, deadline=None),
        random=random.Random(seed),
    )
