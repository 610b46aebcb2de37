#!/usr/bin/env python3
"""Export round trip: does `transformers` load what `metarec export-hf` wrote, and give the
same outputs as the model it came from and as metarec itself?

  python tools/check_export_hf.py EXPORTED_DIR REFERENCE_DIR|- [metarec-embeddings.npy texts.txt]

Loads both folders with AutoModel + AutoTokenizer (fp32, eval), runs the texts, and prints the
max abs difference of the last hidden states and of the mean-pooled normalised embeddings;
with an .npy from `metarec embed --model EXPORTED_DIR`, compares that too. Exits 1 if any
difference exceeds 1e-5. Any family export-hf writes (bert, roberta, xlm-roberta, distilbert,
electra, mpnet): the tokenizer's outputs the model does not take (DistilBERT, MPNet:
token_type_ids) are dropped, the positions before the first (pad_token_id + 1 for roberta,
xlm-roberta, mpnet) are left out of the max length, and the weights load as float32."""
import inspect
import sys

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer

exp_dir, ref_dir = sys.argv[1], sys.argv[2]
texts = ["Lab gloves, nitrile, size M", "推荐系统", "Café crème", "PORTER-CABLE 80 grit sanding roll"]
if len(sys.argv) > 4:
    texts = [l.rstrip("\n") for l in open(sys.argv[4], encoding="utf-8")]


def run(d):
    tok = AutoTokenizer.from_pretrained(d)
    m = AutoModel.from_pretrained(d, dtype=torch.float32).eval()
    n = min(256, getattr(m.config, "max_position_embeddings", 512) - (m.config.pad_token_id + 1 if m.config.model_type
                                                                          in ("roberta", "xlm-roberta", "mpnet") else 0))
    enc = tok(texts, padding=True, truncation=True, max_length=n, return_tensors="pt")
    takes = inspect.signature(m.forward).parameters
    enc = {k: v for k, v in enc.items() if k in takes}
    with torch.no_grad():
        h = m(**enc).last_hidden_state
    mask = enc["attention_mask"].unsqueeze(-1).float()
    e = (h * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    return h * mask, torch.nn.functional.normalize(e, dim=1), type(tok).__name__, type(m).__name__


h1, e1, tk1, m1 = run(exp_dir)
print(f"transformers loaded {exp_dir} as {m1} + {tk1}")
bad = False
if ref_dir != "-":  # "-": no reference folder (e.g. a fine-tuned export)
    h2, e2, _, _ = run(ref_dir)
    dh, de = float((h1 - h2).abs().max()), float((e1 - e2).abs().max())
    print(f"exported vs reference: last hidden state max abs diff {dh:.3g}, embeddings {de:.3g} ({len(texts)} texts)")
    bad = dh > 1e-5 or de > 1e-5
if len(sys.argv) > 3:
    ours = np.load(sys.argv[3])
    dm = float(np.abs(ours - e1.numpy()).max())
    print(f"metarec embed vs transformers on the export: max abs diff {dm:.3g}")
    bad = bad or dm > 1e-5
sys.exit(1 if bad else 0)
