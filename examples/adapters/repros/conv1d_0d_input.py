# A 0-d input: nn.Linear raises RuntimeError, Conv1D an IndexError (from x.size(-1)).
import torch
from torch import nn
from transformers.pytorch_utils import Conv1D

errors = {}
for layer in (nn.Linear(4, 3), Conv1D(3, 4)):
    try:
        layer(torch.tensor(1.0))
    except Exception as e:
        errors[type(layer).__name__] = e
        print(f"{type(layer).__name__}: {type(e).__name__}: {e}")
assert isinstance(errors["Conv1D"], IndexError)
