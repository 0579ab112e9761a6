"""Device names: parsing, availability, the plugin's selection, and a strategy.

Nothing here touches CUDA at import. The pytest plugin records the devices
that ``--device`` selected with :func:`select_devices`; outside pytest the
selection is simply every available device.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import torch
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

__all__ = [
    "device_unavailable_reason",
    "devices",
    "parse_device",
    "selected_devices",
]

_DEVICE_RE = re.compile(r"^(cpu|cuda|mps|meta)(?::(\d+))?$")
_selection: tuple[str, ...] | None = None


def parse_device(name: object) -> str:
    """Validate a device name (``cpu``, ``cuda``, ``cuda:N``, ``mps``, ``meta``).

    Returns it normalised (stripped, lower-case). Raises ``InvalidArgument``
    naming the value for anything else; availability is not checked here.
    """
    if isinstance(name, torch.device):
        name = str(name)
    if not isinstance(name, str):
        raise InvalidArgument(f"device={name!r} must be a device name such as 'cpu' or 'cuda:0'")
    normal = name.strip().lower()
    match = _DEVICE_RE.match(normal)
    if match is None or (match.group(2) is not None and match.group(1) not in ("cuda", "mps")):
        raise InvalidArgument(
            f"device={name!r} is not a device this kit knows; "
            "expected cpu, cuda, cuda:N, mps or meta"
        )
    return normal


def device_unavailable_reason(name: str) -> str | None:
    """Why ``name`` cannot be used in this process, or None when it can."""
    kind, _, index = parse_device(name).partition(":")
    if kind in ("cpu", "meta"):
        return None
    if kind == "cuda":
        if not torch.cuda.is_available():
            built = torch.version.cuda
            return (
                f"{name}: torch {torch.__version__} was built without CUDA"
                if built is None
                else f"{name}: no CUDA device is visible (torch built for CUDA {built})"
            )
        count = torch.cuda.device_count()
        if index and int(index) >= count:
            return f"{name}: only {count} CUDA device(s) are visible"
        return None
    if not torch.backends.mps.is_available():
        return f"{name}: MPS is not available on this machine"
    return None


def available_devices() -> tuple[str, ...]:
    """CPU plus each accelerator this process can use (``meta`` only when asked for)."""
    names = ["cpu"]
    names += [n for n in ("cuda", "mps") if device_unavailable_reason(n) is None]
    return tuple(names)


def select_devices(names: Iterable[str] | None) -> tuple[str, ...] | None:
    """Record the devices the run selected (the pytest plugin calls this).

    ``None`` restores the default: every available device. Returns the
    previous selection, so that a caller can put it back.
    """
    global _selection
    previous = _selection
    _selection = None if names is None else tuple(parse_device(n) for n in names)
    return previous


def selected_devices() -> tuple[str, ...]:
    """The selected devices that are available, in selection order."""
    chosen: Sequence[str] = available_devices() if _selection is None else _selection
    return tuple(n for n in chosen if device_unavailable_reason(n) is None)


def devices(*, allow_meta: bool = False) -> st.SearchStrategy[torch.device]:
    """Devices that are available here and selected by the plugin's ``--device``.

    ``meta`` is only drawn with ``allow_meta=True`` (meta tensors have no
    values). Shrinks toward the first selected device (``cpu`` by default).

    >>> from strategies import devices
    >>> devices().example()  # doctest: +SKIP
    device(type='cpu')
    """
    if not isinstance(allow_meta, bool):
        raise InvalidArgument(f"allow_meta={allow_meta!r} must be a bool")

    def build() -> st.SearchStrategy[torch.device]:
        names = [n for n in selected_devices() if allow_meta or n != "meta"]
        if not names:
            raise InvalidArgument("no selected device is available to draw from")
        return st.sampled_from([torch.device(n) for n in names])

    # Deferred so the selection is read when drawing, after the plugin ran.
    return st.deferred(build)
