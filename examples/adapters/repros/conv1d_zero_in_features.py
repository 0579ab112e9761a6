# With nx=0 inputs, Conv1D's x.view(-1, 0) is ambiguous; nn.Linear(0, 3) returns its bias.
import torch
from torch import nn
from transformers.pytorch_utils import Conv1D

x = torch.ones(2, 0)
print("nn.Linear:", nn.Linear(0, 3)(x).shape)
try:
    Conv1D(3, 0)(x)
except RuntimeError as e:
    print("Conv1D:   ", e)
else:
    raise AssertionError("Conv1D accepted nx=0")
