# timm's Conv2dSame ignores `padding` and pads TF-style "SAME" from each input's size.
import torch
from timm.layers import Conv2dSame
from torch import nn

x = torch.ones(1, 1, 1, 1)
for k, p in ((1, 1), (3, 0)):
    same, torch_conv = Conv2dSame(1, 1, k, padding=p), nn.Conv2d(1, 1, k, padding=p)
    try:
        shape = tuple(torch_conv(x).shape)
    except RuntimeError as e:
        shape = f"RuntimeError: {str(e).splitlines()[0][-52:]}"
    print(f"kernel {k}, padding={p}: Conv2dSame -> {tuple(same(x).shape)}, nn.Conv2d -> {shape}")
assert Conv2dSame(1, 1, 1, padding=1)(x).shape == (1, 1, 1, 1)
print(Conv2dSame(1, 1, 1, stride=2, padding="same"), "(nn.Conv2d: ValueError)")
