"""``--conformance-report``: the records, the three files, atomic writes, escaping.

Small suites run in-process through pytester; the runs of the real suites,
under pytest-xdist and in shards, are in ``test_report_runs.py``.
"""

from __future__ import annotations

import json
import os
import re

import pytest
import torch
from hypothesis import settings

from conformance.report import io as report_io
from conformance.report.collect import parse_statistics
from conformance.report.render_html import render_html
from conformance.report.render_md import render_md

# Every outcome a record can have, on two devices.
SUITE = """
import pytest
from hypothesis import given, strategies as st

@pytest.mark.supports_meta
def test_plain(device, dtype):
    pass

@given(x=st.integers(0, 10))
def test_property_fails(device, dtype, x):
    assert x < 3, f"x={x}, but should be < 3"

@given(x=st.integers())
def test_property_passes(device, x):
    pass

def test_skips(device):
    pytest.skip("not here")

@pytest.mark.xfail(reason="known", strict=False)
def test_xfails(device):
    assert False

@pytest.mark.xfail(reason="thought broken", strict=False)
def test_xpasses(device):
    pass

@pytest.fixture
def broken():
    raise RuntimeError("setup broke")

def test_errors(device, broken):
    pass
"""

# Text that must come out escaped, in ids and in messages.
EVIL = """
import pytest

@pytest.mark.parametrize("case", ["<script>alert(1)</script>|x"], ids=str)
def test_evil(case):
    assert False, "<b>bold</b> & `tick` ```fence``` </details>"
"""


@pytest.fixture(autouse=True)
def keep_hypothesis_profile():
    name = settings.get_current_profile_name()
    yield
    settings.load_profile(name)


def run_report(pytester: pytest.Pytester, *args: str) -> dict:
    out = pytester.path / "report"
    pytester.inline_run("--conformance-report", str(out), "-p", "no:cacheprovider", *args)
    return json.loads((out / "conformance.json").read_text())


def by_id(report: dict) -> dict[str, dict]:
    return {r["id"]: r for r in report["records"]}


def test_a_run_writes_three_files_and_a_record_per_test(pytester):
    pytester.makepyfile(test_suite=SUITE)
    report = run_report(pytester, "--device", "cpu,meta")
    assert sorted(p.name for p in (pytester.path / "report").iterdir()) == [
        "conformance.html",
        "conformance.json",
        "conformance.md",
    ]
    report_io.validate(report)
    records = by_id(report)
    outcomes = {k: r["outcome"] for k, r in records.items()}
    assert outcomes["test_suite::test_plain[cpu-float32]"] == "passed"
    assert outcomes["test_suite::test_plain[meta-float64]"] == "passed"
    assert outcomes["test_suite::test_property_fails[cpu-float32]"] == "failed"
    assert outcomes["test_suite::test_property_fails[meta-float32]"] == "skipped"
    assert outcomes["test_suite::test_skips[cpu]"] == "skipped"
    assert outcomes["test_suite::test_xfails[cpu]"] == "xfailed"
    assert outcomes["test_suite::test_xpasses[cpu]"] == "xpassed"
    assert outcomes["test_suite::test_errors[cpu]"] == "error"
    # One record per check x device x dtype, each once.
    assert len(report["records"]) == len(records) == report["summary"]["total"]
    plain = records["test_suite::test_plain[meta-float64]"]
    assert (plain["check"], plain["device"], plain["dtype"]) == (
        "test_suite::test_plain",
        "meta",
        "float64",
    )
    assert records["test_suite::test_skips[cpu]"]["message"] == "not here"
    assert "setup broke" in records["test_suite::test_errors[cpu]"]["message"]


def test_a_failure_keeps_the_shrunk_example_and_a_rerun_command(pytester):
    pytester.makepyfile(test_suite=SUITE)
    failed = by_id(run_report(pytester, "--device", "cpu", "--dtype", "float32"))[
        "test_suite::test_property_fails[cpu-float32]"
    ]
    assert failed["message"].startswith("AssertionError: x=3, but should be < 3")
    # Hypothesis' shrunk, labelled example: x shrinks to the boundary.
    assert "test_property_fails(" in failed["falsifying_example"]
    assert "x=3" in failed["falsifying_example"]
    assert failed["reproduce"] == (
        "pytest 'test_suite.py::test_property_fails[cpu-float32]' -p no:cacheprovider "
        "--device cpu --dtype float32"
    )
    assert failed["reproduce_failure"].startswith("@reproduce_failure(")
    assert "AssertionError" in failed["traceback"]
    # Examples: every test case Hypothesis ran, all phases (generate and shrink).
    stats = failed["statistics"]
    assert failed["examples"] == sum(
        p["passing"] + p["failing"] + p["invalid"] for p in stats.values()
    )
    assert stats["shrink"]["failing"] >= 1


def test_examples_run_come_from_hypothesis_statistics(pytester):
    pytester.makepyfile(test_suite=SUITE)
    records = by_id(run_report(pytester, "--device", "cpu"))
    passing = records["test_suite::test_property_passes[cpu]"]
    # The conformance-ci profile: 100 examples, derandomized.
    assert passing["examples"] == 100
    assert passing["statistics"]["generate"]["passing"] == 100
    assert passing["stop_reason"] == "settings.max_examples=100"
    assert "reproduce" not in passing  # only where something went wrong
    assert records["test_suite::test_plain[cpu-float32]"]["examples"] is None  # no @given


def test_environment_block_describes_the_run(pytester):
    pytester.makepyfile(test_suite=SUITE)
    report = run_report(pytester, "--device", "cpu,meta", "--conformance-report-label", "mine")
    (run,) = report["runs"]
    env = run["environment"]
    assert run["label"] == "mine"
    assert env["devices"] == ["cpu", "meta"]
    assert env["profile"] == "conformance-ci"
    assert env["derandomize"] is True
    assert env["xdist_workers"] == 0
    assert "--device" in env["command_line"]
    assert run["summary"] == report["summary"]
    assert run["exitstatus"] == 1  # a test failed
    assert run["interrupted"] is False
    assert run["expectations"]["files"] == ["conformance/known_deviations.toml (built-in)"]


def test_default_label_names_the_torch_version(pytester):
    pytester.makepyfile(test_suite=SUITE)
    (run,) = run_report(pytester, "--device", "cpu")["runs"]
    assert run["label"] == f"torch {torch.__version__}"


def test_markdown_matrix_has_a_row_per_check_and_a_column_per_device_dtype(pytester):
    pytester.makepyfile(test_suite=SUITE)
    run_report(pytester, "--device", "cpu,meta")
    md = (pytester.path / "report" / "conformance.md").read_text()
    header = next(line for line in md.splitlines() if line.startswith("| check |"))
    assert "cpu · float32" in header
    assert "meta · float64" in header
    assert "cpu · any dtype" in header
    row = next(line for line in md.splitlines() if "test_suite::test_property_fails<" in line)
    assert "❌ 1/1" in row
    assert "## Failures (4)" in md  # 2 failed (float32, float64), xpassed, error
    assert "<summary>❌ <code>test_suite::test_property_fails[cpu-float32]</code>" in md


def test_no_report_without_the_option(pytester):
    pytester.makepyfile(test_suite=SUITE)
    reprec = pytester.inline_run("--device", "cpu", "-p", "no:cacheprovider")
    assert not reprec.getcalls("pytest_sessionfinish")[0].session.config.pluginmanager.has_plugin(
        "conformance-report"
    )
    assert not any(p.name.startswith("conformance.") for p in pytester.path.rglob("*"))


def test_content_is_escaped_in_html_and_markdown(pytester):
    pytester.makepyfile(test_evil=EVIL)
    report = run_report(pytester)
    html = (pytester.path / "report" / "conformance.html").read_text()
    md = (pytester.path / "report" / "conformance.md").read_text()
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>bold</b>" not in html
    assert html.count("<script>") == 1  # the page's own
    # Markdown: raw only inside code fences, escaped everywhere else.
    outside, fence = [], None
    for line in md.splitlines():
        marker = re.match(r"^(`{3,})", line)
        if fence is None and marker:
            fence = marker[1]
        elif fence is not None and line == fence:
            fence = None
        elif fence is None:
            outside.append(line)
    text = "\n".join(outside)
    assert "<script>" not in text
    assert "<b>" not in text
    assert "&lt;script&gt;" in text
    # The message holds ``` and ends in </details>: the fence must be longer.
    assert "````\nAssertionError: <b>bold</b>" in md
    assert report["records"][0]["outcome"] == "failed"


def test_html_is_self_contained(pytester):
    pytester.makepyfile(test_suite=SUITE)
    run_report(pytester, "--device", "cpu")
    html = (pytester.path / "report" / "conformance.html").read_text()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert "<link" not in html
    assert "default-src &#x27;none&#x27;" in html  # Content-Security-Policy
    assert html.count("<details") >= 3  # failures are expandable


def test_an_interrupted_run_still_reports_what_ran(pytester):
    pytester.makepyfile(
        test_suite="""
        def test_first():
            pass

        def test_interrupts():
            raise KeyboardInterrupt

        def test_never_reached():
            pass
        """
    )
    out = pytester.path / "report"
    pytester.inline_run("--conformance-report", str(out), no_reraise_ctrlc=True)
    report = report_io.load(out / "conformance.json")
    (run,) = report["runs"]
    assert run["interrupted"] is True
    assert run["exitstatus"] == 2
    assert [r["id"] for r in report["records"]] == ["test_suite::test_first"]


# -- atomic writes --------------------------------------------------------------


def test_an_interrupted_write_leaves_the_previous_file(tmp_path, monkeypatch):
    target = tmp_path / "conformance.json"
    target.write_text("previous")

    def interrupted(fd):
        raise KeyboardInterrupt  # after the new text went to the temporary file

    monkeypatch.setattr(report_io.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        report_io.atomic_write_text(target, "new " * 100_000)
    assert target.read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["conformance.json"]  # no temp file left


def test_an_interrupted_report_leaves_the_previous_report_intact(pytester, monkeypatch):
    pytester.makepyfile(test_suite=SUITE)
    previous = run_report(pytester, "--device", "cpu")
    out = pytester.path / "report"
    before = (out / "conformance.json").read_bytes()
    real_fsync, calls = report_io.os.fsync, []

    def interrupted_at_the_json(fd):
        calls.append(fd)
        if len(calls) == 3:  # html, md, then json: its text is written, not yet renamed
            raise KeyboardInterrupt
        real_fsync(fd)

    monkeypatch.setattr(report_io.os, "fsync", interrupted_at_the_json)
    with pytest.raises(KeyboardInterrupt):
        report_io.write_report(out, {**previous, "records": []})
    assert len(calls) == 3
    assert (out / "conformance.json").read_bytes() == before
    report_io.validate(json.loads(before))
    assert sorted(p.name for p in out.iterdir()) == [
        "conformance.html",
        "conformance.json",
        "conformance.md",
    ]


def test_a_successful_write_replaces_the_file_and_keeps_normal_permissions(tmp_path):
    target = tmp_path / "conformance.md"
    target.write_text("old")
    report_io.atomic_write_text(target, "new")
    assert target.read_text() == "new"
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask


# -- pieces ---------------------------------------------------------------------------

STATS = """test_x.py::test_fail[cpu]:

  - during generate phase (0.01 seconds):
    - Typical runtimes: ~ 0-2 ms, of which < 1ms in data generation
    - 4 passing, 6 failing, and 1 invalid test cases
    - Found 1 distinct error in this phase

  - during shrink phase (0.02 seconds):
    - Typical runtimes: ~ 0-1 ms, of which < 1ms in data generation
    - 8 passing, 3 failing, and 0 invalid test cases
    - Tried 11 shrinks of which 3 were successful

  - Stopped because nothing left to do"""


def test_parse_statistics_reads_each_phase():
    phases, stop = parse_statistics(STATS)
    assert phases == {
        "generate": {"passing": 4, "failing": 6, "invalid": 1, "seconds": 0.01},
        "shrink": {"passing": 8, "failing": 3, "invalid": 0, "seconds": 0.02},
    }
    assert stop == "nothing left to do"


def a_run(**changes) -> dict:
    """A run as a version-1 report holds it (no completeness fields)."""
    run = {
        "label": "x",
        "shard": None,
        "started": "",
        "duration": 0.0,
        "exitstatus": 0,
        "interrupted": False,
        "environment": {
            "python": "3",
            "platform": "p",
            "torch": "2",
            "hypothesis": "6",
            "kit": "0",
            "devices": ["cpu"],
            "devices_skipped": {},
            "profile": "default",
            "max_examples": 100,
            "derandomize": False,
            "seed": None,
            "xdist_workers": 0,
            "command_line": [],
        },
        "expectations": {"files": [], "strict": False, "skip_expected": False, "unmatched": []},
    }
    return {**run, **changes}


def a_record(test_id: str, outcome: str = "passed", run: int = 0, **changes) -> dict:
    record = {
        "run": run,
        "id": test_id,
        "nodeid": f"test_m.py::{test_id.split('::')[-1]}",
        "check": test_id.split("[")[0],
        "device": "cpu",
        "dtype": None,
        "mode": None,
        "target": None,
        "outcome": outcome,
        "duration": 0.0,
        "examples": None,
    }
    return {**record, **changes}


def a_v1_report(records: list[dict], runs: list[dict] | None = None) -> dict:
    """A report as version 1 of the kit wrote it: counts agree, no ``complete``."""
    from conformance.report.combine import counts

    runs = runs or [a_run()]
    for i, run in enumerate(runs):
        run.setdefault("summary", counts(r for r in records if r["run"] == i))
    return {
        "schema": "conformance-report/1",
        "generated_by": "torch-nn-conformance 0",
        "created": "",
        "runs": runs,
        "records": records,
        "summary": counts(records),
    }


def test_renderers_accept_an_empty_report():
    from conformance.report.combine import new_report

    run = a_run(exitstatus=5, summary=a_v1_report([])["summary"])
    run["environment"]["devices"] = []
    report = new_report([run], [])
    report_io.validate(report)
    assert "No tests were recorded." in render_md(report)
    assert "No tests were recorded." in render_html(report)
