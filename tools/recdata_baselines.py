#!/usr/bin/env python3
"""Runs the baseline evaluations of docs/data.md with build/metarec and prints the markdown
table rows (and the raw JSON lines to stderr).

    python3 tools/recdata_baselines.py [--amazon ../shared/data/amazon-scientific] [--ml100k data/ml-100k]
"""
import argparse
import json
import subprocess
import sys
import time


def run(args):
    t = time.time()
    out = subprocess.run(["build/metarec", "eval"] + args, check=True, capture_output=True, text=True).stdout
    j = json.loads(out)
    j["_seconds"] = time.time() - t
    print(json.dumps({"args": " ".join(args), **j}), file=sys.stderr)
    return j


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--amazon", default="../shared/data/amazon-scientific")
    ap.add_argument("--ml100k", default="data/ml-100k")
    ap.add_argument("--models", default="random,pop,itemknn,bpr")
    a = ap.parse_args()
    models = a.models.split(",")
    rows = []
    for data, name in [(a.amazon, "amazon-scientific"), (a.ml100k, "ml-100k")]:
        for mask in ["no", "yes"]:
            for m in models:
                args = ["--data", data, "--protocol", "loo", "--model", m, "--k", "10,50", "--mask", mask]
                if m == "bpr" and name == "amazon-scientific":
                    args += ["--bpr-reg", "0.03"]  # best of the grid on this dataset's validation part
                j = run(args)
                rows.append(f"| {name} | loo, mask {mask} | {m} | {j['recall@10']:.4f} | {j['ndcg@10']:.4f} | "
                            f"{j['recall@50']:.4f} | {j['ndcg@50']:.4f} | {j['mrr']:.4f} | {j['auc']:.4f} | "
                            f"{j['coverage@10']:.4f} | {j['cases']} | `metarec eval {' '.join(args)}` |")
    for data, name in [(a.ml100k, "ml-100k")]:
        for k in [1, 3, 5, 10]:
            for m in models:
                args = ["--data", data, "--protocol", "cold-user", "--k-shot", str(k), "--model", m, "--k", "10,50"]
                j = run(args)
                rows.append(f"| {name} | cold-user K={k} | {m} | {j['recall@10']:.4f} | {j['ndcg@10']:.4f} | "
                            f"{j['recall@50']:.4f} | {j['ndcg@50']:.4f} | {j['mrr']:.4f} | {j['auc']:.4f} | "
                            f"{j['coverage@10']:.4f} | {j['cases']} | `metarec eval {' '.join(args)}` |")
    for data, name in [(a.amazon, "amazon-scientific"), (a.ml100k, "ml-100k")]:
        for m in models:
            args = ["--data", data, "--protocol", "cold-item", "--model", m, "--k", "10,50"]
            if m == "bpr" and name == "amazon-scientific":
                args += ["--bpr-reg", "0.03"]
            j = run(args)
            rows.append(f"| {name} | cold-item | {m} | {j['recall@10']:.4f} | {j['ndcg@10']:.4f} | "
                        f"{j['recall@50']:.4f} | {j['ndcg@50']:.4f} | {j['mrr']:.4f} | {j['auc']:.4f} | "
                        f"{j['coverage@10']:.4f} | {j['cases']} | `metarec eval {' '.join(args)}` |")
    print("| data | protocol | model | R@10 | N@10 | R@50 | N@50 | MRR | AUC | Cov@10 | cases | command |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
