#!/usr/bin/env python3
"""Independent reference for metarec's full-ranking metrics (engine/metrics/metrics.h).

Follows RecBole's formulas (recbole/evaluator/metrics.py: Hit, Recall, Precision, NDCG, MRR,
ItemCoverage, and AUC by brute-force pairs), written against numpy only. It draws a small random
case set (ties included), ranks every candidate with a stable sort by descending score (equal
scores: lower item id first) after RecBole-style masking (excluded items get -inf and drop out),
and writes the cases and the expected metrics to one JSON file that the C++ test reads:

    python3 tools/metrics_reference.py tests/data/recdata/metrics_reference.json
"""
import json
import sys

import numpy as np


def rank_lists(scores, exclude, targets, candidates):
    """Ranked candidate item ids for one case (the list RecBole's full sort would produce)."""
    n = len(scores)
    s = np.array(scores, dtype=np.float64)
    keep = np.ones(n, dtype=bool)
    if candidates is not None:
        keep &= np.array(candidates, dtype=bool)
    ex = np.zeros(n, dtype=bool)
    ex[list(exclude)] = True
    ex[list(targets)] = False  # a target is never masked
    keep &= ~ex
    ids = np.arange(n)[keep]
    order = np.lexsort((ids, -s[keep]))  # primary: -score, secondary: id
    return ids[order]


def recbole_topk_metrics(pos_index, pos_len):
    """pos_index: (users, K) bool, pos_len: (users,). RecBole's metric_info functions."""
    K = pos_index.shape[1]
    cum = np.cumsum(pos_index, axis=1)
    hit = (cum > 0).astype(float)
    recall = cum / pos_len.reshape(-1, 1)
    precision = cum / np.arange(1, K + 1)
    # MRR
    idxs = pos_index.argmax(axis=1)
    mrr = np.zeros_like(pos_index, dtype=float)
    for row, idx in enumerate(idxs):
        if pos_index[row, idx] > 0:
            mrr[row, idx:] = 1.0 / (idx + 1)
    # NDCG
    len_rank = np.full_like(pos_len, K)
    idcg_len = np.where(pos_len > len_rank, len_rank, pos_len)
    iranks = np.zeros_like(pos_index, dtype=float)
    iranks[:, :] = np.arange(1, K + 1)
    idcg = np.cumsum(1.0 / np.log2(iranks + 1), axis=1)
    for row, idx in enumerate(idcg_len):
        idcg[row, idx:] = idcg[row, idx - 1]
    ranks = np.zeros_like(pos_index, dtype=float)
    ranks[:, :] = np.arange(1, K + 1)
    dcg = 1.0 / np.log2(ranks + 1)
    dcg = np.cumsum(np.where(pos_index, dcg, 0), axis=1)
    ndcg = dcg / idcg
    return hit, recall, precision, mrr, ndcg


def evaluate(cases, n_items, ks, candidates=None):
    kmax = max(ks)
    lists = [rank_lists(c["scores"], c["exclude"], c["targets"], candidates) for c in cases]
    assert all(len(l) >= kmax for l in lists), "every case needs at least max(K) candidates"
    pos_len = np.array([len(set(c["targets"])) for c in cases])
    pos_index = np.array([np.isin(l[:kmax], np.array(sorted(set(c["targets"])))) for l, c in zip(lists, cases)])
    hit, recall, precision, mrr, ndcg = recbole_topk_metrics(pos_index, pos_len)
    out = {}
    n_cand = n_items if candidates is None else int(np.sum(candidates))
    for k in ks:
        out[f"hit@{k}"] = float(hit[:, k - 1].mean())
        out[f"recall@{k}"] = float(recall[:, k - 1].mean())
        out[f"precision@{k}"] = float(precision[:, k - 1].mean())
        out[f"mrr@{k}"] = float(mrr[:, k - 1].mean())
        out[f"ndcg@{k}"] = float(ndcg[:, k - 1].mean())
        out[f"coverage@{k}"] = len(set(int(i) for l in lists for i in l[:k])) / n_cand
    # MRR over the whole list, AUC by counting (target, non-target) pairs
    full_pos = [np.isin(l, np.array(sorted(set(c["targets"])))) for l, c in zip(lists, cases)]
    out["mrr"] = float(np.mean([1.0 / (np.argmax(p) + 1) for p in full_pos]))
    aucs, weights = [], []
    for p in full_pos:
        pos_at = np.nonzero(p)[0]
        neg_at = np.nonzero(~p)[0]
        if len(neg_at) == 0:
            continue
        pairs = int(np.sum(len(neg_at) - np.searchsorted(neg_at, pos_at)))  # negatives ranked below each target
        aucs.append(pairs / (len(pos_at) * len(neg_at)))
        weights.append(len(pos_at))
    out["auc"] = float(np.mean(aucs))
    out["gauc"] = float(np.sum(np.array(aucs) * np.array(weights)) / np.sum(weights))
    out["cases"] = len(cases)
    return out


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "tests/data/recdata/metrics_reference.json"
    rng = np.random.default_rng(20240607)
    n_items, n_cases, ks = 60, 40, [1, 5, 10, 20]
    cases = []
    for _ in range(n_cases):
        scores = np.round(rng.random(n_items), 1)  # one decimal: many ties
        m = int(rng.integers(1, 7))
        targets = sorted(int(x) for x in rng.choice(n_items, size=m, replace=False))
        exclude = sorted(int(x) for x in rng.choice(n_items, size=int(rng.integers(0, 10)), replace=False))
        cases.append({"scores": [float(x) for x in scores], "targets": targets, "exclude": exclude})
    candidates = [int(x) for x in (rng.random(n_items) < 0.6)]
    for c in cases:  # candidate-set cases: targets must be candidates
        for t in c["targets"]:
            candidates[t] = 1
    doc = {
        "generator": "tools/metrics_reference.py (numpy, RecBole formulas)",
        "n_items": n_items,
        "ks": ks,
        "cases": cases,
        "expected": evaluate(cases, n_items, ks),
        "candidates": candidates,
        "expected_candidates": evaluate(cases, n_items, ks, np.array(candidates)),
    }
    with open(path, "w") as f:
        json.dump(doc, f, indent=None, separators=(",", ":"))
        f.write("\n")
    print(json.dumps(doc["expected"], indent=1))


if __name__ == "__main__":
    main()
