# Conv1D flattens its input with .view: a non-contiguous input of 3+ dims fails.
import torch
from torch import nn
from transformers.pytorch_utils import Conv1D

x = torch.randn(3, 2, 4).transpose(0, 1)  # (2, 3, 4), not contiguous
print("nn.Linear:", tuple(nn.Linear(4, 5)(x).shape))
try:
    Conv1D(5, 4)(x)  # nf=5 outputs, nx=4 inputs
except RuntimeError as e:
    print("Conv1D:   ", str(e).splitlines()[0])
else:
    raise AssertionError("Conv1D accepted a non-contiguous input")
print("contiguous copy:", tuple(Conv1D(5, 4)(x.contiguous()).shape))
