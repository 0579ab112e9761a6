"""Building and merging reports: counting outcomes, joining runs.

A report holds runs and records; each record names its run. Merging
concatenates the runs of every input and renumbers the records. Runs that
share a *label* are shards of one configuration (same torch, same GPUs, or
whatever ``--conformance-report-label`` said): a test may appear only once
per label, so merging a shard twice, or two runs of one configuration that
overlap, is refused rather than silently counted twice. A merged report is
complete only if every run in it is (:mod:`~conformance.report.completeness`);
inputs of schema version 1 come out as version 2.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from importlib import metadata
from typing import Any

from conformance.report import SCHEMA_VERSION
from conformance.report.completeness import upgrade_run

OUTCOMES = ("passed", "failed", "error", "skipped", "xfailed", "xpassed")


class MergeError(Exception):
    """Inputs that cannot be merged into one report."""


def counts(records: Iterable[dict[str, Any]]) -> dict[str, int]:
    result = dict.fromkeys(("total", *OUTCOMES), 0)
    for record in records:
        result["total"] += 1
        result[record["outcome"]] += 1
    return result


def kit_version() -> str:
    try:
        return metadata.version("torch-nn-conformance")
    except metadata.PackageNotFoundError:
        return "unknown"


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def new_report(runs: list[dict[str, Any]], records: list[dict[str, Any]]) -> dict[str, Any]:
    runs = [upgrade_run(run) for run in runs]
    return {
        "schema": SCHEMA_VERSION,
        "generated_by": f"torch-nn-conformance {kit_version()}",
        "created": now(),
        "complete": all(run["complete"] for run in runs),
        "runs": runs,
        "records": records,
        "summary": counts(records),
    }


def merge(reports: Sequence[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """One report from several ``(name, report)`` pairs (already validated).

    Raises :class:`MergeError` when one label holds a test twice.
    """
    if not reports:
        raise MergeError("nothing to merge")
    runs: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    seen: dict[tuple[str, str], str] = {}
    duplicates: list[str] = []
    for name, report in reports:
        offset = len(runs)
        runs.extend(report["runs"])
        for record in report["records"]:
            run = runs[offset + record["run"]]
            key = (run["label"], record["id"])
            if key in seen:
                duplicates.append(f"{record['id']} (label {key[0]!r}) in {seen[key]} and {name}")
                continue
            seen[key] = name
            records.append({**record, "run": offset + record["run"]})
    if duplicates:
        duplicates.sort()
        more = f"\n  ... and {len(duplicates) - 10} more" if len(duplicates) > 10 else ""
        raise MergeError(
            f"{len(duplicates)} test(s) appear more than once under one label:\n  "
            + "\n  ".join(duplicates[:10])
            + more
            + "\nShards of one configuration must be disjoint (--conformance-shard K/N); "
            "runs of different configurations need different labels "
            "(--conformance-report-label)."
        )
    return new_report(runs, records)
