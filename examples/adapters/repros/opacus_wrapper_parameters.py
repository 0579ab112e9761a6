# GradSampleModule has no weight of its own: its parameters are the wrapped module's, as _module.*.
from opacus import GradSampleModule
from torch import nn

model = GradSampleModule(nn.Linear(4, 3))
print([name for name, _ in model.named_parameters()], hasattr(model, "weight"))
assert not hasattr(model, "weight")
assert model._module.weight is next(model.parameters())
