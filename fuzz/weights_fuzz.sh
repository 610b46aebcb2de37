#!/usr/bin/env bash
# Builds the libFuzzer target for the safetensors parser and the config reader with clang
# (address + undefined sanitizers) and runs it. Needs clang. Not part of `make test`.
#   bash fuzz/weights_fuzz.sh [seconds=60] [extra libFuzzer flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}; shift || true
out=build-fuzz
mkdir -p "$out/weights_corpus"
CXX=${CXX:-clang++}
$CXX -std=c++20 -O1 -g -I. -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  fuzz/weights_fuzz.cpp weights/safetensors.cpp engine/bert.cpp base/tensor.cpp engine/ops.cpp engine/tape.cpp \
  engine/arena.cpp engine/params.cpp engine/profile.cpp kernels/cpu/*.cpp kernels/ref/*.cpp \
  -fopenmp -lopenblas -lfmt -o "$out/weights_fuzz"
# seeds: the committed fixtures (safetensors with odd first byte, configs with even)
for f in tests/data/tiny_bert/*.safetensors; do { printf "\001"; cat "$f"; } > "$out/weights_corpus/$(basename "$f")"; done
printf '\001' | cat - tests/data/tiny_bert/model.safetensors > "$out/weights_corpus/model_full"
printf '\000' | cat - tests/data/tiny_bert/config.json > "$out/weights_corpus/config"
"$out/weights_fuzz" -max_total_time="$secs" -max_len=8192 -timeout=10 "$@" "$out/weights_corpus"
