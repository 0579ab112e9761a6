"""The matrix both renderers draw: checks (rows) against device/dtype (columns).

A row is a check (``test_linear::test_matches_affine``, plus its target where
checks have one); a column is a device and dtype (plus the mode where checks
have one, and the run's label when the report holds several
configurations). A cell gathers the records of that check in that column --
several when the check has further parameters (ops, cases) -- and takes the
colour of its worst outcome.
"""

from __future__ import annotations

import dataclasses
import shlex
from collections import Counter
from collections.abc import Sequence
from typing import Any

from conformance.report.completeness import run_incomplete_reason

#: Worst first: a cell's status is the first of these among its records.
SEVERITY = ("error", "failed", "xpassed", "passed", "xfailed", "skipped")
_DTYPE_ORDER = (
    "float64",
    "float32",
    "float16",
    "bfloat16",
    "complex128",
    "complex64",
    "int64",
    "int32",
    "int16",
    "int8",
    "uint8",
    "bool",
)


@dataclasses.dataclass(frozen=True)
class Column:
    label: str | None
    device: str | None
    dtype: str | None
    mode: str | None

    def title(self) -> str:
        parts = [self.label] if self.label else []
        parts.append(self.device or "any device")
        parts.append(self.dtype or "any dtype")
        if self.mode:
            parts.append(self.mode)
        return " · ".join(parts)


@dataclasses.dataclass
class Cell:
    records: list[dict[str, Any]]

    @property
    def counts(self) -> Counter[str]:
        return Counter(r["outcome"] for r in self.records)

    @property
    def status(self) -> str:
        counts = self.counts
        return next(s for s in SEVERITY if counts[s])

    def summary(self) -> str:
        """``"11/12 passed, 1 failed"``-style text."""
        counts = self.counts
        ran = sum(counts[s] for s in ("passed", "failed", "error", "xpassed"))
        parts = []
        if ran:
            parts.append(f"{counts['passed']}/{ran} passed")
        for status in ("failed", "error", "xpassed", "xfailed", "skipped"):
            if counts[status] and (status != "skipped" or not ran):
                parts.append(f"{counts[status]} {status}")
        return ", ".join(parts)


@dataclasses.dataclass
class Matrix:
    rows: list[str]
    columns: list[Column]
    cells: dict[tuple[str, Column], Cell]


def _labels(report: dict[str, Any]) -> list[str]:
    return list(dict.fromkeys(run["label"] for run in report["runs"]))


def row_of(record: dict[str, Any]) -> str:
    return f"{record['check']} · {record['target']}" if record.get("target") else record["check"]


def build(report: dict[str, Any]) -> Matrix:
    runs = report["runs"]
    several = len(_labels(report)) > 1
    device_order: dict[str, int] = {}
    for run in runs:
        for device in run["environment"]["devices"]:
            device_order.setdefault(device, len(device_order))
    cells: dict[tuple[str, Column], Cell] = {}
    for record in report["records"]:
        label = runs[record["run"]]["label"] if several else None
        column = Column(label, record["device"], record["dtype"], record.get("mode"))
        cells.setdefault((row_of(record), column), Cell([])).records.append(record)
    labels = _labels(report)

    def column_key(c: Column) -> tuple[Any, ...]:
        return (
            labels.index(c.label) if c.label in labels else -1,
            c.device is None,
            device_order.get(c.device or "", len(device_order)),
            c.device or "",
            c.dtype is None,
            _DTYPE_ORDER.index(c.dtype) if c.dtype in _DTYPE_ORDER else len(_DTYPE_ORDER),
            c.dtype or "",
            c.mode or "",
        )

    columns = sorted({c for _, c in cells}, key=column_key)
    rows = sorted({r for r, _ in cells})
    return Matrix(rows, columns, cells)


def problems(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Failed, errored and (unexpectedly) passing records, in id order."""
    bad = [r for r in report["records"] if r["outcome"] in ("failed", "error", "xpassed")]
    return sorted(bad, key=lambda r: (r["run"], r["id"]))


def reason_of(record: dict[str, Any]) -> str:
    """Why a test was skipped or expected to fail ('' for other outcomes).

    Version-1 reports hold no ``reason``: a skip's message is its reason, and
    an expected failure's is its expectation's, where one applied.
    """
    if "reason" in record:
        return str(record["reason"])
    if record["outcome"] == "skipped":
        return str(record.get("message") or "")
    if record["outcome"] in ("xfailed", "xpassed") and record.get("expectation"):
        return str(record["expectation"]["reason"])
    return ""


def skip_reasons(records: Sequence[dict[str, Any]]) -> list[tuple[str, int]]:
    """Why tests were skipped, most common first."""
    reasons = Counter(reason_of(r) for r in records if r["outcome"] == "skipped")
    return reasons.most_common()


def marked_xfails(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Expected failures of the tests' own xfail markers, in id order (those of
    an expectations file are listed with the known deviations instead)."""
    marked = [
        r for r in report["records"] if r["outcome"] == "xfailed" and not r.get("expectation")
    ]
    return sorted(marked, key=lambda r: (r["run"], r["id"]))


def environment_lines(run: dict[str, Any]) -> list[tuple[str, str]]:
    """The environment of one run as (name, value) pairs, for tables."""
    env = run["environment"]
    pairs = [
        ("label", run["label"]),
        ("torch", env["torch"]),
        ("python", f"{env['python']} ({env['platform']})"),
        ("hypothesis", env["hypothesis"]),
        ("kit", env["kit"]),
        ("devices", ", ".join(env["devices"]) or "none"),
    ]
    if env["devices_skipped"]:
        pairs.append(
            ("devices skipped", "; ".join(f"{d}: {r}" for d, r in env["devices_skipped"].items()))
        )
    if env.get("cuda") is not None or env.get("gpus"):
        pairs.append(("CUDA / cuDNN", f"{env.get('cuda')} / {env.get('cudnn')}"))
        pairs.append(("GPUs", ", ".join(env.get("gpus", []))))
    if "tf32" in env:
        pairs.append(
            ("TF32 allowed", f"matmul={env['tf32']['matmul']}, cudnn={env['tf32']['cudnn']}")
        )
    seed = "derandomized" if env["derandomize"] else str(env["seed"] or "random")
    pairs.append(
        ("profile", f"{env['profile']} (max_examples={env['max_examples']}), seed: {seed}")
    )
    pairs.append(("xdist workers", str(env["xdist_workers"])))
    if run["shard"]:
        pairs.append(("shard", run["shard"]))
    files = run["expectations"]["files"]
    if files:
        pairs.append(("expectations", ", ".join(files)))
    pairs.append(("command line", shlex.join(["pytest", *env["command_line"]])))
    status = f"{run['exitstatus']}" + (" (interrupted)" if run["interrupted"] else "")
    pairs.append(("started", f"{run['started']}, {run['duration']:.1f} s, exit status {status}"))
    why = run_incomplete_reason(run)
    if why:
        pairs.append(("INCOMPLETE", why))
    return pairs
