#!/usr/bin/env python3
"""HuggingFace tokenizers side of bench/tokenizer.sh: encode_batch over the corpus R times,
one line per run: seconds texts tokens. Threads: TOKENIZERS_PARALLELISM=false gives one
thread; RAYON_NUM_THREADS=N sets the pool size otherwise."""
import sys
import time

from tokenizers import Tokenizer

model, corpus, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])
tok = Tokenizer.from_file(model + "/tokenizer.json")
tok.no_padding()
tok.no_truncation()
with open(corpus, encoding="utf-8") as f:
    texts = f.read().split("\n")
if texts and texts[-1] == "":
    texts.pop()
tok.encode_batch(texts)  # warm-up
for _ in range(repeat):
    t0 = time.perf_counter()
    enc = tok.encode_batch(texts)
    s = time.perf_counter() - t0
    print(f"{s:.6f} {len(texts)} {sum(len(e.ids) for e in enc)}", flush=True)
