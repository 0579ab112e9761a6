"""Every xfail and skip carries its reason into the JSON, Markdown and HTML
reports, with the upstream links an expectation's reason names, escaped."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from hypothesis import settings
from test_report import a_record, a_v1_report, by_id
from test_report_runs import clean_env

import conformance
from conformance.report.render_html import render_html
from conformance.report.render_md import render_md

ROOT = Path(conformance.__file__).resolve().parent.parent
ISSUE = "https://github.com/pytorch/pytorch/issues/117758"

SUITE = """
import pytest

@pytest.mark.xfail(reason="marker: <b>torch</b> departs & knows it", strict=False)
def test_marked(device):
    assert False, "the failure itself"

def test_skips(device):
    pytest.skip("skipped because <i>reasons</i>")

@pytest.mark.skip(reason="unconditional, see https://example.org/why?a=1&b=2")
def test_marked_skip(device):
    pass

def test_deviates(device):
    assert False, "departs"

def test_deviation_skipped(device):
    assert False, "never runs"
"""

EXPECTATIONS = f"""
[[deviation]]
id = "test_suite::test_deviates"
action = "xfail"
reason = "hooks are not guarded <here>. {ISSUE}, https://github.com/pytorch/pytorch/pull/98371"

[[deviation]]
id = "test_suite::test_deviation_skipped"
action = "skip"
reason = "flaky by chance ({ISSUE})"
"""


@pytest.fixture(autouse=True)
def keep_hypothesis_profile():
    name = settings.get_current_profile_name()
    yield
    settings.load_profile(name)


@pytest.fixture
def run(pytester: pytest.Pytester) -> tuple[dict, str, str]:
    pytester.makepyfile(test_suite=SUITE)
    (pytester.path / "expected.toml").write_text(textwrap.dedent(EXPECTATIONS))
    out = pytester.path / "report"
    args = ("--device", "cpu", "--conformance-expectations", "expected.toml")
    pytester.inline_run("--conformance-report", str(out), "-p", "no:cacheprovider", *args)
    return (
        json.loads((out / "conformance.json").read_text()),
        (out / "conformance.md").read_text(),
        (out / "conformance.html").read_text(),
    )


def test_every_xfail_and_skip_record_has_its_reason(run):
    records = by_id(run[0])
    marked = records["test_suite::test_marked[cpu]"]
    assert marked["outcome"] == "xfailed"
    assert marked["reason"] == "marker: <b>torch</b> departs & knows it"
    assert marked["message"].startswith("AssertionError: the failure itself")
    assert records["test_suite::test_skips[cpu]"]["reason"] == "skipped because <i>reasons</i>"
    marked_skip = records["test_suite::test_marked_skip[cpu]"]
    assert marked_skip["reason"] == "unconditional, see https://example.org/why?a=1&b=2"
    assert marked_skip["links"] == ["https://example.org/why?a=1&b=2"]
    deviates = records["test_suite::test_deviates[cpu]"]
    assert deviates["outcome"] == "xfailed"
    assert deviates["reason"].startswith("known deviation (expected.toml#1): hooks are not")
    assert deviates["links"] == [ISSUE, "https://github.com/pytorch/pytorch/pull/98371"]
    skipped = records["test_suite::test_deviation_skipped[cpu]"]
    assert skipped["outcome"] == "skipped"
    assert skipped["links"] == [ISSUE]
    assert all(r.get("reason") for r in run[0]["records"] if r["outcome"] in ("xfailed", "skipped"))


def test_markdown_shows_each_reason_escaped_with_its_links(run):
    md = run[1]
    assert "## Expected failures (1)" in md
    row = next(line for line in md.splitlines() if "test_suite::test_marked[cpu]" in line)
    assert "marker: &lt;b&gt;torch&lt;/b&gt; departs &amp; knows it" in row
    assert "<b>torch" not in md
    assert "skipped because &lt;i&gt;reasons&lt;/i&gt;" in md
    deviation = next(line for line in md.splitlines() if "test_suite::test_deviates[cpu]" in line)
    assert "hooks are not guarded &lt;here&gt;." in deviation
    assert f'<a href="{ISSUE}">{ISSUE}</a>' in deviation
    assert '<a href="https://example.org/why?a=1&amp;b=2">' in md


def test_html_shows_each_reason_escaped_with_its_links(run):
    html = run[2]
    assert "<h2>Expected failures (1)</h2>" in html
    assert "marker: &lt;b&gt;torch&lt;/b&gt; departs &amp; knows it" in html
    assert "skipped because &lt;i&gt;reasons&lt;/i&gt;" in html
    assert "hooks are not guarded &lt;here&gt;." in html
    assert f'<a href="{ISSUE}" rel="noreferrer">{ISSUE}</a>' in html
    assert '<a href="https://example.org/why?a=1&amp;b=2" rel="noreferrer">' in html
    # Links are for the reader to follow: the page itself still loads nothing.
    assert not re.search(r"""\bsrc=["']?(https?:)?//""", html)


def test_a_link_cannot_break_out_of_its_attribute():
    reason = 'see https://example.org/"onmouseover="alert(1) and https://x.org/<script>'
    record = a_record("test_m::test_a", "skipped", message=reason)
    report = a_v1_report([record])
    html = render_html(report)
    assert '"onmouseover=' not in html
    assert "<script>alert" not in html
    assert "x.org/<script>" not in html
    md = render_md(report)
    assert '"onmouseover=' not in md


def test_reports_of_version_1_show_skip_and_expectation_reasons():
    # Written before records held "reason": the message and the expectation stand in.
    skipped = a_record("test_m::test_s", "skipped", message="no GPU")
    expected = a_record(
        "test_m::test_x",
        "xfailed",
        message="AssertionError: departs",
        expectation={"action": "xfail", "reason": f"known: {ISSUE}", "source": "f.toml#1"},
    )
    report = a_v1_report([skipped, expected])
    for text in (render_md(report), render_html(report)):
        assert "no GPU" in text
        assert f'<a href="{ISSUE}"' in text


@pytest.mark.skipif(
    not torch.__version__.startswith("2.13."),
    reason="the kit's entry for pow_ on meta names torch 2.13",
)
def test_a_real_known_deviation_reaches_the_reports_with_its_link(tmp_path):
    # The kit's own file: pow_ on meta (torch 2.13) is an xfail whose reason has a link.
    out = tmp_path / "report"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "conformance/test_broadcasting_inplace.py",
         "-k", "test_inplace_op_follows_broadcast_rule and meta-pow_", "--device", "meta",
         "-p", "no:cacheprovider", "-q", "--conformance-report", str(out)],
        cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads((out / "conformance.json").read_text())
    (record,) = report["records"]
    assert record["outcome"] == "xfailed"
    link = "https://pytorch.org/docs/stable/notes/broadcasting.html#in-place-semantics"
    assert "pow_ resizes a too-small target" in record["reason"]
    assert record["links"] == [link]
    for name in ("conformance.md", "conformance.html"):
        text = (out / name).read_text()
        assert "pow_ resizes a too-small target" in text
        assert f'<a href="{link}"' in text
