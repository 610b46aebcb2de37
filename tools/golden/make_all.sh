#!/usr/bin/env bash
# Regenerates every reference fixture under tests/data (run by `make golden`): one line per
# generator in tools/golden/.
set -euo pipefail
cd "$(dirname "$0")/../.."

python3 -m pip install -q "tokenizers==0.23.3" >&2 && python3 tools/golden/tokenizer_golden.py
.venv/bin/python tools/golden/tiny_bert.py
.venv/bin/python tools/golden/mpnet_golden.py
bash tools/setup.sh models && .venv/bin/python tools/golden/minilm.py
.venv/bin/python tools/golden/meta_golden.py
/tmp/st-venv/bin/python tools/golden/families_golden.py
