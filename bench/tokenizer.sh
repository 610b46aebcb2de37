#!/usr/bin/env bash
# Tokenizer throughput: metarec vs HuggingFace tokenizers (pip), same corpus, same run.
#   bench/tokenizer.sh [REPEAT] [COPIES]
# Corpus: the item texts of ../shared/data/amazon-scientific (COPIES times, default 10), plus
# the multilingual texts of the tokenizer fixture when present. Each side encodes the whole
# corpus with encode_batch, REPEAT times (default 7) on 1 thread and on all cores; the table
# gives the medians and the ratios. Writes bench/tokenizer.md's table to stdout.
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
corpus=$tmp/corpus.txt
for _ in $(seq "$COPIES"); do tail -n +2 "$SRC" | cut -f2- | tr -d '\r'; done > "$corpus"
NPROC=$(nproc)

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
run_ours() { OMP_NUM_THREADS=$1 build/bench/tokenizer_bench "$MODEL" "$corpus" "$1" "$REPEAT"; }
run_hf() {
  if [ "$1" = 1 ]; then TOKENIZERS_PARALLELISM=false python3 bench/tokenizer_hf.py "$MODEL" "$corpus" "$REPEAT"
  else TOKENIZERS_PARALLELISM=true RAYON_NUM_THREADS=$1 python3 bench/tokenizer_hf.py "$MODEL" "$corpus" "$REPEAT"; fi
}

texts=$(wc -l < "$corpus")
echo "| threads | metarec texts/s | metarec tokens/s | HF tokenizers texts/s | HF tokens/s | ratio (metarec / HF) |"
echo "| --- | --- | --- | --- | --- | --- |"
for t in 1 "$NPROC"; do
  run_ours "$t" > "$tmp/ours"
  run_hf "$t" > "$tmp/hf"
  ours_s=$(cut -d' ' -f1 "$tmp/ours" | median); hf_s=$(cut -d' ' -f1 "$tmp/hf" | median)
  ours_tok=$(head -1 "$tmp/ours" | cut -d' ' -f3); hf_tok=$(head -1 "$tmp/hf" | cut -d' ' -f3)
  [ "$ours_tok" = "$hf_tok" ] || echo "WARNING: token counts differ: metarec $ours_tok, HF $hf_tok" >&2
  awk -v t="$t" -v n="$texts" -v ot="$ours_tok" -v ht="$hf_tok" -v os="$ours_s" -v hs="$hf_s" 'BEGIN {
    printf "| %d | %.0f | %.0f | %.0f | %.0f | %.2fx |\n", t, n/os, ot/os, n/hs, ht/hs, hs/os }'
done
echo
echo "corpus: $texts texts ($COPIES copies of the amazon-scientific item texts), $(wc -c < "$corpus") bytes, $(head -1 "$tmp/ours" | cut -d' ' -f3) tokens;" \
     "median of $REPEAT runs each; machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $NPROC cores;" \
     "HF tokenizers $(python3 -c 'import tokenizers; print(tokenizers.__version__)')"
