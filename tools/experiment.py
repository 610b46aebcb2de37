#!/usr/bin/env python3
"""Multi-seed experiment: a meta config, its non-meta twin and variants, over several seeds, with
confidence intervals and paired differences (docs/results.md).

    tools/experiment.py --config configs/demo.toml --data data/ml-100k --seeds 5 --out runs/exp-ml100k \\
        [--set key=value]... [--variant 'NAME:--set k=v --set k2=v2']... [--only RUN,RUN] [--ref RUN]
        [--summary-only]
    tools/experiment.py --self-test

For each seed s (data.seed = train.seed = s, so every run of a seed has the same split), it trains
OUT/s<s>/meta (the config as given), OUT/s<s>/nonmeta (the same with meta.algorithm=none) and
OUT/s<s>/<NAME> for every variant (the config plus the variant's metarec train arguments), all with
eval.per_case=true. A run whose results.json and cases.jsonl exist is skipped (resumable); an
unfinished one is continued with --resume; a finished one made with other arguments is an error.

Then OUT/summary.json and OUT/summary.md:
* every method (a results row: the model, the fine-tune rows, the baselines) x K x metric: the mean
  over seeds of the per-seed means, and a 95% t-interval over those seed means (n - 1 degrees of
  freedom);
* the reference (the meta run's model row) against every other method: the difference of the means,
  a paired bootstrap 95% CI over (seed, case) pairs (cases resampled with replacement within each
  seed, the same draws for every method and metric of a K; 10,000 draws; percentile interval; fixed
  seed), the t-interval over the per-seed differences, and in how many seeds the reference is ahead.
  --ref RUN makes another run's model row the reference (e.g. a variant against nonmeta).
  The bootstrap treats the trained models as fixed (it measures the test users' sampling noise);
  the seed interval includes training and split noise, with few degrees of freedom.
* OUT/ndcg_vs_k.png: N@10 and R@10 against K with the t-intervals as error bars (matplotlib; when
  this python3 lacks it, /usr/bin/python3 draws it if it has it).

A method that appears in several runs (the baselines, a variant's unchanged model row) is kept once
when its per-case results are identical, else it is named "RUN: model". Standard library only
(matplotlib for the plot).
"""
import argparse
import json
import math
import os
import random
import shlex
import statistics
import subprocess
import sys
import time

METRICS = ["recall@10", "ndcg@10", "recall@50", "ndcg@50", "mrr", "auc"]
SHORT = {"recall@10": "R@10", "ndcg@10": "N@10", "recall@50": "R@50", "ndcg@50": "N@50", "mrr": "MRR", "auc": "AUC"}

# two-sided 95% Student t quantiles t_{0.975, df}, df = 1..30
T975 = [12.706204736, 4.302652730, 3.182446305, 2.776445105, 2.570581836, 2.446911851, 2.364624252,
        2.306004135, 2.262157163, 2.228138852, 2.200985160, 2.178812830, 2.160368656, 2.144786688,
        2.131449546, 2.119905299, 2.109815578, 2.100922040, 2.093024054, 2.085963447, 2.079613845,
        2.073873068, 2.068657610, 2.063898562, 2.059538553, 2.055529439, 2.051830516, 2.048407142,
        2.045229642, 2.042272456]


def t975(df):
    """The 0.975 quantile of Student's t with df degrees of freedom (table to 30, then the
    Cornish-Fisher expansion around the normal quantile: error < 1e-4)."""
    if df < 1:
        return float("nan")
    if df <= 30:
        return T975[df - 1]
    z = 1.959963984540054
    return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2)


def mean_ci(xs):
    """Mean, and the 95% t-interval (lo, hi) over the values xs (nan interval for one value)."""
    m = statistics.fmean(xs)
    if len(xs) < 2:
        return m, float("nan"), float("nan")
    h = t975(len(xs) - 1) * statistics.stdev(xs) / math.sqrt(len(xs))
    return m, m - h, m + h


def percentile(xs, q):
    """The q-quantile (0..1) of xs, linear interpolation between order statistics (numpy's
    default, R's type 7)."""
    s = sorted(xs)
    if not s:
        return float("nan")
    pos = q * (len(s) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def bootstrap_draws(sizes, draws, seed):
    """For each draw: for each seed's group of n cases, n indices drawn with replacement."""
    rng = random.Random(seed)
    return [[[math.floor(rng.random() * n) for _ in range(n)] for n in sizes] for _ in range(draws)]


def paired_bootstrap(diffs, draws_idx):
    """diffs: per seed, the per-case differences (reference - other). Returns the observed
    difference (mean over seeds of the per-seed mean differences) and the bootstrap distribution
    of the same statistic over the given draws."""
    def mean_defined(xs):  # None: a case without the metric (auc), left out of its seed's mean
        v = [x for x in xs if x is not None]
        return math.fsum(v) / len(v) if v else 0.0

    obs = statistics.fmean(mean_defined(d) for d in diffs)
    gaps = any(x is None for d in diffs for x in d)
    dist = []
    for draw in draws_idx:
        tot = 0.0
        for d, idx in zip(diffs, draw):
            tot += mean_defined(map(d.__getitem__, idx)) if gaps else math.fsum(map(d.__getitem__, idx)) / len(idx)
        dist.append(tot / len(diffs))
    return obs, dist


# ---------------------------------------------------------------- runs

def run_dirs(args):
    runs = [("meta", []), ("nonmeta", ["--set", "meta.algorithm=none"])]
    for v in args.variant:
        if ":" not in v:
            sys.exit(f"--variant '{v}': expected NAME:ARGS, e.g. 'ft:--set eval.finetune=3:0.1'")
        name, rest = v.split(":", 1)
        if not name or "/" in name or name in ("meta", "nonmeta"):
            sys.exit(f"--variant '{v}': bad name '{name}'")
        runs.append((name, shlex.split(rest)))
    if args.only:
        keep = args.only.split(",")
        unknown = [k for k in keep if k not in [r[0] for r in runs]]
        if unknown:
            sys.exit(f"--only: no run named {', '.join(unknown)}")
        runs = [r for r in runs if r[0] in keep]
    if args.ref:  # the reference (the first run's model row) is this run's instead of meta's
        if args.ref not in [r[0] for r in runs]:
            sys.exit(f"--ref: no run named {args.ref} among {', '.join(r[0] for r in runs)}")
        runs = [r for r in runs if r[0] == args.ref] + [r for r in runs if r[0] != args.ref]
    return runs


def train_cmd(args, seed, out, extra):
    cmd = [args.metarec, "train", "--config", args.config, "--out", out]
    if args.data:
        cmd += ["--data", args.data]
    cmd += ["--set", f"data.seed={seed}", "--set", f"train.seed={seed}", "--set", "eval.per_case=true"]
    for kv in args.set:
        cmd += ["--set", kv]
    return cmd + extra


def do_runs(args, runs, seeds):
    for s in seeds:
        for name, extra in runs:
            out = os.path.join(args.out, f"s{s}", name)
            cmd = train_cmd(args, s, out, extra)
            stamp = os.path.join(out, "experiment_cmd.json")
            done = os.path.exists(os.path.join(out, "results.json")) and os.path.exists(os.path.join(out, "cases.jsonl"))
            if os.path.exists(stamp):
                with open(stamp) as f:
                    old = json.load(f)
                if old != cmd[1:]:
                    sys.exit(f"{out}: made by another command ({stamp}); remove it or pick another --out\n"
                             f"  was: {shlex.join(old)}\n  now: {shlex.join(cmd[1:])}")
            elif os.path.exists(out):
                sys.exit(f"{out} exists without {stamp}: not made by this tool")
            if done:
                print(f"[experiment] s{s}/{name}: done, skipped", flush=True)
                continue
            os.makedirs(out, exist_ok=True)
            with open(stamp, "w") as f:
                json.dump(cmd[1:], f)
            resume = ["--resume"] if os.path.exists(os.path.join(out, "latest")) else []
            print(f"[experiment] s{s}/{name}: {shlex.join(cmd + resume)}", flush=True)
            t0 = time.time()
            with open(os.path.join(out, "train.log"), "a") as log:
                rc = subprocess.call(cmd + resume, stdout=log, stderr=subprocess.STDOUT)
            if rc != 0:
                sys.exit(f"[experiment] s{s}/{name} failed (exit {rc}): see {out}/train.log")
            print(f"[experiment] s{s}/{name}: {time.time() - t0:.0f} s", flush=True)


# ---------------------------------------------------------------- summary

def load_run(path):
    with open(os.path.join(path, "results.json")) as f:
        res = json.load(f)
    cases = {}
    with open(os.path.join(path, "cases.jsonl")) as f:
        for line in f:
            c = json.loads(line)
            cases.setdefault((c["model"], c["k_shot"]), []).append(c)
    for row in res["rows"]:  # the per-case lines average to the row (eval.per_case's contract)
        cs = cases.get((row["model"], row["k_shot"]), [])
        if len(cs) != row["cases"]:
            sys.exit(f"{path}: {row['model']} K={row['k_shot']}: {len(cs)} case lines for {row['cases']} cases")
        for m in METRICS:
            vals = [c[m] for c in cs if c.get(m) is not None]
            if vals and abs(math.fsum(vals) / len(vals) - row[m]) > 1e-9:
                sys.exit(f"{path}: {row['model']} K={row['k_shot']} {m}: cases average to "
                         f"{math.fsum(vals) / len(vals)}, the row says {row[m]}")
    return res, cases


def collect(out, runs, seeds):
    """methods[label][(seed, K)] = case lines; ref = the meta run's model label (or the first run's)."""
    methods, origin, dropped = {}, {}, []
    ref = None
    for name, _ in runs:
        per_seed = {s: load_run(os.path.join(out, f"s{s}", name)) for s in seeds}
        models = []
        for row in per_seed[seeds[0]][0]["rows"]:
            if row["model"] not in models:
                models.append(row["model"])
        for model in models:
            data = {}
            for s in seeds:
                for (m, k), cs in per_seed[s][1].items():
                    if m == model:
                        data[(s, k)] = cs
            label = model
            if label in methods:
                same = methods[label].keys() == data.keys() and all(
                    [[c.get(m) for m in METRICS] + [c["user"]] for c in methods[label][key]]
                    == [[c.get(m) for m in METRICS] + [c["user"]] for c in data[key]] for key in data)
                if same:
                    dropped.append(f"{name}: {model} (identical to {origin[label]}'s)")
                    continue
                label = f"{name}: {model}"
            methods[label] = data
            origin[label] = name
            if ref is None:
                ref = label
    return methods, ref, dropped


def summarize(args, runs, seeds):
    methods, ref, dropped = collect(args.out, runs, seeds)
    ks = sorted({k for d in methods.values() for (_, k) in d})
    metrics = [m for m in METRICS if any(c.get(m) is not None for d in methods.values() for cs in d.values() for c in cs)]
    summ = {"config": args.config, "data": args.data, "sets": args.set, "variants": args.variant, "seeds": seeds,
            "runs": [r[0] for r in runs], "reference": ref, "k_shots": ks, "metrics": metrics,
            "bootstrap": {"draws": args.draws, "seed": args.boot_seed, "resample": "cases within seed"},
            "dropped_duplicates": dropped, "methods": {}, "paired": {}}
    for label, d in methods.items():
        mk = {}
        for k in ks:
            if not all((s, k) in d for s in seeds):
                continue
            mk[str(k)] = {}
            for m in metrics:
                per = []
                for s in seeds:
                    vals = [c[m] for c in d[(s, k)] if c.get(m) is not None]
                    per.append(math.fsum(vals) / len(vals))
                mean, lo, hi = mean_ci(per)
                mk[str(k)][m] = {"mean": mean, "ci95": [lo, hi], "per_seed": per,
                                 "cases": [len(d[(s, k)]) for s in seeds]}
        summ["methods"][label] = mk
    # paired differences: ref - other, cases matched by (seed, K, case index); the users must agree
    t0 = time.time()
    for k in ks:
        sizes = [len(methods[ref][(s, k)]) for s in seeds]
        draws = bootstrap_draws(sizes, args.draws, args.boot_seed + k)
        for label, d in methods.items():
            if label == ref or not all((s, k) in d for s in seeds):
                continue
            pk = summ["paired"].setdefault(label, {}).setdefault(str(k), {})
            for m in metrics:
                diffs = []
                for s in seeds:
                    a, b = methods[ref][(s, k)], d[(s, k)]
                    if [c["user"] for c in a] != [c["user"] for c in b]:
                        sys.exit(f"seed {s} K={k}: {ref} and {label} have different cases (not the same split?)")
                    if m == "auc" and any((x.get(m) is None) != (y.get(m) is None) for x, y in zip(a, b)):
                        sys.exit(f"seed {s} K={k}: auc defined for different cases in {ref} and {label}")
                    diffs.append([None if x.get(m) is None else x[m] - y[m] for x, y in zip(a, b)])
                obs, dist = paired_bootstrap(diffs, draws)
                seed_diffs = [statistics.fmean(v for v in x if v is not None) for x in diffs]
                _, tlo, thi = mean_ci(seed_diffs)
                pk[m] = {"diff": obs, "boot95": [percentile(dist, 0.025), percentile(dist, 0.975)],
                         "seed_t95": [tlo, thi], "per_seed": seed_diffs,
                         "ref_ahead_seeds": sum(x > 0 for x in seed_diffs), "seeds": len(seeds)}
    summ["bootstrap"]["seconds"] = round(time.time() - t0, 1)
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summ, f, indent=1)
    with open(os.path.join(args.out, "summary.md"), "w") as f:
        f.write(markdown(summ))
    plot(args.out)
    print(f"[experiment] {args.out}/summary.md, summary.json")


def verdict(lo, hi):
    if lo > 0:
        return "ahead"
    if hi < 0:
        return "behind"
    return "n.s."


def markdown(summ):
    seeds, ref = summ["seeds"], summ["reference"]
    n = len(seeds)
    out = [f"# {summ['config']}: {n} seeds ({', '.join(map(str, seeds))}), runs: {', '.join(summ['runs'])}", ""]
    if summ["sets"]:
        out += ["Common overrides: " + ", ".join(f"`{s}`" for s in summ["sets"]), ""]
    for v in summ["variants"]:
        out += [f"Variant: `{v}`", ""]
    out += [f"Means over seeds of the per-seed means, ± the half-width of the 95% t-interval over the {n} seed "
            f"means (t with {n - 1} df). Cases per seed: " +
            ", ".join(str(c) for c in next(iter(summ["methods"][ref].values()))[summ["metrics"][0]]["cases"]) + ".", ""]
    metrics = summ["metrics"]
    out += ["| K | method | " + " | ".join(SHORT[m] for m in metrics) + " |",
            "| --- | --- | " + " | ".join("---" for _ in metrics) + " |"]
    for k in summ["k_shots"]:
        for label, mk in summ["methods"].items():
            if str(k) not in mk:
                continue
            cells = []
            for m in metrics:
                e = mk[str(k)][m]
                h = (e["ci95"][1] - e["ci95"][0]) / 2
                cells.append(f"{e['mean']:.4f} ± {h:.4f}")
            name = f"**{label}**" if label == ref else label
            out.append(f"| {k} | {name} | " + " | ".join(cells) + " |")
    out += ["", f"Paired differences, reference **{ref}** minus each method (positive: the reference is ahead). "
            f"Each cell: difference [paired bootstrap 95% CI over (seed, case) pairs, {summ['bootstrap']['draws']} "
            f"draws, cases resampled within seed] verdict (seeds where the reference is ahead / {n}); "
            f"verdict: ahead / behind when the bootstrap CI excludes 0, and ahead\\* / behind\\* when the "
            f"95% t-interval over the {n} per-seed differences excludes 0 too, else n.s. "
            "The bootstrap holds the trained models fixed (test-user noise only); the seed interval also "
            "carries training and split noise, with few degrees of freedom (summary.json: seed_t95).", ""]
    for m in ["ndcg@10", "recall@10"] + [m for m in metrics if m not in ("ndcg@10", "recall@10")]:
        if m not in metrics:
            continue
        out += [f"{SHORT[m]}:", "", "| method | " + " | ".join(f"K={k}" for k in summ["k_shots"]) + " |",
                "| --- | " + " | ".join("---" for _ in summ["k_shots"]) + " |"]
        for label, pk in summ["paired"].items():
            cells = []
            for k in summ["k_shots"]:
                e = pk.get(str(k), {}).get(m)
                if e is None:
                    cells.append("-")
                    continue
                lo, hi = e["boot95"]
                v = verdict(lo, hi)
                if v != "n.s." and verdict(*e["seed_t95"]) == v:
                    v += "\\*"
                cells.append(f"{e['diff']:+.4f} [{lo:+.4f}, {hi:+.4f}] {v} ({e['ref_ahead_seeds']}/{n})")
            out.append(f"| {label} | " + " | ".join(cells) + " |")
        out.append("")
    if summ["dropped_duplicates"]:
        out += ["Rows kept once (identical per-case results in a later run): " + "; ".join(summ["dropped_duplicates"]), ""]
    return "\n".join(out) + "\n"


PLOT_CODE = r"""
import json, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
out = sys.argv[1]
s = json.load(open(out + "/summary.json"))
fig, ax = plt.subplots(1, 2, figsize=(11, 4.2))
for label, mk in s["methods"].items():
    ks = sorted(int(k) for k in mk)
    for a, m in zip(ax, ["ndcg@10", "recall@10"]):
        y = [mk[str(k)][m]["mean"] for k in ks]
        e = [(mk[str(k)][m]["ci95"][1] - mk[str(k)][m]["ci95"][0]) / 2 for k in ks]
        a.errorbar(ks, y, yerr=e, marker="o", capsize=3, label=label, lw=2.2 if label == s["reference"] else 1.2)
for a, m in zip(ax, ["NDCG@10", "Recall@10"]):
    a.set_xlabel("support size K")
    a.set_ylabel(m)
    a.set_xticks(sorted(int(k) for k in s["k_shots"]))
    a.set_title(f"{m}: mean over {len(s['seeds'])} seeds, 95% t-interval", fontsize=9)
ax[0].legend(fontsize=7)
fig.tight_layout()
fig.savefig(out + "/ndcg_vs_k.png", dpi=120)
print("plot: " + out + "/ndcg_vs_k.png")
"""


def plot(out):
    for py in [sys.executable, "/usr/bin/python3"]:
        if subprocess.call([py, "-c", "import matplotlib"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0:
            if subprocess.call([py, "-c", PLOT_CODE, out]) != 0:
                print("[experiment] the plot failed (summary files are written)", file=sys.stderr)
            return
    print("[experiment] no matplotlib: no plot", file=sys.stderr)


# ---------------------------------------------------------------- self-test

def self_test():
    """The statistics against values computed by hand (docs/results.md, "Statistics")."""
    def close(a, b, tol=1e-6):
        assert abs(a - b) <= tol, (a, b)
    # t quantiles: table values and the expansion near the table's end (t_{.975,30} = 2.0423, 40: 2.0211, 120: 1.9799)
    close(t975(4), 2.776445105)
    close(t975(40), 2.021075, 1e-4)
    close(t975(120), 1.979930, 1e-4)
    # [1..5]: mean 3, sd sqrt(2.5) = 1.58114, half-width 2.776445 * 1.58114 / sqrt(5) = 1.963243
    m, lo, hi = mean_ci([1, 2, 3, 4, 5])
    close(m, 3)
    close(hi - m, 1.963243, 1e-6)
    close(m - lo, 1.963243, 1e-6)
    # two values 0.1, 0.3: mean 0.2, sd 0.141421, half-width 12.706205 * 0.141421 / sqrt(2) = 1.2706205
    m, lo, hi = mean_ci([0.1, 0.3])
    close(hi, 0.2 + 1.2706205, 1e-6)
    # percentile (type 7): [1, 2, 3, 4] at 0.25 = 1.75, 0.5 = 2.5, 0 = 1, 1 = 4; [5] = 5
    close(percentile([4, 1, 3, 2], 0.25), 1.75)
    close(percentile([4, 1, 3, 2], 0.5), 2.5)
    close(percentile([4, 1, 3, 2], 0), 1)
    close(percentile([4, 1, 3, 2], 1), 4)
    close(percentile([5], 0.975), 5)
    # a constant difference: observed = CI bounds = the constant
    d = [[0.25] * 7, [0.25] * 5]
    obs, dist = paired_bootstrap(d, bootstrap_draws([7, 5], 500, 1))
    close(obs, 0.25)
    close(percentile(dist, 0.025), 0.25)
    close(percentile(dist, 0.975), 0.25)
    # one seed, two cases with differences 0 and 1: the resampled mean is 0, 1/2, 1 with
    # probabilities 1/4, 1/2, 1/4 -> the 2.5% / 97.5% points are 0 and 1, the mean 1/2, the
    # variance 1/8; 20,000 draws: the frequencies within 5 sigma of 1/4, 1/2, 1/4
    obs, dist = paired_bootstrap([[0.0, 1.0]], bootstrap_draws([2], 20000, 7))
    close(obs, 0.5)
    close(percentile(dist, 0.025), 0.0)
    close(percentile(dist, 0.975), 1.0)
    for v, p in [(0.0, 0.25), (0.5, 0.5), (1.0, 0.25)]:
        f = sum(x == v for x in dist) / len(dist)
        assert abs(f - p) < 5 * math.sqrt(p * (1 - p) / len(dist)), (v, f)
    # the observed statistic weights seeds equally: seed A diffs [1, 1, 1, 1] (mean 1), seed B [0, 0] (mean 0) -> 0.5
    obs, _ = paired_bootstrap([[1.0] * 4, [0.0, 0.0]], bootstrap_draws([4, 2], 10, 3))
    close(obs, 0.5)
    # cases resampled within seed: with seed A constant 1 and seed B constant 0, every draw is exactly 0.5
    _, dist = paired_bootstrap([[1.0] * 4, [0.0, 0.0]], bootstrap_draws([4, 2], 200, 3))
    assert all(x == 0.5 for x in dist)
    # fixed seed: the same draws twice
    assert bootstrap_draws([5, 3], 20, 11) == bootstrap_draws([5, 3], 20, 11)
    # the whole summary on two fake seeds x two cases, by hand (below)
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        fake = {  # seed -> run -> model -> per-case ndcg@10 (all other metrics 0.5, auc None for case 1)
            0: {"meta": {"meta": [0.6, 0.2], "pop": [0.1, 0.1]}, "nonmeta": {"nm": [0.4, 0.2], "pop": [0.1, 0.1]}},
            1: {"meta": {"meta": [0.5, 0.5], "pop": [0.3, 0.1]}, "nonmeta": {"nm": [0.5, 0.1], "pop": [0.3, 0.1]}},
        }
        for s, runs in fake.items():
            for run, models in runs.items():
                p = os.path.join(tmp, f"s{s}", run)
                os.makedirs(p)
                rows, lines = [], []
                for model, nd in models.items():
                    row = {"model": model, "k_shot": 3, "cases": 2}
                    for m in METRICS:
                        row[m] = statistics.fmean(nd) if m == "ndcg@10" else 0.5
                    rows.append(row)
                    for i, v in enumerate(nd):
                        c = {"model": model, "k_shot": 3, "case": i, "user": 10 + i}
                        for m in METRICS:
                            c[m] = v if m == "ndcg@10" else 0.5
                        if i == 1:
                            c["auc"] = None
                        lines.append(json.dumps(c))
                json.dump({"rows": rows}, open(os.path.join(p, "results.json"), "w"))
                open(os.path.join(p, "cases.jsonl"), "w").write("\n".join(lines) + "\n")
        a = argparse.Namespace(out=tmp, config="fake.toml", data="", set=[], variant=[], draws=2000, boot_seed=0)
        summarize(a, [("meta", []), ("nonmeta", [])], [0, 1])
        s = json.load(open(os.path.join(tmp, "summary.json")))
        assert s["reference"] == "meta" and list(s["methods"]) == ["meta", "pop", "nm"], list(s["methods"])
        assert s["dropped_duplicates"] == ["nonmeta: pop (identical to meta's)"]
        # meta: seed means 0.4, 0.5 -> mean 0.45, half-width 12.706205 * 0.0707107 / sqrt(2) = 0.6353102
        e = s["methods"]["meta"]["3"]["ndcg@10"]
        close(e["mean"], 0.45)
        close(e["ci95"][1] - 0.45, 0.6353102)
        # meta - nm: seed 0 diffs [0.2, 0.0] (mean 0.1), seed 1 [0.0, 0.4] (mean 0.2) -> 0.15; the
        # bootstrap's extremes: 0 + 0 = 0 and (0.2 + 0.4) / 2 = 0.3, so its interval is within [0, 0.3]
        p = s["paired"]["nm"]["3"]["ndcg@10"]
        close(p["diff"], 0.15)
        assert 0 <= p["boot95"][0] <= 0.15 <= p["boot95"][1] <= 0.3, p["boot95"]
        assert p["ref_ahead_seeds"] == 2
        close(p["seed_t95"][0], 0.15 - 12.706205 * 0.0707107 / math.sqrt(2), 1e-6)
        # auc: one defined case per seed, equal (0.5): difference 0, interval [0, 0]
        assert s["paired"]["nm"]["3"]["auc"]["boot95"] == [0.0, 0.0]
        md = open(os.path.join(tmp, "summary.md")).read()
        assert "| 3 | **meta** | " in md and "+0.1500 [" in md, md
        # a row whose cases do not average to it is refused
        open(os.path.join(tmp, "s0", "meta", "cases.jsonl"), "a").write(
            json.dumps({"model": "meta", "k_shot": 3, "case": 2, "user": 12, **{m: 0.0 for m in METRICS}}) + "\n")
        try:
            load_run(os.path.join(tmp, "s0", "meta"))
            raise AssertionError("load_run accepted 3 case lines for 2 cases")
        except SystemExit as ex:
            assert "3 case lines for 2 cases" in str(ex), ex
    print("self-test: ok")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config")
    ap.add_argument("--data", default="", help="passed to metarec train --data")
    ap.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (or --seed-list)")
    ap.add_argument("--seed-list", default="", help="comma separated seeds, instead of 0..N-1")
    ap.add_argument("--out")
    ap.add_argument("--set", action="append", default=[], help="key=value for every run (repeatable)")
    ap.add_argument("--variant", action="append", default=[], help="'NAME:metarec train arguments' (repeatable)")
    ap.add_argument("--only", default="", help="comma separated run names (meta, nonmeta, variants) to run and summarize")
    ap.add_argument("--ref", default="", help="run whose model row is the reference of the paired differences "
                    "(default: meta, or the first run kept by --only)")
    ap.add_argument("--metarec", default="build/metarec")
    ap.add_argument("--draws", type=int, default=10000, help="bootstrap draws")
    ap.add_argument("--boot-seed", type=int, default=20261208, help="the bootstrap's random seed")
    ap.add_argument("--summary-only", action="store_true", help="no training: summarize the finished runs")
    ap.add_argument("--self-test", action="store_true", help="check the statistics against hand-computed values")
    args = ap.parse_args()
    if args.self_test:
        self_test()
        return
    if not args.config or not args.out:
        ap.error("--config and --out are required")
    seeds = [int(x) for x in args.seed_list.split(",")] if args.seed_list else list(range(args.seeds))
    runs = run_dirs(args)
    if not args.summary_only:
        do_runs(args, runs, seeds)
    summarize(args, runs, seeds)


if __name__ == "__main__":
    main()
