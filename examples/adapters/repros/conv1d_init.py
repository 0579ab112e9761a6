# Conv1D initialises weight ~ N(0, 0.02) and bias = 0 (GPT-2's init), not nn.Linear's U(-b, b).
import torch
from transformers.pytorch_utils import Conv1D

torch.manual_seed(0)
layer = Conv1D(2048, 16)  # nf=2048 outputs, nx=16 inputs: nn.Linear's bound is 1/sqrt(16)
w = layer.weight
print(f"weight std {w.std():.4f}, max |w| {w.abs().max():.4f}")  # nn.Linear: U(-0.25, 0.25)
print(f"bias all zero: {bool((layer.bias == 0).all())}")
assert abs(w.std().item() - 0.02) < 0.002
assert bool((layer.bias == 0).all())
