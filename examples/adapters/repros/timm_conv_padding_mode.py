# timm's Conv2dSame and StdConv2d take no padding_mode (nn.Conv2d does): zero padding only.
from timm.layers import Conv2dSame, StdConv2d
from torch import nn

print(nn.Conv2d(1, 1, 3, padding=1, padding_mode="reflect"))
for cls in (Conv2dSame, StdConv2d):
    try:
        cls(1, 1, 3, padding_mode="reflect")
    except TypeError as e:
        print(f"{cls.__name__}: TypeError: {e}")
    else:
        raise AssertionError(f"{cls.__name__} took padding_mode")
