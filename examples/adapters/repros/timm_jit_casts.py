# Scripted, timm's Linear casts weight and bias to the input's dtype instead of raising.
import torch
from timm.layers import Linear

layer = Linear(4, 3)  # float32
x = torch.ones(2, 4, dtype=torch.float64)
try:
    layer(x)
except RuntimeError as e:
    print("eager:   ", e)
y = torch.jit.script(layer)(x)
print("scripted:", y.dtype, tuple(y.shape))
assert y.dtype == torch.float64
