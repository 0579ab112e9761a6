"""``python -m conformance.report``: merge, diff and validate conformance reports.

    python -m conformance.report merge A.json B.json ... -o DIR
    python -m conformance.report diff A.json B.json [--compare-devices cpu cuda]
        [--fail-on-regression [--allow-missing]]
    python -m conformance.report validate A.json ...

An input may be a ``conformance.json`` or a directory holding one. Every
input is read as JSON (nothing in it is executed) and checked against the
schema before use; a malformed one is refused with a message naming the file
and the problem, and exit status 2, as is a ``merge -o`` directory that
cannot be written (before any input is read). An input that did not run all
its tests (interrupted, stopped at a failure) is named in a warning on
stderr; as B of ``diff --fail-on-regression`` it fails the gate (exit 1).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from conformance.report.combine import MergeError, merge
from conformance.report.completeness import describe
from conformance.report.diff import DiffError, diff, format_diff, gate_problems
from conformance.report.io import ReportError, load, write_report
from conformance.report.output import output_problem


def _path(given: str) -> Path:
    path = Path(given)
    return path / "conformance.json" if path.is_dir() else path


def _load_all(paths: Sequence[str]) -> list[tuple[str, dict[str, Any]]]:
    return [(given, load(_path(given))) for given in paths]


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def _warn_incomplete(reports: Sequence[tuple[str, dict[str, Any]]]) -> None:
    for name, report in reports:
        why = describe(report)
        if why:
            _warn(f"{name} is incomplete: {why}")


def _merge(args: argparse.Namespace) -> int:
    problem = output_problem(args.output)
    if problem is not None:
        raise ReportError(f"-o {args.output}: {problem}")
    reports = _load_all(args.reports)
    _warn_incomplete(reports)
    merged = merge(reports)
    try:
        written = write_report(args.output, merged)
    except OSError as e:
        raise ReportError(f"-o {args.output}: cannot write: {e}") from None
    c = merged["summary"]
    print(
        f"merged {len(args.reports)} report(s), {len(merged['runs'])} run(s), "
        f"{c['total']} tests ({c['passed']} passed, {c['failed']} failed, {c['error']} errors, "
        f"{c['skipped']} skipped, {c['xfailed']} xfailed, {c['xpassed']} xpassed) into "
        + ", ".join(str(p) for p in written)
        + ("" if merged["complete"] else "; INCOMPLETE: " + describe(merged))
    )
    return 0


def _diff(args: argparse.Namespace) -> int:
    (name_a, a), (name_b, b) = loaded = _load_all([args.a, args.b])
    names = (name_a, name_b)
    result = diff(a, b, names=names, compare_devices=args.compare_devices)
    sys.stdout.write(format_diff(result, a, b, names, limit=args.limit))
    if not args.fail_on_regression:
        _warn_incomplete(loaded)
        return 0
    _warn_incomplete(loaded[:1])
    gate = gate_problems(result, a, b, names)
    if args.allow_missing:
        for problem in gate:
            _warn(f"{problem} (allowed by --allow-missing)")
    else:
        for problem in gate:
            print(f"error: {problem}", file=sys.stderr)
        if gate:
            print(
                f"error: {name_b} cannot show that nothing regressed; "
                "pass --allow-missing to accept a partial run",
                file=sys.stderr,
            )
    return 1 if result.regressions or (gate and not args.allow_missing) else 0


def _validate(args: argparse.Namespace) -> int:
    for name, report in _load_all(args.reports):
        # Counted from the records: validation has checked that the summary agrees.
        print(f"{name}: valid {report['schema']}, {len(report['records'])} tests")
        _warn_incomplete([(name, report)])
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m conformance.report",
        description="Merge, compare and check torch-nn-conformance reports (conformance.json).",
    )
    sub = p.add_subparsers(dest="command", required=True)
    m = sub.add_parser(
        "merge",
        help="merge shards, runners, devices and torch versions into one report",
        description="Merge reports into one: conformance.json, .md and .html in -o DIR. "
        "Runs with one label (configuration) must hold disjoint tests.",
    )
    m.add_argument("reports", nargs="+", metavar="REPORT", help="conformance.json or its directory")
    m.add_argument("-o", "--output", required=True, metavar="DIR", help="where to write")
    m.set_defaults(run=_merge)
    d = sub.add_parser(
        "diff",
        help="what changed between two reports",
        description="Show outcome changes and tests present on one side only.",
    )
    d.add_argument("a", metavar="A", help="the earlier/reference report")
    d.add_argument("b", metavar="B", help="the report to compare with it")
    d.add_argument(
        "--compare-devices",
        nargs=2,
        metavar=("DEVICE_A", "DEVICE_B"),
        default=None,
        help="line up the tests of DEVICE_A in A with those of DEVICE_B in B (automatic "
        "when each report ran on one device and they differ)",
    )
    d.add_argument("--limit", type=int, default=50, help="changes listed at most (default 50)")
    d.add_argument(
        "--fail-on-regression",
        action="store_true",
        help="exit 1 when a test fails or errors in B but did not in A, and when B "
        "cannot show it: B was interrupted or stopped early, ran no tests, or lacks "
        "tests that A has",
    )
    d.add_argument(
        "--allow-missing",
        action="store_true",
        help="with --fail-on-regression: accept a B that is incomplete or lacks tests "
        "of A (still warned about on stderr); only regressions fail",
    )
    d.set_defaults(run=_diff)
    v = sub.add_parser("validate", help="check reports against the schema")
    v.add_argument("reports", nargs="+", metavar="REPORT")
    v.set_defaults(run=_validate)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.run(args))
    except (ReportError, MergeError, DiffError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
