"""The kit's own tests run under the deterministic conformance profile, and
share the cores between xdist workers as a conformance run does.

Loaded before any test module imports a suite, so suites called directly from
planted-fault tests (their ``@given`` captures settings at import) run with
the same explicit settings as a conformance run.
"""

from __future__ import annotations

import os

import pytest

from conformance.plugin import threads_per_worker
from conformance.profiles import DEFAULT_PROFILE, register_profiles


def pytest_configure(config: pytest.Config) -> None:
    from hypothesis import settings

    from conformance import layers

    # The registry's own entries, imported once now: pytester's in-process runs
    # drop the modules a run imports, and an entry imported afresh would be an
    # instance of a fresh LayerInfo class.
    layers.registry()

    register_profiles()
    if config.getoption("hypothesis_profile", None) is None:
        settings.load_profile(DEFAULT_PROFILE)
    threads = threads_per_worker(int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0")))
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
