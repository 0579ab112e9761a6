"""model_configs() and build_model(): small nested models with dropout inside."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sampling import examples, shrunk
from torch import nn

from strategies import CONTAINERS, MODEL_KINDS, ModelConfig, build_model, model_configs
from strategies.models import MAX_DEPTH

pytestmark = pytest.mark.filterwarnings("error")


def check_output(config: ModelConfig, out: object, batch: tuple[int, ...]) -> None:
    """``two_branch`` returns a pair of head outputs, the others one tensor."""
    outs = out if config.kind == "two_branch" else (out,)
    if config.kind == "two_branch":
        assert isinstance(out, tuple)
        assert len(out) == 2
    for o in outs:
        assert isinstance(o, torch.Tensor)
        assert o.shape == (*batch, config.out_features)


@settings(max_examples=50)
@given(config=model_configs(), batch=st.integers(0, 3))
def test_models_build_and_run_forward(config, batch):
    model = config.build().eval()
    check_output(config, model(torch.randn(config.in_features)), ())
    check_output(config, model(torch.randn(batch, config.in_features)), (batch,))


@settings(max_examples=50)
@given(config=model_configs())
def test_num_dropout_counts_the_dropout_modules(config):
    model = config.build()
    assert config.num_dropout == sum(isinstance(m, nn.Dropout) for m in model.modules())
    assert all(m.p == config.p for m in model.modules() if isinstance(m, nn.Dropout))


@settings(max_examples=30)
@given(config=model_configs(kinds=["gated", "two_branch"], containers=["moduledict"], max_depth=2))
def test_model_configs_respect_their_arguments(config):
    assert config.kind in ("gated", "two_branch")
    assert config.outer == config.inner == "moduledict"
    assert 1 <= config.depth <= 2
    assert len(config.dropout_blocks) == config.depth


@settings(max_examples=20)
@given(config=model_configs())
def test_build_applies_dtype_and_device_to_every_parameter(config):
    model = config.build(dtype=torch.float64, device="cpu")
    assert all(p.dtype == torch.float64 for p in model.parameters())
    check_output(config, model(torch.ones(2, config.in_features, dtype=torch.float64)), (2,))


@settings(max_examples=20)
@given(config=model_configs())
def test_build_model_from_kwargs_is_build(config):
    def layout(model: nn.Module) -> list[tuple[str, tuple[int, ...]]]:
        return [(name, tuple(t.shape)) for name, t in model.state_dict().items()]

    assert layout(build_model(**config.kwargs)) == layout(config.build())


def test_model_configs_reach_every_kind_and_container_within_budget():
    drawn = examples(model_configs())
    assert {c.kind for c in drawn} == set(MODEL_KINDS)
    assert {c.outer for c in drawn} == set(CONTAINERS)
    assert {c.inner for c in drawn} == set(CONTAINERS)
    assert any(c.num_dropout == 0 for c in drawn)
    assert any(sum(c.dropout_blocks) > 1 for c in drawn)


def test_model_configs_shrink_toward_one_plain_block():
    config = shrunk(model_configs(), lambda _: True, seed=0)
    assert (config.kind, config.outer, config.depth, config.num_dropout) == (
        "stack",
        "sequential",
        1,
        0,
    )


def test_model_configs_reach_the_maximum_depth():
    # MAX_DEPTH is a cap users can reach, not one more bound that fails later.
    drawn = examples(model_configs(min_depth=MAX_DEPTH, max_depth=MAX_DEPTH), n=3)
    assert all(c.depth == MAX_DEPTH for c in drawn)
    model = drawn[0].build().eval()
    check_output(drawn[0], model(torch.zeros(drawn[0].in_features)), ())


def test_build_model_resolves_dtype_and_device_names():
    config = examples(model_configs(max_depth=1), n=1)[0]
    model = config.build(dtype="float64", device=" CPU ")
    assert all(p.dtype == torch.float64 and p.device.type == "cpu" for p in model.parameters())
