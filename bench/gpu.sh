#!/usr/bin/env bash
# The one prepared GPU run of issue 6, for a lent machine (the device tool), from the repository
# root. First, here: `bash tools/device_pack.sh` (builds build-device/pack and gzips it into
# build-device/pack.tgz). Then one device call: command `bash bench/gpu.sh`, carry
# ["build-device/pack.tgz"], timeout_s 600; the script unpacks it.
# It runs, each step under its own time limit and going on when one fails, the headline first:
#   1. the native kernel suite (cuda_gpu_tests: every op against kernels/ref, full shapes);
#   2. the card's bf16 matrix rate (PyTorch, 8192^3), the denominator of model FLOP utilization;
#   3. a BERT-base training step (32 x 128): ours (bf16 math with fp32 storage, bf16 math with
#      bf16 storage, fp32 math) against PyTorch eager bf16 autocast with SDPA, alternating ROUNDS
#      times, and the arena's high water of both storages;
#   4. attention forward + backward: ours (bf16 storage, the like-for-like headline; bf16 math on
#      fp32 tensors; fp32) against PyTorch SDPA through cuDNN and through FlashAttention,
#      alternating ROUNDS times, at BERT-base 32 x 128 and at 4 x 1024 (12 heads of 64), then our
#      outputs of both storages checked against cuDNN's (cuda_torch.py check);
#   5. the CLI on the GPU: metarec-cuda embed (tiny BERT, 200 texts) in fp32 and bf16 against the
#      same binary's CPU backend (bench/npy_diff.py);
#   6. meta-training (issue 20): metarec-cuda train --set train.device=cuda against the same run
#      on all the host's CPU cores, configs/demo.toml (ml-100k) and configs/amazon.toml (Amazon
#      Scientific) with encoder.train_layers 0 and 1 (0 also with train.batch_tasks=true, 1 also with train.precision=bf16): tasks/s (the median of the logged windows
#      after the first) and the device memory peak. The data travel in the pack; the checkpoint
#      does not fit the carry, so the encoder is all-MiniLM-L6-v2's shapes with random weights
#      (bench/random_bert.py): the speed depends on the shapes only. Each run stops at TRAIN_S
#      seconds (default 25; the evaluation after training is not timed).
# Expected total, if nothing hangs: about 400 s for 1-5 (the native suite 60-150 s, each timed
# run 5-15 s) and 8 x TRAIN_S for 6: more than one call's 600 s, so run it as two calls,
# `ONLY="1 2 3 4 5" bash bench/gpu.sh` then `ONLY=6 bash bench/gpu.sh` (ONLY: the steps to run).
# The limits add up to more than a device call's 600 s only if several steps hang; the log and
# the results table are written as the steps finish, so what finished comes back.
# Everything goes to $OUT (the device tool's folder, else /tmp/gpu-out): gpu_log.txt, and
# gpu_results.md, the rows for bench/RESULTS.md (medians over rounds; ratios are baseline/ours).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT"
P=${PACK:-build-device/pack}
if [ ! -d "$P" ] && [ -f build-device/pack.tgz ]; then tar -C build-device -xzf build-device/pack.tgz; fi
PY=${PY:-python3}
ROUNDS=${ROUNDS:-2}
# A local smoke test of this script without a GPU: SMOKE=1 PACK=<dir with cuda_bench,
# cuda_gpu_tests and metarec-cuda, e.g. links to the emulated builds> PY=.venv/bin/python bash bench/gpu.sh
# (tiny shapes, PyTorch on the CPU, no nvidia-smi).
SMOKE=${SMOKE:-0}
ONLY=${ONLY:-1 2 3 4 5 6}
want() { [[ " $ONLY " == *" $1 "* ]]; }
TRAIN_S=${TRAIN_S:-25}
DEV=cuda ATT_SHAPES=("32 128" "4 1024") STEP=() MM=8192 CHK="--batch 4 --seq 129"
if [ "$SMOKE" = 1 ]; then
  DEV=cpu ATT_SHAPES=("1 40") MM=256 CHK="--batch 1 --seq 33 --heads 2 --head-dim 32"
  STEP=(--layers 2 --hidden 64 --heads 4 --ffn 128 --vocab 100 --batch 2 --seq 16 --steps 2 --warmup 1)
  nvidia-smi() { echo "smoke test: no nvidia-smi"; }
fi
exec > >(tee -a "$OUT/gpu_log.txt") 2>&1

# cuBLASLt and cudart: the machine's toolkit, else the ones PyTorch's wheels carry
libdirs=$PWD/$P/lib
for d in /usr/local/cuda/lib64 $(find /usr/local /opt -name 'libcublasLt.so.13*' -printf '%h\n' 2>/dev/null | sort -u); do
  libdirs=$libdirs:$d
done
# only our binaries get the packed libraries (PyTorch keeps the machine's own libstdc++ and CUDA)
ours() { LD_LIBRARY_PATH=$libdirs:${LD_LIBRARY_PATH:-} "$@"; }
echo "== machine"; date -u
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,memory.total --format=csv
nproc; $PY -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU')"
ours ldd $P/cuda_bench | grep -E "not found|cublas|cudart|openblas"

med() { printf '%s\n' "$@" | grep -v '^$' | sort -g | awk '{a[NR]=$1} END{if (NR) print a[int((NR+1)/2)]; else print "?"}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{if (a+0 > 0 && b+0 > 0) printf "%.2fx", a / b; else print "?"}'; }
key() { awk -v k="$1" 'index($0, k) == 1 {print $(NF)}' | tail -1; }
results=$OUT/gpu_results.md
card=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
echo "| what | shape | metarec | baseline | baseline / metarec |" >"$results"
echo "| --- | --- | --- | --- | --- |" >>"$results"

if want 1; then
echo "== 1. native kernel suite"
timeout 150 env LD_LIBRARY_PATH=$libdirs:${LD_LIBRARY_PATH:-} $P/cuda_gpu_tests --no-version 2>&1 | tail -60
echo "cuda_gpu_tests exit: ${PIPESTATUS[0]}"

fi

if want 2; then
echo "== 2. bf16 matrix rate"
peak=$(timeout 120 $PY bench/cuda_torch.py matmul --n $MM --device $DEV | tee /dev/stderr | awk '/^bf16 matmul TFLOP\/s:/{print $4}')
echo "| bf16 matmul (PyTorch) | ${MM}^3 | | ${peak:-?} TFLOP/s | |" >>"$results"


fi

if want 3; then
echo "== 3. BERT-base training step, 32 x 128"
ours_bf=(); ours_fp=(); torch_bf=(); ours_bs=()
for r in $(seq "$ROUNDS"); do
  ours_bf+=("$(ours timeout 150 $P/cuda_bench train-step "${STEP[@]}" --math bf16 | tee -a "$OUT/bf16_math.txt" | key 'train-step ms:')")
  ours_bs+=("$(ours timeout 150 $P/cuda_bench train-step "${STEP[@]}" --math bf16 --storage bf16 | tee -a "$OUT/bf16_storage.txt" | key 'train-step ms:')")
  torch_bf+=("$(timeout 150 $PY bench/cuda_torch.py train-step "${STEP[@]}" --device $DEV | key 'train-step ms:')")
  ours_fp+=("$(ours timeout 150 $P/cuda_bench train-step "${STEP[@]}" --math fp32 | key 'train-step ms:')")
  echo "round $r: ours bf16 ${ours_bf[-1]} ms, ours bf16 storage ${ours_bs[-1]} ms, PyTorch bf16 ${torch_bf[-1]} ms, ours fp32 ${ours_fp[-1]} ms"
done
mb=$(med "${ours_bf[@]}"); mt=$(med "${torch_bf[@]}"); mf=$(med "${ours_fp[@]}"); ms=$(med "${ours_bs[@]}")
flops=$(awk 'BEGIN{L=12; C=768; F=3072; B=32; T=128; print 6*L*(4*C*C+2*C*F)*B*T + 12*L*B*T*T*C}')
mfu() { awk -v f="$flops" -v ms="$1" -v p="$peak" 'BEGIN{if (ms+0 > 0 && p+0 > 0) printf "%.1f%%", 100 * f / (ms / 1000) / (p * 1e12); else print "?"}'; }
echo "| BERT-base train step, bf16 math vs PyTorch eager bf16 + SDPA | 32 x 128 | $mb ms (MFU $(mfu "$mb")) | $mt ms (MFU $(mfu "$mt")) | $(ratio "$mt" "$mb") |" >>"$results"
echo "| BERT-base train step, bf16 math + bf16 storage vs PyTorch eager bf16 + SDPA | 32 x 128 | $ms ms (MFU $(mfu "$ms")) | $mt ms (MFU $(mfu "$mt")) | $(ratio "$mt" "$ms") |" >>"$results"
echo "| BERT-base train step, fp32 math vs PyTorch eager bf16 + SDPA | 32 x 128 | $mf ms | $mt ms | $(ratio "$mt" "$mf") |" >>"$results"
for f in bf16_math bf16_storage; do  # the arena's high water (activations, their gradients, bf16 weight copies)
  echo "| BERT-base train step, arena high water, $f | 32 x 128 | $(grep -h 'arena high water' "$OUT/$f.txt" | tail -1 | cut -d: -f2) | | |" >>"$results"
done

fi

if want 4; then
echo "== 4. attention forward + backward"
for shape in "${ATT_SHAPES[@]}"; do
  set -- $shape
  B=$1 T=$2
  ours_bf=(); ours_fp=(); cudnn=(); flash=(); ours_bs=()
  for r in $(seq "$ROUNDS"); do
    ours_bs+=("$(ours timeout 120 $P/cuda_bench attention --batch $B --seq $T --math bf16 --storage bf16 | key 'attention ms:')")
    ours_bf+=("$(ours timeout 120 $P/cuda_bench attention --batch $B --seq $T --math bf16 | key 'attention ms:')")
    cudnn+=("$(timeout 120 $PY bench/cuda_torch.py attention --batch $B --seq $T --backend cudnn --device $DEV | key 'attention ms:')")
    ours_fp+=("$(ours timeout 120 $P/cuda_bench attention --batch $B --seq $T --math fp32 | key 'attention ms:')")
    flash+=("$(timeout 120 $PY bench/cuda_torch.py attention --batch $B --seq $T --backend flash --device $DEV | key 'attention ms:')")
    echo "round $r ($B x $T): ours bf16 storage ${ours_bs[-1]} ms, ours bf16 math ${ours_bf[-1]} ms, cuDNN ${cudnn[-1]} ms, ours fp32 ${ours_fp[-1]} ms, flash ${flash[-1]} ms"
  done
  mb=$(med "${ours_bf[@]}"); mc=$(med "${cudnn[@]}"); mf=$(med "${ours_fp[@]}"); ml=$(med "${flash[@]}"); ms=$(med "${ours_bs[@]}")
  # the like-for-like rows: bf16 tensors in and out, as cuDNN and FlashAttention take them
  echo "| attention fwd+bwd, bf16 storage vs cuDNN SDPA | $B x $T, 12 x 64 | $ms ms | $mc ms | $(ratio "$mc" "$ms") |" >>"$results"
  echo "| attention fwd+bwd, bf16 storage vs FlashAttention (SDPA) | $B x $T, 12 x 64 | $ms ms | $ml ms | $(ratio "$ml" "$ms") |" >>"$results"
  echo "| attention fwd+bwd, bf16 math on fp32 tensors vs cuDNN SDPA | $B x $T, 12 x 64 | $mb ms | $mc ms | $(ratio "$mc" "$mb") |" >>"$results"
  echo "| attention fwd+bwd, fp32 (ours) vs cuDNN bf16 | $B x $T, 12 x 64 | $mf ms | $mc ms | $(ratio "$mc" "$mf") |" >>"$results"
done
for st in fp32 bf16; do  # bf16 math on fp32 tensors, then bf16 storage
  mkdir -p /tmp/attn-dump-$st
  echo "storage $st:" | tee -a "$OUT/attention_check.txt"
  ours timeout 120 $P/cuda_bench attention $CHK --math bf16 --storage $st --steps 1 --warmup 0 --dump /tmp/attn-dump-$st >/dev/null &&
    timeout 120 $PY bench/cuda_torch.py check /tmp/attn-dump-$st $CHK --device $DEV | tee -a "$OUT/attention_check.txt"
done

fi

if want 5; then
echo "== 5. the CLI on the GPU: metarec-cuda embed, tiny BERT (tests/data/tiny_bert) with a made-up vocab"
# the same binary on its CPU backend is the reference; bounds as tests/cuda/encoder_cuda_test.cpp
m=$(mktemp -d)
cp tests/data/tiny_bert/config.json tests/data/tiny_bert/model.safetensors "$m/"
{ printf '[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n'; for i in $(seq 5 511); do echo "w$i"; done; } >"$m/vocab.txt"
awk 'BEGIN{srand(7); for (k = 1; k <= 200; k++) {n = 1 + int(rand() * 60); s = "";
     for (j = 0; j < n; j++) s = s (j ? " " : "") "w" (5 + int(rand() * 507)); print s}}' >"$m/texts.txt"
for dp in "cpu fp32" "cuda fp32" "cuda bf16"; do
  set -- $dp
  ours timeout 60 $P/metarec-cuda embed --model "$m" --in "$m/texts.txt" --out "$m/e_$1_$2.npy" --max-len 64 \
    --device $1 --precision $2 2>&1 | tail -1
done
for pb in "fp32 --max-abs 1e-5" "bf16 --rel-l2 2e-2"; do
  set -- $pb
  p=$1
  d=$(timeout 60 $PY bench/npy_diff.py "$m/e_cuda_$p.npy" "$m/e_cpu_fp32.npy" $2 $3 | tr '\n' ' ')
  echo "metarec-cuda embed --device cuda --precision $p vs --device cpu: $d" | tee -a "$OUT/cli_check.txt"
  echo "| metarec-cuda embed, cuda $p vs cpu fp32 (bounds: fp32 1e-5 max abs, bf16 2e-2 rel L2) | 200 texts, tiny BERT | ${d:-failed} | | |" >>"$results"
done
rm -rf "$m"

fi

if want 6; then
echo "== 6. meta-training on the GPU vs all the host's CPU cores (random all-MiniLM-L6-v2-shaped weights)"
m=$(mktemp -d); cache=$(mktemp -d); runs=$(mktemp -d)
if [ "$SMOKE" = 1 ]; then  # the tiny BERT with a made-up vocabulary, as in step 5
  cp tests/data/tiny_bert/config.json tests/data/tiny_bert/model.safetensors "$m/"
  { printf '[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n'; for i in $(seq 5 511); do echo "w$i"; done; } >"$m/vocab.txt"
else
  cp $P/minilm/* "$m/" && $PY bench/random_bert.py "$m"
fi
med_tps() { grep -o '"tasks_per_s":[0-9.e+-]*' "$1" 2>/dev/null | tail -n +2 | cut -d: -f2 | sort -g |
            awk '{a[NR]=$1} END{if (NR) printf "%.0f", a[int((NR+1)/2)]; else print "?"}'; }
cfgs="demo amazon"; [ "$SMOKE" = 1 ] && cfgs=demo  # the emulator embeds Amazon's 4385 items too slowly
for cfg in $cfgs; do
  data=$P/data/ml-100k; [ $cfg = amazon ] && data=$P/data/amazon-scientific
  for L in 0 1; do
    neg=""; [ $L = 1 ] && neg="--set loss.negatives=64"  # as configs/demo_l1.toml: a full softmax would run every item through the top
    common=(--config configs/$cfg.toml --set data.path=$data --set encoder.model=$m --set encoder.cache=$cache
            --set encoder.device=cuda --set encoder.train_layers=$L $neg --set train.steps=100000 --set train.log_every=10
            --set train.ckpt_every=0 --set eval.baselines=)
    [ "$SMOKE" = 1 ] && common+=(--set train.log_every=1 --set train.meta_batch=2 --set model.dim=16)
    ours timeout $TRAIN_S $P/metarec-cuda train "${common[@]}" --set train.device=cuda --out $runs/$cfg$L-gpu >$runs/$cfg$L-gpu.log 2>&1
    ours timeout $TRAIN_S $P/metarec-cuda train "${common[@]}" --set train.threads=$(nproc) --out $runs/$cfg$L-cpu >$runs/$cfg$L-cpu.log 2>&1
    g=$(med_tps $runs/$cfg$L-gpu/metrics.jsonl); c=$(med_tps $runs/$cfg$L-cpu/metrics.jsonl)
    pk=$(grep -o '"device_peak_mib":[0-9.]*' $runs/$cfg$L-gpu/metrics.jsonl 2>/dev/null | tail -1 | cut -d: -f2)
    pk=${pk:+device memory peak $pk MiB}
    echo "$cfg train_layers=$L: GPU $g tasks/s, CPU ($(nproc) threads) $c tasks/s; $pk"; tail -3 $runs/$cfg$L-gpu.log
    echo "| meta-training tasks/s (higher is better), configs/$cfg.toml, train_layers=$L, GPU fp32 vs $(nproc) CPU threads | meta_batch as the config | $g tasks/s (${pk:-peak ?}) | $c tasks/s | $(ratio "$g" "$c") (GPU/CPU) |" >>"$results"
    if [ $L = 1 ]; then  # bf16 math, the top layer on bf16 activations (train.precision = bf16)
      ours timeout $TRAIN_S $P/metarec-cuda train "${common[@]}" --set train.device=cuda --set train.precision=bf16 --out $runs/$cfg$L-gpu16 >$runs/$cfg$L-gpu16.log 2>&1
      h=$(med_tps $runs/$cfg$L-gpu16/metrics.jsonl)
      pk16=$(grep -o '"device_peak_mib":[0-9.]*' $runs/$cfg$L-gpu16/metrics.jsonl 2>/dev/null | tail -1 | cut -d: -f2)
      echo "$cfg train_layers=1, train.precision=bf16: GPU $h tasks/s (fp32 $g), device memory peak ${pk16:-?} MiB"; tail -2 $runs/$cfg$L-gpu16.log
      echo "| meta-training tasks/s, configs/$cfg.toml, train_layers=1, GPU train.precision=bf16 vs fp32 | meta_batch as the config | $h tasks/s (peak ${pk16:-?} MiB) | $g tasks/s (fp32) | $(ratio "$h" "$g") (bf16/fp32) |" >>"$results"
    fi
    if [ $L = 0 ]; then  # the meta-batch's tasks adapted together (train.batch_tasks, engine/rec/batched.h)
      ours timeout $TRAIN_S $P/metarec-cuda train "${common[@]}" --set train.device=cuda --set train.batch_tasks=true --out $runs/$cfg$L-gpub >$runs/$cfg$L-gpub.log 2>&1
      b=$(med_tps $runs/$cfg$L-gpub/metrics.jsonl)
      echo "$cfg train_layers=0, train.batch_tasks: GPU $b tasks/s (per-task loop $g)"; tail -2 $runs/$cfg$L-gpub.log
      echo "| meta-training tasks/s, configs/$cfg.toml, train_layers=0, GPU fp32 train.batch_tasks=true vs the per-task loop; and vs $(nproc) CPU threads | meta_batch as the config | $b tasks/s | $g tasks/s (loop); $c tasks/s (CPU) | $(ratio "$b" "$g") (batched/loop), $(ratio "$b" "$c") (batched/CPU) |" >>"$results"
    fi
  done
done
rm -rf "$m" "$cache" "$runs"
fi

echo "== results ($card, $(date -u +%F))"
cat "$results"
