"""``torch.matmul`` and ``@`` broadcast batch dims and treat 1-D operands specially.

From https://pytorch.org/docs/stable/generated/torch.matmul.html, written out in
:func:`conformance.oracle.broadcasting.matmul_shape`: a 1-D first operand
gets a 1 prepended and a 1-D second operand a 1 appended, removed again from
the result; the last two dims multiply as matrices; every dim before them is
a batch dim and batch dims broadcast -- ``(j, 1, n, k) @ (l, k, m)`` gives
``(j, l, n, m)``. 0-d operands, mismatched inner sizes and batch dims that
do not broadcast raise ``RuntimeError``. Values are checked against
``numpy.matmul`` (which documents the same rules) in float64, within the
rounding bound of a k-term sum (:func:`conformance.tolerances.accumulation_bound`),
with TF32 pinned off.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from conformance.assertions import (
    assert_dtype,
    assert_equal,
    assert_raises,
    assert_shape,
    assert_within,
)
from conformance.oracle import to_float64
from conformance.oracle.broadcasting import BroadcastError, MatmulError, matmul_shape
from conformance.support.matmul import Shape, bad_matmul_shapes, matmul_shapes, shapes_context
from conformance.support.ops import returned
from conformance.tolerances import accumulation_bound, tf32
from strategies import layouts, tensors


@pytest.mark.dtypes("float32", "float64")
@given(data=st.data())
def test_matmul_matches_numpy(
    data: st.DataObject, device: torch.device, dtype: torch.dtype
) -> None:
    """``torch.matmul(a, b)`` has the shape the documented rule gives, ``a``'s
    dtype, and ``numpy.matmul``'s values within the k-term rounding bound;
    ``a @ b`` is the same tensor."""
    a_shape, b_shape = data.draw(matmul_shapes(), label="shapes")
    a, b = (
        data.draw(tensors(shape=s, dtype=dtype, device=device, layout=layouts()), label=name)
        for name, s in (("a", a_shape), ("b", b_shape))
    )
    context = shapes_context(a_shape, b_shape)
    with tf32(False):
        result = returned(lambda: torch.matmul(a, b), "torch.matmul(a, b)", context)
        by_operator = returned(lambda: a @ b, "a @ b", context)
    assert_shape("matmul(a, b)", result.shape, matmul_shape(a_shape, b_shape), context)
    assert_dtype("matmul(a, b)", result.dtype, dtype, context)
    a64, b64 = to_float64(a), to_float64(b)
    abs_sum = torch.from_numpy(np.asarray(np.matmul(np.abs(a64), np.abs(b64))))
    bound = accumulation_bound(abs_sum, a_shape[-1], dtype)
    assert_within("matmul(a, b)", result, np.matmul(a64, b64), bound, context)
    assert_equal("a @ b", by_operator, result, context)


@pytest.mark.supports_meta
@given(data=st.data())
def test_matmul_shape_rule(data: st.DataObject, device: torch.device) -> None:
    """For shapes ``matmul`` accepts and shapes it must reject alike, ``matmul``
    and ``@`` give the documented result shape or raise ``RuntimeError``."""
    a_shape, b_shape = data.draw(matmul_shapes() | bad_matmul_shapes(), label="shapes")
    a, b = torch.zeros(a_shape, device=device), torch.zeros(b_shape, device=device)
    context = shapes_context(a_shape, b_shape)
    try:
        expected: Shape | None = matmul_shape(a_shape, b_shape)
    except (MatmulError, BroadcastError):
        expected = None
    for what, call in (
        ("torch.matmul(a, b)", lambda: torch.matmul(a, b)),
        ("a @ b", lambda: a @ b),
    ):
        if expected is None:
            assert_raises(RuntimeError, call, what=what, context=context)
        else:
            assert_shape(what, returned(call, what, context).shape, expected, context)
