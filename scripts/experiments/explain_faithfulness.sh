#!/usr/bin/env bash
# Faithfulness of `tessera explain` on a fine-tuned MiniLM sentiment classifier:
# for N test sentences, KernelSHAP (word features, deletion baseline) ranks the words;
# deleting the top-k SHAP words must lower the predicted class probability more than
# deleting k random words (deletion curve for k = 1..5 and AOPC = mean drop over k).
# Usage: scripts/experiments/explain_faithfulness.sh CHECKPOINT DATA_H5 TEST_CSV [N=24] [SAMPLES=256]
#   (a checkpoint as scripts/experiments/sentiment_dp.sh trains, its task dataset, a CSV with a text column)
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/minilm_classifier_config.sh"
CKPT="$1" DATA="$2" TEST="$3" N="${4:-24}" SAMPLES="${5:-256}"
D="$EXP/explain_faithfulness"
mkdir -p "$D"
write_minilm_classifier_config "$D/run.toml" "$DATA" "$D/run" 32
"$PY" - "$TEST" "$D/inputs.jsonl" "$N" <<'PYEOF'
import csv, json, sys
rows = [r["text"] for r in csv.DictReader(open(sys.argv[1], newline=""))]
rows = [t for t in rows if 8 <= len(t.split()) <= 30][: int(sys.argv[3])]
with open(sys.argv[2], "w") as f:
    for t in rows:
        f.write(json.dumps({"text": t}) + "\n")
PYEOF
nice -n 5 mpirun -np 2 --oversubscribe "$TESSERA" explain "$D/run.toml" --checkpoint "$CKPT" --input "$D/inputs.jsonl" \
  --output "$D/shap" --method shap --shap kernel --samples "$SAMPLES" --removal delete --seed 1
"$PY" - "$D" "$TESSERA" "$D/run.toml" "$CKPT" <<'PYEOF'
import json, random, subprocess, sys
d, tessera, cfg, ckpt = sys.argv[1:]
ex = [json.loads(l) for l in open(d + "/shap/explanations.jsonl")]
K = 5
variants = []  # (input, k, kind, trial, text)
for i, e in enumerate(ex):
    words = [f["text"] for f in e["features"]]
    phi = [f["attribution"] for f in e["features"]]
    order = sorted(range(len(words)), key=lambda j: -phi[j])
    for k in range(1, K + 1):
        variants.append((i, k, "shap", 0, " ".join(w for j, w in enumerate(words) if j not in set(order[:k]))))
        for trial in range(5):
            drop = set(random.Random(1000 * i + 10 * k + trial).sample(range(len(words)), k))
            variants.append((i, k, "random", trial, " ".join(w for j, w in enumerate(words) if j not in drop)))
with open(d + "/deleted.jsonl", "w") as f:
    for v in variants:
        f.write(json.dumps({"text": v[4]}) + "\n")
subprocess.check_call(["nice", "-n", "5", tessera, "predict", cfg, "--checkpoint", ckpt, "--input", d + "/deleted.jsonl",
                       "--output", d + "/deleted.out.jsonl"])
preds = [json.loads(l) for l in open(d + "/deleted.out.jsonl")]
drops = {("shap", k): [] for k in range(1, K + 1)}
drops.update({("random", k): [] for k in range(1, K + 1)})
for v, p in zip(variants, preds):
    e = ex[v[0]]
    label = e["target"]["label"]
    drops[(v[2], v[1])].append(e["full_value"] - p["probabilities"][label])
print("inputs %d, KernelSHAP samples per input %s, removal = delete, random = mean of 5 draws" % (len(ex), ex[0]["evaluations"]))
print("| k | drop in p(predicted), top-k SHAP words | drop, k random words |")
print("|---|---|---|")
mean = lambda xs: sum(xs) / len(xs)
for k in range(1, K + 1):
    print("| %d | %.4f | %.4f |" % (k, mean(drops[("shap", k)]), mean(drops[("random", k)])))
print("| AOPC (k=1..%d) | %.4f | %.4f |" % (K, mean([mean(drops[("shap", k)]) for k in range(1, K + 1)]),
                                         mean([mean(drops[("random", k)]) for k in range(1, K + 1)])))
PYEOF
