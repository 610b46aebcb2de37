#!/usr/bin/env python3
"""PyTorch twin of `metarec bench train-step`: the same BERT shapes, fp32, the same head and
loss (masked mean pool -> Linear(C, 1) -> MSE), dropout 0.1, grad-norm clipping at 1.0 and
torch.optim.AdamW, timed per step (median after warm-up). Prints `train-step ms: <median>`."""
import argparse
import statistics
import time

import torch
from transformers import BertConfig, BertModel

ap = argparse.ArgumentParser()
for name, default in [("layers", 6), ("hidden", 384), ("heads", 12), ("ffn", 1536), ("vocab", 30522), ("batch", 32),
                      ("seq", 64), ("threads", 2), ("steps", 10), ("warmup", 2)]:
    ap.add_argument("--" + name, type=int, default=default)
ap.add_argument("--dropout", type=float, default=0.1)
a = ap.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)
cfg = BertConfig(vocab_size=a.vocab, hidden_size=a.hidden, num_hidden_layers=a.layers, num_attention_heads=a.heads,
                 intermediate_size=a.ffn, max_position_embeddings=max(512, a.seq), hidden_act="gelu",
                 hidden_dropout_prob=a.dropout, attention_probs_dropout_prob=a.dropout)
bert = BertModel(cfg).train()
head = torch.nn.Linear(a.hidden, 1)
params = list(bert.parameters()) + list(head.parameters())
opt = torch.optim.AdamW(params, lr=1e-3)
ids = torch.randint(0, a.vocab, (a.batch, a.seq))
mask = torch.ones(a.batch, a.seq, dtype=torch.long)
target = (torch.arange(a.batch) % 3 - 1).float()
times = []
for s in range(a.warmup + a.steps):
    t0 = time.perf_counter()
    opt.zero_grad(set_to_none=False)
    h = bert(input_ids=ids, attention_mask=mask).last_hidden_state
    m = mask.unsqueeze(-1).float()
    pooled = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
    loss = torch.nn.functional.mse_loss(head(pooled).squeeze(-1), target)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()
    ms = (time.perf_counter() - t0) * 1000
    if s >= a.warmup:
        times.append(ms)
med = statistics.median(times)
print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
print(f"train-step ms: {med:.2f}")
print(f"train-step ms min/max: {min(times):.2f} / {max(times):.2f}")
print(f"tokens/s: {a.batch * a.seq / (med / 1000):.0f}")
