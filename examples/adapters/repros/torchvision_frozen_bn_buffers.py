# FrozenBatchNorm2d's weight and bias are buffers, and it has no num_batches_tracked.
from torch import nn
from torchvision.ops.misc import FrozenBatchNorm2d

for layer in (nn.BatchNorm2d(3), FrozenBatchNorm2d(3)):
    print(type(layer).__name__)
    print("  parameters:", [n for n, _ in layer.named_parameters()])
    print("  buffers:   ", [n for n, _ in layer.named_buffers()])
frozen = FrozenBatchNorm2d(3)
assert not list(frozen.parameters())
assert not frozen.weight.requires_grad
assert not hasattr(frozen, "num_batches_tracked")
