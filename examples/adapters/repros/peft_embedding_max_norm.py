# peft's LoRA Embedding applies max_norm to each term, not to the row it returns.
import torch
from peft import LoraConfig, get_peft_model
from torch import nn

torch.manual_seed(0)
base = nn.Embedding(3, 2, max_norm=1.0)
layer = get_peft_model(nn.Sequential(base), LoraConfig(target_modules=["0"])).base_model.model[0]
A, B = layer.lora_embedding_A["default"], layer.lora_embedding_B["default"]  # A starts at 0
nn.init.ones_(A), nn.init.ones_(B)  # as after training
row = layer(torch.tensor([0]))[0]
print(f"unmerged: row norm {row.norm():.4f} (max_norm=1.0); A[:, 0] norm {A[:, 0].norm():.4f}")
layer.merge()
print(f"merged:   row norm {layer(torch.tensor([0]))[0].norm():.4f}")
assert row.norm() > 1.0 + 1e-6
