"""Known deviations: an expectations file turns known failures into xfail or skip.

A file is TOML, a list of ``[[deviation]]`` tables::

    [[deviation]]
    id = "test_broadcasting_inplace::test_inplace_op_follows_broadcast_rule[meta-pow_]"
    device = "meta"          # optional: a device type ("cuda") or name ("cuda:1")
    dtype = "float16"        # optional
    mode = "compile"         # optional: the execution mode, where checks have one
    target = "mypkg.lora:Linear"  # optional: a --target the check exercises
                             # (kind=module:Name, module:Name, or the kind)
    torch = ">=2.13,<2.14"   # optional: only for these torch versions (PEP 440)
    action = "xfail"         # or "skip"
    reason = "why, with an upstream link"

``id`` matches by prefix the normalized test id ``<module>::<test>[<params>]``
(:mod:`conformance.node_ids`: the module without directories or ``.py``), so
an entry works for ``pytest conformance`` and ``pytest --pyargs conformance``
alike. The optional fields narrow the match: a test matches only if it has
that parameter with that value. The first matching entry applies; the files
given with ``--conformance-expectations`` come before the kit's own
``known_deviations.toml``, which conformance runs load unless
``--conformance-no-builtin-expectations`` is given.

``device``, ``dtype`` and ``mode`` must name a device, dtype or mode this kit
knows (``tpu``, ``float8`` or ``turbo`` is a usage error naming the file, the
entry and the field, not an entry that quietly matches nothing); device and
dtype are kept in their canonical spelling (``cuda:1``, ``float16``).

Entries of the given files that match no collected test are reported at the
end of the run; with ``--conformance-strict-expectations`` they fail the run,
and an xfail test that passes fails. ``--conformance-skip-expected`` skips
the tests an entry expects to fail, so they cost no time (Hypothesis neither
searches nor shrinks). Entries of the built-in file describe particular
devices and torch versions, so matching nothing is normal for them.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from conformance.node_ids import item_fields, item_id

BUILTIN_FILE = Path(__file__).resolve().parent / "known_deviations.toml"
PLUGIN_NAME = "conformance-expectations"
ACTIONS = ("xfail", "skip")
_FIELDS = ("id", "device", "dtype", "mode", "target", "torch", "action", "reason")
_CONDITIONS = ("device", "dtype", "mode", "target")

#: On an item: the entry applied to it, as plain data (``action``, ``reason``, ``source``).
APPLIED = pytest.StashKey[dict[str, str]]()
#: What the workers matched (indices into the entry list), sent to the xdist controller.
_WORKEROUTPUT_KEY = "conformance_expectations_matched"


@dataclasses.dataclass(frozen=True)
class Deviation:
    """One ``[[deviation]]`` entry."""

    id: str
    action: str
    reason: str
    source: str  # "path#N": file and 1-based entry number
    builtin: bool = False
    device: str | None = None
    dtype: str | None = None
    mode: str | None = None
    target: str | None = None
    torch: str | None = None

    def matches(self, test_id: str, fields: dict[str, str | None], torch_version: Any) -> bool:
        if not test_id.startswith(self.id):
            return False
        for name in _CONDITIONS:
            wanted = getattr(self, name)
            if wanted is None:
                continue
            have = fields.get(name)
            if have is None:
                return False
            if name == "device" and ":" not in wanted:
                have = have.split(":", 1)[0]
            if name == "target":
                if not _names_target(have, wanted):
                    return False
            elif have != wanted:
                return False
        return self.torch is None or torch_version() in _specifier(self.torch, self.source)


def _names_target(have: str, wanted: str) -> bool:
    """Whether ``wanted`` names one of the targets ``have`` lists (``"linear=m:C"``,
    several joined by ``", "``): by the whole ``kind=module:Name``, by
    ``module:Name``, or by its kind.

    >>> _names_target("linear=mypkg:Lora", "mypkg:Lora"), _names_target("linear=m:C", "dropout")
    (True, False)
    """
    for target in have.split(", "):
        kind, _, spec = target.partition("=")
        if wanted in (target, spec, kind):
            return True
    return False


def _specifier(text: str, source: str) -> Any:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        return SpecifierSet(text, prereleases=True)
    except InvalidSpecifier:
        raise pytest.UsageError(
            f"{source}: torch = {text!r} is not a version specifier (e.g. '>=2.13,<2.14')"
        ) from None


def _read_toml(path: Path) -> dict[str, Any]:
    # tomllib from Python 3.11; the same parser as the tomli package before.
    tomllib = importlib.import_module("tomllib" if sys.version_info >= (3, 11) else "tomli")
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except OSError as e:
        raise pytest.UsageError(f"expectations file {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise pytest.UsageError(f"expectations file {path}: not valid TOML: {e}") from None


def as_paths(value: object, name: str = "expectations") -> list[Path]:
    """Expectations files given as one path or a sequence of them -> a list of paths.

    A ``str`` is one path: iterating it would read a file per character. The
    order is kept (the first matching entry applies), so an unordered set is
    refused, as is anything else, with a :class:`TypeError` naming ``name``.

    >>> [p.name for p in as_paths("mine.toml")], [p.name for p in as_paths(["a", Path("b")])]
    (['mine.toml'], ['a', 'b'])
    """
    if isinstance(value, (str, os.PathLike)):
        return [Path(value)]
    if isinstance(value, (set, frozenset)):
        raise TypeError(
            f"{name} must be a path or a list of paths, not {type(value).__name__} "
            "(the order matters: the first matching entry applies)"
        )
    if not isinstance(value, Sequence) or isinstance(value, (bytes, bytearray)):
        raise TypeError(f"{name} must be a path or a list of paths, not {type(value).__name__}")
    paths = []
    for index, item in enumerate(value):
        if not isinstance(item, (str, os.PathLike)):
            raise TypeError(
                f"{name}[{index}] must be a path (str or os.PathLike), not {type(item).__name__}"
            )
        paths.append(Path(item))
    return paths


def _canonical(field: str, value: str, source: str) -> str:
    """A condition's value as test ids spell it; an unknown one is a usage error."""
    from hypothesis.errors import InvalidArgument

    try:
        if field == "device":
            from strategies.devices import parse_device

            return parse_device(value)
        if field == "dtype":
            from strategies.dtypes import resolve_dtype

            return str(resolve_dtype(value, "dtype")).removeprefix("torch.")
    except InvalidArgument as e:
        # The strategies' messages start "device='tpu' ": say it as the file does.
        text = str(e).removeprefix(f"{field}={value!r} ")
        raise pytest.UsageError(f"{source}: {field} = {value!r} {text}") from None
    if field == "mode":
        from conformance.modes import MODES

        if value not in MODES:
            raise pytest.UsageError(
                f"{source}: mode = {value!r} is not an execution mode; expected {', '.join(MODES)}"
            )
    return value


def load(path: str | os.PathLike[str], *, builtin: bool = False) -> list[Deviation]:
    """The entries of one file, each checked; a bad one is a usage error naming it."""
    path = Path(path)
    data = _read_toml(path)
    unknown_top = set(data) - {"deviation"}
    if unknown_top:
        raise pytest.UsageError(
            f"expectations file {path}: unknown top-level key(s) {sorted(unknown_top)}; "
            "entries are [[deviation]] tables"
        )
    entries = data.get("deviation", [])
    if not isinstance(entries, list):
        raise pytest.UsageError(f"expectations file {path}: 'deviation' must be [[deviation]]")
    result = []
    for number, entry in enumerate(entries, 1):
        source = f"{'conformance/' + path.name if builtin else path}#{number}"
        unknown = set(entry) - set(_FIELDS)
        if unknown:
            raise pytest.UsageError(
                f"{source}: unknown key(s) {sorted(unknown)}; allowed: {', '.join(_FIELDS)}"
            )
        for key, value in entry.items():
            if not isinstance(value, str) or not value.strip():
                raise pytest.UsageError(f"{source}: {key} must be a non-empty string")
        for key in ("id", "action", "reason"):
            if key not in entry:
                raise pytest.UsageError(f"{source}: '{key}' is required")
        if entry["action"] not in ACTIONS:
            raise pytest.UsageError(
                f"{source}: action = {entry['action']!r}; expected one of {', '.join(ACTIONS)}"
            )
        if "torch" in entry:
            _specifier(entry["torch"], source)
        for field in ("device", "dtype", "mode"):
            if field in entry:
                entry[field] = _canonical(field, entry[field], source)
        result.append(Deviation(**entry, source=source, builtin=builtin))
    return result


def add_options(group: pytest.OptionGroup) -> None:
    group.addoption(
        "--conformance-expectations",
        action="append",
        default=None,
        metavar="FILE",
        help="A TOML file of known deviations ([[deviation]] id/device/dtype/torch/"
        "action/reason) that turns matching tests into xfail or skip. Repeatable.",
    )
    group.addoption(
        "--conformance-no-builtin-expectations",
        action="store_true",
        default=False,
        help="Do not load the kit's own known_deviations.toml.",
    )
    group.addoption(
        "--conformance-strict-expectations",
        action="store_true",
        default=False,
        help="Fail the run when an entry of a given expectations file matches no "
        "test, and fail each xfail test that passes.",
    )
    group.addoption(
        "--conformance-skip-expected",
        action="store_true",
        default=False,
        help="Skip the tests an expectation marks xfail instead of running them.",
    )


class Expectations:
    """Applies the entries at collection; reports unmatched ones at the end."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        files = [Path(f) for f in config.getoption("conformance_expectations") or ()]
        self.files = [str(f) for f in files]
        self.entries = [d for f in files for d in load(f)]
        self.builtin_loaded = False
        self.strict = bool(config.getoption("conformance_strict_expectations"))
        self.skip_expected = bool(config.getoption("conformance_skip_expected"))
        self.matched: set[int] | None = None  # None: no collection seen (yet)

    def load_builtin(self) -> None:
        """Add the kit's own file (after the given ones); idempotent."""
        if self.builtin_loaded or self.config.getoption("conformance_no_builtin_expectations"):
            return
        self.builtin_loaded = True
        self.files.append("conformance/known_deviations.toml (built-in)")
        self.entries.extend(load(BUILTIN_FILE, builtin=True))

    def _marker(self, entry: Deviation) -> pytest.MarkDecorator:
        why = f"known deviation ({entry.source}): {entry.reason}"
        if entry.action == "skip":
            return pytest.mark.skip(reason=why)
        if self.skip_expected:
            return pytest.mark.skip(reason=f"expected to fail, skipped: {why}")
        return pytest.mark.xfail(reason=why, strict=self.strict)

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        version_cache: list[Any] = []

        def torch_version() -> Any:
            if not version_cache:
                import torch
                from packaging.version import Version

                version_cache.append(Version(torch.__version__))
            return version_cache[0]

        matched: set[int] = set()
        for item in items:
            test_id = item_id(item)
            fields = item_fields(item)
            applied = None
            for index, entry in enumerate(self.entries):
                if entry.matches(test_id, fields, torch_version):
                    matched.add(index)
                    if applied is None:
                        applied = entry
            if applied is not None:
                item.add_marker(self._marker(applied))
                item.stash[APPLIED] = {
                    "action": applied.action,
                    "reason": applied.reason,
                    "source": applied.source,
                }
        self.matched = matched
        workeroutput = getattr(self.config, "workeroutput", None)
        if workeroutput is not None:
            workeroutput[_WORKEROUTPUT_KEY] = sorted(matched)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """On the xdist controller: every worker collected the same tests."""
        output = getattr(node, "workeroutput", None) or {}
        if _WORKEROUTPUT_KEY in output:
            self.matched = (self.matched or set()) | set(output[_WORKEROUTPUT_KEY])

    def unmatched(self) -> list[Deviation]:
        """Entries of the given files that matched no test ([] before any collection)."""
        if self.matched is None:
            return []
        return [e for i, e in enumerate(self.entries) if i not in self.matched and not e.builtin]

    def summary(self) -> dict[str, Any]:
        """For the report: what was loaded and what matched nothing."""
        return {
            "files": list(self.files),
            "strict": self.strict,
            "skip_expected": self.skip_expected,
            "unmatched": [{"source": e.source, "id": e.id} for e in self.unmatched()],
        }

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if hasattr(self.config, "workerinput"):
            return
        if self.strict and self.unmatched() and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        stale = self.unmatched()
        if not stale:
            return
        what = "error" if self.strict else "warning"
        terminalreporter.section(f"conformance expectations: {len(stale)} unmatched", sep="-")
        for entry in stale:
            terminalreporter.write_line(f"{what}: {entry.source}: id {entry.id!r} matches no test")


def _register(config: pytest.Config) -> Expectations:
    plugin = config.pluginmanager.get_plugin(PLUGIN_NAME)
    if plugin is None:
        plugin = Expectations(config)
        config.pluginmanager.register(plugin, PLUGIN_NAME)
    assert isinstance(plugin, Expectations)
    return plugin


def configure(config: pytest.Config) -> None:
    """At configure time: register the hooks if expectation files are given."""
    if config.getoption("conformance_expectations", None):
        _register(config)


def load_builtin(config: pytest.Config) -> None:
    """When the run becomes a conformance run: add the kit's own file (idempotent)."""
    _register(config).load_builtin()
