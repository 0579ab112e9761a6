"""Five examples catch the obvious faults: every check tries a canonical case first.

A quick ``check_*(..., max_examples=5)`` used to pass a Linear that drops its
bias: Hypothesis' first example is the simplest one (zero features), and the
four random ones happened to miss. Now each layer kind's first example is a
canonical case (:attr:`conformance.layers.LayerInfo.examples`,
:mod:`conformance.support.canonical`): nonzero bias, a square weight, a
non-square kernel, distinct nonzero inputs with one batch dim. Each planted
fault below fails at ``max_examples=5`` -- and fails *on the canonical case*:
the reported (shrunk) example is the canonical one, which only happens when
that first example already fails.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F
from hypothesis.vendor.pretty import pretty
from torch import nn

import conformance
from conformance import layers
from conformance.api import ConformanceError

FIVE = {"max_examples": 5, "dtypes": ["float32"]}


class DropsBias(nn.Linear):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight)


class TransposesSquareWeight(nn.Linear):
    """Uses ``A.T`` where the shapes allow it: only values can tell."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight
        return F.linear(x, w.t() if w.shape[0] == w.shape[1] else w, self.bias)


class ScalesInEval(nn.Dropout):
    """Old-style dropout: scales by ``1 - p`` at evaluation instead of ``1 / (1 - p)``
    in training."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.dropout(x, self.p, True) * (1 - self.p) if self.training else x * (1 - self.p)


class FlipsKernel(nn.Conv1d):
    """A convolution, not a cross-correlation."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.weight.flip(-1), self.bias)


class TransposesKernel(nn.Conv2d):
    """Uses the kernel with height and width swapped (``padding="same"`` hides the
    change of output shape)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.weight.transpose(-1, -2), self.bias)


def _unbiased(x: torch.Tensor, dims: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    return x.mean(dims, keepdim=True), x.var(dims, keepdim=True, correction=1)


class UnbiasedBatchNorm(nn.BatchNorm1d):
    """Normalises with the unbiased batch variance in training (it should use the biased)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = super().forward(x)  # the running statistics, updated as torch does
        if not self.training or x.numel() == 0:
            return out
        mean, var = _unbiased(x, [0, *range(2, x.ndim)])
        shape = [1, -1] + [1] * (x.ndim - 2)
        y = (x - mean) / torch.sqrt(var + self.eps)
        return y * self.weight.view(shape) + self.bias.view(shape) if self.affine else y


class UnbiasedBatchNorm2d(nn.BatchNorm2d):
    forward = UnbiasedBatchNorm.forward


class UnbiasedLayerNorm(nn.LayerNorm):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dims = list(range(-len(self.normalized_shape), 0))
        if x.numel() == 0:
            return super().forward(x)
        mean, var = _unbiased(x, dims)
        y = (x - mean) / torch.sqrt(var + self.eps)
        if self.weight is not None:
            y = y * self.weight
        return y + self.bias if self.bias is not None else y


class ShiftsRows(nn.Embedding):
    """Looks up the next row (``(i + 1) % n``)."""

    def forward(self, indices: torch.Tensor) -> torch.Tensor:
        return super().forward((indices + 1) % self.num_embeddings)


AFFINE = "test_linear::test_linear_matches_affine[cpu-float32]"


def reference(kind: str) -> str:
    return f"test_registered_layers::test_layer_matches_reference[cpu-{kind}-float32]"


#: (kind, fault, the check that must fail)
CASES: list[tuple[str, Any, str]] = [
    ("linear", DropsBias, AFFINE),
    ("linear", DropsBias, reference("linear")),
    ("linear", TransposesSquareWeight, AFFINE),
    ("dropout", ScalesInEval, reference("dropout")),
    ("conv1d", FlipsKernel, reference("conv1d")),
    ("conv2d", TransposesKernel, reference("conv2d")),
    ("batch_norm1d", UnbiasedBatchNorm, reference("batch_norm1d")),
    ("batch_norm2d", UnbiasedBatchNorm2d, reference("batch_norm2d")),
    ("layer_norm", UnbiasedLayerNorm, reference("layer_norm")),
    ("embedding", ShiftsRows, reference("embedding")),
]


def _id(case: tuple[str, Any, str]) -> str:
    kind, fault, check = case
    return f"{kind}-{fault.__name__}-{check.split('::')[1].split('[')[0]}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize(
    ("kind", "fault", "check"),
    CASES,
    ids=[_id(case) for case in CASES],
)
def test_a_planted_fault_fails_on_the_canonical_first_example(
    kind: str, fault: Any, check: str
) -> None:
    with pytest.raises(ConformanceError) as info:
        conformance.check_layer(kind, fault, **FIVE)
    failures = dict(info.value.failures)
    assert check in failures, f"{check} passed; failed: {sorted(failures)}"
    shown = _one_line(failures[check].split("Draw 1 (config):", 1)[1].split("Draw 2", 1)[0])
    (canonical, *_) = layers.get(kind).examples(torch.float32, torch.device("cpu"))
    # Hypothesis prints a drawn value with its pretty-printer, a mapped one with repr.
    assert shown in (_one_line(pretty(canonical.config)), _one_line(repr(canonical.config)))


@pytest.mark.parametrize("kind", ["linear", "dropout", "conv1d", "conv2d", "batch_norm1d",
                                  "batch_norm2d", "layer_norm", "embedding"])  # fmt: skip
def test_each_kind_has_canonical_examples_its_own_layer_passes(kind: str) -> None:
    info = layers.get(kind)
    assert info.examples is not None
    examples = info.examples(torch.float32, torch.device("cpu"))
    assert examples
    for example in examples:
        module = example.config.build(info.default_implementation())
        module.eval()
        out = module(*example.inputs)
        assert out.numel() > 0, f"{kind}: the canonical example computes nothing: {example}"
        assert bool((out != 0).any()), f"{kind}: the canonical example's output is all zeros"


def test_canonical_first_is_the_first_example_and_an_occasional_later_one():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from conformance.support.canonical import canonical_first

    drawn: list[int] = []

    @settings(max_examples=400, database=None, derandomize=True)
    @given(st.data())
    def probe(data: st.DataObject) -> None:
        drawn.append(data.draw(canonical_first(st.just(-1), st.integers(0, 10**6))))
        data.draw(st.integers(0, 2**32 - 1))  # later draws keep examples distinct

    probe()
    assert drawn[0] == -1
    share = drawn.count(-1) / len(drawn)
    assert 0.01 < share < 0.2, f"the canonical value in {share:.0%} of examples"


def test_a_failure_shrinks_to_the_canonical_value_when_it_fails_there():
    from hypothesis import find
    from hypothesis import strategies as st

    from conformance.support.canonical import canonical_first

    strategy = canonical_first(st.just(-1), st.integers(0, 100))
    assert find(strategy, lambda x: x == -1 or x > 50) == -1
    assert find(strategy, lambda x: x > 50) == 51  # elsewhere, the general strategy shrinks
