"""Hypothesis strategies for PyTorch shapes, tensors, devices and nn layer configs.

>>> from hypothesis import given
>>> from strategies import broadcastable_pairs
>>> @given(broadcastable_pairs(max_dims=3))
... def test_add_broadcasts(pair):
...     assert (pair.x + pair.y).shape == pair.result_shape

Importing this package registers no Hypothesis profile and changes no global
state; the pytest plugin does that, and only for conformance runs.
"""

from strategies.batch_norm import (
    BATCH_NORM_KINDS,
    BatchNormConfig,
    batch_norm_configs,
    batch_norm_inputs,
)
from strategies.convs import (
    CONV_NDIMS,
    PADDING_FORMS,
    PADDING_MODES,
    ConvConfig,
    conv_configs,
    conv_inputs,
)
from strategies.devices import devices, parse_device, selected_devices
from strategies.dtypes import DTYPE_KINDS, dtypes, resolve_dtype
from strategies.embeddings import (
    INDEX_DTYPES,
    NORM_TYPES,
    EmbeddingConfig,
    embedding_configs,
    embedding_inputs,
)
from strategies.layers import (
    DROPOUT_KINDS,
    DropoutConfig,
    LinearConfig,
    dropout_configs,
    dropout_inputs,
    linear_configs,
    linear_inputs,
)
from strategies.models import (
    CONTAINERS,
    MODEL_KINDS,
    DictStack,
    Gated,
    ListStack,
    ModelConfig,
    TwoBranch,
    build_model,
    model_configs,
)
from strategies.norms import LayerNormConfig, layer_norm_configs, layer_norm_inputs
from strategies.shapes import (
    BroadcastableShapes,
    NonBroadcastableShapes,
    mutually_broadcastable_shapes,
    non_broadcastable_shapes,
    shapes,
)
from strategies.tensors import (
    LAYOUTS,
    SEEDED_FILL_MIN_NUMEL,
    BroadcastablePair,
    broadcastable_pairs,
    default_elements,
    layouts,
    seeded_values,
    tensors,
)

__all__ = [
    "BATCH_NORM_KINDS",
    "CONTAINERS",
    "CONV_NDIMS",
    "DROPOUT_KINDS",
    "DTYPE_KINDS",
    "INDEX_DTYPES",
    "LAYOUTS",
    "MODEL_KINDS",
    "NORM_TYPES",
    "PADDING_FORMS",
    "PADDING_MODES",
    "SEEDED_FILL_MIN_NUMEL",
    "BatchNormConfig",
    "BroadcastablePair",
    "BroadcastableShapes",
    "ConvConfig",
    "DictStack",
    "DropoutConfig",
    "EmbeddingConfig",
    "Gated",
    "LayerNormConfig",
    "LinearConfig",
    "ListStack",
    "ModelConfig",
    "NonBroadcastableShapes",
    "TwoBranch",
    "batch_norm_configs",
    "batch_norm_inputs",
    "broadcastable_pairs",
    "build_model",
    "conv_configs",
    "conv_inputs",
    "default_elements",
    "devices",
    "dropout_configs",
    "dropout_inputs",
    "dtypes",
    "embedding_configs",
    "embedding_inputs",
    "layer_norm_configs",
    "layer_norm_inputs",
    "layouts",
    "linear_configs",
    "linear_inputs",
    "model_configs",
    "mutually_broadcastable_shapes",
    "non_broadcastable_shapes",
    "parse_device",
    "resolve_dtype",
    "seeded_values",
    "selected_devices",
    "shapes",
    "tensors",
]
