"""What a test is called, independent of where it was collected from.

pytest's node ids carry the path the run was started from:
``conformance/test_linear.py::test_x[cpu-float32]`` from a checkout,
``../site-packages/conformance/test_linear.py::...`` under ``--pyargs`` from
elsewhere. The *normalized id* drops the directories and the ``.py``:
``test_linear::test_x[cpu-float32]``. Reports, the expectations file and
sharding all use it, so they agree however the suites were invoked.
A module named on the command line from outside the rootdir gets no path
at all (``::test_x``): :func:`item_id` takes the module from the item.

Where pytest's own output names a file (its node ids, ``-rs`` skip lines,
JUnit's classnames and skip texts), the path depends on where the kit is
installed and where pytest put its rootdir: under tox
``.tox/conformance/lib/python3.11/site-packages/conformance/test_parity.py``.
:func:`portable_path` and :func:`portable_nodeid` give the path as a run from
a checkout does, ``conformance/test_parity.py``, wherever the package lies;
registered as a plugin (``-p conformance.node_ids``), this module rewrites
skip locations with it.

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


#: The directory that holds the kit's packages: site-packages, or a checkout.
INSTALL_ROOT = Path(__file__).resolve().parent.parent
#: The kit's top-level packages.
KIT_PACKAGES = ("conformance", "strategies")


def portable_path(path: str | Path) -> str | None:
    """A file of the kit as a path from its top-level package, wherever it is installed.

    ``.../site-packages/conformance/test_parity.py`` -> ``conformance/test_parity.py``;
    None for a file outside the kit's packages (a user's test, a conftest.py of theirs).
    """
    try:
        relative = Path(path).resolve().relative_to(INSTALL_ROOT)
    except (ValueError, OSError):
        return None
    if len(relative.parts) < 2 or relative.parts[0] not in KIT_PACKAGES:
        return None
    return relative.as_posix()


def portable_nodeid(item: Any) -> str:
    """pytest's node id of a kit test as a run from a checkout gives it, wherever installed.

    ``.tox/conformance/lib/python3.11/site-packages/conformance/test_linear.py::test_x[cpu]``
    -> ``conformance/test_linear.py::test_x[cpu]``. Other items keep pytest's node id.
    """
    path = portable_path(item.path)
    if path is None:
        return str(item.nodeid)
    _, sep, rest = item.nodeid.partition("::")
    return f"{path}{sep}{rest}"


def portable_skip_location(report: Any) -> None:
    """Make a skip report's location portable, in place, when it lies in the kit.

    pytest keeps a skip's location as ``longrepr = (path, lineno, reason)``; the
    ``-rs`` summary prints that path relative to the invocation directory and
    JUnit writes it as it is. A path relative to the install root prints as it is
    in both: ``SKIPPED [4] conformance/plugin.py:812: reason``.
    """
    longrepr = getattr(report, "longrepr", None)
    if not getattr(report, "skipped", False) or not isinstance(longrepr, tuple):
        return
    if len(longrepr) != 3:
        return
    path = portable_path(longrepr[0])
    if path is not None:
        report.longrepr = (path, longrepr[1], longrepr[2])


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: Any, call: Any) -> Any:
    """Skip locations in the kit's files become :func:`portable_path` paths.

    A hook only when this module is registered as a plugin: ``-p conformance.node_ids``
    (as tox.ini does) or ``config.pluginmanager.import_plugin("conformance.node_ids")``.
    It runs where tests run; under pytest-xdist the rewritten location travels to
    the controller with the report.
    """
    outcome = yield
    portable_skip_location(outcome.get_result())


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
