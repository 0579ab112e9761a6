"""``conformance.md``: the report as GitHub-flavoured Markdown, for job summaries.

A summary line (under an INTERRUPTED warning when the run did not finish),
the environment, the matrix of checks against device/dtype, then each
failure in a ``<details>`` block (message, shrunk example, the command that
reruns it), the expected failures and known deviations with their reasons,
and why tests were skipped. Everything taken from the report is escaped:
table cells and summaries as HTML text, code in fences longer than any run of
backticks it holds; links in reasons become ``<a>`` elements, escaped too.
GitHub caps a job summary at 1 MiB: at most :data:`MAX_DETAILS` failures and
:data:`MAX_ROWS` expected failures are spelt out.
"""

from __future__ import annotations

import html
import re
from typing import Any

from conformance.report import matrix
from conformance.report.completeness import describe, run_incomplete_reason
from conformance.report.links import split_links

MAX_DETAILS = 50
MAX_ROWS = 200
SYMBOLS = {
    "passed": "✅",
    "failed": "❌",
    "error": "💥",
    "xpassed": "❗",
    "xfailed": "🟡",
    "skipped": "⏭️",
}
LEGEND = (
    "✅ passed · ❌ failed · 💥 error · ❗ passed although expected to fail · "
    "🟡 known deviation (xfail) · ⏭️ skipped; numbers count the check's parameter cases"
)


def cell_text(text: str) -> str:
    """Plain text made safe for one Markdown table cell."""
    return html.escape(text).replace("|", "&#124;").replace("\n", " ").replace("`", "&#96;")


def linked_text(text: str) -> str:
    """:func:`cell_text`, with each http(s) link in it made an ``<a>`` element."""
    return "".join(
        f'<a href="{html.escape(piece)}">{html.escape(piece)}</a>' if is_link else cell_text(piece)
        for piece, is_link in split_links(text)
    )


def fenced(text: str, info: str = "") -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text}\n{fence}"


def _short(cell: matrix.Cell) -> str:
    c = cell.counts
    ran = c["passed"] + c["failed"] + c["error"] + c["xpassed"]
    status = cell.status
    if status in ("failed", "error"):
        text = f"{SYMBOLS[status]} {c['failed'] + c['error']}/{ran}"
    elif status == "xpassed":
        text = f"❗ {c['xpassed']}"
    elif status == "passed":
        text = f"✅ {c['passed']}"
    elif status == "xfailed":
        text = f"🟡 {c['xfailed']}"
    else:
        return "⏭️"
    if status != "xfailed" and c["xfailed"]:
        text += f" 🟡{c['xfailed']}"
    return text


def _summary_line(counts: dict[str, int], runs: int) -> str:
    parts = [f"**{counts['total']} tests**"]
    for outcome in ("passed", "failed", "error", "xpassed", "xfailed", "skipped"):
        if counts[outcome]:
            parts.append(f"{SYMBOLS[outcome]} {counts[outcome]} {outcome}")
    return " · ".join(parts) + (f" ({runs} runs merged)" if runs > 1 else "")


def _environment(report: dict[str, Any]) -> list[str]:
    runs = report["runs"]
    if len(runs) == 1:
        lines = ["| | |", "| --- | --- |"]
        lines += [f"| {k} | {cell_text(v)} |" for k, v in matrix.environment_lines(runs[0])]
        return lines
    lines = [
        "| run | label | shard | torch | python | devices | profile | workers | time | exit |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for i, run in enumerate(runs):
        env = run["environment"]
        why = run_incomplete_reason(run)
        exit_text = str(run["exitstatus"]) + (f" (INCOMPLETE: {why})" if why else "")
        values = [
            run["label"],
            run["shard"] or "",
            env["torch"],
            env["python"],
            ", ".join(env["devices"]),
            env["profile"],
            str(env["xdist_workers"]),
            f"{run['duration']:.0f} s",
            exit_text,
        ]
        lines.append(f"| {i} | " + " | ".join(cell_text(v) for v in values) + " |")
    return lines


def _matrix(report: dict[str, Any]) -> list[str]:
    m = matrix.build(report)
    if not m.rows:
        return ["No tests were recorded."]
    lines = [
        "| check | " + " | ".join(cell_text(c.title()) for c in m.columns) + " |",
        "| --- |" + " :---: |" * len(m.columns),
    ]
    for row in m.rows:
        cells = []
        for column in m.columns:
            cell = m.cells.get((row, column))
            cells.append(_short(cell) if cell else "")
        lines.append(f"| <code>{cell_text(row)}</code> | " + " | ".join(cells) + " |")
    lines += ["", LEGEND]
    return lines


def _details(record: dict[str, Any], runs: list[dict[str, Any]]) -> list[str]:
    first = (record.get("message") or record["outcome"]).strip().splitlines() or [""]
    where = f" ({runs[record['run']]['label']})" if len(runs) > 1 else ""
    summary = (
        f"{SYMBOLS[record['outcome']]} <code>{html.escape(record['id'])}</code>{html.escape(where)}"
    )
    lines = ["<details>", f"<summary>{summary}: {html.escape(first[0][:200])}</summary>", ""]
    if record.get("message"):
        lines += [fenced(record["message"]), ""]
    if record.get("falsifying_example"):
        lines += ["Shrunk example:", "", fenced(record["falsifying_example"]), ""]
    if record.get("reproduce"):
        lines += ["Rerun:", "", fenced(record["reproduce"], "bash"), ""]
    if record.get("reproduce_failure"):
        lines += [
            "Replay the exact example:",
            "",
            fenced(record["reproduce_failure"], "python"),
            "",
        ]
    if record.get("expectation"):
        e = record["expectation"]
        lines += [f"Expected to fail ({cell_text(e['source'])}): {linked_text(e['reason'])}", ""]
    lines += ["</details>", ""]
    return lines


def _headline(report: dict[str, Any]) -> list[str]:
    """The title and, for a run that did not finish, a warning no reader can miss:
    its records are all that ran, and may well be all green."""
    why = describe(report)
    if not why:
        return ["# Conformance report", ""]
    return [
        "# Conformance report: INTERRUPTED",
        "",
        "> [!WARNING]",
        f"> **INTERRUPTED**: this report is partial ({cell_text(why)}). "
        "Its counts cover only the tests that ran.",
        "",
    ]


def render_md(report: dict[str, Any]) -> str:
    runs = report["runs"]
    lines = [*_headline(report), _summary_line(report["summary"], len(runs)), ""]
    lines += ["## Environment", "", *_environment(report), ""]
    lines += ["## Checks × device/dtype", "", *_matrix(report), ""]

    bad = matrix.problems(report)
    if bad:
        lines += [f"## Failures ({len(bad)})", ""]
        for record in bad[:MAX_DETAILS]:
            lines += _details(record, runs)
        if len(bad) > MAX_DETAILS:
            lines += [f"... and {len(bad) - MAX_DETAILS} more: see conformance.json.", ""]

    marked = matrix.marked_xfails(report)
    if marked:
        lines += [f"## Expected failures ({len(marked)})", ""]
        lines += ["| test | reason |", "| --- | --- |"]
        for r in marked[:MAX_ROWS]:
            reason = matrix.reason_of(r) or "(no reason given)"
            lines.append(f"| <code>{cell_text(r['id'])}</code> | {linked_text(reason)} |")
        if len(marked) > MAX_ROWS:
            lines.append(f"| ... and {len(marked) - MAX_ROWS} more: see conformance.json | |")
        lines.append("")

    expected = [r for r in report["records"] if r.get("expectation")]
    if expected:
        lines += [f"## Known deviations applied ({len(expected)})", ""]
        lines += ["| test | outcome | reason |", "| --- | --- | --- |"]
        for r in sorted(expected, key=lambda r: r["id"]):
            e = r["expectation"]
            lines.append(
                f"| <code>{cell_text(r['id'])}</code> | {SYMBOLS[r['outcome']]} {r['outcome']} | "
                f"{linked_text(e['reason'])} ({cell_text(e['source'])}) |"
            )
        lines.append("")

    unmatched = [u for run in runs for u in run["expectations"]["unmatched"]]
    if unmatched:
        lines += ["## Expectations that matched no test", ""]
        lines += [
            f"- <code>{cell_text(u['id'])}</code> ({cell_text(u['source'])})" for u in unmatched
        ]
        lines.append("")

    reasons = matrix.skip_reasons(report["records"])
    if reasons:
        lines += ["## Skipped", "", "| tests | reason |", "| ---: | --- |"]
        lines += [f"| {n} | {linked_text(reason[:300])} |" for reason, n in reasons[:MAX_ROWS]]
        if len(reasons) > MAX_ROWS:
            lines.append(
                f"| | ... and {len(reasons) - MAX_ROWS} more reasons: see conformance.json |"
            )
        lines.append("")
    return "\n".join(lines)
