"""Conformance suites for PyTorch's nn semantics.

The suites are the ``test_*.py`` modules in this package: run them with
``pytest --pyargs conformance`` (installed) or ``pytest conformance`` (from a
checkout). Importing this package imports nothing heavy: the pytest plugin
(:mod:`conformance.plugin`) is loaded by every pytest run of a project that
has the kit installed, and must cost nothing there.

``check_layer`` (with ``check_linear`` and ``check_dropout`` for the kit's own
kinds) and ``check_module`` for any module (:mod:`conformance.api`, imported
on first use) run the same checks from another project's tests; the layer kinds they
know are data in :mod:`conformance.layers`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conformance.api import (
        CheckReport,
        ConformanceError,
        check_call_semantics,
        check_dropout,
        check_layer,
        check_linear,
        check_module,
    )

__all__ = [
    "CheckReport",
    "ConformanceError",
    "check_call_semantics",
    "check_dropout",
    "check_layer",
    "check_linear",
    "check_module",
]


def __getattr__(name: str) -> Any:
    """The Python API (:mod:`conformance.api`), imported on first use."""
    if name in __all__:
        from conformance import api

        return getattr(api, name)
    raise AttributeError(f"module 'conformance' has no attribute {name!r}")
