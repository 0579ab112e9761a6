"""Run the conformance suites against real third-party layers and write reports/ecosystem/.

    python examples/adapters/run_ecosystem.py            # run everything, then write the pages
    python examples/adapters/run_ecosystem.py --pages    # only rewrite the pages from the last run
    python examples/adapters/run_ecosystem.py --only timm-linear --only peft-lora

Needs the packages pinned in ``examples/adapters/requirements.txt`` (``tox -e
ecosystem`` installs them). For each target in :data:`ecosystem.TARGETS` it

1. runs ``pytest --pyargs conformance --target <kind>=<adapter> --mode
   eager,functional_call,jit -n 2 --conformance-report
   reports/ecosystem/<target>/`` from a scratch directory (so the installed
   kit runs, not a checkout's ``conformance/``), drops the ``.html`` and, when
   ``conformance.json`` is over 300 KB, cuts each failure's traceback to its
   end (``--modes`` adds ``compile``: about twice the time; ``--workers``
   sets ``-n``);
2. runs the module-call checks through the Python API
   (``conformance.check_call_semantics(lambda: factory(4, 3), inputs=[(2, 4)],
   modes=...)`` for a ``linear`` target; each kind's arguments and input
   shapes are ``ecosystem.CALLS``), which ``--target`` does not reach, into
   ``reports/ecosystem/<target>/call_semantics.json`` (for a kind whose
   entry is None, ``embedding``, a file saying why they were not run);

then runs every minimal repro in ``examples/adapters/repros/`` and writes one
page per library and ``reports/ecosystem/README.md`` (see ``ecosystem.py``).
Each failing check is matched to a classified departure; a failure that
matches none, a departure that no longer shows, or a repro that stops showing
its behaviour makes the script exit 1 and is named on the page.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import ecosystem  # noqa: E402

MODES = ("eager", "functional_call", "jit")  # add compile with --modes (about 2x the time)
MAX_REPORT_BYTES = 300_000
TRACEBACK_KEEP = 400


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE), env.get("PYTHONPATH", "")) if p)
    env.setdefault("PYTHONHASHSEED", "0")
    return env


def compact_report(path: Path) -> bool:
    """Keep a ``conformance.json`` under :data:`MAX_REPORT_BYTES` by cutting each failure's
    ``traceback`` (optional in the schema, and most of the bytes) to its last lines.
    True if it cut anything."""
    if not path.exists() or path.stat().st_size <= MAX_REPORT_BYTES:
        return False
    report = json.loads(path.read_text())
    for record in report["records"]:
        tb = record.get("traceback")
        if isinstance(tb, str) and len(tb) > TRACEBACK_KEEP:
            record["traceback"] = "[... cut by run_ecosystem.py ...]\n" + tb[-TRACEBACK_KEEP:]
    path.write_text(json.dumps(report, indent=1) + "\n")
    return True


def run_suites(target: ecosystem.Target, out: Path, modes: tuple[str, ...], workers: str) -> None:
    """pytest --pyargs conformance --target ... into ``out`` (JSON and Markdown)."""
    out.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "pytest", "--pyargs", "conformance",
        "--target", f"{target.kind}={target.spec}",
        "--mode", ",".join(modes),
        "-n", workers, "-p", "no:cacheprovider", "-q", "-rN",
        "--log-disable=torch.__trace",
        "--conformance-report", str(out),
        "--conformance-report-label", target.name,
    ]  # fmt: skip
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="eco-") as scratch:
        proc = subprocess.run(command, cwd=scratch, env=_env(), capture_output=True, text=True)
    elapsed = time.monotonic() - start
    (out / "conformance.html").unlink(missing_ok=True)
    compact_report(out / "conformance.json")
    summary = [ln for ln in proc.stdout.splitlines() if re.search(r"\d+ (passed|failed)\b", ln)]
    print(f"  suites: exit {proc.returncode}, {summary[-1:]} ({elapsed:.0f} s)", flush=True)
    if proc.returncode not in (0, 1):  # 1: some checks failed, which is what we measure
        sys.stderr.write(proc.stdout[-5000:] + proc.stderr[-5000:])
        raise SystemExit(f"{target.name}: pytest exited {proc.returncode}")


def run_call_semantics(target: ecosystem.Target, out: Path, modes: tuple[str, ...]) -> None:
    """The module-call checks through the Python API, in a subprocess (a fresh process
    per target, as for the suites)."""
    start = time.monotonic()
    if ecosystem.CALLS[target.kind] is None:
        reason = ecosystem.CALLS_SKIPPED[target.kind]
        data = {"call": None, "not_run": reason, "summary": "not run", "passed": [],
                "failed": [], "expected_failures": [], "skipped": []}  # fmt: skip
        (out / "call_semantics.json").write_text(json.dumps(data, indent=1) + "\n")
        print(f"  call semantics: not run ({target.kind})", flush=True)
        return
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--call-semantics-worker",
         target.kind, target.spec, str(out / "call_semantics.json"), ",".join(modes)],
        env=_env(), capture_output=True, text=True, cwd=tempfile.gettempdir(),
    )  # fmt: skip
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-5000:] + proc.stderr[-5000:])
        raise SystemExit(f"{target.name}: check_call_semantics worker exited {proc.returncode}")
    data = json.loads((out / "call_semantics.json").read_text())
    print(f"  call semantics: {data['summary']} ({time.monotonic() - start:.0f} s)", flush=True)


def _call_semantics_worker(kind: str, spec: str, path: str, modes: str) -> None:
    import importlib

    import _torchvision_on_cpu  # noqa: F401

    import conformance

    module_name, _, name = spec.partition(":")
    factory = getattr(importlib.import_module(module_name), name)
    args, inputs = ecosystem.CALLS[kind]
    try:
        report = conformance.check_call_semantics(
            lambda: factory(*args), inputs=inputs, modes=tuple(modes.split(","))
        )
    except conformance.ConformanceError as e:
        report = e.report
    shown = ", ".join(map(str, args))
    data = {
        "call": f"conformance.check_call_semantics(lambda: {name}({shown}), inputs={inputs}, "
        f"modes={tuple(modes.split(','))!r})",
        "summary": report.summary(),
        "passed": report.passed,
        "failed": [list(f) for f in report.failures],
        "expected_failures": [list(f) for f in report.expected_failures],
        "skipped": [list(s) for s in report.skipped],
    }
    Path(path).write_text(json.dumps(data, indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", action="store_true", help="only rewrite the pages")
    parser.add_argument("--only", action="append", default=[], help="target name (repeatable)")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--workers", default=os.environ.get("PYTEST_WORKERS", "2"))
    parser.add_argument("--out", type=Path, default=ecosystem.REPORTS)
    parser.add_argument("--call-semantics-worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.call_semantics_worker:
        _call_semantics_worker(*args.call_semantics_worker)
        return 0
    modes = tuple(args.modes.split(","))
    targets = [t for t in ecosystem.TARGETS if not args.only or t.name in args.only]
    unknown = set(args.only) - {t.name for t in ecosystem.TARGETS}
    if unknown:
        parser.error(
            f"unknown target(s) {sorted(unknown)}; known: {[t.name for t in ecosystem.TARGETS]}"
        )
    if not args.pages:
        for target in targets:
            out = args.out / target.name
            print(f"{target.name}: --target {target.kind}={target.spec}", flush=True)
            if out.exists():
                shutil.rmtree(out)
            run_suites(target, out, modes, args.workers)
            run_call_semantics(target, out, modes)
    for target in ecosystem.TARGETS:
        compact_report(args.out / target.name / "conformance.json")
    problems = ecosystem.write_pages(args.out, _env())
    for problem in problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
