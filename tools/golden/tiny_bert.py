#!/usr/bin/env python3
"""Reference fixtures for the BERT forward/backward tests (tests/core/bert_test.cpp).

Builds a tiny random HuggingFace BertModel (2 layers, hidden 64, 4 heads, intermediate 128,
vocab 512, max positions 64) plus a small head, runs it in PyTorch fp32 with dropout off on a
batch of 3 x 17 tokens with padding in two rows, and writes into tests/data/tiny_bert/:
  config.json          the HF config
  model.safetensors    the weights with HF names (bert weights without prefix, head.*)
  golden.safetensors   inputs, last hidden state, pooled output, loss, every parameter
                       gradient (grad.<name>), the losses and parameters of 5 AdamW steps
                       (after5.<name>) with global-norm clipping at 1.0.
Loss = cross_entropy(head.cls(pooler_output), labels)
     + mse(head.reg(mean_pool(last_hidden_state, attention_mask)).squeeze(-1), targets)
AdamW(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01), no decay for biases and
LayerNorm weights (the HuggingFace Trainer grouping).
"""
import json
import os
import sys

import torch
from safetensors.torch import save_file
from transformers import BertConfig, BertModel

out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "../../tests/data/tiny_bert")
os.makedirs(out_dir, exist_ok=True)
torch.manual_seed(1234)
torch.set_num_threads(1)

cfg = BertConfig(vocab_size=512, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                 intermediate_size=128, max_position_embeddings=64, type_vocab_size=2,
                 hidden_act="gelu", layer_norm_eps=1e-12, hidden_dropout_prob=0.0,
                 attention_probs_dropout_prob=0.0, attn_implementation="eager")
bert = BertModel(cfg, add_pooling_layer=True).eval()
# Non-trivial LayerNorm parameters and biases (HF initialises them to 1/0).
with torch.no_grad():
    for name, p in bert.named_parameters():
        if "LayerNorm" in name or name.endswith("bias"):
            p.add_(torch.randn_like(p) * 0.1)
head_cls = torch.nn.Linear(64, 3)
head_reg = torch.nn.Linear(64, 1)

B, T = 3, 17
input_ids = torch.randint(0, 512, (B, T))
input_ids[:, 0] = 1  # a [CLS]-like first token
attention_mask = torch.ones(B, T, dtype=torch.long)
attention_mask[1, 12:] = 0
attention_mask[2, 5:] = 0
input_ids[attention_mask == 0] = 0
token_type_ids = torch.zeros(B, T, dtype=torch.long)
token_type_ids[0, 9:] = 1
token_type_ids[1, 6:12] = 1
labels = torch.tensor([0, 2, 1])
targets = torch.tensor([0.5, -1.0, 2.0])

named = dict(bert.named_parameters())
named.update({"head.cls.weight": head_cls.weight, "head.cls.bias": head_cls.bias,
              "head.reg.weight": head_reg.weight, "head.reg.bias": head_reg.bias})
model_tensors = {k: v.detach().clone().contiguous() for k, v in named.items()}


def forward():
    out = bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
    h, pooled = out.last_hidden_state, out.pooler_output
    m = attention_mask.unsqueeze(-1).float()
    mean = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
    loss = torch.nn.functional.cross_entropy(head_cls(pooled), labels) + \
        torch.nn.functional.mse_loss(head_reg(mean).squeeze(-1), targets)
    return h, pooled, loss


h, pooled, loss = forward()
loss.backward()
golden = {
    "input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids,
    "labels": labels, "targets": targets,
    "last_hidden_state": h.detach(), "pooler_output": pooled.detach(), "loss": loss.detach().reshape(1),
}
for k, p in named.items():
    golden["grad." + k] = p.grad.detach().clone()

no_decay = [p for k, p in named.items() if k.endswith("bias") or "LayerNorm" in k]
decay = [p for k, p in named.items() if not (k.endswith("bias") or "LayerNorm" in k)]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                        lr=1e-3, betas=(0.9, 0.999), eps=1e-8, foreach=False)
losses, norms = [], []
for step in range(5):
    opt.zero_grad()
    _, _, l = forward()
    l.backward()
    norms.append(float(torch.nn.utils.clip_grad_norm_(list(named.values()), 1.0)))
    opt.step()
    losses.append(float(l))
golden["adamw.losses"] = torch.tensor(losses)
golden["adamw.grad_norms"] = torch.tensor(norms)
for k, p in named.items():
    golden["after5." + k] = p.detach().clone()

save_file({k: v.contiguous() for k, v in model_tensors.items()}, os.path.join(out_dir, "model.safetensors"))
save_file({k: v.contiguous() for k, v in golden.items()}, os.path.join(out_dir, "golden.safetensors"))
with open(os.path.join(out_dir, "config.json"), "w") as f:
    d = cfg.to_dict()
    d.pop("_attn_implementation_autoset", None)
    json.dump(d, f, indent=2, sort_keys=True)
print(f"tiny_bert: loss {float(loss):.6f}, adamw losses {losses}, grad norms {norms} -> {out_dir}")
