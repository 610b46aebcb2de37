#!/usr/bin/env python3
"""PyTorch baselines for bench/cuda_bench (issue 6), on the same shapes, timed the same way
(wall clock around torch.cuda.synchronize, median over --steps after --warmup).

  cuda_torch.py train-step [--layers --hidden --heads --ffn --vocab --batch --seq --dropout]
      HuggingFace BertModel (attn_implementation="sdpa"), eager, bf16 autocast with fp32
      master weights, the loss of cuda_bench (masked mean pool -> Linear(C, 1) -> MSE),
      clip_grad_norm_(1.0) and torch.optim.AdamW. Prints `train-step ms: <median>`.
  cuda_torch.py attention [--batch --seq --heads --head-dim] [--backend cudnn|flash|efficient|math]
      F.scaled_dot_product_attention forward + backward in bf16 through one SDPA backend
      (cudnn: cuDNN's fused attention, the baseline of the issue). Prints `attention ms:`.
  cuda_torch.py check DIR [--batch --seq --heads --head-dim]
      reads what `cuda_bench attention --dump DIR` wrote (qkv, dout, out, dqkv as raw float32)
      and compares our outputs with cuDNN's SDPA in bf16 and with fp32 math: relative L2 errors.
  cuda_torch.py matmul [--n 8192]
      the card's bf16 matrix rate (n x n x n products), the denominator of model FLOP
      utilization. Prints `bf16 matmul TFLOP/s:`.
--device cpu runs any of them on the CPU (a smoke test; times mean nothing there)."""
import argparse
import statistics
import time

import torch


def timed(fn, steps, warmup, dev):
    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    times = []
    for s in range(warmup + steps):
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        if s >= warmup:
            times.append((time.perf_counter() - t0) * 1000.0)
    return statistics.median(times)


def train_step(a, dev):
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=a.vocab, hidden_size=a.hidden, num_hidden_layers=a.layers,
                     num_attention_heads=a.heads, intermediate_size=a.ffn, max_position_embeddings=max(512, a.seq),
                     hidden_act="gelu", hidden_dropout_prob=a.dropout, attention_probs_dropout_prob=a.dropout)
    try:  # SDPA for BERT needs transformers >= 4.41; older ones run eager attention (said below)
        cfg._attn_implementation = "sdpa"
        bert = BertModel(cfg)
    except (ValueError, ImportError):
        cfg._attn_implementation = "eager"
        bert = BertModel(cfg)
    bert = bert.to(dev).train()
    print(f"attention implementation: {bert.config._attn_implementation}")
    head = torch.nn.Linear(a.hidden, 1).to(dev)
    params = list(bert.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=1e-3)
    ids = torch.randint(0, a.vocab, (a.batch, a.seq), device=dev)
    mask = torch.ones(a.batch, a.seq, dtype=torch.long, device=dev)
    target = (torch.arange(a.batch, device=dev) % 3 - 1).float()
    last = {}

    def step():
        opt.zero_grad(set_to_none=False)
        with torch.autocast(device_type=dev.type, dtype=torch.bfloat16):
            h = bert(input_ids=ids, attention_mask=mask).last_hidden_state
            m = mask.unsqueeze(-1).to(h.dtype)
            pooled = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
            pred = head(pooled).squeeze(-1)
        loss = torch.nn.functional.mse_loss(pred.float(), target)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        last["loss"] = loss

    ms = timed(step, a.steps, a.warmup, dev)
    tokens = a.batch * a.seq
    dense = a.layers * (4 * a.hidden * a.hidden + 2 * a.hidden * a.ffn)
    flops = 6 * dense * tokens + 12 * a.layers * a.batch * a.seq * a.seq * a.hidden
    print(f"train-step ms: {ms:.3f}")
    print(f"tokens/s: {tokens / (ms / 1000):.0f}")
    print(f"model TFLOP/s: {flops / (ms / 1000) / 1e12:.2f}")
    print(f"final loss: {float(last['loss']):.5f}")


def sdpa_backend(name):
    from torch.nn.attention import SDPBackend
    return {"cudnn": SDPBackend.CUDNN_ATTENTION, "flash": SDPBackend.FLASH_ATTENTION,
            "efficient": SDPBackend.EFFICIENT_ATTENTION, "math": SDPBackend.MATH}[name]


def qkv_views(qkv, B, T, H, D):
    """(B, T, 3C) -> q, k, v as (B, H, T, D), the layout of kernels/cuda/attention.cu."""
    q, k, v = qkv.view(B, T, 3, H, D).permute(2, 0, 3, 1, 4)
    return q, k, v


def attention(a, dev):
    from torch.nn.attention import sdpa_kernel

    B, T, H, D = a.batch, a.seq, a.heads, a.head_dim
    g = torch.Generator(device="cpu").manual_seed(5)
    qkv = torch.randn(B, T, 3 * H * D, generator=g).to(dev, torch.bfloat16).requires_grad_(True)
    dout = torch.randn(B, H, T, D, generator=g).to(dev, torch.bfloat16)
    out = {}

    def fwd():
        q, k, v = qkv_views(qkv, B, T, H, D)
        out["o"] = torch.nn.functional.scaled_dot_product_attention(q, k, v)

    def bwd():
        out["o"].backward(dout)
        qkv.grad = None

    backend = sdpa_backend(a.backend) if dev.type == "cuda" else sdpa_backend("math")
    with sdpa_kernel(backend):
        fwd()
        bwd()  # warm up
        tf, tb = [], []
        for s in range(a.warmup + a.steps):
            tf.append(timed(fwd, 1, 0, dev))
            tb.append(timed(bwd, 1, 0, dev))
        mf, mb = statistics.median(tf[a.warmup:]), statistics.median(tb[a.warmup:])
    f_fwd = 4.0 * B * H * T * T * D
    print(f"attention ms: {mf + mb:.4f}")
    print(f"attention fwd ms: {mf:.4f}  bwd ms: {mb:.4f}")
    print(f"attention TFLOP/s: fwd {f_fwd / mf / 1e9:.2f}  bwd {2.5 * f_fwd / mb / 1e9:.2f}  "
          f"fwd+bwd {3.5 * f_fwd / (mf + mb) / 1e9:.2f}")


def check(a, dev):
    import numpy as np

    from torch.nn.attention import sdpa_kernel

    B, T, H, D = a.batch, a.seq, a.heads, a.head_dim
    C = H * D

    def load(name, shape):
        return torch.from_numpy(np.fromfile(f"{a.dir}/{name}.f32", dtype=np.float32).reshape(shape)).to(dev)

    qkv, dout = load("qkv", (B, T, 3 * C)), load("dout", (B, T, C))
    ours_out, ours_dqkv = load("out", (B, T, C)), load("dqkv", (B, T, 3 * C))

    def run(dtype, backend):
        x = qkv.detach().to(dtype, copy=True).requires_grad_(True)  # a fresh leaf, also when dtype is qkv's
        q, k, v = qkv_views(x, B, T, H, D)
        with sdpa_kernel(backend):
            o = torch.nn.functional.scaled_dot_product_attention(q, k, v)
        o = o.permute(0, 2, 1, 3).reshape(B, T, C)
        o.backward(dout.to(dtype))
        return o.float(), x.grad.float()

    def rel(x, ref):
        return float((x - ref).norm() / ref.norm())

    ref_out, ref_dqkv = run(torch.float64 if dev.type == "cpu" else torch.float32, sdpa_backend("math"))
    rows = [("fp32 math (reference)", ref_out, ref_dqkv)]
    if dev.type == "cuda":
        rows.append(("cuDNN SDPA bf16", *run(torch.bfloat16, sdpa_backend("cudnn"))))
    rows.append(("metarec (cuda_bench --dump)", ours_out, ours_dqkv))
    for name, o, d in rows[1:]:
        print(f"check {name}: out rel L2 {rel(o, ref_out):.3e}, dqkv rel L2 {rel(d, ref_dqkv):.3e}")


def matmul(a, dev):
    n = a.n
    x = torch.randn(n, n, device=dev, dtype=torch.bfloat16)
    y = torch.randn(n, n, device=dev, dtype=torch.bfloat16)
    ms = timed(lambda: x @ y, a.steps, a.warmup, dev)
    print(f"bf16 matmul TFLOP/s: {2 * n ** 3 / (ms / 1000) / 1e12:.1f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    ts = sub.add_parser("train-step")
    for name, default in [("layers", 12), ("hidden", 768), ("heads", 12), ("ffn", 3072), ("vocab", 30522)]:
        ts.add_argument("--" + name, type=int, default=default)
    ts.add_argument("--dropout", type=float, default=0.1)
    at = sub.add_parser("attention")
    ck = sub.add_parser("check")
    ck.add_argument("dir")
    for p in (at, ck):
        p.add_argument("--heads", type=int, default=12)
        p.add_argument("--head-dim", type=int, default=64)
    at.add_argument("--backend", default="cudnn", choices=["cudnn", "flash", "efficient", "math"])
    mm = sub.add_parser("matmul")
    mm.add_argument("--n", type=int, default=8192)
    for p in (ts, at, ck, mm):
        p.add_argument("--batch", type=int, default=32)
        p.add_argument("--seq", type=int, default=128)
        p.add_argument("--steps", type=int, default=10)
        p.add_argument("--warmup", type=int, default=3)
        p.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    a = ap.parse_args()
    dev = torch.device(a.device)
    {"train-step": train_step, "attention": attention, "check": check, "matmul": matmul}[a.cmd](a, dev)


if __name__ == "__main__":
    main()
