"""Every conformance check is proven to catch a fault.

Each ``tests/test_faults_*.py`` module plants faults under the checks it
guards and exports them as ``GUARDED``. A check that fails on stock torch
(an xfail: torch's own departure is the fault it catches) needs no
planted one.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import conformance

FAULT_MODULES = sorted(p.stem for p in Path(__file__).parent.glob("test_faults_*.py"))


def _checks() -> dict[str, Callable[..., Any]]:
    found = {}
    for info in pkgutil.iter_modules(conformance.__path__, "conformance."):
        if not info.name.rpartition(".")[2].startswith("test_"):
            continue
        module = importlib.import_module(info.name)
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("test_") and fn.__module__ == module.__name__:
                found[f"{info.name.removeprefix('conformance.')}::{name}"] = fn
    return found


def _fails_on_stock_torch(fn: Callable[..., Any]) -> bool:
    marks = getattr(fn, "pytestmark", [])
    return any(m.name == "xfail" for m in marks)


def test_every_check_has_a_planted_fault() -> None:
    guarded: set[Any] = set()
    for name in FAULT_MODULES:
        guarded |= importlib.import_module(name).GUARDED
    checks = _checks()
    assert len(checks) > 50, sorted(checks)  # the suites were found
    missing = sorted(
        name for name, fn in checks.items() if fn not in guarded and not _fails_on_stock_torch(fn)
    )
    assert not missing, f"{len(missing)} checks have no planted fault: {missing}"
