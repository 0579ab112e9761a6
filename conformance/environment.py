"""What a conformance run ran on: versions, devices, precision flags, profile, seed.

One description feeds the run header (and, later, the report's environment
block), so the two can never disagree.
"""

from __future__ import annotations

import os
import platform
from importlib import metadata
from typing import Any

import pytest


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def describe(config: pytest.Config) -> dict[str, Any]:
    """The environment of this run as plain data."""
    import torch
    from hypothesis import settings

    from conformance.selection import device_params, split

    selected, skipped = [], {}
    for param in device_params(split(config.getoption("device"))):
        if param.skip:
            skipped[param.value] = param.skip
        else:
            selected.append(param.value)
    current = settings()  # the active profile's values
    env: dict[str, Any] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "hypothesis": _version("hypothesis"),
        "kit": _version("torch-nn-conformance"),
        "devices": selected,
        "devices_skipped": skipped,
        "profile": settings.get_current_profile_name(),
        "max_examples": current.max_examples,
        "derandomize": current.derandomize,
        "seed": config.getoption("hypothesis_seed", None),
        "xdist_workers": int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0")),
    }
    if any(name.startswith("cuda") for name in selected):
        env["cuda"] = torch.version.cuda
        env["cudnn"] = torch.backends.cudnn.version()
        env["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        env["tf32"] = {
            "matmul": torch.backends.cuda.matmul.allow_tf32,
            "cudnn": torch.backends.cudnn.allow_tf32,
        }
    return env


def header_lines(config: pytest.Config) -> list[str]:
    env = describe(config)
    seed = "derandomized" if env["derandomize"] else (env["seed"] or "random")
    lines = [
        f"torch-nn-conformance {env['kit']}: torch {env['torch']}, "
        f"hypothesis {env['hypothesis']}, python {env['python']}",
        f"conformance devices: {', '.join(env['devices']) or 'none'}"
        + "".join(f"; skipped {reason}" for reason in env["devices_skipped"].values()),
        f"conformance profile: {env['profile']} (max_examples={env['max_examples']}), seed: {seed}",
    ]
    if "cuda" in env:
        lines.append(
            f"CUDA {env['cuda']}, cuDNN {env['cudnn']}, GPUs: {', '.join(env['gpus'])}; "
            f"TF32 allowed: matmul={env['tf32']['matmul']}, cudnn={env['tf32']['cudnn']} "
            "(checks pin their own)"
        )
    return lines
