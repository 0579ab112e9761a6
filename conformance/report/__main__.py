"""``python -m conformance.report``: merge, diff and validate conformance reports.

    python -m conformance.report merge A.json B.json ... -o DIR
    python -m conformance.report diff A.json B.json [--compare-devices cpu cuda]
    python -m conformance.report validate A.json ...

An input may be a ``conformance.json`` or a directory holding one. Every
input is read as JSON (nothing in it is executed) and checked against the
schema before use; a malformed one is refused with a message naming the file
and the problem, and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from conformance.report.combine import MergeError, merge
from conformance.report.diff import DiffError, diff, format_diff
from conformance.report.io import ReportError, load, write_report


def _path(given: str) -> Path:
    path = Path(given)
    return path / "conformance.json" if path.is_dir() else path


def _load_all(paths: Sequence[str]) -> list[tuple[str, dict[str, Any]]]:
    return [(given, load(_path(given))) for given in paths]


def _merge(args: argparse.Namespace) -> int:
    merged = merge(_load_all(args.reports))
    written = write_report(args.output, merged)
    c = merged["summary"]
    print(
        f"merged {len(args.reports)} report(s), {len(merged['runs'])} run(s), "
        f"{c['total']} tests ({c['passed']} passed, {c['failed']} failed, {c['error']} errors, "
        f"{c['skipped']} skipped, {c['xfailed']} xfailed, {c['xpassed']} xpassed) into "
        + ", ".join(str(p) for p in written)
    )
    return 0


def _diff(args: argparse.Namespace) -> int:
    (name_a, a), (name_b, b) = _load_all([args.a, args.b])
    names = (name_a, name_b)
    result = diff(a, b, names=names, compare_devices=args.compare_devices)
    sys.stdout.write(format_diff(result, a, b, names, limit=args.limit))
    return 1 if args.fail_on_regression and result.regressions else 0


def _validate(args: argparse.Namespace) -> int:
    for name, report in _load_all(args.reports):
        print(f"{name}: valid {report['schema']}, {report['summary']['total']} tests")
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
        help="exit 1 when a test fails or errors in B but did not in A",
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
