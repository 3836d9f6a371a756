#!/usr/bin/env bash
# Explanations per second for one 40-word sentence, KernelSHAP with 2,048 coalitions,
# on the fine-tuned MiniLM sentiment classifier: `tessera explain` on 1 and 2 ranks, and
# the shap package (KernelExplainer, the same 2,048 coalitions budget, words replaced by
# [MASK]) driving the same weights through transformers (PyTorch, CPU), in the same run.
# Usage: scripts/bench_explain.sh CHECKPOINT DATA_H5   (as for scripts/experiments/explain_faithfulness.sh)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
source scripts/mpi_env.sh
source scripts/experiments/minilm_classifier_config.sh
CKPT="$1" DATA="$2"
TESSERA="$ROOT/build/tessera"
D="$ROOT/.cache/experiments/bench_explain"
mkdir -p "$D"
VENV="$ROOT/.cache/venv-explain"
[ -x "$VENV/bin/python" ] || { python3 -m venv "$VENV" && "$VENV/bin/pip" install -q shap lime; }
HF_PY="$ROOT/.cache/venv-hf/bin/python"  # torch + transformers
SENT="the film opens with a quiet scene that feels honest and warm but the middle drags on far too long and the jokes land flat still the two leads are charming and the final act is moving enough to forgive"
[ "$(echo "$SENT" | wc -w)" = 40 ] || { echo "sentence is not 40 words" >&2; exit 1; }
echo "{\"text\": \"$SENT\"}" > "$D/input.jsonl"
write_minilm_classifier_config "$D/run.toml" "$DATA" "$D/run" 64
rm -rf "$D/hf" && "$TESSERA" export --checkpoint "$CKPT" --out "$D/hf" --format hf > /dev/null
cp .cache/assets/minilm/vocab.txt .cache/assets/minilm/tokenizer.json "$D/hf/" 2>/dev/null || true
secs() { grep -o 'row 1: .*' "$1" | awk '{print $(NF-1)}'; }
for np in 1 2; do
  nice -n 5 mpirun -np $np --oversubscribe "$TESSERA" explain "$D/run.toml" --checkpoint "$CKPT" --input "$D/input.jsonl" \
    --output "$D/out_np$np" --method shap --shap kernel --samples 2048 --seed 1 > "$D/np$np.log"
done
cmp -s "$D/out_np1/explanations.jsonl" "$D/out_np2/explanations.jsonl" && same=yes || same=no
T1=$(secs "$D/np1.log") T2=$(secs "$D/np2.log")
TS=$(PYTHONPATH="$VENV/lib/python3.11/site-packages" OMP_NUM_THREADS=2 nice -n 5 "$HF_PY" - "$D/hf" "$SENT" <<'PYEOF'
import sys, time, warnings
warnings.filterwarnings("ignore")
import numpy as np, torch, shap
from transformers import AutoTokenizer, AutoModelForSequenceClassification
torch.set_num_threads(2)
hf, sent = sys.argv[1], sys.argv[2]
tok = AutoTokenizer.from_pretrained(hf)
model = AutoModelForSequenceClassification.from_pretrained(hf).eval()
words = sent.split()
with torch.no_grad():
    p0 = torch.softmax(model(**tok([sent], return_tensors="pt")).logits, -1)[0]
label = int(p0.argmax())
def f(Z):  # word masks -> p(label); removed words become [MASK] (all sub-words of the word)
    texts = [" ".join(w if z else " ".join([tok.mask_token] * len(tok.tokenize(w))) for w, z in zip(words, row)) for row in Z]
    out = []
    with torch.no_grad():
        for i in range(0, len(texts), 64):
            enc = tok(texts[i:i + 64], return_tensors="pt", padding=True)
            out.append(torch.softmax(model(**enc).logits, -1)[:, label].numpy())
    return np.concatenate(out)
ex = shap.KernelExplainer(f, np.zeros((1, len(words))), silent=True)
t = time.perf_counter()
phi = ex.shap_values(np.ones((1, len(words))), nsamples=2048)
print("%.3f" % (time.perf_counter() - t))
PYEOF
)
echo "KernelSHAP, one 40-word sentence, 2,048 coalitions, fine-tuned MiniLM (6 layers, 384 wide), this CPU:"
printf "| runner | seconds | explanations/s | vs shap+transformers |\n|---|---|---|---|\n"
for row in "tessera explain, 1 rank:$T1" "tessera explain, 2 ranks:$T2" "shap KernelExplainer + transformers (torch, 2 threads):$TS"; do
  name="${row%%:*}" s="${row##*:}"
  awk -v n="$name" -v s="$s" -v b="$TS" 'BEGIN { printf "| %s | %.2f | %.4f | %.2fx |\n", n, s, 1 / s, b / s }'
done
echo "1 rank = 2 ranks (explanations.jsonl bytes): $same"
