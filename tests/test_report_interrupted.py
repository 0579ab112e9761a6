"""A run that did not finish leaves a report that says so: ``"complete": false``,
an INTERRUPTED headline, and warnings from ``validate`` and ``merge``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch  # noqa: F401  (imported once: in-process runs drop modules they import)
from hypothesis import settings
from test_report import a_record, a_run, a_v1_report

from conformance.report import SCHEMA_VERSION
from conformance.report import io as report_io
from conformance.report.__main__ import main

INTERRUPTED = """
def test_first():
    pass

def test_interrupts():
    raise KeyboardInterrupt

def test_never_reached():
    pass
"""

STOPS_AT_A_FAILURE = """
def test_first():
    pass

def test_fails():
    assert False

def test_never_reached():
    pass

def test_never_reached_either():
    pass
"""


@pytest.fixture(autouse=True)
def keep_hypothesis_profile():
    name = settings.get_current_profile_name()
    yield
    settings.load_profile(name)


def report_of(pytester: pytest.Pytester, *args: str) -> tuple[dict, str, str]:
    out = pytester.path / "report"
    pytester.inline_run(
        "--conformance-report", str(out), "-p", "no:cacheprovider", *args, no_reraise_ctrlc=True
    )
    report = report_io.load(out / "conformance.json")
    return report, (out / "conformance.md").read_text(), (out / "conformance.html").read_text()


def test_a_keyboard_interrupt_leaves_an_incomplete_report(pytester):
    pytester.makepyfile(test_suite=INTERRUPTED)
    report, md, html = report_of(pytester)
    assert report["schema"] == SCHEMA_VERSION
    assert report["complete"] is False
    (run,) = report["runs"]
    assert run["complete"] is False
    assert run["incomplete_reason"] == "KeyboardInterrupt; 1 of 3 collected tests ran"
    # The headline, not only the environment table, says so.
    head = md.splitlines()[:6]
    assert head[0] == "# Conformance report: INTERRUPTED"
    assert any("**INTERRUPTED**" in line and "1 of 3 collected tests ran" in line for line in head)
    assert "<h1>Conformance report: INTERRUPTED</h1>" in html
    assert "<title>Conformance report: INTERRUPTED," in html
    assert '<p class="interrupted"><strong>INTERRUPTED</strong>' in html


def test_a_run_stopped_at_the_first_failure_is_incomplete(pytester):
    pytester.makepyfile(test_suite=STOPS_AT_A_FAILURE)
    report, md, _ = report_of(pytester, "-x")
    (run,) = report["runs"]
    assert run["interrupted"] is False  # exit status 1: pytest calls this a failure
    assert report["complete"] is False
    assert run["incomplete_reason"] == "stopping after 1 failures; 2 of 4 collected tests ran"
    assert "INTERRUPTED" in md.splitlines()[0]


def test_a_run_stopped_at_the_first_failure_under_xdist_is_incomplete(pytester):
    pytester.makepyfile(test_suite=STOPS_AT_A_FAILURE)
    report, _, _ = report_of(pytester, "-x", "-n", "1")
    assert report["complete"] is False
    assert "stopping after 1 failures" in report["runs"][0]["incomplete_reason"]


def test_a_finished_run_is_complete_and_its_headline_says_nothing_of_interruption(pytester):
    pytester.makepyfile(test_suite=STOPS_AT_A_FAILURE)
    report, md, html = report_of(pytester)
    assert report["complete"] is True
    assert report["runs"][0]["complete"] is True
    assert report["runs"][0]["incomplete_reason"] is None
    assert "INTERRUPTED" not in md
    assert "INTERRUPTED" not in html


def write(path: Path, report: dict) -> str:
    path.write_text(json.dumps(report))
    return str(path)


def test_validate_warns_about_an_incomplete_report(tmp_path, capsys):
    partial = a_v1_report([a_record("test_m::test_a")], [a_run(interrupted=True, exitstatus=2)])
    path = write(tmp_path / "partial.json", partial)
    assert main(["validate", path]) == 0
    captured = capsys.readouterr()
    assert f"{path}: valid conformance-report/1, 1 tests" in captured.out
    assert captured.err == f"warning: {path} is incomplete: interrupted (exit status 2)\n"


def test_merge_warns_and_the_merged_report_is_incomplete(tmp_path, capsys):
    whole = a_v1_report([a_record("test_m::test_a")], [a_run(label="one")])
    partial = a_v1_report(
        [a_record("test_m::test_b")], [a_run(label="two", interrupted=True, exitstatus=2)]
    )
    inputs = [write(tmp_path / "whole.json", whole), write(tmp_path / "partial.json", partial)]
    assert main(["merge", *inputs, "-o", str(tmp_path / "out")]) == 0
    captured = capsys.readouterr()
    assert captured.err == f"warning: {inputs[1]} is incomplete: interrupted (exit status 2)\n"
    assert "INCOMPLETE: run 1 (two): interrupted" in captured.out
    merged = report_io.load(tmp_path / "out" / "conformance.json")
    assert merged["schema"] == SCHEMA_VERSION  # version-1 inputs come out upgraded
    assert merged["complete"] is False
    assert [r["complete"] for r in merged["runs"]] == [True, False]
    assert "INTERRUPTED" in (tmp_path / "out" / "conformance.md").read_text().splitlines()[0]


def test_merging_complete_reports_gives_a_complete_one(tmp_path, capsys):
    one = a_v1_report([a_record("test_m::test_a")], [a_run(label="one")])
    two = a_v1_report([a_record("test_m::test_b")], [a_run(label="two")])
    inputs = [write(tmp_path / "one.json", one), write(tmp_path / "two.json", two)]
    assert main(["merge", *inputs, "-o", str(tmp_path / "out")]) == 0
    assert capsys.readouterr().err == ""
    assert report_io.load(tmp_path / "out" / "conformance.json")["complete"] is True


def test_complete_must_agree_with_the_runs(tmp_path):
    from conformance.report.combine import new_report

    run = a_run(interrupted=True, exitstatus=2, summary=a_v1_report([])["summary"])
    report = new_report([run], [])
    assert report["complete"] is False
    report_io.validate(report)
    with pytest.raises(report_io.ReportError, match="complete is true, but run 0 is not"):
        report_io.validate({**report, "complete": True})
