#!/usr/bin/env python3
"""PNG plots for `metarec report --out DIR`: DIR/curves.png (query loss against step, one line
per run) and DIR/metric_vs_k.png (Recall@10 and NDCG@10 against the support size K)."""
import csv
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

out = sys.argv[1]
curves = defaultdict(lambda: ([], []))
with open(f"{out}/curves.csv") as f:
    for r in csv.DictReader(f):
        curves[r["run"]][0].append(int(r["step"]))
        curves[r["run"]][1].append(float(r["query_loss"]))
plt.figure(figsize=(6, 4))
for run, (x, y) in curves.items():
    plt.plot(x, y, label=run)
plt.xlabel("outer step")
plt.ylabel("query loss (cross-entropy, nats)")
plt.title("training curves (meta runs: loss after the inner loop)", fontsize=9)
plt.legend()
plt.tight_layout()
plt.savefig(f"{out}/curves.png", dpi=120)

series = defaultdict(lambda: ([], [], []))
with open(f"{out}/metric_vs_k.csv") as f:
    for r in csv.DictReader(f):
        s = series[r["model"]]
        s[0].append(int(r["k_shot"]))
        s[1].append(float(r["recall@10"]))
        s[2].append(float(r["ndcg@10"]))
fig, ax = plt.subplots(1, 2, figsize=(10, 4))
for m, (k, rc, nd) in series.items():
    ax[0].plot(k, rc, marker="o", label=m)
    ax[1].plot(k, nd, marker="o", label=m)
for a, name in zip(ax, ["Recall@10", "NDCG@10"]):
    a.set_xlabel("support size K")
    a.set_ylabel(name)
    a.set_title(f"{name} against the support size (cold-start users)", fontsize=9)
ax[1].legend(fontsize=8)
fig.tight_layout()
fig.savefig(f"{out}/metric_vs_k.png", dpi=120)
print(f"plots: {out}/curves.png {out}/metric_vs_k.png")
