"""pytest plugin for ``suite_overhead.py``: what each Hypothesis test spends on its own work.

Loaded with ``-p benchmarks.overhead_plugin`` (from the repository root);
not a conformance plugin and never installed. For every test written with
``@given`` it wraps ``test.hypothesis.inner_test`` (Hypothesis' documented
hook for wrapping the body it calls once per example) and, on each
``st.data()`` object the body receives, the ``draw`` method. Per test it
records:

* ``total``: wall time of the test's call phase (Hypothesis' engine, the
  draws and the body, for every example; fixtures excluded);
* ``work``: time inside the body but outside ``data.draw`` -- the check's own
  work (building layers, running torch, the oracle, the assertions);
* ``examples``: examples that ran the body to the end (passing examples);
* ``stopped``: Hypothesis' reason for stopping, when statistics are on.

A bare ``@given`` test that draws the same data and does nothing costs
``total - work``: the same choice sequences, the same draws, the same engine,
no body. So ``total / (total - work)`` is the suite's time per example
against that bare test, measured on the very same examples.

The results go to the JSON file named by ``KIT_OVERHEAD_JSON``.
"""

from __future__ import annotations

import functools
import json
import os
import re
import time
from collections.abc import Callable, Generator
from typing import Any

import pytest

_RESULTS: dict[str, dict[str, Any]] = {}


def _timed_draw(draw: Callable[..., Any], spent: list[float]) -> Callable[..., Any]:
    @functools.wraps(draw)
    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return draw(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - start

    return timed


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    hypothesis_handle = getattr(getattr(item, "obj", None), "hypothesis", None)
    inner = getattr(hypothesis_handle, "inner_test", None)
    if inner is None:  # not a Hypothesis test
        start = time.perf_counter()
        yield
        _RESULTS[item.nodeid] = {"given": False, "total": time.perf_counter() - start}
        return
    body = [0.0]
    draws = [0.0]
    examples = [0]

    @functools.wraps(inner)
    def timed_inner(*args: Any, **kwargs: Any) -> Any:
        for value in kwargs.values():
            if type(value).__name__ == "DataObject":
                value.draw = _timed_draw(value.draw, draws)
        start = time.perf_counter()
        try:
            result = inner(*args, **kwargs)
        finally:
            body[0] += time.perf_counter() - start
        examples[0] += 1
        return result

    assert hypothesis_handle is not None
    hypothesis_handle.inner_test = timed_inner
    start = time.perf_counter()
    try:
        yield
    finally:
        total = time.perf_counter() - start
        hypothesis_handle.inner_test = inner
        _RESULTS[item.nodeid] = {
            "given": True,
            "total": total,
            "work": body[0] - draws[0],
            "draws": draws[0],
            "examples": examples[0],
        }


@pytest.hookimpl(tryfirst=True)  # firstresult hook: return None, let others report
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> None:
    if call.when != "call" or item.nodeid not in _RESULTS:
        return
    _RESULTS[item.nodeid]["outcome"] = "failed" if call.excinfo else "passed"
    stats = getattr(item, "hypothesis_statistics", "")
    match = re.search(r"Stopped because (.*)", stats)
    if match:
        _RESULTS[item.nodeid]["stopped"] = match.group(1).strip()


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = os.environ.get("KIT_OVERHEAD_JSON")
    if path:
        with open(path, "w") as f:
            json.dump(_RESULTS, f, indent=1)
