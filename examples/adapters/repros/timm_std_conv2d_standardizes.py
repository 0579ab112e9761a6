# timm's StdConv2d convolves with its weight standardised per output channel, not with `weight`.
import torch
import torch.nn.functional as F
from timm.layers import StdConv2d

torch.manual_seed(0)
conv = StdConv2d(2, 1, 2, padding=0)
x, w = torch.randn(1, 2, 3, 3), conv.weight
mean = w.mean(dim=(1, 2, 3), keepdim=True)
var = w.var(dim=(1, 2, 3), unbiased=False, keepdim=True)
standardised = (w - mean) / torch.sqrt(var + conv.eps)
out = conv(x)
for name, kernel in (("weight", w), ("standardised", standardised)):
    print(f"max |out - F.conv2d(x, {name})|:", (out - F.conv2d(x, kernel)).abs().max().item())
assert torch.allclose(out, F.conv2d(x, standardised), atol=1e-5)
