"""What changed between two reports: outcomes that differ, tests on one side only.

Records are lined up by their normalized id. Comparing one device with
another (a CPU run against a CUDA run) lines them up with the device taken
out of the id instead: ``test_x[cpu-float32]`` against ``test_x[cuda-float32]``.
That happens by itself when each report ran on exactly one device and the two
differ, or on request (``compare_devices=("cpu", "cuda")``).

As a gate (``--fail-on-regression``) B must also vouch for every test of A:
a B that was interrupted, ran nothing, or lacks tests A has would otherwise
pass by running less (:func:`gate_problems`).
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from typing import Any

from conformance.node_ids import case_of
from conformance.report.combine import counts
from conformance.report.completeness import describe

_BROKEN = ("failed", "error")


class DiffError(Exception):
    """Reports that cannot be compared as asked."""


@dataclasses.dataclass
class Diff:
    how: str
    changed: list[tuple[str, dict[str, Any], dict[str, Any]]]
    only_a: list[dict[str, Any]]
    only_b: list[dict[str, Any]]
    same: Counter[str]
    #: Records on devices other than the two compared (cross-device comparisons).
    not_compared: tuple[int, int] = (0, 0)

    @property
    def regressions(self) -> list[str]:
        """Keys that fail or error in B but did not in A, or fail in B alone."""
        keys = [k for k, a, b in self.changed if b["outcome"] in _BROKEN]
        return keys + [r["id"] for r in self.only_b if r["outcome"] in _BROKEN]


def _rank(a: dict[str, Any], b: dict[str, Any]) -> int:
    """Newly broken first, then changes between outcomes that ran, then skips."""
    if b["outcome"] in _BROKEN:
        return 0
    return 1 if "skipped" not in (a["outcome"], b["outcome"]) else 2


def _devices(report: dict[str, Any]) -> set[str]:
    return {r["device"] for r in report["records"] if r["device"] is not None}


def _keyed(
    report: dict[str, Any], name: str, device: str | None
) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """Key -> record, and the records left out (another device than ``device``)."""
    keyed: dict[str, dict[str, Any]] = {}
    left_out = []
    for record in report["records"]:
        if device is None or record["device"] is None:
            key = record["id"]
        elif record["device"] == device:
            key = case_of(record["id"], device)
        else:
            left_out.append(record)
            continue
        if key in keyed:
            labels = sorted({run["label"] for run in report["runs"]})
            raise DiffError(
                f"{name} holds {key} twice (configurations: {'; '.join(labels)}): "
                "diff compares two reports of one configuration each"
            )
        keyed[key] = record
    return keyed, left_out


def diff(
    a: dict[str, Any],
    b: dict[str, Any],
    *,
    names: tuple[str, str] = ("A", "B"),
    compare_devices: tuple[str, str] | None = None,
) -> Diff:
    if compare_devices is None:
        da, db = _devices(a), _devices(b)
        if len(da) == 1 and len(db) == 1 and da != db:
            compare_devices = (next(iter(da)), next(iter(db)))
    if compare_devices is None:
        how = "by test id"
        ka, out_a = _keyed(a, names[0], None)
        kb, out_b = _keyed(b, names[1], None)
    else:
        dev_a, dev_b = compare_devices
        for device, report, name in ((dev_a, a, names[0]), (dev_b, b, names[1])):
            if device not in _devices(report):
                raise DiffError(f"{name} has no tests on device {device!r}")
        how = f"device {dev_a} in {names[0]} against device {dev_b} in {names[1]}"
        ka, out_a = _keyed(a, names[0], dev_a)
        kb, out_b = _keyed(b, names[1], dev_b)
    changed = []
    same: Counter[str] = Counter()
    for key, ra in ka.items():
        rb = kb.get(key)
        if rb is None:
            continue
        if ra["outcome"] != rb["outcome"]:
            changed.append((key, ra, rb))
        else:
            same[ra["outcome"]] += 1
    only_a = [r for k, r in ka.items() if k not in kb]
    only_b = [r for k, r in kb.items() if k not in ka]
    changed.sort(key=lambda t: (_rank(t[1], t[2]), t[0]))
    return Diff(how, changed, only_a, only_b, same, (len(out_a), len(out_b)))


def gate_problems(
    result: Diff, a: dict[str, Any], b: dict[str, Any], names: tuple[str, str] = ("A", "B")
) -> list[str]:
    """Why B cannot vouch for A's tests: it did not finish, ran none, or lacks some."""
    problems = []
    why = describe(b)
    if why:
        problems.append(f"{names[1]} is incomplete: {why}")
    if not b["records"]:
        problems.append(f"{names[1]} holds no tests")
    if result.only_a:
        ids = sorted(r["id"] for r in result.only_a)
        listed = ", ".join(ids[:5]) + (f", ... and {len(ids) - 5} more" if len(ids) > 5 else "")
        problems.append(f"{len(ids)} test(s) of {names[0]} are missing from {names[1]}: {listed}")
    return problems


def _describe(name: str, report: dict[str, Any]) -> str:
    c = report["summary"]
    torches = sorted({run["environment"]["torch"] for run in report["runs"]})
    devices = sorted({d for run in report["runs"] for d in run["environment"]["devices"]})
    outcome_text = ", ".join(f"{c[k]} {k}" for k in c if k != "total" and c[k])
    why = describe(report)
    return (
        f"{name}: torch {', '.join(torches)}; devices {', '.join(devices) or 'none'}; "
        f"{c['total']} tests ({outcome_text})" + (f"; INCOMPLETE: {why}" if why else "")
    )


def _environment_changes(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    if len(a["runs"]) != 1 or len(b["runs"]) != 1:
        return []
    ea, eb = a["runs"][0]["environment"], b["runs"][0]["environment"]
    lines = []
    for key in sorted(set(ea) | set(eb)):
        if key in ("command_line",):
            continue
        if ea.get(key) != eb.get(key):
            lines.append(f"  {key}: {ea.get(key)!r} -> {eb.get(key)!r}")
    return lines


def _by_check(records: list[dict[str, Any]]) -> list[str]:
    groups: dict[str, Counter[str]] = defaultdict(Counter)
    for r in records:
        groups[r["check"]][r["outcome"]] += 1
    return [
        f"  {check}: " + ", ".join(f"{n} {o}" for o, n in sorted(c.items()))
        for check, c in sorted(groups.items())
    ]


def format_diff(
    result: Diff, a: dict[str, Any], b: dict[str, Any], names: tuple[str, str], limit: int = 50
) -> str:
    lines = [_describe(names[0], a), _describe(names[1], b)]
    env = _environment_changes(a, b)
    if env:
        lines += ["", "Environment changes:", *env]
    lines += ["", f"Compared {result.how}."]
    lines += ["", f"Outcome changed ({len(result.changed)}):"]
    for key, ra, rb in result.changed[:limit]:
        message = (rb.get("message") or "").strip().splitlines()
        why = f"  -- {message[0][:160]}" if message and rb["outcome"] in _BROKEN else ""
        lines.append(f"  {ra['outcome']:>8} -> {rb['outcome']:<8} {key}{why}")
    if len(result.changed) > limit:
        lines.append(f"  ... and {len(result.changed) - limit} more")
    if not result.changed:
        lines.append("  none")
    for name, records in ((names[0], result.only_a), (names[1], result.only_b)):
        lines += ["", f"Only in {name} ({len(records)}), by check:"]
        groups = _by_check(records)
        lines += groups[:limit] or ["  none"]
        if len(groups) > limit:
            lines.append(f"  ... and {len(groups) - limit} more checks")
    if any(result.not_compared):
        a_out, b_out = result.not_compared
        lines += ["", f"Not compared (other devices): {a_out} in {names[0]}, {b_out} in {names[1]}"]
    unchanged = counts([]) | dict(result.same)
    same_text = ", ".join(f"{n} {o}" for o, n in unchanged.items() if o != "total" and n)
    lines += ["", f"Same outcome: {sum(result.same.values())} ({same_text or 'none'})"]
    regressions = result.regressions
    lines.append(f"Newly failing in {names[1]}: {len(regressions)}")
    return "\n".join(lines) + "\n"
