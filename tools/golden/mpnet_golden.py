#!/usr/bin/env python3
"""Reference fixtures for MPNet in BertModel (tests/core/mpnet_test.cpp).

Builds a tiny random HuggingFace MPNetModel (2 layers, hidden 64, 4 heads, intermediate 128,
vocab 100, max positions 40, 32 relative-attention buckets, no pooler), runs it in PyTorch fp32
with dropout off on a batch of 3 x 33 tokens with padding (pad id 1) in two rows, and writes
into tests/data/tiny_mpnet/:
  config.json          the HF config
  model.safetensors    the weights under HF MPNet names (embeddings.*, encoder.layer.N.attention.attn.q.*,
                       encoder.relative_attention_bias.weight, ...)
  golden.safetensors   input_ids, attention_mask, r (the loss weights), last_hidden_state, loss,
                       every parameter gradient (grad.<HF name>), and MPNetEncoder.relative_position_bucket
                       over relative positions -300..300 (bucket.rel, bucket.value; num_buckets 32,
                       max_distance 128, as compute_position_bias calls it).
Loss = sum over real tokens of last_hidden_state * r (r fixed random): the padded rows, whose
position ids differ (HF gives a pad token position padding_idx), do not enter it.
The relative attention bias table is drawn N(0, 1) (HF's init is N(0, 0.02), too small to test
anything); LayerNorm parameters and biases get N(0, 0.1) perturbations.
The committed fixture was made with transformers 5.25.0 on torch (CPU).
"""
import json
import os
import sys

import torch
from safetensors.torch import save_file
from transformers import MPNetConfig, MPNetModel
from transformers.models.mpnet.modeling_mpnet import MPNetEncoder

out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "../../tests/data/tiny_mpnet")
os.makedirs(out_dir, exist_ok=True)
torch.manual_seed(4321)
torch.set_num_threads(1)

cfg = MPNetConfig(vocab_size=100, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                  intermediate_size=128, max_position_embeddings=40, relative_attention_num_buckets=32,
                  hidden_act="gelu", layer_norm_eps=1e-5, hidden_dropout_prob=0.0,
                  attention_probs_dropout_prob=0.0, pad_token_id=1, attn_implementation="eager")
model = MPNetModel(cfg, add_pooling_layer=False).eval()
with torch.no_grad():
    for name, p in model.named_parameters():
        if "LayerNorm" in name or name.endswith("bias"):
            p.add_(torch.randn_like(p) * 0.1)
    model.encoder.relative_attention_bias.weight.copy_(torch.randn_like(model.encoder.relative_attention_bias.weight))

B, T = 3, 33
input_ids = torch.randint(3, 100, (B, T))
input_ids[:, 0] = 0  # <s>
attention_mask = torch.ones(B, T, dtype=torch.long)
attention_mask[1, 20:] = 0
attention_mask[2, 6:] = 0
input_ids[attention_mask == 0] = 1  # <pad>
r = torch.randn(B, T, 64)

named = dict(model.named_parameters())
out = model(input_ids=input_ids, attention_mask=attention_mask)
h = out.last_hidden_state
loss = (h * r * attention_mask.unsqueeze(-1).float()).sum()
loss.backward()

rel = torch.arange(-300, 301, dtype=torch.long)
golden = {
    "input_ids": input_ids.to(torch.int32), "attention_mask": attention_mask.to(torch.int32), "r": r,
    "last_hidden_state": h.detach(), "loss": loss.detach().reshape(1),
    "bucket.rel": rel.to(torch.int32),
    "bucket.value": MPNetEncoder.relative_position_bucket(rel, num_buckets=32, max_distance=128).to(torch.int32),
}
for k, p in named.items():
    golden["grad." + k] = p.grad.detach().clone()

save_file({k: v.detach().contiguous() for k, v in named.items()}, os.path.join(out_dir, "model.safetensors"))
save_file({k: v.contiguous() for k, v in golden.items()}, os.path.join(out_dir, "golden.safetensors"))
with open(os.path.join(out_dir, "config.json"), "w") as f:
    d = cfg.to_dict()
    d.pop("_attn_implementation_autoset", None)
    json.dump(d, f, indent=2, sort_keys=True)
print(f"tiny_mpnet: loss {float(loss):.6f} -> {out_dir}")
