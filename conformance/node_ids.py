"""What a test is called, independent of where it was collected from.

pytest's node ids carry the path the run was started from:
``conformance/test_linear.py::test_x[cpu-float32]`` from a checkout,
``../site-packages/conformance/test_linear.py::...`` under ``--pyargs`` from
elsewhere. The *normalized id* drops the directories and the ``.py``:
``test_linear::test_x[cpu-float32]``. Reports, the expectations file and
sharding all use it, so they agree however the suites were invoked.
A module named on the command line from outside the rootdir gets no path
at all (``::test_x``): :func:`item_id` takes the module from the item.

Imports nothing heavy (pytest only): the plugin is loaded by every pytest run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

#: The parametrised arguments that become a record's (or an expectation's)
#: fields. ``parity_device`` is the device a parity check compares with the CPU.
PARAM_FIELDS: dict[str, tuple[str, ...]] = {
    "device": ("device", "parity_device"),
    "dtype": ("dtype",),
    "mode": ("mode",),
    "target": ("target",),
}


def normalized_id(nodeid: str) -> str:
    """``dir/test_mod.py::Class::test[p]`` -> ``test_mod::Class::test[p]``.

    >>> normalized_id("conformance/test_linear.py::test_x[cpu-float32]")
    'test_linear::test_x[cpu-float32]'
    >>> normalized_id("../lib/site-packages/conformance/test_dropout.py::T::test_y")
    'test_dropout::T::test_y'
    """
    path, sep, rest = nodeid.partition("::")
    module = path.replace("\\", "/").rsplit("/", 1)[-1].removesuffix(".py")
    return f"{module}{sep}{rest}"


def item_id(item: Any) -> str:
    """The normalized id of a collected test, from its file and its name.

    Prefer it to ``normalized_id(item.nodeid)``: for a module named on the
    command line from outside the rootdir (``--pyargs conformance.test_linear``
    run elsewhere) pytest's node id has no path at all (``::test_x[cpu]``).
    """
    _, sep, rest = item.nodeid.partition("::")
    return f"{Path(str(item.path)).stem}{sep}{rest}"


def check_of(test_id: str) -> str:
    """The check a (normalized) id belongs to: the id without its parameters.

    >>> check_of("test_linear::test_x[cpu-float32]")
    'test_linear::test_x'
    """
    return test_id.split("[", 1)[0]


def param_value(value: Any) -> str | None:
    """A parameter value as the plain text ids and expectations use."""
    if value is None or isinstance(value, str):
        return value
    for attr in ("name", "id"):
        named = getattr(value, attr, None)
        if isinstance(named, str):
            return named
    return str(value).removeprefix("torch.")


#: The ``--target`` objects a check exercises, as text (``"linear=mypkg:MyLinear"``,
#: several joined by ``", "``): set by the plugin as each test is collected.
TARGETS = pytest.StashKey[str]()


def item_fields(item: Any) -> dict[str, str | None]:
    """``device``, ``dtype``, ``mode`` and ``target`` of a collected item (None when absent)."""
    callspec = getattr(item, "callspec", None)
    params = callspec.params if callspec is not None else {}
    fields = {
        field: next((param_value(params[n]) for n in names if n in params), None)
        for field, names in PARAM_FIELDS.items()
    }
    stash = getattr(item, "stash", None)
    if fields["target"] is None and stash is not None:
        fields["target"] = stash.get(TARGETS, None)
    return fields


def case_of(test_id: str, device: str | None) -> str:
    """The id with its device parameter taken out, to line up one check across devices.

    >>> case_of("test_linear::test_x[cuda-float32]", "cuda")
    'test_linear::test_x[float32]'
    >>> case_of("test_parity::test_y[cuda]", "cuda")
    'test_parity::test_y'
    """
    check, bracket, params = test_id.partition("[")
    if not bracket or device is None:
        return test_id
    parts = params.removesuffix("]").split("-")
    if device in parts:
        parts.remove(device)
    return f"{check}[{'-'.join(parts)}]" if parts else check
