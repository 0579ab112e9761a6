# LoRA Conv1d builds lora_A without the base layer's dilation: the two terms' lengths differ.
import torch
from peft import LoraConfig, get_peft_model
from torch import nn

for n in (7, 5):  # base length 3 (7 - 2*2), adapter 5: refused; base 1, adapter 3: broadcast
    conv = nn.Conv1d(1, 1, 3, dilation=2)
    model = get_peft_model(nn.Sequential(conv), LoraConfig(r=4, target_modules=["0"]))
    layer, x = model.base_model.model[0], torch.randn(1, 1, n)
    try:
        print(f"length {n}: nn.Conv1d {tuple(conv(x).shape)}, LoRA {tuple(layer(x).shape)}")
    except RuntimeError as e:
        print(f"length {n}: nn.Conv1d {tuple(conv(x).shape)}, LoRA RuntimeError: {e}")
print(layer.base_layer.dilation, layer.lora_A["default"].dilation)
assert layer.lora_A["default"].dilation != layer.base_layer.dilation
