"""What a conformance run runs over: devices, dtypes, layer kinds, execution modes.

One expansion serves both ways of running the suites: the pytest plugin turns
each :class:`Param` into a ``pytest.param`` (``test_x[cpu-float32]``), and the
Python API (:mod:`conformance.api`) runs the same combinations directly, so
the two cannot disagree about ids, skips or what a selection means. The
Hypothesis settings of an API run are here too.

Importing this module imports no torch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hypothesis import settings

    from conformance.layers import LayerInfo
    from conformance.modes import Mode

__all__ = [
    "DEFAULT_DTYPES",
    "META_SKIP_REASON",
    "NO_PARITY_DEVICE_REASON",
    "Param",
    "api_settings",
    "device_params",
    "dtype_name",
    "dtype_params",
    "layer_params",
    "meta_skipped",
    "mode_params",
    "parity_params",
    "split",
    "subject_params",
]

#: The dtypes of a check that names none with ``@pytest.mark.dtypes``.
DEFAULT_DTYPES = ("float32", "float64")
META_SKIP_REASON = "meta tensors carry no values; this check needs them"
NO_PARITY_DEVICE_REASON = (
    "parity checks compare each selected device other than the CPU with the CPU, and "
    "only the CPU is selected: add --device cuda (or --device meta, for shapes, dtypes "
    "and errors)"
)


@dataclasses.dataclass(frozen=True)
class Param:
    """One value (or tuple of values) of a parametrised argument, its id part, and
    why it is skipped (None: it runs). ``exercises``: the ``--target`` kinds a
    check run with this value exercises (None: whatever its fixtures say).
    ``share``: the share of the profile's examples a check runs with this value
    (an ``examples_share`` mark on the ``pytest.param``; None: all)."""

    values: tuple[Any, ...]
    id: str
    skip: str | None = None
    exercises: tuple[str, ...] | None = None
    share: float | None = None

    @property
    def value(self) -> Any:
        return self.values[0]


def split(values: Iterable[str] | None) -> list[str] | None:
    """``["cpu,cuda", "meta"]`` -> ``["cpu", "cuda", "meta"]``; None stays None."""
    if values is None:
        return None
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def dtype_name(dtype: Any, what: str = "dtype") -> str:
    """The canonical name (``float32``) of a dtype given as a name or a torch.dtype."""
    from strategies.dtypes import resolve_dtype

    return str(resolve_dtype(dtype, what)).removeprefix("torch.")


def device_params(names: Sequence[str] | None) -> list[Param]:
    """The selected devices (default: every available one), each skipped with the
    reason when unavailable here."""
    from strategies.devices import available_devices, device_unavailable_reason, parse_device

    chosen = list(names) if names else list(available_devices())
    params = []
    for name in dict.fromkeys(parse_device(n) for n in chosen):
        reason = device_unavailable_reason(name)
        params.append(Param((name,), name, f"device unavailable: {reason}" if reason else None))
    return params


def meta_skipped(params: Sequence[Param], supports_meta: bool) -> list[Param]:
    """``params`` with ``meta`` skipped, unless the check is meaningful without values."""
    if supports_meta:
        return list(params)
    return [
        dataclasses.replace(p, skip=p.skip or META_SKIP_REASON) if p.value == "meta" else p
        for p in params
    ]


def parity_params(
    devices: Sequence[Param], supports_meta: bool, reason: str = NO_PARITY_DEVICE_REASON
) -> list[Param]:
    """The selected devices other than the CPU; one skipped param when there are none."""
    others = [p for p in devices if p.value.split(":")[0] != "cpu"]
    if not others:
        return [Param((None,), "no-parity-device", reason)]
    return meta_skipped(others, supports_meta)


def _wanted(wanted: Sequence[Any] | None) -> set[str] | None:
    return None if wanted is None else {dtype_name(d, "--dtype") for d in wanted}


def dtype_params(check_dtypes: Sequence[Any] | None, wanted: Sequence[Any] | None) -> list[Param]:
    """A check's dtypes (``@pytest.mark.dtypes``, default :data:`DEFAULT_DTYPES`) that
    ``wanted`` selects; one skipped param when it selects none."""
    names = check_dtypes or DEFAULT_DTYPES
    # Compared by canonical name: --dtype=torch.float32 selects "float32".
    candidates = list(dict.fromkeys(dtype_name(d, "@pytest.mark.dtypes") for d in names))
    selected = _wanted(wanted)
    chosen = [d for d in candidates if selected is None or d in selected]
    if not chosen:
        why = f"--dtype selects none of this check's dtypes ({', '.join(candidates)})"
        return [Param((None,), "no-dtype", why)]
    return [Param((d,), d) for d in chosen]


def layer_params(
    kinds: Mapping[str, LayerInfo],
    wanted: Sequence[Any] | None,
    *,
    with_dtype: bool,
    requires: Sequence[str] = (),
    one_dtype: bool = False,
) -> list[Param]:
    """The registered kinds a generic check runs over, each marked as exercising its
    kind: ``(kind,)``, or ``(kind, dtype)`` for each of the kind's dtypes that
    ``wanted`` selects -- only the first of them, float32 where it is one, for a
    check of a property that does not depend on the dtype (``one_dtype``, the
    ``@pytest.mark.one_dtype`` mark). ``requires`` names :class:`LayerInfo`
    properties the check needs (``"error_inputs"``, ``"parameters"``,
    ``"deterministic"``): kinds without them are left out."""
    selected = _wanted(wanted)
    params = []
    for name, info in kinds.items():
        if not all(info.has(req) for req in requires):
            continue
        if not with_dtype:
            params.append(Param((name,), name, exercises=(name,)))
            continue
        chosen = [dtype_name(dt) for dt in info.dtypes]
        chosen = [dt for dt in chosen if selected is None or dt in selected]
        if one_dtype and chosen:
            chosen = ["float32"] if "float32" in chosen else chosen[:1]
        for dt in chosen:
            params.append(Param((name, dt), f"{name}-{dt}", None, (name,)))
    if not params:
        what = f" with {', '.join(requires)}" if requires else ""
        return [
            Param(
                (None,) * (1 + with_dtype),
                "no-layer",
                f"no registered kind{what} has a selected dtype",
            )
        ]
    return params


def subject_params(kinds: Iterable[str]) -> list[Param]:
    """The module-contract checks' subjects: each registered kind, then ``module`` (the
    kit's nested models, or a ``--target module=...``), each exercising itself."""
    return [Param((k,), k, exercises=(k,)) for k in [*kinds, "module"]]


def mode_params(modes: Sequence[Mode]) -> list[Param] | None:
    """One param per selected mode; None when eager alone is selected (the ids then
    stay as they are, without a mode part)."""
    if [m.name for m in modes] == ["eager"]:
        return None
    return [Param((m.name,), m.name) for m in modes]


def api_settings(max_examples: int) -> settings:
    """The Hypothesis settings of a ``check_*`` call: every setting stated, derandomized
    (the same examples on every run), no example database, no deadline, shrinking on."""
    from hypothesis import HealthCheck, Phase, Verbosity, settings

    return settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=tuple(p for p in Phase if p != Phase.explain),
        print_blob=False,
        report_multiple_bugs=False,
        suppress_health_check=[HealthCheck.differing_executors],
        verbosity=Verbosity.normal,
    )
