"""The kit's own tests run under the deterministic conformance profile.

Loaded before any test module imports a suite, so suites called directly from
planted-fault tests (their ``@given`` captures settings at import) run with
the same explicit settings as a conformance run.
"""

from __future__ import annotations

import pytest

from conformance.profiles import DEFAULT_PROFILE, register_profiles


def pytest_configure(config: pytest.Config) -> None:
    from hypothesis import settings

    register_profiles()
    if config.getoption("hypothesis_profile", None) is None:
        settings.load_profile(DEFAULT_PROFILE)
