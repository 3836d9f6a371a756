# Sourced by the fine-tuning experiment scripts (scripts/experiments/*.sh):
# paths, the MiniLM checkpoint, a config writer and metrics.jsonl readers.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
TESSERA="${TESSERA:-$ROOT/build/tessera}"
ASSETS="${TESSERA_ASSETS:-$ROOT/.cache/assets}"
EXP="${TESSERA_EXPERIMENTS:-$ROOT/.cache/experiments}"
MINILM_DIR="$ASSETS/minilm"
VOCAB="$MINILM_DIR/vocab.txt"
DATASETS="$ASSETS/datasets"
PY=/usr/bin/python3
source "$ROOT/scripts/mpi_env.sh"
mkdir -p "$EXP"
[ -x "$TESSERA" ] || { echo "missing $TESSERA: build tessera first" >&2; exit 1; }
[ -f "$MINILM_DIR/model.safetensors" ] || { echo "missing $MINILM_DIR: run scripts/fetch_assets.sh" >&2; exit 1; }

# The imported MiniLM checkpoint (all-MiniLM-L6-v2), made once.
MINILM_H5="$EXP/minilm.h5"
if [ ! -f "$MINILM_H5" ]; then
  "$TESSERA" import --from "$MINILM_DIR" --out "$MINILM_H5.tmp" && mv "$MINILM_H5.tmp" "$MINILM_H5"
fi

# need_dataset FILE: fetch the datasets if FILE is missing.
need_dataset() { [ -f "$1" ] || "$ROOT/scripts/fetch_datasets.sh"; }

# subsample IN OUT N SEED: header + the first N rows of a seeded shuffle of a CSV
# (deterministic; rows with quoted newlines are handled by Python's csv module).
subsample() {
  "$PY" - "$1" "$2" "$3" "$4" <<'PYEOF'
import csv, random, sys
src, dst, n, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
with open(src, newline="") as f:
    rows = list(csv.reader(f))
head, body = rows[0], rows[1:]
random.Random(seed).shuffle(body)
with open(dst, "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(head)
    w.writerows(body[:n])
PYEOF
}

# train_run NP CONFIG: trains (mpirun -np NP when NP > 1), prints the wall time.
train_run() {
  local np="$1" cfg="$2" t0 t1
  t0=$(date +%s.%N)
  if [ "$np" -gt 1 ]; then mpirun -np "$np" "$TESSERA" train "$cfg"; else "$TESSERA" train "$cfg"; fi
  t1=$(date +%s.%N)
  "$PY" -c "import sys; print('wall_s %.1f  (%s, np=%s)' % (float(sys.argv[2]) - float(sys.argv[1]), sys.argv[3], sys.argv[4]))" "$t0" "$t1" "$cfg" "$np"
}

# final_metrics RUN_DIR [KEYS...]: the last eval_metrics record of a run, one key per line.
final_metrics() {
  "$PY" - "$@" <<'PYEOF'
import json, sys
run, keys = sys.argv[1], sys.argv[2:]
recs = [json.loads(l) for l in open(run + "/metrics.jsonl") if '"eval_metrics"' in l]
last = recs[-1]
for k in keys or sorted(last):
    if k in last: print("  %-22s %.4f" % (k, last[k]))
PYEOF
}

# eval_report CONFIG: `tessera eval --split validation` on the run's final checkpoint
# (the best weights when keep_best); prints the headline metrics and per-class/type rows.
eval_report() {
  "$TESSERA" eval "$1" --split validation > "$1.eval.txt" 2>&1
  "$PY" - "$1.eval.txt" <<'PYEOF'
import json, sys
text = open(sys.argv[1]).read()
rep = json.loads(text[text.index("\n{") + 1:] if not text.startswith("{") else text)
for k in ("accuracy", "macro_f1", "entity_f1", "token_accuracy", "exact_match", "f1", "rows", "examples"):
    if k in rep and not isinstance(rep[k], dict): print("  %-16s %s" % (k, rep[k]))
for sec in ("per_class", "per_type", "micro avg"):
    if sec in rep:
        items = rep[sec].items() if sec != "micro avg" else [("micro avg", rep[sec])]
        for name, s in items:
            print("  %-12s precision %.4f recall %.4f f1 %.4f support %d" % (name, s["precision"], s["recall"], s["f1"], s["support"]))
PYEOF
}
