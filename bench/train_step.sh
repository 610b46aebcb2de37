#!/usr/bin/env bash
# Runs `metarec bench train-step` and its PyTorch twin (bench/train_step_torch.py) back to
# back with the same shapes and thread count, alternating ROUNDS times, and prints a markdown
# row for bench/RESULTS.md. Usage: bench/train_step.sh [metarec bench options...]
# Environment: THREADS (default: nproc), ROUNDS (default 3), PY (python with torch+transformers,
# default .venv/bin/python as made by `tools/setup.sh golden`). Both sides use the same
# OpenBLAS; OPENBLAS_CORETYPE (e.g. SkylakeX) set for the script applies to both.
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${THREADS:-$(nproc)}
ROUNDS=${ROUNDS:-3}
PY=${PY:-.venv/bin/python}
[ -x "$PY" ] || bash tools/setup.sh golden
args=("$@" --threads "$THREADS")
ours=(); theirs=()
for r in $(seq "$ROUNDS"); do
  o=$(OMP_NUM_THREADS=$THREADS build/metarec bench train-step "${args[@]}" 2>/dev/null | awk '/^train-step ms:/{print $3}')
  t=$(OMP_NUM_THREADS=$THREADS "$PY" bench/train_step_torch.py "${args[@]}" 2>/dev/null | awk '/^train-step ms:/{print $3}')
  echo "round $r: metarec $o ms, pytorch $t ms" >&2
  ours+=("$o"); theirs+=("$t")
done
med() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
mo=$(med "${ours[@]}"); mt=$(med "${theirs[@]}")
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
core=$(python3 - <<'PY' 2>/dev/null || echo "?"
import ctypes
lib = ctypes.CDLL("libopenblas.so.0"); lib.openblas_get_corename.restype = ctypes.c_char_p
print(lib.openblas_get_corename().decode())
PY
)
ratio=$(awk -v a="$mt" -v b="$mo" 'BEGIN{printf "%.2f", a/b}')
echo "| $(date -u +%F) | $cpu, $(nproc) cores, OpenBLAS core $core | \`bench/train_step.sh $*\` (threads $THREADS, $ROUNDS rounds) | $mo | $mt | ${ratio}x |"
