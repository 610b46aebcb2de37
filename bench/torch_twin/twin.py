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

With encoder.train_layers = L > 0 (engine/rec/item_tower.h) the item tower's text rows are
instead the top L BERT layers (transformers' own BertLayer modules, eager attention with the
padding mask, run functionally on the "item.bert.*" parameters) over the frozen bottom's hidden
states, mean- or [CLS]-pooled, L2-normalised times sqrt(H); the START row stays zero. The hidden
states are metarec's own cache (named in TASKS.jsonl.items.json, which --dump-tasks writes with
the item texts); --check-items N first recomputes N items' states with transformers' BertModel
from the item texts (an independent check of the cache: tokens and states). With the sampled
softmax (loss.negatives > 0) the dump carries each loss's candidate items and their log expected
counts; the twin builds the labels (the in-batch target columns), the logQ shift and the
accidental-hit masks itself (engine/rec/sampled.h) and checks the uniform sampler's log_q.

It starts from a metarec checkpoint, replays the task batches metarec wrote with
`train --dump-tasks`, and compares every step's mean query loss with the run's metrics.jsonl and
the final parameters with the run's final checkpoint. Needs model.dropout = 0 and, with L > 0,
the encoder's HF dropout at 0 too (the two sides draw different masks: run.sh points
encoder.model at a copy of the model whose config.json says 0), loss.weights = [1, 0, 0],
model.score = dot. Usage (bench/torch_twin/run.sh does all of it):
  twin.py --run RUN --init CKPT --tasks TASKS.jsonl [--dtype float64|float32] [--threads N]
          [--check-items N]
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
    if name.startswith("item.bert."):
        return name.endswith(".weight") and "LayerNorm" not in name
    return name == "item.proj.weight" or name == "head.weight" or any(
        name.endswith(s) for s in (".qkv.weight", ".out.weight", ".ffn1.weight", ".ffn2.weight"))


class ItemTop:
    """The trainable top of the item tower: transformers' BertLayer modules over the cached states."""

    def __init__(self, model_dir, hidden_file, n_items, bottom, train_layers, max_len, pool, dtype):
        from transformers import BertConfig
        from transformers.models.bert.modeling_bert import BertLayer
        bc = BertConfig.from_pretrained(model_dir)
        bc.hidden_dropout_prob = bc.attention_probs_dropout_prob = 0.0
        bc._attn_implementation = "eager"
        self.layers = [(l, BertLayer(bc).to(dtype).eval()) for l in range(bottom, bottom + train_layers)]
        self.H, self.T, self.pool, self.dt = bc.hidden_size, max_len, pool, dtype
        rows = np.load(hidden_file, mmap_mode="r")
        if rows.shape != (n_items, 1 + max_len * self.H):
            sys.exit(f"twin.py: {hidden_file} has shape {rows.shape}, expected ({n_items}, 1 + {max_len} x {self.H})")
        self.len = np.asarray(rows[:, 0]).astype(np.int64)
        self.hid = np.asarray(rows[:, 1:]).reshape(n_items, max_len, self.H)

    def features(self, p, items):
        """(len(items), H) for item rows (all < n_items)."""
        lens = self.len[items]
        T = int(lens.max())
        x = torch.tensor(self.hid[items, :T], dtype=self.dt)
        m = torch.arange(T)[None] < torch.tensor(lens)[:, None]  # (B, T) real tokens
        ext = torch.zeros(m.shape, dtype=self.dt).masked_fill(~m, torch.finfo(self.dt).min)[:, None, None, :]
        for l, layer in self.layers:
            pre = f"item.bert.encoder.layer.{l}."
            w = {k: p[pre + k] for k, _ in layer.named_parameters()}
            x = torch.func.functional_call(layer, w, (x,), {"attention_mask": ext})
            if isinstance(x, tuple):
                x = x[0]
        if self.pool == "mean":
            mf = m.to(self.dt)[..., None]
            pooled = (x * mf).sum(1) / mf.sum(1)
        else:
            pooled = x[:, 0]
        return pooled / pooled.norm(dim=1, keepdim=True) * math.sqrt(self.H)


class Twin:
    def __init__(self, cfg, emb, dtype, top=None):
        self.c = cfg
        self.dt = dtype
        self.N = emb.shape[0]
        D = emb.shape[1]
        self.top = top
        if top is None:
            E = torch.tensor(emb, dtype=torch.float64)
            E = E / E.norm(dim=1, keepdim=True).clamp_min(1e-12) * math.sqrt(D)
            self.E = torch.cat([E, torch.zeros(1, D, dtype=torch.float64)]).to(dtype)
        self.C, self.H, self.T = cfg["model.dim"], cfg["model.heads"], cfg["model.max_history"]
        self.layers = cfg["model.layers"]

    def item_rows(self, p, rows):
        """V's rows `rows` (item ids, N = START), (len(rows), C)."""
        rows = torch.tensor(rows, dtype=torch.long)
        if self.top is None:
            E = self.E[rows]
        else:
            real = (rows < self.N).nonzero().flatten()
            F = self.top.features(p, rows[real].numpy())
            E = torch.zeros(len(rows), F.shape[1], dtype=self.dt).index_copy(0, real, F)
        V = E @ p["item.proj.weight"].T + p["item.proj.bias"]
        if "item.id" in p:
            V = V + p["item.id"][rows]
        return V

    def candidates(self, batch, draw):
        """engine/rec/sampled.h from the drawn columns: labels (B) and shift (B, M)."""
        items, log_q = draw["items"], draw["log_q"]
        tg = [t for _, t, _ in batch]
        with_t = [r for r, t in enumerate(tg) if t >= 0]
        if items[:len(with_t)] != [tg[r] for r in with_t]:
            sys.exit("twin.py: the dumped candidates do not start with the batch's targets in row order")
        label = [-100] * len(batch)
        for m, r in enumerate(with_t):
            label[r] = m
        if self.c["loss.sampler"] == "uniform":  # log E[count] = log(min(n_neg, N) / N) for every item
            want = math.log(min(self.c["loss.negatives"], self.N) / self.N)
            if max(abs(q - want) for q in log_q) > 1e-12:
                sys.exit(f"twin.py: the dump's log_q is not the uniform sampler's {want}")
        shift = torch.tensor([[-1e9 if (tg[r] >= 0 and it == tg[r] and m != label[r]) else -log_q[m]
                               for m, it in enumerate(items)] for r in range(len(batch))], dtype=self.dt)
        return torch.tensor(label), shift

    def ln(self, x, g, b):
        return torch.nn.functional.layer_norm(x, (self.C,), g, b, eps=1e-12)

    def loss(self, p, batch, draw=None):
        c, C, H, T1, N = self.c, self.C, self.H, self.T + 1, self.N
        B = len(batch)
        # the item rows this loss reads: every item (full softmax), or START, the histories and
        # the candidates (sampled); local[i] is item i's row of V
        if draw is None:
            rows = list(range(N + 1))
        else:
            rows = sorted({N} | {it for h, _, _ in batch for it in h[-self.T:]} | set(draw["items"]))
        local = {it: j for j, it in enumerate(rows)}
        V = self.item_rows(p, rows)
        ids = torch.full((B, T1), local[N], dtype=torch.long)
        mask = torch.zeros(B, T1, dtype=torch.bool)
        mask[:, 0] = True
        for r, (h, _, _) in enumerate(batch):
            rec = list(reversed(h))[:self.T]
            for j, it in enumerate(rec):
                ids[r, j + 1] = local[it]
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
        if draw is not None:  # sampled softmax: (u V_cols^T + b_cols) / tau + shift, label = own column
            label, shift = self.candidates(batch, draw)
            cols = torch.tensor([local[i] for i in draw["items"]])
            logits = u @ V[cols].T
            if "item.bias" in p:
                logits = logits + p["item.bias"][torch.tensor(draw["items"])]
            logits = logits / c["model.tau"] + shift
            return torch.nn.functional.cross_entropy(logits, label, ignore_index=-100)
        logits = u @ V.T
        if "item.bias" in p:
            logits = logits + p["item.bias"]
        logits = logits / c["model.tau"]
        tgt = torch.tensor([t for _, t, _ in batch])
        return torch.nn.functional.cross_entropy(logits, tgt, ignore_index=-100)


def check_states(model_dir, items, top, n):
    """n items' frozen-bottom states recomputed by transformers from their texts (float64) against
    metarec's cache: the token counts, and the relative L2 difference per item (the worst)."""
    from transformers import AutoTokenizer, BertModel
    tok = AutoTokenizer.from_pretrained(model_dir)
    bert = BertModel.from_pretrained(model_dir, dtype=torch.float64, attn_implementation="eager").eval()
    texts = items["texts"]
    pick = sorted(set(np.linspace(0, len(texts) - 1, n).round().astype(int).tolist()))
    worst, tok_ok = 0.0, True
    with torch.no_grad():
        for i in pick:
            enc = tok(texts[i], truncation=True, max_length=items["max_len"], return_tensors="pt")
            k = enc["input_ids"].shape[1]
            if k != top.len[i]:
                tok_ok = False
                continue
            hs = bert(**enc, output_hidden_states=True).hidden_states[items["bottom_layers"]][0]
            ours = torch.tensor(top.hid[i, :k], dtype=torch.float64)
            worst = max(worst, float((ours - hs).norm() / hs.norm()))
    return worst, len(pick), tok_ok


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
    ap.add_argument("--check-items", type=int, default=8,
                    help="train_layers > 0: recompute this many items' cached states with transformers (0: none)")
    ap.add_argument("--state-rtol", type=float, default=1e-4, help="bound of that check (relative L2 per item)")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    dtype = getattr(torch, a.dtype)
    with open(os.path.join(a.run, "config.json")) as f:
        c = json.load(f)
    need = {"model.dropout": 0.0, "loss.weights": [1.0, 0.0, 0.0], "model.score": "dot", "loss.weighting": "fixed"}
    bad = {k: c[k] for k, v in need.items() if c[k] != v}
    if bad:
        sys.exit(f"twin.py: the run's config has {bad}; the twin needs {need}")
    emb = np.load(os.path.join(a.run, "item_emb.npy")).astype(np.float32)
    L = c["encoder.train_layers"]
    top, state_check = None, None
    if L > 0:
        with open(a.tasks + ".items.json") as f:
            items = json.load(f)
        mcfg = json.load(open(os.path.join(c["encoder.model"], "config.json")))
        bad = {k: mcfg[k] for k in ("hidden_dropout_prob", "attention_probs_dropout_prob") if mcfg[k] != 0}
        if bad:
            sys.exit(f"twin.py: {c['encoder.model']}/config.json has {bad}: the top layers would train with dropout")
        top = ItemTop(c["encoder.model"], items["hidden"], emb.shape[0], items["bottom_layers"], L, items["max_len"],
                      c["encoder.pool"], dtype)
        if a.check_items > 0:
            state_check = check_states(c["encoder.model"], items, top, a.check_items)
    twin = Twin(c, emb, dtype, top)
    init, meta = read_safetensors(a.init)
    # theta's flat layout is the declaration order (engine/rec/model.cpp), which Meta-SGD's rate vector follows
    order = ["item.proj.weight", "item.proj.bias", "item.id", "item.bias", "user.position", "user.type",
             "user.ln0.weight", "user.ln0.bias"]
    for i in range(c["model.layers"]):
        order += [f"user.layer.{i}.{s}" for s in ("qkv.weight", "qkv.bias", "out.weight", "out.bias", "ln1.weight",
                                                  "ln1.bias", "ffn1.weight", "ffn1.bias", "ffn2.weight", "ffn2.bias",
                                                  "ln2.weight", "ln2.bias")]
    order += ["head.weight", "head.bias"]
    n_layers = json.load(open(os.path.join(c["encoder.model"], "config.json")))["num_hidden_layers"] if L else 0
    for l in range(n_layers - L, n_layers):  # engine/bert.cpp's declaration order, after head.*
        order += [f"item.bert.encoder.layer.{l}.{s}" for s in (
            "attention.self.query.weight", "attention.self.key.weight", "attention.self.value.weight",
            "attention.self.query.bias", "attention.self.key.bias", "attention.self.value.bias",
            "attention.output.dense.weight", "attention.output.dense.bias", "attention.output.LayerNorm.weight",
            "attention.output.LayerNorm.bias", "intermediate.dense.weight", "intermediate.dense.bias",
            "output.dense.weight", "output.dense.bias", "output.LayerNorm.weight", "output.LayerNorm.bias")]
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

    sampled = c["loss.negatives"] > 0

    def grads(params, batch, wrt, draws=None):
        draw = None
        if sampled:
            draw = next(draws, None)
            if draw is None:
                sys.exit("twin.py: the dump has fewer candidate draws than the replay's losses")
            n_used[0] += 1
        l = twin.loss(params, batch, draw)
        g = torch.autograd.grad(l, [params[n] for n in wrt], allow_unused=True)
        return float(l.detach()), {n: (gi if gi is not None else torch.zeros_like(params[n])) for n, gi in zip(wrt, g)}

    with open(a.tasks) as f:
        steps = [json.loads(line) for line in f]
    twin_losses, t0, n_tasks, n_draws, n_used = [], time.time(), 0, [0], [0]
    for st in steps:
        acc = {n: torch.zeros_like(p[n], dtype=torch.float64) for n in trainable}
        racc = {n: torch.zeros_like(p[n], dtype=torch.float64) for n in trainable} if rates else None
        qsum = 0.0
        for task in st["tasks"]:
            sup, qry = task["support"], task["query"]
            n_tasks += 1
            if sampled and "candidates" not in task:
                sys.exit("twin.py: loss.negatives > 0 but the dump has no candidates (an older metarec?)")
            ds = iter(task["candidates"]["support"]) if sampled else None
            dq = iter(task["candidates"]["query"]) if sampled else None
            if sampled:
                n_draws[0] += len(task["candidates"]["support"]) + len(task["candidates"]["query"])
            if alg == "none":
                lq, gq = grads(p, qry, trainable, dq)
                _, gs = grads(p, sup, trainable, ds)
                for n in trainable:
                    acc[n] += gq[n].double() + gs[n].double()
                qsum += lq
                continue
            fast = dict(p)  # theta' shares theta's tensors outside the scope
            gsum = {n: torch.zeros_like(p[n]) for n in scope_names}
            for _ in range(k_in):
                _, gs = grads(fast, sup, scope_names, ds)
                for n in scope_names:
                    step_size = rates[n].detach() if rates else alpha
                    fast[n] = (fast[n].detach() - step_size * gs[n]).requires_grad_(True)
                    gsum[n] = gsum[n] + gs[n]
            lq, gq = grads(fast, qry, trainable, dq)
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
    if n_used[0] != n_draws[0]:
        sys.exit(f"twin.py: the dump has {n_draws[0]} candidate draws, the replay used {n_used[0]}")

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
          f"{torch.get_num_threads()} threads" + (f", encoder.train_layers {L}" if L else "") +
          (f", sampled softmax ({c['loss.negatives']} {c['loss.sampler']} negatives, {n_draws[0]} draws replayed)"
           if sampled else ""))
    if state_check:
        worst, n, tok_ok = state_check
        print(f"twin: cached hidden states vs transformers' BertModel on {n} items: tokens "
              f"{'equal' if tok_ok else 'DIFFER'}, worst relative L2 {worst:.3g} (bound {a.state_rtol:g})")
        ok = ok and tok_ok and worst <= a.state_rtol
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
