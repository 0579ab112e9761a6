"""Collected with the suites: makes the run a conformance run.

Loading the profile here (before the suite modules are imported) matters:
``@given`` captures the active settings when a test is decorated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from conformance.plugin import activate, implementation


def pytest_configure(config: pytest.Config) -> None:
    activate(config)


# The implementations under test. Suites take the class from these fixtures,
# never from torch.nn directly, so that a user's own implementation (--target,
# or a deliberately broken one in tests/) can be checked by the same suite.
@pytest.fixture(scope="session")
def linear_cls(pytestconfig: pytest.Config) -> Callable[..., Any]:
    return implementation(pytestconfig, "linear")


@pytest.fixture(scope="session")
def dropout_cls(pytestconfig: pytest.Config) -> Callable[..., Any]:
    return implementation(pytestconfig, "dropout")
