"""torch's RNG, seeded from a Hypothesis draw for the length of a block.

Checks that need torch randomness (dropout masks, parameter init) draw a
``seed`` and run under :func:`seeded`, so a failing example replays exactly.
torch's RNG is never registered with Hypothesis: that reseeds every example
of every test and costs ~30% per example.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from hypothesis import strategies as st

__all__ = ["SEEDS", "seeded"]

#: What a check draws a torch seed from; 0, the shrink target, comes first.
SEEDS = st.integers(0, 2**32 - 1)


@contextlib.contextmanager
def seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Seed the generator that serves ``device`` with ``seed``; restore it after.

    CPU (and meta, which draws nothing) use the default generator alone:
    ``torch.manual_seed`` would also seed CUDA lazily, recording a stack
    trace per call (~1 ms under pytest). Other devices fork their own RNG.
    """
    if device.type in ("cpu", "meta"):
        generator = torch.default_generator
        state = generator.get_state()
        generator.manual_seed(seed)
        try:
            yield
        finally:
            generator.set_state(state)
        return
    with torch.random.fork_rng(devices=[device], device_type=device.type):
        torch.manual_seed(seed)
        yield
