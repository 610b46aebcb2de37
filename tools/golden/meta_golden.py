#!/usr/bin/env python3
"""Independent PyTorch reference for metarec's first-order meta-gradients (FOMAML, Reptile).

Re-implements engine/rec/model.h's RecModel in float64 torch (its own code, not a port of the
C++ kernels): item table V = E W_p^T + b_p + id (E: L2-normalised text rows times sqrt(D), a
zero START row), user tower over [START, most recent, ...] with learned positions, one post-LN
transformer layer (fused QKV, masked softmax attention, erf GELU), CLS pooling, head, logits
(u V^T + bias) / tau, mean cross-entropy. Then:
  fomaml  k = 2 SGD steps (alpha 0.3) on the support loss over the scope "head", meta-gradient
          = the query-loss gradient at theta'
  reptile k = 2 steps (alpha 0.2) over the scope "user" (head + user tower): (theta - theta')/(k
          alpha) inside the scope, the query gradient at theta' outside
Writes tests/data/rec/meta_golden.json (parameters, embeddings, batches, meta-gradients), which
tests/rec/golden_test.cpp matches. Run by `make golden`.
"""
import json
import math
import os

import numpy as np
import torch

torch.set_default_dtype(torch.float64)
rng = np.random.default_rng(11)
N, D, C, H, F, T = 7, 5, 8, 2, 16, 3
T1 = T + 1
tau = 1.0

# parameters in RecModel's declaration order and naming
shapes = [
    ("item.proj.weight", (C, D)), ("item.proj.bias", (C,)), ("item.id", (N + 1, C)), ("item.bias", (N + 1,)),
    ("user.position", (T1, C)), ("user.type", (1, C)), ("user.ln0.weight", (C,)), ("user.ln0.bias", (C,)),
    ("user.layer.0.qkv.weight", (3 * C, C)), ("user.layer.0.qkv.bias", (3 * C,)),
    ("user.layer.0.out.weight", (C, C)), ("user.layer.0.out.bias", (C,)),
    ("user.layer.0.ln1.weight", (C,)), ("user.layer.0.ln1.bias", (C,)),
    ("user.layer.0.ffn1.weight", (F, C)), ("user.layer.0.ffn1.bias", (F,)),
    ("user.layer.0.ffn2.weight", (C, F)), ("user.layer.0.ffn2.bias", (C,)),
    ("user.layer.0.ln2.weight", (C,)), ("user.layer.0.ln2.bias", (C,)),
    ("head.weight", (C, C)), ("head.bias", (C,)),
]
params = {}
for name, s in shapes:
    if name == "user.type":
        v = np.zeros(s)  # frozen zeros
    elif ".ln" in name and name.endswith("weight"):
        v = 1.0 + 0.1 * rng.standard_normal(s)
    elif name == "head.weight":
        v = np.eye(C) + 0.1 * rng.standard_normal(s)
    elif name == "item.proj.weight":
        v = rng.standard_normal(s) / math.sqrt(D)
    else:
        v = 0.2 * rng.standard_normal(s)
    params[name] = v.astype(np.float32).astype(np.float64)  # exactly representable in f32
emb = rng.standard_normal((N, D)).astype(np.float32).astype(np.float64)
support = [([], 2), ([2], 4), ([2, 4], 1)]
query = [([2, 4, 1], 5), ([2, 4, 1], 6), ([2, 4, 1], 0)]

E = torch.tensor(emb)
E = E / E.norm(dim=1, keepdim=True) * math.sqrt(D)
E = torch.cat([E, torch.zeros(1, D)])


def ln(x, g, b):
    return torch.nn.functional.layer_norm(x, (C,), g, b, eps=1e-12)


def loss_fn(p, batch):
    V = E @ p["item.proj.weight"].T + p["item.proj.bias"] + p["item.id"]
    B = len(batch)
    ids = torch.full((B, T1), N, dtype=torch.long)
    mask = torch.zeros(B, T1, dtype=torch.bool)
    mask[:, 0] = True
    for r, (h, _) in enumerate(batch):
        rec = list(reversed(h))[:T]
        for j, it in enumerate(rec):
            ids[r, j + 1] = it
            mask[r, j + 1] = True
    x = V[ids] + p["user.position"][None, :, :] + p["user.type"][0]
    x = ln(x, p["user.ln0.weight"], p["user.ln0.bias"])
    L = "user.layer.0."
    qkv = x @ p[L + "qkv.weight"].T + p[L + "qkv.bias"]
    q, k, v = qkv[..., :C], qkv[..., C:2 * C], qkv[..., 2 * C:]
    d = C // H
    q = q.view(B, T1, H, d).transpose(1, 2)
    k = k.view(B, T1, H, d).transpose(1, 2)
    v = v.view(B, T1, H, d).transpose(1, 2)
    s = q @ k.transpose(-1, -2) / math.sqrt(d)
    s = s.masked_fill(~mask[:, None, None, :], float("-inf"))
    a = (torch.softmax(s, -1) @ v).transpose(1, 2).reshape(B, T1, C)
    o = a @ p[L + "out.weight"].T + p[L + "out.bias"]
    x = ln(o + x, p[L + "ln1.weight"], p[L + "ln1.bias"])
    f = torch.nn.functional.gelu(x @ p[L + "ffn1.weight"].T + p[L + "ffn1.bias"])
    f = f @ p[L + "ffn2.weight"].T + p[L + "ffn2.bias"]
    x = ln(f + x, p[L + "ln2.weight"], p[L + "ln2.bias"])
    u = x[:, 0] @ p["head.weight"].T + p["head.bias"]
    logits = (u @ V.T + p["item.bias"]) / tau
    return torch.nn.functional.cross_entropy(logits, torch.tensor([t for _, t in batch]))


def grads(theta, batch):
    p = {n: torch.tensor(v, requires_grad=(n != "user.type")) for n, v in theta.items()}
    l = loss_fn(p, batch)
    l.backward()
    return float(l), {n: (p[n].grad.numpy().copy() if p[n].grad is not None else np.zeros_like(theta[n])) for n in theta}


def in_scope(scope, n):
    if scope == "all":
        return True
    return n.startswith("head.") or (scope == "user" and n.startswith("user."))


def meta(alg, scope, k, alpha):
    th = {n: v.copy() for n, v in params.items()}
    for _ in range(k):
        _, g = grads(th, support)
        for n in th:
            if in_scope(scope, n) and n != "user.type":
                th[n] = th[n] - alpha * g[n]
    lq, gq = grads(th, query)
    if alg == "fomaml":
        return lq, gq
    out = {}
    for n in th:
        out[n] = (params[n] - th[n]) / (k * alpha) if in_scope(scope, n) else gq[n]
    return lq, out


cases = {}
for alg, scope, k, alpha in [("fomaml", "head", 2, 0.3), ("reptile", "user", 2, 0.2), ("fomaml", "all", 1, 0.3)]:
    lq, g = meta(alg, scope, k, alpha)
    cases[f"{alg}-{scope}-{k}"] = {"algorithm": alg, "scope": scope, "k": k, "alpha": alpha, "query_loss": lq,
                                    "grad": {n: v.reshape(-1).tolist() for n, v in g.items()}}
out = {
    "config": {"n_items": N, "D": D, "dim": C, "heads": H, "ffn": F, "max_history": T, "tau": tau},
    "emb": emb.reshape(-1).tolist(),
    "params": {n: v.reshape(-1).tolist() for n, v in params.items()},
    "support": support, "query": query, "cases": cases,
    "generator": "tools/golden/meta_golden.py, torch " + torch.__version__,
}
path = os.path.join(os.path.dirname(__file__), "../../tests/data/rec/meta_golden.json")
os.makedirs(os.path.dirname(path), exist_ok=True)
with open(path, "w") as f:
    json.dump(out, f)
print("wrote", os.path.normpath(path), {k: round(v["query_loss"], 6) for k, v in cases.items()})
