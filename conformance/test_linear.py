"""Conformance of ``nn.Linear``: the affine map, structure, init, gradients, errors.

The class under test comes from the ``linear_cls`` fixture (``torch.nn.Linear``
unless a project overrides it), built through the constructor contract
``cls(in_features, out_features, bias=..., device=..., dtype=...)`` and read
through ``.weight`` / ``.bias``. Expectations come from
:mod:`conformance.oracle.linear` (NumPy float64 on the module's own parameter
values); matrix-product results are compared within
:func:`~conformance.tolerances.accumulation_bound`, so float16 and bfloat16
are checked as tightly as their rounding allows.

Checks that call the module take the ``mode`` fixture (``--mode``) and call
``mode.wrap(module)``: eagerly, compiled, scripted or through
``torch.func.functional_call`` (:mod:`conformance.modes`).

Sources: torch/nn/modules/linear.py, the ``torch.nn.Linear`` and
``torch.nn.functional.linear`` docs.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from torch import nn
from torch.autograd.gradcheck import GradcheckError

from conformance.assertions import (
    assert_dtype,
    assert_equal,
    assert_raises,
    assert_shape,
    assert_within,
    fail,
)
from conformance.layers import is_own_implementation
from conformance.modes import Mode
from conformance.oracle import linear as oracle
from conformance.oracle import statistics
from conformance.oracle.arrays import to_float64
from conformance.seeding import SEEDS
from conformance.support.linear import (
    DTYPE_ERROR,
    FLOAT_DTYPES,
    NON_CONTIGUOUS,
    RANK_ERROR,
    SHAPE_ERROR,
    agreement,
    assert_affine,
    assert_device,
    bias_of,
    build,
    configs,
    constructing,
    context,
    draw_module,
    floats,
    full_precision_reductions,
    inputs,
    maybe_float64,
    mismatched_dtype_inputs,
    tolerance,
    weight_of,
    wrong_feature_inputs,
    zero_dim_inputs,
)
from conformance.tolerances import accumulation_bound, tf32, unit_roundoff
from strategies import LinearConfig, layouts, linear_configs, tensors

# --- the affine map ----------------------------------------------------------


@pytest.mark.dtypes(*FLOAT_DTYPES)
@given(data=st.data())
def test_linear_matches_affine(
    data: st.DataObject,
    device: torch.device,
    dtype: torch.dtype,
    linear_cls: type[nn.Module],
    mode: Mode,
) -> None:
    """``Linear(in, out, bias)(x) == x @ A.T + b`` over the last dim of ``x``.

    Inputs have no leading dim (1-D) up to three, empty batches included;
    ``in=0`` gives ``b`` broadcast (zeros without bias), ``out=0`` an empty
    last dim. Source: ``torch.nn.Linear`` docs ("y = xA^T + b", shapes
    ``(*, H_in) -> (*, H_out)``).
    """
    config = data.draw(configs(dtype, device), label="config")
    module = draw_module(data, linear_cls, config)
    x = data.draw(inputs(config), label="x")
    with tf32(False):
        y = mode.wrap(module)(x)
    assert_affine(y, x, weight_of(module), bias_of(module), config)


@pytest.mark.dtypes(*FLOAT_DTYPES)
@given(data=st.data())
def test_linear_matches_functional(
    data: st.DataObject,
    device: torch.device,
    dtype: torch.dtype,
    linear_cls: type[nn.Module],
    mode: Mode,
) -> None:
    """``module(x)`` is ``F.linear(x, module.weight, module.bias)``: bitwise for
    ``torch.nn.Linear``, whose ``forward`` is exactly that call (linear.py), on the
    same device and dtype; within twice the rounding bound for a ``--target`` (a
    re-implementation may sum in another order) and in modes that may reorder
    sums (compile). ``test_linear_matches_affine`` is the check of correctness.
    """
    config = data.draw(configs(dtype, device), label="config")
    module = draw_module(data, linear_cls, config)
    x = data.draw(inputs(config), label="x")
    with tf32(False):
        y = mode.wrap(module)(x)
        expected = F.linear(x, weight_of(module), bias_of(module))
    if mode.same_arithmetic and is_own_implementation("linear", linear_cls):
        assert_equal("out", y, expected, context(config, x))
        return
    # Compiled code, or a re-implementation, may sum in another order: within
    # rounding of torch's kernel, not bitwise.
    sums = oracle.affine(
        to_float64(x), to_float64(weight_of(module)), maybe_float64(bias_of(module))
    )
    assert_within("out", y, expected, agreement(sums, dtype), context(config, x))


CLASSIC_WEIGHT = [[1.0, 2.0, 3.0, 4.0], [2.0, 3.0, 4.0, 5.0], [3.0, 4.0, 5.0, 6.0]]


@pytest.mark.dtypes(*FLOAT_DTYPES)
def test_linear_classic_example(
    device: torch.device, dtype: torch.dtype, linear_cls: type[nn.Module], mode: Mode
) -> None:
    """Weight ``[[1,2,3,4],[2,3,4,5],[3,4,5,6]]`` on ``[1,2,3,4]`` without bias is
    exactly ``[30, 40, 50]``: every partial sum is a small integer, exact in
    every float dtype (and in TF32)."""
    config = LinearConfig(4, 3, bias=False, dtype=dtype, device=str(device))
    module = build(linear_cls, config, seed=0)
    with torch.no_grad():
        weight_of(module).copy_(torch.tensor(CLASSIC_WEIGHT, dtype=dtype))
    x = torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=dtype, device=device)
    with tf32(False):
        y = mode.wrap(module)(x)
    assert_equal("out", y, np.array([30.0, 40.0, 50.0]), context(config, x))


@given(data=st.data())
def test_linear_uses_assigned_weight(
    data: st.DataObject,
    device: torch.device,
    dtype: torch.dtype,
    linear_cls: type[nn.Module],
    mode: Mode,
) -> None:
    """``module.weight = nn.Parameter(A)`` registers ``A`` and the next call uses it,
    whatever ``A``'s layout -- contiguous, transposed storage, a slice, expanded --
    in the output and in the gradients with respect to ``x``, ``A`` and the bias
    (``x @ A.T + b`` and its derivatives; a kernel that read a non-contiguous
    weight as if contiguous was once silently wrong: PR #51713).

    ``nn.Module.__setattr__`` registers a Parameter under its name, and
    ``Linear.forward`` reads ``self.weight`` on every call (linear.py).
    """
    config = data.draw(configs(dtype, device), label="config")
    module = draw_module(data, linear_cls, config)
    # |A| <= 1 keeps float16 sums of |x| <= 100 far from overflow.
    shape = (config.out_features, config.in_features)
    a = data.draw(
        tensors(
            shape=shape,
            dtype=dtype,
            device=config.device,
            elements=floats(dtype, 1.0),
            layout=layouts(),
        ),
        label="A",
    )
    x = data.draw(inputs(config, requires_grad=True), label="x")
    g = data.draw(
        tensors(
            shape=(*x.shape[:-1], config.out_features),
            dtype=dtype,
            device=config.device,
            elements=floats(dtype, 1.0),
        ),
        label="grad_out",
    )
    wrapped = mode.wrap(module)  # before the assignment: the next call must see it
    module.weight = nn.Parameter(a)
    ctx = f"{context(config, x)}, A.stride={a.stride()}"
    if dict(module.named_parameters()).get("weight") is not module.weight:
        fail("named_parameters()['weight'] is not the assigned Parameter", ctx)
    bias = bias_of(module)
    with tf32(False):
        y = wrapped(x)
        assert_affine(y, x, a, bias, config)
        wrt = [x, module.weight] if bias is None else [x, module.weight, bias]
        grads = torch.autograd.grad(y, wrt, g, allow_unused=True)
    expected = oracle.affine_grads(to_float64(x), to_float64(a), to_float64(g))
    names = ("grad_input", "grad_weight", "grad_bias")
    for name, grad, sums in zip(names, grads, expected, strict=False):
        if grad is None:
            fail(f"{name}=None, but should be a tensor of shape {sums.value.shape}", ctx)
            continue
        assert_within(name, grad, sums.value, tolerance(sums, dtype), ctx)


@pytest.mark.dtypes(*FLOAT_DTYPES)
@given(data=st.data())
def test_linear_ignores_input_layout(
    data: st.DataObject,
    device: torch.device,
    dtype: torch.dtype,
    linear_cls: type[nn.Module],
    mode: Mode,
) -> None:
    """A non-contiguous input (transposed, sliced, expanded) gives what its
    contiguous copy gives, up to rounding.

    Not bitwise: kernels may sum in another order for other strides (on CPU,
    torch 2.13.0 differs from the contiguous result in 2-30% of draws,
    depending on dtype and layout), so each result may lie one rounding bound
    from the exact value.
    """
    config = data.draw(configs(dtype, device), label="config")
    module = draw_module(data, linear_cls, config)
    x = data.draw(inputs(config, layout=NON_CONTIGUOUS), label="x")
    wrapped = mode.wrap(module)
    with tf32(False):
        y = wrapped(x)
        y_contiguous = wrapped(x.contiguous())
    sums = oracle.affine(
        to_float64(x), to_float64(weight_of(module)), maybe_float64(bias_of(module))
    )
    assert_within("out", y, y_contiguous, agreement(sums, dtype), context(config, x))


@given(data=st.data())
def test_linear_matches_affine_with_tf32(
    data: st.DataObject, device: torch.device, linear_cls: type[nn.Module], mode: Mode
) -> None:
    """With TF32 allowed, a float32 Linear stays within the TF32 rounding bound
    (10 mantissa bits for the products; ``torch.backends.cuda.matmul.allow_tf32``).

    Runs on every device rather than skipping off CUDA: the TF32 flags do not
    touch CPU kernels, so there it restates ``test_linear_matches_affine`` at a
    looser bound — which keeps this check's own code exercised on machines
    without a GPU.
    """
    config = data.draw(configs(torch.float32, device), label="config")
    module = draw_module(data, linear_cls, config)
    x = data.draw(inputs(config), label="x")
    with tf32(True):
        y = mode.wrap(module)(x)
    assert_affine(y, x, weight_of(module), bias_of(module), config, tf32_enabled=True)


#: Long sums: an accumulator of float16's or bfloat16's own precision drifts far
#: (1024 ones summed in bfloat16 stall at 256: pytorch#83863).
MIN_LONG_SUM, MAX_LONG_SUM = 256, 1024
LOW_PRECISION = ("float16", "bfloat16")


@pytest.mark.dtypes(*LOW_PRECISION)
@given(data=st.data())
def test_linear_low_precision_sums_in_float32(
    data: st.DataObject,
    device: torch.device,
    dtype: torch.dtype,
    linear_cls: type[nn.Module],
    mode: Mode,
) -> None:
    """A float16 or bfloat16 Linear sums its ``k`` products (``256 <= k <= 1024``) in
    float32 and rounds to the dtype at the end: the output lies within two roundings
    of the dtype of the exact ``x @ A.T + b`` (relative to ``|x @ A.T| + |b|``;
    two, as the bias may be added after the product is rounded), plus float32's
    rounding bound for the ``k``-term sum.

    :func:`~conformance.tolerances.accumulation_bound` in the dtype itself,
    ``(k + 2) * u``, is near 1 or above at these ``k`` and would let a
    dtype-precision accumulator through; here the error must stay at the level
    of one or two ulps. Positive operands (``x`` in [1/2, 1], ``A`` in [0, 1],
    drawn by NumPy from a drawn seed), so no cancellation: the sum grows to
    hundreds, where float16 and bfloat16 steps are large. CUDA's reduced-precision
    reductions are turned off for the call
    (:func:`~conformance.support.linear.full_precision_reductions`), as the
    "Numerical accuracy" notes say to for full-precision sums.
    """
    config = data.draw(
        linear_configs(
            min_in_features=MIN_LONG_SUM,
            max_in_features=MAX_LONG_SUM,
            max_out_features=4,
            dtype=dtype,
            device=str(device),
        ),
        label="config",
    )
    module = draw_module(data, linear_cls, config)
    batch = data.draw(st.integers(1, 3), label="batch")
    rng = np.random.default_rng(data.draw(SEEDS, label="values seed"))
    weight = weight_of(module)
    with torch.no_grad():
        weight.copy_(torch.from_numpy(rng.uniform(0.0, 1.0, tuple(weight.shape))))
    x64 = rng.uniform(0.5, 1.0, (batch, config.in_features))
    x = torch.from_numpy(x64).to(device=device, dtype=dtype)
    with tf32(False), full_precision_reductions():
        y = mode.wrap(module)(x)
    sums = oracle.affine(to_float64(x), to_float64(weight), maybe_float64(bias_of(module)))
    products = to_float64(x) @ to_float64(weight).T
    bias = maybe_float64(bias_of(module))
    magnitude = np.abs(products) + (0.0 if bias is None else np.abs(bias))
    bound = 2 * unit_roundoff(dtype) * magnitude + to_float64(
        accumulation_bound(sums.scale, config.in_features, torch.float32)
    )
    ctx = f"{context(config, x)}; positive operands"
    assert_dtype("out", y.dtype, dtype, ctx)
    assert_within("out", y, sums.value, bound, ctx)


# --- structure ---------------------------------------------------------------


@pytest.mark.supports_meta
@pytest.mark.dtypes(*FLOAT_DTYPES)
@given(data=st.data())
def test_linear_parameter_shapes(
    data: st.DataObject, device: torch.device, dtype: torch.dtype, linear_cls: type[nn.Module]
) -> None:
    """``weight`` is ``(out, in)``; ``bias`` is ``(out,)``, or None with ``bias=False``;
    both in the ``dtype`` and on the ``device`` asked for (linear.py ``__init__``)."""
    config = data.draw(configs(dtype, device), label="config")
    module = draw_module(data, linear_cls, config)
    ctx = repr(config)
    named = {"weight": weight_of(module), "bias": bias_of(module)}
    shapes = {"weight": (config.out_features, config.in_features), "bias": (config.out_features,)}
    if not config.bias and named.pop("bias") is not None:
        fail("bias is a tensor, but should be None with bias=False", ctx)
    for name, param in named.items():
        if param is None:
            fail(f"{name}=None, but should be a tensor of shape {shapes[name]}", ctx)
            continue
        assert_shape(name, param.shape, shapes[name], ctx)
        assert_dtype(name, param.dtype, dtype, ctx)
        assert_device(name, param, device, ctx)


@pytest.mark.supports_meta
@given(data=st.data())
def test_linear_registers_weight_and_bias(
    data: st.DataObject, device: torch.device, linear_cls: type[nn.Module]
) -> None:
    """``parameters()`` / ``named_parameters()`` yield exactly ``weight`` then ``bias``
    (the module's own objects); with ``bias=False`` only ``weight``, since
    ``bias`` is registered as None (linear.py: ``register_parameter("bias", None)``)."""
    config = data.draw(configs(torch.float32, device), label="config")
    module = draw_module(data, linear_cls, config)
    ctx = repr(config)
    names = ["weight", "bias"] if config.bias else ["weight"]
    # Identity, not equality: the registered objects must be the attributes.
    expected = [(name, id(getattr(module, name))) for name in names]
    named = [(name, id(param)) for name, param in module.named_parameters()]
    if named != expected:
        fail(
            f"named_parameters() yields {[name for name, _ in named]}, but should yield "
            f"exactly {names}, each the module's own attribute",
            ctx,
        )
    if [id(param) for param in module.parameters()] != [i for _, i in expected]:
        fail(f"parameters() does not yield exactly module.{' then module.'.join(names)}", ctx)


@pytest.mark.supports_meta
@given(data=st.data())
def test_linear_repr_reflects_config(
    data: st.DataObject, device: torch.device, linear_cls: type[nn.Module]
) -> None:
    """``repr`` shows ``in_features=..., out_features=..., bias=...`` (``Linear.extra_repr``)."""
    config = data.draw(configs(torch.float32, device), label="config")
    module = draw_module(data, linear_cls, config)
    expected = (
        f"in_features={config.in_features}, out_features={config.out_features}, bias={config.bias}"
    )
    if expected not in repr(module):
        fail(f"repr(module)={repr(module)!r}, but should contain {expected!r}", repr(config))


@given(data=st.data())
def test_linear_keyword_construction_matches_positional(
    data: st.DataObject, device: torch.device, dtype: torch.dtype, linear_cls: type[nn.Module]
) -> None:
    """``cls(**config.kwargs)`` builds what ``cls(in, out, bias=..., device=..., dtype=...)``
    builds: the same parameters (names, shapes, dtypes, devices) and, from the
    same seed, the same values (linear.py ``__init__`` signature)."""
    config = data.draw(configs(dtype, device), label="config")
    seed = data.draw(SEEDS, label="seed")
    by_keyword = build(linear_cls, config, seed)
    with constructing(seed, device):
        positional = linear_cls(
            config.in_features,
            config.out_features,
            bias=config.bias,
            device=config.device,
            dtype=config.dtype,
        )
    ctx = repr(config)
    expected = dict(by_keyword.named_parameters())
    actual = dict(positional.named_parameters())
    if list(actual) != list(expected):
        fail(f"positional parameters={list(actual)}, but should be {list(expected)}", ctx)
    for name, param in actual.items():
        assert_dtype(name, param.dtype, expected[name].dtype, ctx)
        assert_device(name, param, expected[name].device, ctx)
        assert_equal(name, param, expected[name], ctx)


# --- initialisation ----------------------------------------------------------


@pytest.mark.dtypes(*FLOAT_DTYPES)
@given(data=st.data())
def test_linear_init_within_bound(
    data: st.DataObject, device: torch.device, dtype: torch.dtype, linear_cls: type[nn.Module]
) -> None:
    """Initial weight and bias lie in ``[-b, b]``, ``b = 1/sqrt(in_features)``;
    the bias is 0 when ``in_features == 0`` (linear.py ``reset_parameters``)."""
    config = data.draw(configs(dtype, device), label="config")
    module = draw_module(data, linear_cls, config)
    bound = oracle.init_bound(config.in_features)
    # ATen's uniform_ casts the bounds to the dtype before sampling, so a
    # sample may exceed b by one rounding (seen in bfloat16: 1.0025 b).
    allowed = bound * (1 + unit_roundoff(dtype))
    for name, param in (("weight", weight_of(module)), ("bias", bias_of(module))):
        values = np.abs(to_float64(param)) if param is not None else np.zeros(0)
        if values.size and values.max() > allowed:
            fail(
                f"max |{name}|={values.max():.6g}, but should be at most "
                f"1/sqrt(in_features)={bound:.6g}",
                repr(config),
            )


@pytest.mark.dtypes(*FLOAT_DTYPES)
@given(data=st.data())
def test_linear_init_spread_uniformly(
    data: st.DataObject, device: torch.device, dtype: torch.dtype, linear_cls: type[nn.Module]
) -> None:
    """Initial weight and bias are distributed as ``U(-b, b)``, not merely inside it.

    The Kolmogorov-Smirnov distance of each to ``U(-b, b)`` stays within the
    DKW bound: the two comparisons share the per-example false-positive rate
    ``statistics.FALSE_POSITIVE_RATE`` (1e-6 per check). Layers have at
    least 1024 outputs so that the bias alone is a large enough sample
    (distance bound ~0.11; ``U(-b/2, b/2)`` is at distance 0.25).
    Source: linear.py ``reset_parameters`` (``kaiming_uniform_(a=sqrt(5))``).
    """
    config = data.draw(
        linear_configs(
            max_in_features=16,
            min_out_features=1024,
            max_out_features=2048,
            bias=True,
            dtype=dtype,
            device=str(device),
        ),
        label="config",
    )
    module = draw_module(data, linear_cls, config)
    bound = oracle.init_bound(config.in_features)
    # Rounding the bound, the sampling arithmetic and the sample to the dtype
    # each move the empirical CDF by at most ~u (relative to the width 2b).
    slack = 4 * unit_roundoff(dtype)
    for name, param in (("weight", weight_of(module)), ("bias", bias_of(module))):
        if param is None:
            fail(f"{name}=None, but should be a tensor", repr(config))
            continue
        values = to_float64(param)
        distance = statistics.ks_distance_uniform(values, -bound, bound)
        allowed = statistics.uniform_ks_bound(values.size, statistics.FALSE_POSITIVE_RATE / 2)
        allowed += slack
        if distance > allowed:
            fail(
                f"KS distance of {name} to U(-{bound:.4g}, {bound:.4g})={distance:.4g}, but "
                f"should be at most {allowed:.4g} (false-positive rate "
                f"{statistics.CHECK_FALSE_POSITIVE_RATE:g} per check)",
                repr(config),
            )


# --- gradients ---------------------------------------------------------------


@pytest.mark.dtypes(*FLOAT_DTYPES)
@given(data=st.data())
def test_linear_gradients_match_formulas(
    data: st.DataObject,
    device: torch.device,
    dtype: torch.dtype,
    linear_cls: type[nn.Module],
    mode: Mode,
) -> None:
    """For upstream ``g``: ``dL/dx = g A``, ``dL/dA = g^T x`` and ``dL/db = sum(g)``,
    summed over every batch dim (zero for empty batches); any input layout.

    These are the derivatives of ``y = x A^T + b`` (``linear`` / ``addmm`` in
    tools/autograd/derivatives.yaml).
    """
    config = data.draw(configs(dtype, device), label="config")
    module = draw_module(data, linear_cls, config)
    x = data.draw(inputs(config, requires_grad=True, layout=layouts()), label="x")
    # |g| <= 1: float16 sums of up to 64 terms |g x| <= 100 stay finite.
    out_shape = (*x.shape[:-1], config.out_features)
    g = data.draw(
        tensors(shape=out_shape, dtype=dtype, device=config.device, elements=floats(dtype, 1.0)),
        label="grad_out",
    )
    ctx = context(config, x)
    weight, bias = weight_of(module), bias_of(module)
    for name, param in (("weight", weight), ("bias", bias)):
        if param is not None and not param.requires_grad:
            fail(f"{name}.requires_grad=False, but should be True (a trainable parameter)", ctx)
    with tf32(False):
        y = mode.wrap(module)(x)
        assert_shape("out", y.shape, g.shape, ctx)
        if not y.requires_grad:
            fail("out.requires_grad=False, but should be True", ctx)
        wrt = [x, weight] if bias is None else [x, weight, bias]
        grads = torch.autograd.grad(y, wrt, g, allow_unused=True)
    expected = oracle.affine_grads(to_float64(x), to_float64(weight), to_float64(g))
    names = ("grad_input", "grad_weight", "grad_bias")
    # Without a bias there is no grad_bias: zip stops with grads.
    for name, grad, sums in zip(names, grads, expected, strict=False):
        if grad is None:
            fail(f"{name}=None, but should be a tensor of shape {sums.value.shape}", ctx)
            continue
        assert_dtype(name, grad.dtype, dtype, ctx)
        assert_within(name, grad, sums.value, tolerance(sums, dtype), ctx)


@given(data=st.data())
def test_linear_gradcheck(
    data: st.DataObject, device: torch.device, linear_cls: type[nn.Module]
) -> None:
    """Analytical gradients match finite differences in float64
    (``torch.autograd.gradcheck``), through the module itself
    (``torch.func.functional_call`` swaps in the parameters as inputs).

    Tiny sizes: gradcheck perturbs every input element in turn.
    """
    config = data.draw(
        linear_configs(
            min_in_features=0,
            max_in_features=3,
            min_out_features=0,
            max_out_features=3,
            dtype=torch.float64,
            device=str(device),
        ),
        label="config",
    )
    module = draw_module(data, linear_cls, config)
    x = data.draw(inputs(config, max_batch_dims=2, max_side=2, requires_grad=True), label="x")
    names = ["weight", "bias"] if bias_of(module) is not None else ["weight"]
    params = [getattr(module, n).detach().clone().requires_grad_() for n in names]

    def call(x: torch.Tensor, *params: torch.Tensor) -> torch.Tensor:
        out = torch.func.functional_call(module, dict(zip(names, params, strict=True)), (x,))
        return cast(torch.Tensor, out)

    try:
        torch.autograd.gradcheck(call, (x, *params))
    except GradcheckError as e:
        fail(f"gradcheck failed: {e}", context(config, x))


# --- errors ------------------------------------------------------------------


@pytest.mark.dtypes(*FLOAT_DTYPES)
@given(data=st.data())
def test_linear_rejects_wrong_feature_size(
    data: st.DataObject,
    device: torch.device,
    dtype: torch.dtype,
    linear_cls: type[nn.Module],
    mode: Mode,
) -> None:
    """``x.shape[-1] != in_features`` raises ``RuntimeError("mat1 and mat2 shapes cannot
    be multiplied (4x6 and 5x3)")`` for every batch shape, empty ones and zero
    features included (the CUDA path once accepted it: pytorch#62537)."""
    config = data.draw(configs(dtype, device), label="config")
    module = draw_module(data, linear_cls, config)
    x = data.draw(wrong_feature_inputs(config), label="x")
    assert_raises(
        RuntimeError,
        lambda: mode.wrap(module)(x),
        what=f"module(x) with x.shape[-1]={x.shape[-1]}",
        match=SHAPE_ERROR,
        context=context(config, x),
    )


@given(data=st.data())
def test_linear_rejects_0d_input(
    data: st.DataObject,
    device: torch.device,
    dtype: torch.dtype,
    linear_cls: type[nn.Module],
    mode: Mode,
) -> None:
    """A 0-d input raises ``RuntimeError("both arguments to linear need to be at least
    1D, but they are 0D and 2D")`` (``at::linear``)."""
    config = data.draw(configs(dtype, device), label="config")
    module = draw_module(data, linear_cls, config)
    x = data.draw(zero_dim_inputs(config), label="x")
    assert_raises(
        RuntimeError,
        lambda: mode.wrap(module)(x),
        what="module(x)",
        match=RANK_ERROR,
        context=context(config, x),
    )


@pytest.mark.dtypes(*FLOAT_DTYPES)
@given(data=st.data())
def test_linear_rejects_mismatched_dtype(
    data: st.DataObject,
    device: torch.device,
    dtype: torch.dtype,
    linear_cls: type[nn.Module],
    mode: Mode,
) -> None:
    """An input of another floating dtype raises ``RuntimeError`` naming both dtypes:
    no implicit promotion. torch 2.13.0 words it "mat1 and mat2 must have the same
    dtype, but got Double and Float" with a bias and "expected m1 and m2 to have
    the same dtype, but got: double != float" without."""
    config = data.draw(configs(dtype, device), label="config")
    module = draw_module(data, linear_cls, config)
    x = data.draw(mismatched_dtype_inputs(config), label="x")
    assert_raises(
        RuntimeError,
        lambda: mode.wrap(module)(x),
        what=f"module(x) with x.dtype={x.dtype}",
        match=DTYPE_ERROR,
        context=context(config, x),
    )
