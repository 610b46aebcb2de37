#!/usr/bin/env python3
"""A selection criterion averaged over several K, with its paired intervals (docs/results.md).

    tools/kmean_diff.py --out runs/var-valid [--ks 1,3,5] [--metric ndcg@10] [--seeds 5] \\
        --pair fomaml-user-0.1 nonmeta [--pair RUN[@MODEL] RUN[@MODEL]]...

A user's criterion is the metric averaged over the K of --ks (the cold-user evaluation gives every K
the same users in the same order; checked). For each run (OUT/s<s>/RUN, made by tools/experiment.py):
the mean over seeds of the per-seed means ± the 95% t-interval. For each pair A B: A minus B, users
matched within seed, with the paired bootstrap 95% CI (users resampled within seed, 10,000 draws,
tools/experiment.py's functions, random seed --boot-seed) and the t-interval over the per-seed
differences. RUN alone is the run's model row (results.json's first row); RUN@MODEL another row of
it (e.g. nonmeta@itemknn). Standard library only.
"""
import argparse
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from experiment import bootstrap_draws, mean_ci, paired_bootstrap, percentile  # noqa: E402


def per_user(out, spec, seeds, ks, metric):
    """[(users, [criterion per user])] per seed."""
    run, _, model = spec.partition("@")
    res = []
    for s in seeds:
        path = os.path.join(out, f"s{s}", run)
        if not model:
            with open(os.path.join(path, "results.json")) as f:
                model = json.load(f)["rows"][0]["model"]
        byk = {}
        with open(os.path.join(path, "cases.jsonl")) as f:
            for line in f:
                c = json.loads(line)
                if c["model"] == model and c["k_shot"] in ks:
                    byk.setdefault(c["k_shot"], []).append(c)
        if sorted(byk) != sorted(ks):
            sys.exit(f"{path}: {model}: K {sorted(byk)} found, {sorted(ks)} wanted")
        users = [c["user"] for c in byk[ks[0]]]
        if any([c["user"] for c in byk[k]] != users for k in ks):
            sys.exit(f"{path}: {model}: the K have different users")
        res.append((users, [statistics.fmean(byk[k][i][metric] for k in ks) for i in range(len(users))]))
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--ks", default="1,3,5")
    ap.add_argument("--metric", default="ndcg@10")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--pair", nargs=2, action="append", default=[], metavar=("A", "B"))
    ap.add_argument("--draws", type=int, default=10000)
    ap.add_argument("--boot-seed", type=int, default=20261208)
    args = ap.parse_args()
    ks, seeds = [int(k) for k in args.ks.split(",")], list(range(args.seeds))
    cache = {}

    def get(spec):
        if spec not in cache:
            cache[spec] = per_user(args.out, spec, seeds, ks, args.metric)
            per = [statistics.fmean(v) for _, v in cache[spec]]
            m, lo, hi = mean_ci(per)
            print(f"{spec}: {args.metric} over K={args.ks}: {m:.4f} ± {(hi - lo) / 2:.4f} (per seed "
                  + ", ".join(f"{x:.4f}" for x in per) + ")")
        return cache[spec]

    for a, b in args.pair:
        ra, rb = get(a), get(b)
        diffs = []
        for s, ((ua, va), (ub, vb)) in zip(seeds, zip(ra, rb)):
            if ua != ub:
                sys.exit(f"seed {s}: {a} and {b} have different users (not the same split?)")
            diffs.append([x - y for x, y in zip(va, vb)])
        obs, dist = paired_bootstrap(diffs, bootstrap_draws([len(d) for d in diffs], args.draws, args.boot_seed))
        seed_diffs = [statistics.fmean(d) for d in diffs]
        _, tlo, thi = mean_ci(seed_diffs)
        print(f"{a} minus {b}: {obs:+.4f}, bootstrap 95% CI [{percentile(dist, 0.025):+.4f}, "
              f"{percentile(dist, 0.975):+.4f}], seed t 95% CI [{tlo:+.4f}, {thi:+.4f}], "
              f"{a} ahead in {sum(x > 0 for x in seed_diffs)}/{len(seeds)} seeds")


if __name__ == "__main__":
    main()
