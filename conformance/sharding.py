"""``--conformance-shard K/N``: run one of N deterministic parts of the suites.

A test belongs to shard ``1 + (h mod N)``, where ``h`` is the first 8 bytes
of the SHA-256 of its normalized id (:mod:`conformance.node_ids`) -- not
Python's ``hash()``, which is randomised per process. The shard of a test
depends on its id alone, never on what else was collected, so the shards of
one configuration are disjoint and together hold every test, on any machine,
under ``pytest conformance`` and ``pytest --pyargs conformance`` alike, with
or without pytest-xdist. Deselected tests are reported as deselected.
"""

from __future__ import annotations

import hashlib
import re

import pytest

from conformance.node_ids import item_id, normalized_id

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def add_options(group: pytest.OptionGroup) -> None:
    group.addoption(
        "--conformance-shard",
        default=None,
        metavar="K/N",
        help="Run only shard K of N (1 <= K <= N), chosen by a stable hash of each "
        "test's id: the N shards are disjoint and together hold every test.",
    )


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/4"`` -> ``(2, 4)``; anything else is a usage error."""
    match = _SHARD.match(text)
    if match:
        k, n = int(match[1]), int(match[2])
        if 1 <= k <= n:
            return k, n
    raise pytest.UsageError(f"--conformance-shard={text!r}: expected K/N with 1 <= K <= N")


def shard_of(test_id: str, count: int) -> int:
    """The shard (1-based) of a normalized test id among ``count`` shards.

    >>> shard_of("test_linear::test_x[cpu-float32]", 1)
    1
    """
    digest = hashlib.sha256(normalized_id(test_id).encode()).digest()
    return 1 + int.from_bytes(digest[:8], "big") % count


class Sharding:
    """Deselects every test outside this shard (after other selection)."""

    def __init__(self, k: int, n: int) -> None:
        self.k, self.n = k, n

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        keep: list[pytest.Item] = []
        drop: list[pytest.Item] = []
        for item in items:
            (keep if shard_of(item_id(item), self.n) == self.k else drop).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep

    def pytest_report_header(self) -> str:
        return f"conformance shard: {self.k}/{self.n}"


def configure(config: pytest.Config) -> None:
    """Register the sharding hooks when ``--conformance-shard`` is given."""
    text = config.getoption("conformance_shard", None)
    if text is not None and not config.pluginmanager.has_plugin("conformance-sharding"):
        config.pluginmanager.register(Sharding(*parse_shard(text)), "conformance-sharding")
