# Trained and unmerged, the LoRA layer computes x @ (W + s*B@A).T + b while .weight is W.
import torch
from peft import LoraConfig, get_peft_model
from torch import nn

torch.manual_seed(0)  # the same numbers on every regeneration
model = get_peft_model(nn.Sequential(nn.Linear(4, 3)), LoraConfig(r=4, target_modules=["0"]))
layer, x = model.base_model.model[0], torch.ones(2, 4)
opt = torch.optim.SGD([p for p in layer.parameters() if p.requires_grad], lr=0.5)
layer(x).pow(2).sum().backward()
opt.step()  # one step: lora_B != 0
for mode in ("train", "eval"):
    gap = (layer.train(mode == "train")(x) - (x @ layer.weight.T + layer.bias)).abs().max().item()
    print(f"{mode}: max |layer(x) - (x @ layer.weight.T + layer.bias)| = {gap:.3g}")
    assert gap > 0
