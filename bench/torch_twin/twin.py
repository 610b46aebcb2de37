#!/usr/bin/env python3
"""The recommender's meta-training, written again in PyTorch: the correctness twin of the main job.

An independent implementation (its own code, not a port of metarec's kernels) of what
engine/rec/model.h and engine/meta/algorithm.h describe: the item tower over the cached text
embeddings (L2-normalised rows times sqrt(D), a zero START row, projection, id vectors), the user
tower (START + the most recent items, learned positions, post-LN transformer layers with erf GELU,
cls / mean / recent pooling, the head), logits (u V^T + item bias) / tau, full-softmax
cross-entropy; FOMAML, Reptile, first-order Meta-SGD and the non-meta twin over the meta.scope
parameters; the mean meta-gradient, global-norm clipping, torch.optim.AdamW (no decay on biases,
LayerNorm, positions, ids) with metarec's warmup/decay schedule; Meta-SGD's rates with their own
AdamW (no decay), clamped at 0.

It starts from a metarec checkpoint, replays the task batches metarec wrote with
`train --dump-tasks`, and compares every step's mean query loss with the run's metrics.jsonl and
the final parameters with the run's final checkpoint. Needs model.dropout = 0 (the two sides draw
different masks), loss.negatives = 0, loss.weights = [1, 0, 0], model.score = dot,
encoder.train_layers = 0. Usage (bench/torch_twin/run.sh does all of it):
  twin.py --run RUN --init CKPT --tasks TASKS.jsonl [--dtype float64|float32] [--threads N]
Prints the comparison and the twin's tasks/s; exits 1 when a bound is exceeded.
"""
import argparse
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    out = {}
    for name, h in header.items():
        assert h["dtype"] == "F32", (name, h["dtype"])
        a, b = h["data_offsets"]
        out[name] = np.frombuffer(raw[8 + n + a:8 + n + b], dtype="<f4").reshape(h["shape"]).copy()
    return out, meta


def in_scope(scope, name):
    if name.startswith("loss."):
        return False
    return scope == "all" or name.startswith("head.") or (scope == "user" and name.startswith("user."))


def decays(name):  # AdamW weight decay: the matrices only
    return name == "item.proj.weight" or name == "head.weight" or any(
        name.endswith(s) for s in (".qkv.weight", ".out.weight", ".ffn1.weight", ".ffn2.weight"))


class Twin:
    def __init__(self, cfg, emb, dtype):
        self.c = cfg
        self.dt = dtype
        self.N = emb.shape[0]
        D = emb.shape[1]
        E = torch.tensor(emb, dtype=torch.float64)
        E = E / E.norm(dim=1, keepdim=True).clamp_min(1e-12) * math.sqrt(D)
        self.E = torch.cat([E, torch.zeros(1, D, dtype=torch.float64)]).to(dtype)
        self.C, self.H, self.T = cfg["model.dim"], cfg["model.heads"], cfg["model.max_history"]
        self.layers = cfg["model.layers"]

    def ln(self, x, g, b):
        return torch.nn.functional.layer_norm(x, (self.C,), g, b, eps=1e-12)

    def loss(self, p, batch):
        c, C, H, T1, N = self.c, self.C, self.H, self.T + 1, self.N
        V = self.E @ p["item.proj.weight"].T + p["item.proj.bias"]
        if "item.id" in p:
            V = V + p["item.id"]
        B = len(batch)
        ids = torch.full((B, T1), N, dtype=torch.long)
        mask = torch.zeros(B, T1, dtype=torch.bool)
        mask[:, 0] = True
        for r, (h, _, _) in enumerate(batch):
            rec = list(reversed(h))[:self.T]
            for j, it in enumerate(rec):
                ids[r, j + 1] = it
                mask[r, j + 1] = True
        x = V[ids] + p["user.position"][None] + p["user.type"][0]
        x = self.ln(x, p["user.ln0.weight"], p["user.ln0.bias"])
        d = C // H
        for i in range(self.layers):
            L = f"user.layer.{i}."
            qkv = x @ p[L + "qkv.weight"].T + p[L + "qkv.bias"]
            q, k, v = (qkv[..., j * C:(j + 1) * C].reshape(B, T1, H, d).transpose(1, 2) for j in range(3))
            s = (q @ k.transpose(-1, -2)) / math.sqrt(d)
            s = s.masked_fill(~mask[:, None, None, :], float("-inf"))
            a = (torch.softmax(s, -1) @ v).transpose(1, 2).reshape(B, T1, C)
            o = a @ p[L + "out.weight"].T + p[L + "out.bias"]
            x = self.ln(o + x, p[L + "ln1.weight"], p[L + "ln1.bias"])
            f = torch.nn.functional.gelu(x @ p[L + "ffn1.weight"].T + p[L + "ffn1.bias"])
            f = f @ p[L + "ffn2.weight"].T + p[L + "ffn2.bias"]
            x = self.ln(f + x, p[L + "ln2.weight"], p[L + "ln2.bias"])
        pool = c["model.pool"]
        if pool == "cls":
            pooled = x[:, 0]
        elif pool == "mean":
            m = mask.to(x.dtype)[..., None]
            pooled = (x * m).sum(1) / m.sum(1)
        else:  # recent: the most recent item's position, START's for an empty history
            at = torch.tensor([1 if len(h) else 0 for h, _, _ in batch])
            pooled = x[torch.arange(B), at]
        u = pooled @ p["head.weight"].T + p["head.bias"]
        logits = u @ V.T
        if "item.bias" in p:
            logits = logits + p["item.bias"]
        logits = logits / c["model.tau"]
        tgt = torch.tensor([t for _, t, _ in batch])
        return torch.nn.functional.cross_entropy(logits, tgt, ignore_index=-100)


def lr_at(c, step):
    lr, warm, total = c["train.lr"], float(c["train.warmup"]), float(c["train.steps"])
    if step < warm:
        return lr * (step + 1) / warm
    prog = min(1.0, (step - warm) / (total - warm)) if total > warm else 1.0
    if c["train.decay"] == "cosine":
        return lr * 0.5 * (1.0 + math.cos(math.pi * prog))
    if c["train.decay"] == "linear":
        return lr * (1.0 - prog)
    return lr


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", required=True, help="the metarec run folder (config.json, item_emb.npy, metrics.jsonl, final checkpoint)")
    ap.add_argument("--init", required=True, help="the checkpoint the replay starts from")
    ap.add_argument("--tasks", required=True, help="train --dump-tasks output")
    ap.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--loss-rtol", type=float, default=1e-5)
    ap.add_argument("--param-rtol", type=float, default=1e-4)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    dtype = getattr(torch, a.dtype)
    with open(os.path.join(a.run, "config.json")) as f:
        c = json.load(f)
    need = {"model.dropout": 0.0, "loss.negatives": 0, "loss.weights": [1.0, 0.0, 0.0], "model.score": "dot",
            "encoder.train_layers": 0, "loss.weighting": "fixed"}
    bad = {k: c[k] for k, v in need.items() if c[k] != v}
    if bad:
        sys.exit(f"twin.py: the run's config has {bad}; the twin needs {need}")
    emb = np.load(os.path.join(a.run, "item_emb.npy")).astype(np.float32)
    twin = Twin(c, emb, dtype)
    init, meta = read_safetensors(a.init)
    # theta's flat layout is the declaration order (engine/rec/model.cpp), which Meta-SGD's rate vector follows
    order = ["item.proj.weight", "item.proj.bias", "item.id", "item.bias", "user.position", "user.type",
             "user.ln0.weight", "user.ln0.bias"]
    for i in range(c["model.layers"]):
        order += [f"user.layer.{i}.{s}" for s in ("qkv.weight", "qkv.bias", "out.weight", "out.bias", "ln1.weight",
                                                  "ln1.bias", "ffn1.weight", "ffn1.bias", "ffn2.weight", "ffn2.bias",
                                                  "ln2.weight", "ln2.bias")]
    order += ["head.weight", "head.bias"]
    names = [n for n in order if "param." + n in init]
    extra = sorted(k for k in init if k.startswith("param.") and k[len("param."):] not in names)
    if extra:
        sys.exit(f"twin.py: the checkpoint has parameters the twin does not model: {extra}")
    p = {n: torch.tensor(init["param." + n], dtype=dtype) for n in names}
    trainable = [n for n in names if n != "user.type"]
    alg, scope = c["meta.algorithm"], c["meta.scope"]
    k_in, alpha = c["meta.inner_steps"], c["meta.inner_lr"]
    scope_names = [n for n in trainable if in_scope(scope, n)]
    start = int(meta.get("step", "0"))
    for n in trainable:
        p[n].requires_grad_(True)
    groups = [{"params": [p[n] for n in trainable if decays(n)], "weight_decay": c["train.weight_decay"]},
              {"params": [p[n] for n in trainable if not decays(n)], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=c["train.lr"], betas=(0.9, 0.999), eps=c["train.adam_eps"])
    if start > 0:
        sys.exit("twin.py: --init must be a step-0 checkpoint (AdamW state is not replayed)")
    rates = rate_opt = None
    if alg == "metasgd":
        rates = {n: torch.full_like(p[n], alpha).detach().requires_grad_(True) for n in trainable}
        rate_opt = torch.optim.AdamW(list(rates.values()), lr=c["train.lr"], betas=(0.9, 0.999),
                                     eps=c["train.adam_eps"], weight_decay=0.0)

    def grads(params, batch, wrt):
        l = twin.loss(params, batch)
        g = torch.autograd.grad(l, [params[n] for n in wrt], allow_unused=True)
        return float(l.detach()), {n: (gi if gi is not None else torch.zeros_like(params[n])) for n, gi in zip(wrt, g)}

    with open(a.tasks) as f:
        steps = [json.loads(line) for line in f]
    twin_losses, t0, n_tasks = [], time.time(), 0
    for st in steps:
        acc = {n: torch.zeros_like(p[n], dtype=torch.float64) for n in trainable}
        racc = {n: torch.zeros_like(p[n], dtype=torch.float64) for n in trainable} if rates else None
        qsum = 0.0
        for task in st["tasks"]:
            sup, qry = task["support"], task["query"]
            n_tasks += 1
            if alg == "none":
                lq, gq = grads(p, qry, trainable)
                _, gs = grads(p, sup, trainable)
                for n in trainable:
                    acc[n] += gq[n].double() + gs[n].double()
                qsum += lq
                continue
            fast = dict(p)  # theta' shares theta's tensors outside the scope
            gsum = {n: torch.zeros_like(p[n]) for n in scope_names}
            for _ in range(k_in):
                _, gs = grads(fast, sup, scope_names)
                for n in scope_names:
                    step_size = rates[n].detach() if rates else alpha
                    fast[n] = (fast[n].detach() - step_size * gs[n]).requires_grad_(True)
                    gsum[n] = gsum[n] + gs[n]
            lq, gq = grads(fast, qry, trainable)
            qsum += lq
            for n in trainable:
                if alg == "reptile" and n in scope_names:
                    acc[n] += (p[n].detach().double() - fast[n].detach().double()) / (k_in * alpha)
                else:
                    acc[n] += gq[n].double()
            if rates:
                for n in scope_names:
                    racc[n] -= (gq[n] * gsum[n]).double()
        T = len(st["tasks"])
        twin_losses.append(qsum / T)
        g = {n: (acc[n] / T) for n in trainable}
        norm = math.sqrt(sum(float((v * v).sum()) for v in g.values()))
        coef = c["train.clip"] / (norm + 1e-6) if c["train.clip"] > 0 else 1.0
        for n in trainable:
            p[n].grad = (g[n] * (coef if coef < 1.0 else 1.0)).to(dtype)
        lr = lr_at(c, st["step"])
        for grp in opt.param_groups:
            grp["lr"] = lr
        opt.step()
        if rates:
            for n in trainable:
                rates[n].grad = (racc[n] / T).to(dtype)
            for grp in rate_opt.param_groups:
                grp["lr"] = lr
            rate_opt.step()
            with torch.no_grad():
                for v in rates.values():
                    v.clamp_(min=0.0)
    dt = time.time() - t0

    # compare with the run
    with open(os.path.join(a.run, "metrics.jsonl")) as f:
        logged = {j["step"]: j["query_loss"] for j in map(json.loads, f) if "query_loss" in j}
    worst_loss, ok = 0.0, True
    for i, st in enumerate(steps):
        ref = logged.get(st["step"] + 1)
        if ref is None:
            sys.exit(f"twin.py: metrics.jsonl has no query_loss for step {st['step'] + 1} (train.log_every = 1 needed)")
        e = abs(twin_losses[i] - ref) / max(abs(ref), 1e-12)
        worst_loss = max(worst_loss, e)
    with open(os.path.join(a.run, "latest")) as f:
        final, _ = read_safetensors(os.path.join(a.run, f.read().strip()))
    num = den = 0.0
    worst_param = (0.0, "")
    for n in trainable:
        ours = torch.tensor(final["param." + n], dtype=torch.float64)
        d = (p[n].detach().double() - ours)
        num += float((d * d).sum())
        den += float((ours * ours).sum())
        r = float(d.norm() / max(float(ours.norm()), 1e-12))
        if r > worst_param[0]:
            worst_param = (r, n)
    rel = math.sqrt(num / max(den, 1e-300))
    print(f"twin: {len(steps)} steps, {n_tasks} tasks, {alg} scope {scope} k={k_in}, torch {torch.__version__} {a.dtype}, "
          f"{torch.get_num_threads()} threads")
    print(f"twin: query loss, worst step relative difference {worst_loss:.3g} (bound {a.loss_rtol:g})")
    print(f"twin: final parameters, relative L2 difference {rel:.3g} (bound {a.param_rtol:g}); worst tensor "
          f"{worst_param[1]} {worst_param[0]:.3g}")
    if rates:
        rpath = os.path.join(a.run, "inner_rates")
        with open(os.path.join(rpath, "latest")) as f:
            fr, _ = read_safetensors(os.path.join(rpath, f.read().strip()))
        flat = torch.tensor(fr["param.meta.inner_lr"], dtype=torch.float64).reshape(-1)
        mine = torch.cat([rates[n].detach().double().reshape(-1) for n in trainable])
        # metarec's rate vector has theta's flat layout (frozen user.type included): drop its slot
        offs, at = [], 0
        for n in names:
            sz = init["param." + n].size
            if n != "user.type":
                offs.append(flat[at:at + sz])
            at += sz
        theirs = torch.cat(offs)
        rr = float((mine - theirs).norm() / theirs.norm())
        print(f"twin: Meta-SGD rates, relative L2 difference {rr:.3g} (bound {a.param_rtol:g})")
        ok = ok and rr <= a.param_rtol
    print(f"twin: {n_tasks / dt:.1f} tasks/s ({dt:.2f} s)")
    ok = ok and worst_loss <= a.loss_rtol and rel <= a.param_rtol
    print("twin: PASS" if ok else "twin: FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
