#!/usr/bin/env bash
# Tokenizer throughput: metarec vs HuggingFace tokenizers (pip), same corpus, same run.
#   bench/tokenizer.sh [REPEAT] [COPIES]
# Corpora: "amazon" = the item texts of ../shared/data/amazon-scientific (COPIES times,
# default 10); "multilingual" = the one-line texts of the tokenizer fixture that are not item
# texts (many scripts, emoji, control characters, long words; COPIES times). Each side encodes
# the whole corpus with encode_batch, REPEAT times (default 7) on 1 thread and on all cores;
# the table gives the medians and the ratio. Writes bench/tokenizer.md's table to stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
REPEAT=${1:-7}
COPIES=${2:-10}
MODEL=models/all-MiniLM-L6-v2
SRC=../shared/data/amazon-scientific/Scientific.text
[ -f "$MODEL/tokenizer.json" ] || bash tools/setup.sh models
[ -f "$SRC" ] || { echo "bench/tokenizer.sh: $SRC not found" >&2; exit 1; }
python3 -c "import tokenizers" 2>/dev/null || python3 -m pip install -q "tokenizers==0.23.3" >&2
make -s build/bench/tokenizer_bench >&2

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for _ in $(seq "$COPIES"); do tail -n +2 "$SRC" | cut -f2- | tr -d '\r'; done > "$tmp/amazon.txt"
python3 - "$tmp/multilingual.txt" "$COPIES" <<'PY'
import gzip, json, sys
texts = []
for line in gzip.open("tests/data/tokenizer/cases_single_lower.jsonl.gz", "rt", encoding="utf-8"):
    r = json.loads(line)
    a = r.get("a")
    if a is not None and "max_len" not in r and "\n" not in a and "\r" not in a and "Industrial & Scientific" not in a:
        texts.append(a)
with open(sys.argv[1], "w", encoding="utf-8") as f:
    for _ in range(int(sys.argv[2])):
        f.writelines(t + "\n" for t in texts)
PY
NPROC=$(nproc)

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
run_ours() { OMP_NUM_THREADS=$1 build/bench/tokenizer_bench "$MODEL" "$corpus" "$1" "$REPEAT"; }
run_hf() {
  if [ "$1" = 1 ]; then TOKENIZERS_PARALLELISM=false python3 bench/tokenizer_hf.py "$MODEL" "$corpus" "$REPEAT"
  else TOKENIZERS_PARALLELISM=true RAYON_NUM_THREADS=$1 python3 bench/tokenizer_hf.py "$MODEL" "$corpus" "$REPEAT"; fi
}

echo "| corpus | threads | metarec texts/s | metarec tokens/s | HF texts/s | HF tokens/s | metarec / HF |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for name in amazon multilingual; do
  corpus=$tmp/$name.txt
  texts=$(wc -l < "$corpus")
  for t in 1 "$NPROC"; do
    run_ours "$t" > "$tmp/ours"
    run_hf "$t" > "$tmp/hf"
    ours_s=$(cut -d' ' -f1 "$tmp/ours" | median); hf_s=$(cut -d' ' -f1 "$tmp/hf" | median)
    ours_tok=$(head -1 "$tmp/ours" | cut -d' ' -f3); hf_tok=$(head -1 "$tmp/hf" | cut -d' ' -f3)
    [ "$ours_tok" = "$hf_tok" ] || echo "WARNING: $name: token counts differ: metarec $ours_tok, HF $hf_tok" >&2
    awk -v c="$name" -v t="$t" -v n="$texts" -v ot="$ours_tok" -v ht="$hf_tok" -v os="$ours_s" -v hs="$hf_s" 'BEGIN {
      printf "| %s | %d | %.0f | %.0f | %.0f | %.0f | %.1fx |\n", c, t, n/os, ot/os, n/hs, ht/hs, hs/os }'
  done
  sizes+="$name: $texts texts, $(wc -c < "$corpus") bytes, $(head -1 "$tmp/ours" | cut -d' ' -f3) tokens; "
done
echo
echo "${sizes}median of $REPEAT runs each; $(lscpu | sed -n 's/^Model name: *//p' | head -1), $NPROC cores;" \
     "HF tokenizers $(python3 -c 'import tokenizers; print(tokenizers.__version__)')"
