# LoRA Conv1d's lora_A pads with zeros whatever the base's padding_mode: merge() changes the edges.
import torch
from peft import LoraConfig, get_peft_model
from torch import nn

torch.manual_seed(0)
conv = nn.Conv1d(2, 2, 3, padding=1, padding_mode="reflect")
layer = get_peft_model(nn.Sequential(conv), LoraConfig(r=4, target_modules=["0"])).model[0]
print(layer.base_layer.padding_mode, layer.lora_A["default"].padding_mode)
nn.init.normal_(layer.lora_B["default"].weight)  # as after training: lora_B != 0
x = torch.randn(1, 2, 6)
with torch.no_grad():
    before, _ = layer(x), layer.merge()  # merge: base weight += delta, the same map if padded alike
    print("|unmerged - merged| per position:", (before - layer(x)).abs().amax((0, 1)))
    assert (before - layer(x)).abs().amax() > 1e-3
