"""``conformance.html``: one self-contained page, nothing fetched from anywhere.

A colour matrix of checks against device/dtype; a cell with a failure links
to it; each failure is a ``<details>`` block with the message, Hypothesis'
shrunk example, the command that reruns it and the traceback; expected
failures, known deviations and skips with their reasons. A run that did not
finish says INTERRUPTED in its title, heading and a banner. The CSS and the
few lines of script are inline, and a Content-Security-Policy allows exactly
those two (by hash) and nothing else: no network, no other script. Every
piece of text from the report goes through :func:`html.escape`; http(s)
links in reasons become ``<a>`` elements for the reader to follow (the page
itself fetches nothing).
"""

from __future__ import annotations

import base64
import hashlib
import html
from typing import Any

from conformance.report import matrix
from conformance.report.completeness import describe
from conformance.report.links import split_links
from conformance.report.render_md import LEGEND

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #1f2328; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: .5em 0; }
th, td { border: 1px solid #d0d7de; padding: 3px 7px; vertical-align: top; }
th { background: #f6f8fa; text-align: left; }
table.matrix th.col { writing-mode: vertical-rl; transform: rotate(180deg); font-weight: normal;
  white-space: nowrap; }
table.matrix td.cell { text-align: center; min-width: 2.2em; }
td.cell a { color: inherit; text-decoration: none; display: block; }
.passed { background: #2da44e; color: #fff; }
.failed, .error { background: #cf222e; color: #fff; }
.xpassed { background: #bc4c00; color: #fff; }
.xfailed { background: #d4a72c; color: #000; }
.skipped { background: #eaeef2; color: #57606a; }
.none { background: #fff; }
code, pre { font: 12px/1.35 ui-monospace, monospace; }
pre { background: #f6f8fa; padding: .6em; overflow-x: auto; white-space: pre-wrap; }
details { border: 1px solid #d0d7de; border-radius: 6px; padding: .3em .7em; margin: .4em 0; }
details > summary { cursor: pointer; }
.legend span { display: inline-block; padding: 0 .5em; margin-right: .3em; }
.summary span { margin-right: 1em; }
.interrupted { background: #fff8c5; border: 2px solid #bc4c00; padding: .6em; font-size: 1.1em; }
"""

SCRIPT = """
(function () {
  function openTarget() {
    var id = decodeURIComponent(window.location.hash.slice(1));
    var el = id ? document.getElementById(id) : null;
    if (el && el.tagName === "DETAILS") { el.open = true; }
  }
  window.addEventListener("hashchange", openTarget);
  openTarget();
  var box = document.getElementById("only-problems");
  if (box) {
    box.addEventListener("change", function () {
      var rows = document.querySelectorAll("tr.clean");
      for (var i = 0; i < rows.length; i++) { rows[i].hidden = box.checked; }
    });
  }
  document.documentElement.setAttribute("data-script", "ran");
})();
"""


def _csp_hash(text: str) -> str:
    digest = hashlib.sha256(text.encode()).digest()
    return "'sha256-" + base64.b64encode(digest).decode() + "'"


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def linked(value: Any) -> str:
    """:func:`esc`, with each http(s) link in the text made an ``<a>`` element."""
    return "".join(
        f'<a href="{esc(piece)}" rel="noreferrer">{esc(piece)}</a>' if is_link else esc(piece)
        for piece, is_link in split_links(str(value))
    )


def _anchor(index: int) -> str:
    return f"failure-{index}"


def _environment(report: dict[str, Any]) -> list[str]:
    out = []
    for i, run in enumerate(report["runs"]):
        title = f"Run {i}" + (f" — shard {run['shard']}" if run["shard"] else "")
        out.append(f"<details{' open' if len(report['runs']) == 1 else ''}>")
        out.append(f"<summary>{esc(title)}: {esc(run['label'])}</summary><table>")
        out += [
            f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in matrix.environment_lines(run)
        ]
        out.append("</table></details>")
    return out


def _matrix(report: dict[str, Any], anchors: dict[int, int]) -> list[str]:
    m = matrix.build(report)
    if not m.rows:
        return ["<p>No tests were recorded.</p>"]
    out = [
        '<p><label><input type="checkbox" id="only-problems"> only checks with failures '
        "or unexpected passes</label></p>",
        '<table class="matrix"><thead><tr><th>check</th>',
    ]
    out += [f'<th class="col">{esc(c.title())}</th>' for c in m.columns]
    out.append("</tr></thead><tbody>")
    for row in m.rows:
        cells = []
        clean = True
        for column in m.columns:
            cell = m.cells.get((row, column))
            if cell is None:
                cells.append('<td class="cell none"></td>')
                continue
            status = cell.status
            text = {"passed": "✓", "failed": "✗", "error": "!", "xpassed": "?", "xfailed": "~"}
            mark = text.get(status, "–")
            first_bad = next((id(r) for r in cell.records if id(r) in anchors), None)
            if first_bad is not None:
                clean = False
                mark = f'<a href="#{_anchor(anchors[first_bad])}">{mark}</a>'
            title = f"{row} on {column.title()}: {cell.summary()}"
            cells.append(f'<td class="cell {status}" title="{esc(title)}">{mark}</td>')
        row_class = "clean" if clean else "problem"
        out.append(f'<tr class="{row_class}"><th><code>{esc(row)}</code></th>{"".join(cells)}</tr>')
    out.append("</tbody></table>")
    legend = "".join(
        f'<span class="{s}">{esc(s)}</span>'
        for s in ("passed", "failed", "error", "xpassed", "xfailed", "skipped")
    )
    out.append(f'<p class="legend">{legend}</p><p>{esc(LEGEND)}</p>')
    return out


def _pre(title: str, text: str | None) -> list[str]:
    return [f"<p>{esc(title)}</p><pre>{esc(text)}</pre>"] if text else []


def _failure(index: int, record: dict[str, Any], runs: list[dict[str, Any]]) -> list[str]:
    first = (record.get("message") or record["outcome"]).strip().splitlines() or [""]
    where = f" ({runs[record['run']]['label']})" if len(runs) > 1 else ""
    out = [
        f'<details id="{_anchor(index)}"><summary><span class="{esc(record["outcome"])}">'
        f"{esc(record['outcome'])}</span> <code>{esc(record['id'])}</code>{esc(where)}: "
        f"{esc(first[0][:200])}</summary>"
    ]
    out += _pre("Message", record.get("message"))
    out += _pre("Shrunk example", record.get("falsifying_example"))
    out += _pre("Rerun", record.get("reproduce"))
    out += _pre("Replay the exact example", record.get("reproduce_failure"))
    if record.get("expectation"):
        e = record["expectation"]
        out.append(f"<p>Expected to fail ({esc(e['source'])}): {linked(e['reason'])}</p>")
    if record.get("traceback"):
        out.append(f"<details><summary>Traceback</summary><pre>{esc(record['traceback'])}</pre>")
        out.append("</details>")
    out.append("</details>")
    return out


def render_html(report: dict[str, Any]) -> str:
    runs = report["runs"]
    problems = matrix.problems(report)
    anchors = {id(r): i for i, r in enumerate(problems)}
    counts = report["summary"]
    summary = "".join(
        f'<span><span class="{s}">&nbsp;{counts[s]}&nbsp;</span> {s}</span>'
        for s in ("passed", "failed", "error", "xpassed", "xfailed", "skipped")
        if counts[s]
    )
    why = describe(report)
    status = ": INTERRUPTED" if why else ""
    csp = (
        f"default-src 'none'; style-src {_csp_hash(STYLE)}; script-src {_csp_hash(SCRIPT)}; "
        "base-uri 'none'; form-action 'none'"
    )
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{esc(csp)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Conformance report: {'INTERRUPTED, ' if why else ''}{counts['total']} tests, "
        f"{counts['failed']} failed</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>Conformance report{status}</h1>",
        *(
            [
                f'<p class="interrupted"><strong>INTERRUPTED</strong>: this report is partial '
                f"({esc(why)}). Its counts cover only the tests that ran.</p>"
            ]
            if why
            else []
        ),
        f'<p class="summary"><strong>{counts["total"]} tests</strong> {summary}'
        f"{f' ({len(runs)} runs merged)' if len(runs) > 1 else ''}</p>",
        f"<p>{esc(report['generated_by'])}, {esc(report['created'])}</p>",
        "<h2>Environment</h2>",
        *_environment(report),
        "<h2>Checks × device/dtype</h2>",
        *_matrix(report, anchors),
    ]
    if problems:
        out.append(f"<h2>Failures ({len(problems)})</h2>")
        for i, record in enumerate(problems):
            out += _failure(i, record, runs)
    marked = matrix.marked_xfails(report)
    if marked:
        out.append(f"<h2>Expected failures ({len(marked)})</h2><table>")
        out.append("<tr><th>test</th><th>reason</th></tr>")
        for r in marked:
            reason = matrix.reason_of(r) or "(no reason given)"
            out.append(f"<tr><td><code>{esc(r['id'])}</code></td><td>{linked(reason)}</td></tr>")
        out.append("</table>")
    expected = sorted((r for r in report["records"] if r.get("expectation")), key=lambda r: r["id"])
    if expected:
        out.append(f"<h2>Known deviations applied ({len(expected)})</h2><table>")
        out.append("<tr><th>test</th><th>outcome</th><th>reason</th><th>from</th></tr>")
        for r in expected:
            e = r["expectation"]
            out.append(
                f"<tr><td><code>{esc(r['id'])}</code></td>"
                f'<td class="{esc(r["outcome"])}">{esc(r["outcome"])}</td>'
                f"<td>{linked(e['reason'])}</td><td>{esc(e['source'])}</td></tr>"
            )
        out.append("</table>")
    unmatched = [u for run in runs for u in run["expectations"]["unmatched"]]
    if unmatched:
        out.append("<h2>Expectations that matched no test</h2><ul>")
        out += [f"<li><code>{esc(u['id'])}</code> ({esc(u['source'])})</li>" for u in unmatched]
        out.append("</ul>")
    reasons = matrix.skip_reasons(report["records"])
    if reasons:
        out.append("<h2>Skipped</h2><table><tr><th>tests</th><th>reason</th></tr>")
        out += [f"<tr><td>{n}</td><td>{linked(reason)}</td></tr>" for reason, n in reasons]
        out.append("</table>")
    out += [f"<script>{SCRIPT}</script>", "</body></html>", ""]
    return "\n".join(out)
