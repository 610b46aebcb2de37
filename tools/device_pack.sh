#!/usr/bin/env bash
# Packs what bench/gpu.sh runs on a lent GPU machine into build-device/pack/ (git-ignored): the
# native kernel suite (build/tests/cuda_gpu_tests), the CUDA benchmark (build/bench/cuda_bench)
# and the CLI with the CUDA backend (build/metarec-cuda), all stripped, and the shared libraries
# they need that such a machine may lack (OpenBLAS, fmt, utf8proc, Open MPI, libstdc++, ...),
# plus the training benchmark's data (ml-100k, Amazon Scientific) and tokenizer.
# glibc and the CUDA libraries (cudart, cuBLASLt) are left out: the machine's own are used.
# Built in its own folder with NATIVE=0 (no -march=native: that machine's processor may lack
# this one's AVX-512). Then: the device tool's `run` with carry ["build-device/pack.tgz"] and
# command `bash bench/gpu.sh` (bench/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
B=build-device
P=$B/pack
make -j"$(nproc)" BUILD=$B NATIVE=0 SETUP=0 bench-gpu-bins $B/metarec-cuda >&2
rm -rf $P && mkdir -p $P/lib
cp $B/tests/cuda_gpu_tests $B/bench/cuda_bench $B/metarec-cuda $P/
strip $P/cuda_gpu_tests $P/cuda_bench $P/metarec-cuda
skip='^(libc|libm|libpthread|libdl|librt|ld-linux.*|libcuda|libcudart|libcublas|libcublasLt|libnvidia.*)\.so'
for lib in $(ldd $P/cuda_gpu_tests $P/cuda_bench $P/metarec-cuda | awk '/=> \//{print $3}' | sort -u); do
  base=$(basename "$lib")
  if [[ "$base" =~ $skip ]]; then continue; fi
  cp -L "$lib" $P/lib/
done
strip --strip-unneeded $P/lib/*.so* 2>/dev/null || true
ls $P/lib >&2
# bench/gpu.sh's training rows (step 6): the two data sets and all-MiniLM-L6-v2's config and
# tokenizer (its 87 MiB of weights do not fit the carry: the script writes random ones)
mkdir -p $P/data $P/minilm
cp -r data/ml-100k $P/data/ 2>/dev/null || echo "device_pack: no data/ml-100k (bash tools/setup.sh data): step 6 skips demo" >&2
cp -r ../shared/data/amazon-scientific $P/data/ 2>/dev/null || echo "device_pack: no ../shared/data/amazon-scientific: step 6 skips amazon" >&2
for f in config.json vocab.txt tokenizer.json tokenizer_config.json special_tokens_map.json; do
  cp models/all-MiniLM-L6-v2/$f $P/minilm/ 2>/dev/null || echo "device_pack: no models/all-MiniLM-L6-v2/$f" >&2
done
# what travels: gzip takes the 67 MB (OpenBLAS alone is 37 MB) to about 20 MB, under the device
# tool's 64 MiB carry limit; bench/gpu.sh unpacks it there
tar -C $B -czf $B/pack.tgz pack
du -sh $P $B/pack.tgz >&2
