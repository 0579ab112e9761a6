"""The conformance suites' wall time, serial and parallel, and each suite's own overhead.

Part 2 -- whole-suite wall time. Runs ``python -m pytest conformance -p
no:cacheprovider -q`` (the default ``conformance-ci`` profile: 100
derandomized examples per property) with ``-n 0`` and with ``-n 2``,
alternating (``-n 0``, ``-n 2``, ``-n 0``, ...), ``--repeats`` times each,
and prints the median wall time of each and their ratio. With
``--omp-threads N`` every run is repeated with ``OMP_NUM_THREADS=N`` in its
environment, interleaved with the others, to show what torch's intra-op
threads cost when xdist workers share the cores.

Part 3 -- each suite's time per example against a bare ``@given`` test that
draws the same data and does nothing. One ``-n 0`` run with
``benchmarks/overhead_plugin.py`` (see its docstring), which times, for every
``@given`` test, the whole call and the part of it spent in the body outside
``data.draw``. The bare test would cost the difference: same examples, same
draws, same engine, no body. Per suite it prints the time per example, the
bare time per example, and their ratio, plus the fewest examples any of its
properties ran (with Hypothesis' reason for stopping where it stopped short of
``max_examples``).

    python benchmarks/suite_overhead.py --repeats 3

Load from other jobs on the machine slows both sides of a ratio alike only
when they run interleaved; the load average is printed before and after.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SUITE_COMMAND = [sys.executable, "-m", "pytest", "conformance", "-p", "no:cacheprovider", "-q"]


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} {five:.1f} {fifteen:.1f}"


def _environment(omp_threads: int | None) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("HYPOTHESIS_NO_PLUGINS", "1")  # a third-party plugin would skew the run
    if omp_threads is not None:
        env["OMP_NUM_THREADS"] = str(omp_threads)
    return env


def run_suite(workers: int, omp_threads: int | None, extra: list[str] | None = None) -> dict:
    """One run of the whole suite: wall seconds and pytest's summary line."""
    command = [*SUITE_COMMAND, "-n", str(workers), *(extra or [])]
    start = time.perf_counter()
    done = subprocess.run(
        command,
        cwd=REPO,
        env=_environment(omp_threads),
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    lines = done.stdout.strip().splitlines()
    summary = lines[-1].strip("= ") if lines else done.stderr.strip()[-200:]
    return {"wall": wall, "summary": summary, "rc": done.returncode}


def part_wall_time(repeats: int, omp_threads: int | None) -> None:
    print("== 2. whole suite, conformance-ci profile: -n 0 against -n 2 ==")
    print(f"command: {' '.join(['python', *SUITE_COMMAND[1:]])} -n {{0,2}}")
    print(f"load average before: {_load()}")
    settings = [(None, 0), (None, 2)]
    if omp_threads is not None:
        settings += [(omp_threads, 0), (omp_threads, 2)]
    walls: dict[tuple[int | None, int], list[float]] = collections.defaultdict(list)
    summaries: dict[tuple[int | None, int], str] = {}
    for r in range(repeats):
        for omp, workers in settings:
            result = run_suite(workers, omp)
            walls[omp, workers].append(result["wall"])
            summaries[omp, workers] = result["summary"]
            print(
                f"  run {r + 1}: -n {workers}"
                + (f" OMP_NUM_THREADS={omp}" if omp else "")
                + f": {result['wall']:.1f} s  ({result['summary']}; load {_load()})",
                flush=True,
            )
    print(f"median of {repeats}:")
    for omp in dict.fromkeys(o for o, _ in settings):
        serial = statistics.median(walls[omp, 0])
        parallel = statistics.median(walls[omp, 2])
        threads = f"OMP_NUM_THREADS={omp}" if omp else "torch's default threads"
        print(
            f"  {threads:24} -n 0: {serial:6.1f} s   -n 2: {parallel:6.1f} s   "
            f"-n 0 / -n 2 = {serial / parallel:.2f}"
        )
    print(f"load average after: {_load()}\n")


def _suite_of(nodeid: str) -> str:
    return nodeid.split("::")[0].removeprefix("conformance/")


def part_overhead(omp_threads: int | None) -> None:
    print("== 3. each suite against a bare @given drawing the same data (-n 0) ==")
    print(f"load average before: {_load()}")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "overhead.json"
        env = _environment(omp_threads)
        env["KIT_OVERHEAD_JSON"] = str(out)
        command = [
            *SUITE_COMMAND,
            "-n",
            "0",
            "-p",
            "benchmarks.overhead_plugin",
            "--hypothesis-show-statistics",
        ]
        start = time.perf_counter()
        done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - start
        lines = done.stdout.strip().splitlines()
        print(f"run: {wall:.1f} s ({lines[-1].strip('= ') if lines else done.stderr[-300:]})")
        results: dict[str, dict[str, Any]] = json.loads(out.read_text())
    suites: dict[str, dict[str, Any]] = collections.defaultdict(
        lambda: {"total": 0.0, "work": 0.0, "examples": 0, "fewest": None, "short": []}
    )
    for nodeid, r in results.items():
        if not r["given"] or r.get("outcome") != "passed":
            continue
        s = suites[_suite_of(nodeid)]
        s["total"] += r["total"]
        s["work"] += r["work"]
        s["examples"] += r["examples"]
        if s["fewest"] is None or r["examples"] < s["fewest"][0]:
            s["fewest"] = (r["examples"], nodeid.split("::")[-1])
        stopped = r.get("stopped", "")
        if not re.search(r"max_examples", stopped):
            s["short"].append(f"{nodeid.split('::')[-1]}: {r['examples']} ({stopped})")
    print(
        f"  {'suite':34} {'ms/example':>10} {'bare ms':>8} {'ratio':>6} "
        f"{'examples':>8}  fewest examples (property)"
    )
    total = work = 0.0
    examples = 0
    for name in sorted(suites):
        s = suites[name]
        bare = s["total"] - s["work"]
        total += s["total"]
        work += s["work"]
        examples += s["examples"]
        fewest = f"{s['fewest'][0]} ({s['fewest'][1]})" if s["fewest"] else ""
        print(
            f"  {name:34} {1e3 * s['total'] / s['examples']:10.2f} "
            f"{1e3 * bare / s['examples']:8.2f} {s['total'] / bare:6.2f} "
            f"{s['examples']:8d}  {fewest}"
        )
        for line in s["short"]:
            print(f"      stopped short: {line}")
    print(
        f"  {'all suites':34} {1e3 * total / examples:10.2f} "
        f"{1e3 * (total - work) / examples:8.2f} {total / (total - work):6.2f} {examples:8d}"
    )
    print(f"load average after: {_load()}\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs of each whole-suite timing")
    parser.add_argument(
        "--omp-threads", type=int, help="also time every run with OMP_NUM_THREADS set to this"
    )
    parser.add_argument("--part", choices=["wall", "overhead", "both"], default="both")
    args = parser.parse_args(argv)
    print(f"{os.cpu_count()} CPUs; python {sys.version.split()[0]}\n")
    if args.part in ("wall", "both"):
        part_wall_time(args.repeats, args.omp_threads)
    if args.part in ("overhead", "both"):
        part_overhead(None)


if __name__ == "__main__":
    main()
