"""Hypothesis profiles for conformance runs, every setting stated.

Hypothesis' own defaults change when the ``CI`` environment variable is set
(its built-in ``ci`` profile derandomizes and drops the database), and a
profile registered without ``parent=`` inherits whatever profile is active at
that moment. So each profile here names its parent (``default``) and states
every setting: the same profile means the same run on a laptop and in CI.

Registering is cheap and changes nothing; loading happens in the plugin.
"""

from __future__ import annotations

from typing import Any

DEFAULT_PROFILE = "conformance-ci"
PROFILE_NAMES = ("conformance-ci", "conformance-dev", "conformance-thorough")


def _profiles() -> dict[str, dict[str, Any]]:
    from hypothesis import Phase, Verbosity
    from hypothesis.database import DirectoryBasedExampleDatabase

    common: dict[str, Any] = {
        # No deadline: a deadline flakes on first CUDA calls and loaded CI
        # machines; slowness is measured by benchmarks/, not by failing tests.
        "deadline": None,
        "print_blob": True,
        "report_multiple_bugs": False,
        "stateful_step_count": 50,
        "suppress_health_check": (),  # none: sizes are bounded, never filtered
        "verbosity": Verbosity.normal,
        "backend": "hypothesis",
    }
    return {
        # Deterministic: the same examples on every run and every xdist worker.
        "conformance-ci": {
            **common,
            "max_examples": 100,
            "derandomize": True,
            "database": None,
            # No explain phase: it reruns a failing check ~7x over to annotate
            # the report, and a broken implementation fails many checks at once.
            "phases": tuple(p for p in Phase if p != Phase.explain),
        },
        # Random, remembers failures locally, fewer examples for quick loops.
        "conformance-dev": {
            **common,
            "max_examples": 25,
            "derandomize": False,
            "database": DirectoryBasedExampleDatabase(".hypothesis/examples"),
            "phases": tuple(Phase),
        },
        # Random and long: for nightly runs hunting new departures.
        "conformance-thorough": {
            **common,
            "max_examples": 1000,
            "derandomize": False,
            "database": DirectoryBasedExampleDatabase(".hypothesis/examples"),
            "phases": tuple(Phase),
        },
    }


def register_profiles() -> None:
    """Register the conformance profiles with Hypothesis (idempotent)."""
    from hypothesis import settings

    default = settings.get_profile("default")
    for name, values in _profiles().items():
        settings.register_profile(name, parent=default, **values)
