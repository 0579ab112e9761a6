"""What each layer kind costs the default conformance run.

Runs ``python -m pytest conformance -n 0 -p no:cacheprovider -q -p kind_cost``
(the default ``conformance-ci`` profile, serial so that each test's time is
its own, with ``OMP_NUM_THREADS=1``: one torch thread, as each worker of
``-n 2`` gets on two cores) with this file loaded as a pytest plugin. The plugin records, for
every test, the kinds it exercises -- the same rule ``--target`` selects by
(:func:`conformance.targets.exercised_kinds`: an ``exercises(...)`` mark,
else the kind fixtures it takes) -- and the duration of its setup, call and
teardown. Per kind it prints the tests, their summed seconds and their share
of the run; tests exercising no layer kind (broadcasting, the hook rules on
the kit's probe modules, promotion) form their own row. With ``-n 2`` the
wall time is about half the serial sum (``suite_overhead.py`` measures
that ratio), so a kind's share of the serial sum is its share of the
parallel wall time too.

    python benchmarks/kind_cost.py                 # one serial run, about two minutes idle
    python benchmarks/kind_cost.py --repeats 3     # the median of three runs per kind

The load average is printed before and after: other jobs on the machine slow
every row alike only within one run, so compare shares, not seconds, across
runs.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
NO_KIND = "(no layer kind)"
_OUT = "KIT_KIND_COST_JSON"

# --- the plugin (loaded in the pytest run as ``-p kind_cost``) -----------------

_kinds: dict[str, list[str]] = {}
_seconds: dict[str, float] = collections.defaultdict(float)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    from conformance.targets import item_kinds

    for item in items:
        _kinds[item.nodeid] = sorted(item_kinds(item))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _seconds[report.nodeid] += report.duration


def pytest_sessionfinish() -> None:
    out = os.environ.get(_OUT)
    if out:
        tests = {n: {"kinds": k, "seconds": _seconds.get(n, 0.0)} for n, k in _kinds.items()}
        Path(out).write_text(json.dumps(tests))


# --- the script ----------------------------------------------------------------


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def run_once() -> tuple[dict[str, dict[str, Any]], float, str]:
    """One serial run: per test its kinds and seconds; the wall time; pytest's summary."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "kinds.json"
        env = dict(os.environ, **{_OUT: str(out)})
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(REPO / "benchmarks"), env.get("PYTHONPATH")])
        )
        env.setdefault("HYPOTHESIS_NO_PLUGINS", "1")
        # One torch thread, as each of two xdist workers gets on two cores (the
        # plugin's threads_per_worker): what a test costs in the parallel run.
        # With torch's default threads a serial run on a loaded machine spins in
        # OpenMP barriers (the 2**16-element dropout checks ran 30x slower).
        env.setdefault("OMP_NUM_THREADS", "1")
        command = [
            sys.executable,
            "-m",
            "pytest",
            "conformance",
            "-n",
            "0",
            "-p",
            "no:cacheprovider",
        ]
        command += ["-q", "-p", "kind_cost"]
        start = time.perf_counter()
        done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - start
        lines = done.stdout.strip().splitlines()
        summary = lines[-1].strip("= ") if lines else done.stderr[-300:]
        if not out.exists():
            raise SystemExit(f"the run wrote no results: {summary}")
        return json.loads(out.read_text()), wall, summary


def per_kind(tests: dict[str, dict[str, Any]]) -> dict[str, tuple[int, float]]:
    """Kind -> (tests, seconds). A test exercising several kinds counts for each
    with its time split evenly (none of the kit's own does today)."""
    rows: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0.0])
    for test in tests.values():
        kinds = test["kinds"] or [NO_KIND]
        for kind in kinds:
            rows[kind][0] += 1
            rows[kind][1] += test["seconds"] / len(kinds)
    return {k: (int(n), s) for k, (n, s) in rows.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write each test's kinds and seconds here")
    args = parser.parse_args(argv)
    print(f"{os.cpu_count()} CPUs; python {sys.version.split()[0]}; load before: {_load()}")
    runs = []
    for r in range(args.repeats):
        tests, wall, summary = run_once()
        runs.append(per_kind(tests))
        if args.json and r == 0:
            args.json.write_text(json.dumps(tests, indent=1))
        print(f"run {r + 1}: {wall:.1f} s wall, -n 0 ({summary}); load {_load()}", flush=True)
    kinds = sorted(runs[0], key=lambda k: -runs[0][k][1])
    seconds = {k: statistics.median(run.get(k, (0, 0.0))[1] for run in runs) for k in kinds}
    total = sum(seconds.values())
    print(f"\n| kind | tests | seconds (-n 0, median of {args.repeats}) | share |")
    print("| --- | ---: | ---: | ---: |")
    for kind in kinds:
        print(
            f"| {kind} | {runs[0][kind][0]} | {seconds[kind]:.1f} | {seconds[kind] / total:.0%} |"
        )
    print(f"| all | {sum(n for n, _ in runs[0].values())} | {total:.1f} | 100% |")
    print("\nby suite, last run:")
    suites: dict[str, float] = collections.defaultdict(float)
    for nodeid, test in tests.items():
        suites[nodeid.split("::")[0].rsplit("/", 1)[-1]] += test["seconds"]
    for suite, sec in sorted(suites.items(), key=lambda kv: -kv[1]):
        print(f"  {suite:40} {sec:6.1f} s  {sec / total:4.0%}")
    print(f"load after: {_load()}")


if __name__ == "__main__":
    main()
