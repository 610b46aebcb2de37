#!/usr/bin/env bash
# The main job against its PyTorch twin (bench/torch_twin/twin.py): for each meta-learning
# variant, metarec writes a step-0 checkpoint, trains STEPS steps from it dumping every
# meta-batch (--dump-tasks), and the twin replays the same batches from the same checkpoint;
# the per-step query losses must agree within 1e-5 relative and the final parameters (and
# Meta-SGD's rates) within 1e-4 relative L2. It also prints both sides' tasks/s.
# Config: configs/demo.toml on ml-100k (the README's main job) with model.dropout = 0 (the two
# sides would draw different masks) and no baselines. The *-l1 variants train the item tower's top
# BERT layer (encoder.train_layers = 1) with the sampled softmax (64 uniform negatives), as
# configs/demo_l1.toml, on META_BATCH_L1 tasks per step (4: a float64 BERT layer is slow), with
# encoder.model pointed at $OUT/model-nodropout (links to models/all-MiniLM-L6-v2, config.json
# with the HF dropout rates at 0: the top layers otherwise train with the checkpoint's 0.1) and
# encoder.cache at $OUT/cache (the bottom's hidden states are computed once there).
# Environment: PY (python with torch; default .venv-twin/bin/python, made here from PyPI's
# current torch when absent), BIN (default build/metarec), STEPS (20), THREADS (nproc),
# DTYPE (the twin's: float64 by default, an independent double reference; float32), OUT
# (default /tmp/metarec_twin), VARIANTS (a subset of the names below).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-build/metarec}
STEPS=${STEPS:-20}
THREADS=${THREADS:-$(nproc)}
DTYPE=${DTYPE:-float64}
OUT=${OUT:-/tmp/metarec_twin}
PY=${PY:-.venv-twin/bin/python}
if [ ! -x "$PY" ]; then
  python3 -m venv .venv-twin
  .venv-twin/bin/pip install -q torch numpy
  PY=.venv-twin/bin/python
fi
[ -x "$BIN" ] || make -j"$(nproc)" "$BIN"
[ -f data/ml-100k/ml-100k.inter ] || bash tools/setup.sh data
[ -f models/all-MiniLM-L6-v2/vocab.txt ] || bash tools/setup.sh models
declare -A V=(
  [fomaml-head]="meta.algorithm=fomaml"
  [reptile-user-k2]="meta.algorithm=reptile meta.scope=user meta.inner_steps=2"
  [metasgd-head]="meta.algorithm=metasgd"
  [metasgd-user-recent]="meta.algorithm=metasgd meta.scope=user model.pool=recent"
  [fomaml-all-mean-2layers]="meta.algorithm=fomaml meta.scope=all model.pool=mean model.layers=2"
  [none]="meta.algorithm=none"
  [fomaml-head-batched]="meta.algorithm=fomaml train.batch_tasks=true"
  [fomaml-head-l1]="meta.algorithm=fomaml L1"
  [metasgd-user-l1]="meta.algorithm=metasgd meta.scope=user L1"
  [none-l1]="meta.algorithm=none L1"
  [fomaml-head-l1-pop]="meta.algorithm=fomaml L1 loss.sampler=popularity"
)
META_BATCH_L1=${META_BATCH_L1:-4}
NODROP="$OUT/model-nodropout"
L1=(encoder.train_layers=1 loss.negatives=64 loss.sampler=uniform train.meta_batch="$META_BATCH_L1"
    encoder.model="$NODROP" encoder.cache="$OUT/cache")
NAMES=${VARIANTS:-fomaml-head reptile-user-k2 metasgd-head metasgd-user-recent fomaml-all-mean-2layers none fomaml-head-batched fomaml-head-l1 metasgd-user-l1 none-l1}
BASE=(--config configs/demo.toml --data data/ml-100k --set model.dropout=0 --set train.log_every=1
      --set train.threads="$THREADS" --set eval.k_shots=1 --set eval.baselines= --set train.warmup=5)
fail=0
mkdir -p "$OUT"
echo "| variant | steps x tasks/step | query loss, worst rel. diff | final params, rel. L2 | metarec tasks/s | twin tasks/s ($DTYPE) | |"
echo "|---|---:|---:|---:|---:|---:|---|"
for name in $NAMES; do
  sets=()
  for kv in ${V[$name]}; do
    if [ "$kv" = L1 ]; then
      if [ ! -f "$NODROP/config.json" ]; then
        mkdir -p "$NODROP"
        for f in models/all-MiniLM-L6-v2/*; do [ "$(basename "$f")" = config.json ] || ln -sf "$(realpath "$f")" "$NODROP/"; done
        "$PY" -c "
import json, sys
c = json.load(open('models/all-MiniLM-L6-v2/config.json'))
c['hidden_dropout_prob'] = c['attention_probs_dropout_prob'] = 0.0
json.dump(c, open('$NODROP/config.json', 'w'), indent=2)"
      fi
      for s in "${L1[@]}"; do sets+=(--set "$s"); done
    else
      sets+=(--set "$kv")
    fi
  done
  R="$OUT/$name"
  rm -rf "$R" && mkdir -p "$R"
  "$BIN" train --out "$R/run" "${BASE[@]}" "${sets[@]}" --set train.steps=0 >"$R/init.log" 2>&1
  cp "$R/run/ckpt-000000000.safetensors" "$R/init.safetensors"
  "$BIN" train --out "$R/run" "${BASE[@]}" "${sets[@]}" --set train.steps="$STEPS" --resume \
    --dump-tasks "$R/tasks.jsonl" >"$R/train.log" 2>&1
  ours=$(python3 -c "
import json
r=[j for j in map(json.loads, open('$R/run/metrics.jsonl')) if 'tasks_per_s' in j]
print('%.1f' % (sorted(x['tasks_per_s'] for x in r[1:] or r)[len(r[1:] or r)//2]))")
  if OMP_NUM_THREADS=$THREADS "$PY" bench/torch_twin/twin.py --run "$R/run" --init "$R/init.safetensors" \
       --tasks "$R/tasks.jsonl" --threads "$THREADS" --dtype "$DTYPE" >"$R/twin.log" 2>&1; then :; else fail=1; fi
  loss=$(awk '/worst step relative/{print $8}' "$R/twin.log")
  par=$(awk '/final parameters/{print $7}' "$R/twin.log" | tr -d ';')
  tw=$(awk '/tasks\/s/{print $2}' "$R/twin.log")
  tasks=$(awk '/steps,/{print $2 " x " $4/$2}' "$R/twin.log")
  verdict=$(tail -1 "$R/twin.log")
  echo "| $name | $tasks | $loss | $par | $ours | $tw | ${verdict#twin: } |"
done
exit $fail
