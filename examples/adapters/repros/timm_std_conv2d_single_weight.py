# timm's StdConv2d with one weight per output channel: built fine, every call raises.
import torch
from timm.layers import StdConv2d

conv = StdConv2d(2, 2, 1, groups=2)  # depthwise 1x1: in_channels / groups * 1 * 1 = 1 weight each
print(conv)
try:
    conv(torch.ones(1, 2, 3, 3))
except ValueError as e:  # F.batch_norm(weight.reshape(1, out, -1), training=True) on 1 value
    print("ValueError:", e)
else:
    raise AssertionError("the call went through")
