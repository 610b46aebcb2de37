#!/usr/bin/env python3
"""End-to-end reference for `metarec eval --protocol loo --model pop`, written independently of
the C++ readers: reads the files with the csv module, builds the users' chronological
sequences, applies leave-one-out, counts popularity on the training part and scores with
tools/metrics_reference.py (RecBole formulas). Ties in popularity are broken by item number,
items being numbered in order of first appearance: in the .inter file for ml-100k; in the users'
reconstructed sequences (users in file order) for the amazon-scientific benchmark files.

    python3 tools/recdata_pop_reference.py data/ml-100k ../shared/data/amazon-scientific \
        tests/data/recdata/pop_loo_reference.json
"""
import csv
import json
import os
import sys
from collections import Counter, OrderedDict

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from metrics_reference import evaluate  # noqa: E402

KS = [10, 50]


def pop_cases(seqs, histories=None):
    """seqs: OrderedDict user -> item-number sequence. LOO: last item test."""
    n_items = 1 + max(i for s in seqs.values() for i in s)
    count = Counter(i for s in seqs.values() if len(s) >= 3 for i in s[:-2])
    count.update(i for s in seqs.values() if len(s) < 3 for i in s)
    scores = [float(count.get(i, 0)) for i in range(n_items)]
    cases_masked, cases_open = [], []
    for u, s in seqs.items():
        if len(s) < 3:
            continue
        cases_masked.append({"scores": scores, "targets": [s[-1]], "exclude": sorted(set(s[:-1]))})
        cases_open.append({"scores": scores, "targets": [s[-1]], "exclude": []})
    return n_items, cases_masked, cases_open


def ml100k(d):
    rows = []
    with open(os.path.join(d, "ml-100k.inter")) as f:
        r = csv.reader(f, delimiter="\t")
        next(r)
        for line in r:
            rows.append((line[0], line[1], float(line[3])))
    item_no = {}
    for _, i, _ in rows:
        item_no.setdefault(i, len(item_no))
    per_user = OrderedDict()
    for u, i, t in rows:
        per_user.setdefault(u, []).append((t, i))
    seqs = OrderedDict()
    for u, lst in per_user.items():
        lst.sort(key=lambda x: x[0])  # stable: file order on equal timestamps
        seen, s = set(), []
        for _, i in lst:
            if i not in seen:
                seen.add(i)
                s.append(item_no[i])
        seqs[u] = s
    return seqs


def amazon(d):
    lines = OrderedDict()
    for part in ["train", "valid", "test"]:
        with open(os.path.join(d, f"Scientific.{part}.inter")) as f:
            r = csv.reader(f, delimiter="\t")
            next(r)
            for u, hist, target in r:
                lines.setdefault(u, {"train": [], "valid": [], "test": []})[part].append((hist.split(), target))
    seqs_tok = OrderedDict()
    for u, p in lines.items():
        # RecBole writes the prefixes longest first; histories of 50 (truncated) tie on length
        train = sorted(reversed(p["train"]), key=lambda x: len(x[0]))
        s = list(train[0][0]) if train else list(p["valid"][0][0])
        s += [t for _, t in train] + [p["valid"][0][1], p["test"][0][1]]
        seqs_tok[u] = s
    item_no = {}
    for s in seqs_tok.values():
        for i in s:
            item_no.setdefault(i, len(item_no))
    return OrderedDict((u, [item_no[i] for i in s]) for u, s in seqs_tok.items())


def main():
    ml_dir, az_dir, out = sys.argv[1:4]
    doc = {"generator": "tools/recdata_pop_reference.py", "ks": KS}
    n, masked, open_ = pop_cases(ml100k(ml_dir))
    doc["ml-100k"] = {"masked": evaluate(masked, n, KS), "unmasked": evaluate(open_, n, KS)}
    n, masked, open_ = pop_cases(amazon(az_dir))
    doc["amazon-scientific"] = {"masked": evaluate(masked, n, KS), "unmasked": evaluate(open_, n, KS)}
    with open(out, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(json.dumps(doc, indent=1))


if __name__ == "__main__":
    main()
