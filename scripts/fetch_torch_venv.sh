#!/usr/bin/env bash
# Creates the Python venv used ONLY by fixture generators and benchmarks
# (torch CPU, transformers, peft, safetensors from PyPI). Tessera itself never
# imports these. The venv lives in .cache/venv-torch (shared; created under a lock).
#
#   scripts/fetch_torch_venv.sh            # creates .cache/venv-torch if missing
#   .cache/venv-torch/bin/python tests/fixtures/peft/make_peft_fixtures.py
#
# torch is installed with its dependencies: with --no-deps, `import torch` fails
# (libcufile.so.0 missing) even for CPU use, so the nvidia-* wheels (several GB) come too.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${TORCH_VENV:-$root/.cache/venv-torch}"
lock="$venv.lock"
PY="${PYTHON:-python3}"
exec 9>"$lock"
flock 9
if [[ -x "$venv/bin/python" ]] && "$venv/bin/python" -c "import torch, transformers, peft, safetensors" 2>/dev/null; then
  echo "fetch_torch_venv: $venv ready"; exit 0
fi
"$PY" -m venv "$venv"
pip="$venv/bin/pip"
"$pip" install --quiet --upgrade pip
"$pip" install --quiet torch   # the Linux wheel needs its CUDA libraries (libcufile...) even on the CPU
"$pip" install --quiet filelock typing-extensions sympy networkx jinja2 fsspec numpy
"$pip" install --quiet --no-deps accelerate peft
"$pip" install --quiet transformers safetensors psutil pyyaml packaging tqdm huggingface_hub
"$venv/bin/python" -c "import torch, transformers, peft, safetensors; print('torch', torch.__version__, 'transformers', transformers.__version__, 'peft', peft.__version__)"
echo "fetch_torch_venv: $venv ready"
