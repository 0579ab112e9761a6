"""Whether a report covers every test its runs collected, in either schema version.

A run that stopped early (Ctrl-C, ``-x``/``--maxfail``, ``pytest.exit``, a
collection error) still writes its report, atomically, over the last one;
its records of what ran are all green, so the report must say that it is
partial. Version 2 writes ``complete`` and ``incomplete_reason`` on each run
and ``complete`` on the report; a version-1 file has only each run's
``interrupted`` (pytest's exit status 2: ``-x`` without xdist went unnoticed).
"""

from __future__ import annotations

from typing import Any

from conformance.report import SCHEMA_VERSION


def run_incomplete_reason(run: dict[str, Any]) -> str | None:
    """Why ``run`` did not run all its tests, or None when it did."""
    if "complete" in run:
        if run["complete"]:
            return None
        return run.get("incomplete_reason") or "did not finish"
    return f"interrupted (exit status {run['exitstatus']})" if run["interrupted"] else None


def incomplete_runs(report: dict[str, Any]) -> list[str]:
    """``run N (label): why`` for each run that did not finish."""
    result = []
    for index, run in enumerate(report["runs"]):
        reason = run_incomplete_reason(run)
        if reason is not None:
            result.append(f"run {index} ({run['label']}): {reason}")
    return result


def is_complete(report: dict[str, Any]) -> bool:
    if "complete" in report:
        return bool(report["complete"])
    return not incomplete_runs(report)


def describe(report: dict[str, Any]) -> str:
    """One line on what is missing (for headlines and warnings); '' when complete."""
    runs = incomplete_runs(report)
    if not runs and is_complete(report):
        return ""
    if len(report["runs"]) == 1:  # no need to say which run
        return run_incomplete_reason(report["runs"][0]) or "did not finish"
    return "; ".join(runs) or "did not finish"


def upgrade_run(run: dict[str, Any]) -> dict[str, Any]:
    """A run with the version-2 fields, taken from ``interrupted`` where missing."""
    if "complete" in run:
        return run
    reason = run_incomplete_reason(run)
    return {**run, "complete": reason is None, "incomplete_reason": reason}


def upgrade(report: dict[str, Any]) -> dict[str, Any]:
    """A validated report of any readable version as this kit writes it."""
    if report["schema"] == SCHEMA_VERSION:
        return report
    runs = [upgrade_run(run) for run in report["runs"]]
    complete = all(run["complete"] for run in runs)
    return {**report, "schema": SCHEMA_VERSION, "runs": runs, "complete": complete}
