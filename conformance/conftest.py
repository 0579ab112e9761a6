"""Collected with the suites: makes the run a conformance run.

Loading the profile here (before the suite modules are imported) matters:
``@given`` captures the active settings when a test is decorated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from conformance.plugin import activate, implementation, module_subject


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


@pytest.fixture(scope="session")
def layer_norm_cls(pytestconfig: pytest.Config) -> Callable[..., Any]:
    return implementation(pytestconfig, "layer_norm")


@pytest.fixture(scope="session")
def embedding_cls(pytestconfig: pytest.Config) -> Callable[..., Any]:
    return implementation(pytestconfig, "embedding")


@pytest.fixture(scope="session")
def conv1d_cls(pytestconfig: pytest.Config) -> Callable[..., Any]:
    return implementation(pytestconfig, "conv1d")


@pytest.fixture(scope="session")
def conv2d_cls(pytestconfig: pytest.Config) -> Callable[..., Any]:
    return implementation(pytestconfig, "conv2d")


@pytest.fixture(scope="session")
def call_subject(pytestconfig: pytest.Config) -> Any:
    """The modules the module-call checks call: the kit's small nested models, or the
    modules a ``--target module=...`` factory builds (a user's via the Python API)."""
    return module_subject(pytestconfig)


@pytest.fixture(scope="session")
def batch_norm_cls(request: pytest.FixtureRequest, pytestconfig: pytest.Config) -> Any:
    """The BatchNorm implementation under test for the kind the check is parametrised
    with (``batch_norm1d`` or ``batch_norm2d``, indirectly: see test_batch_norm.KINDS)."""
    return implementation(pytestconfig, request.param)
