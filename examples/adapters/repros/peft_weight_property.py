# weight/bias are read-only properties (BaseTunerLayer) returning base_layer's.
import torch
from peft import LoraConfig, get_peft_model
from torch import nn

model = get_peft_model(nn.Sequential(nn.Linear(4, 3)), LoraConfig(r=4, target_modules=["0"]))
layer = model.base_model.model[0]
try:
    layer.weight = nn.Parameter(torch.zeros(3, 4))  # nn.Linear registers it
except KeyError as e:
    print("layer.weight = nn.Parameter(...) ->", repr(e))
try:  # what torch.func.functional_call(module, {"weight": ...}) needs
    torch.func.functional_call(layer, {"weight": torch.zeros(3, 4)}, (torch.ones(4),))
except AttributeError as e:
    print("functional_call(layer, {'weight': ...}) ->", repr(e))
