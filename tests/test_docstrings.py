"""The examples in the public docstrings run and show what they claim."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import conformance.oracle
import strategies


def _modules() -> list[str]:
    names = []
    for package in (strategies, conformance.oracle):
        names.append(package.__name__)
        for info in pkgutil.iter_modules(package.__path__, f"{package.__name__}."):
            names.append(info.name)
    return [*names, "conformance.layers", "conformance.modes", "conformance.requested"]


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
