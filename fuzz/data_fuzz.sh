#!/usr/bin/env bash
# Builds the libFuzzer target for the data readers with clang (address + undefined sanitizers)
# and runs it for a while. Needs clang (apt-get install -y clang). Not part of `make test`.
#   bash fuzz/data_fuzz.sh [seconds=60] [extra libFuzzer flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}; shift || true
out=build/fuzz   # inside the git-ignored build folder
mkdir -p "$out" "$out/data_corpus"
CXX=${CXX:-clang++}
srcs=$(ls engine/data/*.cpp)
$CXX -std=c++20 -O1 -g -I. -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  fuzz/data_readers_fuzz.cpp $srcs -lfmt -o "$out/data_readers_fuzz"
# seed corpus: the committed fixtures, each under every reader mode
python3 - "$out/data_corpus" <<'PY'
import os, sys, glob
out = sys.argv[1]
files = [f for f in glob.glob("tests/data/recdata/**/*", recursive=True) if os.path.isfile(f) and os.path.getsize(f) < 4096]
for f in files:
    data = open(f, "rb").read()
    for mode in range(0, 256, 7):
        open(os.path.join(out, f"{os.path.basename(f)}.{mode}"), "wb").write(bytes([mode]) + data)
PY
# a real prepared.mrd as a seed for the prepared-file modes (reader mode 5: first byte 0x14/0x34)
if [ -x build/metarec ]; then
  build/metarec prepare --data tests/data/recdata/tiny --out "$out/tiny_prepared" >/dev/null 2>&1 &&
    for m in 20 52; do printf "\\$(printf %o $m)" | cat - "$out/tiny_prepared/prepared.mrd" > "$out/data_corpus/prepared.$m"; done
fi
"$out/data_readers_fuzz" -max_total_time="$secs" -max_len=4096 -timeout=10 "$@" "$out/data_corpus"
