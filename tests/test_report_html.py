"""``conformance.html`` loads in headless Chromium without console errors.

Needs a Chromium binary (Debian: ``apt-get install chromium``); skipped with
that reason where there is none. Chromium prints every console message,
uncaught exception and Content-Security-Policy violation of the page as an
``INFO:CONSOLE`` line on stderr; the page itself logs nothing, so any such
line is an error. A deliberately broken page checks that they are seen.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import torch  # noqa: F401  (imported once: in-process runs drop modules they import)
from hypothesis import settings
from test_report import SUITE

CHROMIUM = next(
    (
        found
        for name in ("chromium", "chromium-browser", "google-chrome", "chrome")
        if (found := shutil.which(name))
    ),
    None,
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium binary on PATH (Debian: apt-get install chromium); "
    "the HTML report's browser check needs one",
)

BROKEN = """<!DOCTYPE html><html><head>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'">
</head><body><script>undefinedFunction();</script><img src="https://example.com/x.png"></body></html>
"""


@pytest.fixture(autouse=True)
def keep_hypothesis_profile():
    name = settings.get_current_profile_name()
    yield
    settings.load_profile(name)


def load_page(path: Path, tmp_path: Path) -> tuple[str, list[str]]:
    """The DOM after the page ran, and the console lines Chromium printed."""
    assert CHROMIUM is not None
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'chromium-profile'}",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            path.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    return result.stdout, console


def test_console_errors_are_detected(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text(BROKEN)
    _, console = load_page(page, tmp_path)
    assert any("undefinedFunction is not defined" in line for line in console)
    assert any("Content Security Policy" in line for line in console)


def test_report_page_loads_without_console_errors(pytester, tmp_path):
    pytester.makepyfile(test_suite=SUITE)
    out = pytester.path / "report"
    pytester.inline_run("--conformance-report", str(out), "--device", "cpu,meta")
    report = json.loads((out / "conformance.json").read_text())
    assert report["summary"]["failed"] > 0  # the page has failure details to show
    dom, console = load_page(out / "conformance.html", tmp_path)
    assert console == []
    assert 'data-script="ran"' in dom  # the inline script ran to its end (CSP allows it)
    assert dom.count('<table class="matrix">') == 1
    assert 'id="failure-0"' in dom
