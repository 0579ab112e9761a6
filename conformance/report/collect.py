"""The pytest hooks that gather a conformance report (``--conformance-report DIR``).

Registered by the plugin only when the option is given, so other runs pay
nothing. Two halves:

- Where tests run (the only process, or each pytest-xdist worker), a
  ``pytest_runtest_makereport`` wrapper attaches what only that process
  knows to the test report, under the ``conformance_report`` attribute: the
  normalized id, device/dtype/mode/target, the expectation applied, a
  command that reruns the test, and Hypothesis' statistics for the test
  (the same per-test statistics its pytest plugin prints with
  ``--hypothesis-show-statistics``). pytest-xdist ships report attributes
  to the controller as they are.
- Where reports arrive (the only process, or the xdist controller),
  ``pytest_runtest_logreport`` folds setup, call and teardown into one
  record per test, and ``pytest_sessionfinish`` writes the three files
  once, atomically. Workers never write: one run, one report.

The directory is checked when pytest configures, so that a path that cannot
be written is a usage error before the run rather than a lost report after
it. A run that stops early (Ctrl-C, ``-x``, ``pytest.exit``, a collection
error) still writes its report, marked ``complete: false`` with the reason.
"""

from __future__ import annotations

import platform
import re
import time
from pathlib import Path
from typing import Any

import pytest

from conformance.node_ids import check_of, item_fields, item_id, normalized_id
from conformance.rerun import rerun_command

PLUGIN_NAME = "conformance-report"
ATTRIBUTE = "conformance_report"
#: A failure's text is kept up to this many characters (its end: the assertion).
MAX_TRACEBACK = 8000
MAX_MESSAGE = 4000

_PHASE = re.compile(r"during (\w+) phase \(([\d.]+) seconds\)")
_CASES = re.compile(r"(\d+) passing, (\d+) failing, and (\d+) invalid test cases")
_STOPPED = re.compile(r"Stopped because (.+)")
_EXAMPLE_START = re.compile(r"^(Falsifying example|Failing test case|Falsifying explicit example)")
_REPRODUCE = re.compile(r"@reproduce_failure\([^)]*\)")


def add_options(group: pytest.OptionGroup) -> None:
    group.addoption(
        "--conformance-report",
        default=None,
        metavar="DIR",
        help="Write conformance.json, conformance.md and conformance.html into DIR "
        "(one report per run, also under pytest-xdist).",
    )
    group.addoption(
        "--conformance-report-label",
        default=None,
        metavar="TEXT",
        help="Name this run's configuration in the report (default: the torch version "
        "and GPUs). Merged runs with one label are shards of one configuration.",
    )


def configure(config: pytest.Config) -> None:
    """Register the report hooks when ``--conformance-report`` is given."""
    directory = config.getoption("conformance_report", None)
    if directory is None or config.pluginmanager.has_plugin(PLUGIN_NAME):
        return
    path = Path(config.invocation_params.dir, directory)
    if not hasattr(config, "workerinput"):  # only the controller writes
        from conformance.report.output import output_problem

        problem = output_problem(path)
        if problem is not None:
            raise pytest.UsageError(f"--conformance-report {directory}: {problem}")
    config.pluginmanager.register(ReportCollector(config, path), PLUGIN_NAME)


# -- where the tests run ----------------------------------------------------


def parse_statistics(text: str) -> tuple[dict[str, dict[str, Any]], str | None]:
    """Hypothesis' statistics text -> per-phase counts and why it stopped."""
    phases: dict[str, dict[str, Any]] = {}
    phase = None
    stop = None
    for line in text.splitlines():
        if m := _PHASE.search(line):
            phase = m[1]
            phases[phase] = {"passing": 0, "failing": 0, "invalid": 0, "seconds": float(m[2])}
        elif (m := _CASES.search(line)) and phase is not None:
            phases[phase].update(passing=int(m[1]), failing=int(m[2]), invalid=int(m[3]))
        elif m := _STOPPED.search(line):
            stop = m[1].strip()
    return phases, stop


# -- where the reports arrive -------------------------------------------------


def _crash_message(report: pytest.TestReport) -> str | None:
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message)
    if isinstance(report.longrepr, tuple) and len(report.longrepr) == 3:
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    text = report.longreprtext
    return text or None


def _split_example(message: str) -> tuple[str, str | None, str | None]:
    """A failure message -> (message, Hypothesis' falsifying example, @reproduce_failure)."""
    blob_match = _REPRODUCE.search(message)
    blob = blob_match[0] if blob_match else None
    lines = message.splitlines()
    start = next((i for i, line in enumerate(lines) if _EXAMPLE_START.match(line.strip())), None)
    if start is None:
        return message, None, blob
    example = [line for line in lines[start:] if "@reproduce_failure" not in line]
    while example and not example[-1].strip():
        example.pop()
    return "\n".join(lines[:start]).rstrip(), "\n".join(example), blob


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else "...(truncated)...\n" + text[-limit:]


class ReportCollector:
    def __init__(self, config: pytest.Config, directory: Path) -> None:
        self.config = config
        self.directory = directory
        self.is_worker = hasattr(config, "workerinput")
        self.pending: dict[str, dict[str, Any]] = {}
        self.records: list[dict[str, Any]] = []
        self.started = ""
        self.start_time = 0.0
        self.written: list[Path] = []
        self.ran = 0  # tests that reached an outcome
        self.collected: int | None = None
        self.stopped: str | None = None  # why the session ended early, if it did

    # Where the tests run.
    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        outcome = yield
        report = outcome.get_result()
        info: dict[str, Any] = {}
        if report.when == "setup":
            from conformance.expectations import APPLIED

            test_id = item_id(item)
            info = {"id": test_id, "check": check_of(test_id), **item_fields(item)}
            info["reproduce"] = rerun_command(item)
            expectation = item.stash.get(APPLIED, None)
            if expectation is not None:
                info["expectation"] = dict(expectation)
        elif report.when == "call":
            stats = getattr(item, "hypothesis_statistics", None)
            if isinstance(stats, str):
                phases, stop = parse_statistics(stats)
                info["statistics"] = phases
                info["examples"] = sum(
                    p["passing"] + p["failing"] + p["invalid"] for p in phases.values()
                )
                if stop:
                    info["stop_reason"] = stop
        if info:
            report.__dict__[ATTRIBUTE] = info

    # Where the reports arrive.
    def pytest_sessionstart(self) -> None:
        from conformance.report.combine import now

        self.started = now()
        self.start_time = time.monotonic()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.is_worker:
            return
        record = self.pending.get(report.nodeid)
        if record is None:
            test_id = normalized_id(report.nodeid)
            record = self.pending[report.nodeid] = {
                "run": 0,
                "id": test_id,
                "nodeid": report.nodeid,
                "check": check_of(test_id),
                "device": None,
                "dtype": None,
                "mode": None,
                "target": None,
                "outcome": None,
                "duration": 0.0,
                "examples": None,
            }
        info = getattr(report, ATTRIBUTE, None)
        if isinstance(info, dict):
            record.update(info)
        worker = getattr(report, "worker_id", None)
        if isinstance(worker, str):
            record["worker"] = worker
        record["duration"] += max(0.0, float(report.duration))
        self._fold(record, report)
        if report.when == "teardown":
            self._finish(self.pending.pop(report.nodeid))

    def _fold(self, record: dict[str, Any], report: pytest.TestReport) -> None:
        wasxfail = getattr(report, "wasxfail", None)
        if report.when == "teardown":
            if report.failed and record["outcome"] in (None, "passed", "skipped", "xfailed"):
                record["outcome"] = "error"
                self._failure(record, report, "error in teardown: ")
            return
        if report.passed:
            if report.when == "call":
                record["outcome"] = "xpassed" if wasxfail is not None else "passed"
                if wasxfail is not None:
                    record["message"] = str(wasxfail)
                    self._reason(record, str(wasxfail))
            return
        if report.skipped:
            if wasxfail is not None:
                record["outcome"] = "xfailed"
                self._failure(record, report, "", traceback=False)
                record.setdefault("message", str(wasxfail) or "xfail")
                self._reason(record, str(wasxfail))
            else:
                record["outcome"] = "skipped"
                record["message"] = _clip(_crash_message(report) or "", MAX_MESSAGE)
                self._reason(record, record["message"])
            return
        record["outcome"] = "failed" if report.when == "call" else "error"
        self._failure(record, report, "" if report.when == "call" else f"error in {report.when}: ")

    @staticmethod
    def _reason(record: dict[str, Any], reason: str) -> None:
        """Why it was skipped or expected to fail, and the links that reason gives;
        for an xfail, ``message`` holds the failure itself."""
        from conformance.report.links import links_in

        record["reason"] = _clip(reason, MAX_MESSAGE)
        links = links_in(record["reason"])
        if links:
            record["links"] = links
        else:
            record.pop("links", None)

    @staticmethod
    def _failure(
        record: dict[str, Any], report: pytest.TestReport, prefix: str, traceback: bool = True
    ) -> None:
        message = _crash_message(report)
        if message is None:
            return
        message, example, blob = _split_example(message)
        record["message"] = _clip(prefix + message, MAX_MESSAGE)
        if example:
            record["falsifying_example"] = _clip(example, MAX_MESSAGE)
        if blob:
            record["reproduce_failure"] = blob
        if traceback and report.longreprtext:
            record["traceback"] = _clip(report.longreprtext, MAX_TRACEBACK)

    def _finish(self, record: dict[str, Any]) -> None:
        if record["outcome"] is None:  # set up, never run (interrupted)
            return
        if record["outcome"] in ("passed", "skipped"):
            record.pop("reproduce", None)
        self.records.append(record)
        self.ran += 1

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if self.is_worker or not report.failed:
            return
        test_id = normalized_id(report.nodeid) or report.nodeid or "(collection)"
        record: dict[str, Any] = {
            "run": 0,
            "id": test_id,
            "nodeid": report.nodeid,
            "check": check_of(test_id),
            "device": None,
            "dtype": None,
            "mode": None,
            "target": None,
            "outcome": "error",
            "duration": 0.0,
            "examples": None,
            "message": _clip("collection error: " + (report.longreprtext or ""), MAX_MESSAGE),
        }
        self.records.append(record)

    def _workers(self) -> int:
        if self.config.getoption("dist", "no") == "no":
            return 0
        return len(self.config.getoption("tx", None) or [])

    def environment(self) -> dict[str, Any]:
        from conformance.environment import describe

        env = describe(self.config)
        env["platform"] = platform.platform()
        env["xdist_workers"] = self._workers()
        env["command_line"] = [str(a) for a in self.config.invocation_params.args]
        if env.get("seed") is not None and not isinstance(env["seed"], int):
            env["seed"] = str(env["seed"])
        return env

    def build(self, exitstatus: int) -> dict[str, Any]:
        from conformance.report.combine import counts, new_report

        for record in list(self.pending.values()):
            self._finish(record)
        self.pending.clear()
        env = self.environment()
        label = self.config.getoption("conformance_report_label", None)
        if not label:
            label = f"torch {env['torch']}"
            gpus = list(dict.fromkeys(env.get("gpus", [])))
            if gpus:
                label += f" · {', '.join(gpus)}"
        expectations = self.config.pluginmanager.get_plugin("conformance-expectations")
        summary = (
            expectations.summary()
            if expectations is not None
            else {"files": [], "strict": False, "skip_expected": False, "unmatched": []}
        )
        interrupted = int(exitstatus) == int(pytest.ExitCode.INTERRUPTED)
        causes = [self.stopped] if self.stopped else ["interrupted"] if interrupted else []
        if self.collected is not None and self.ran < self.collected:
            causes.append(f"{self.ran} of {self.collected} collected tests ran")
        run = {
            "label": label,
            "shard": self.config.getoption("conformance_shard", None),
            "started": self.started,
            "duration": round(time.monotonic() - self.start_time, 3),
            "exitstatus": int(exitstatus),
            "interrupted": interrupted,
            "complete": not causes,
            "incomplete_reason": "; ".join(causes) or None,
            "environment": env,
            "expectations": summary,
            "summary": counts(self.records),
        }
        self.records.sort(key=lambda r: r["id"])  # workers finish in any order
        for record in self.records:
            record["duration"] = round(record["duration"], 4)
        return new_report([run], self.records)

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        """Ctrl-C, and pytest's own stops: xdist's ``-x``, collection errors, pytest.exit."""
        text = str(excinfo.value)
        self.stopped = f"{excinfo.typename}: {text}" if text else excinfo.typename

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.is_worker:
            return
        from conformance.report.io import write_report

        # -x and --maxfail without xdist stop through these, with exit status 1.
        early = session.shouldfail or session.shouldstop
        if early and self.stopped is None:
            self.stopped = early if isinstance(early, str) else "stopped early"
        self.collected = session.testscollected

        self.written = write_report(self.directory, self.build(session.exitstatus))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.written:
            names = ", ".join(p.name for p in self.written)
            terminalreporter.write_sep("-", f"conformance report: {self.directory} ({names})")
