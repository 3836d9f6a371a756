#!/usr/bin/env bash
# Runs Tessera's benchmarks (building first if needed). Each measured configuration
# prints one JSON object per line; with no argument every benchmark runs.
#   scripts/bench.sh                 all
#   scripts/bench.sh train_step      one (bench/bench_<name>.cpp)
#   scripts/bench.sh parallel        DP/TP/PP/ZeRO-1 scaling, bytes per axis (mpirun; not in "all")
#   scripts/bench.sh tune            tune's samplers vs Optuna's on test functions (not in "all")
#   scripts/bench.sh peers           GPT-2 124M train step: Tessera fp32 and bf16 vs PyTorch fp32 eager and
#                                    bf16 autocast, same shapes, same run (PyTorch from PyPI into a venv; not in "all")
#   scripts/bench.sh decode          SmolLM2-135M greedy decode + prefill tokens/s: Tessera vs llama.cpp
#                                    (llama-cpp-python from PyPI into a venv, CPU only; not in "all")
#   scripts/bench.sh attention       one attention layer, materialized vs tiled: memory and time (not in "all")
#   scripts/bench.sh hybrid          GPT-2 train step, 1 rank x 1 thread vs 2 ranks x 1 vs 1 rank x 2 OpenMP
#                                    threads: the engine built against the OpenMP Kokkos in
#                                    $BUILD_DIR-omp-engine (configured here when missing; not in "all")
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/mpi_env.sh
BUILD_DIR=${TESSERA_BUILD_DIR:-build}
which="${1:-all}"
if [[ $which == decode ]]; then  # needs only the tessera binary
  [[ -x "$BUILD_DIR/tessera" ]] || scripts/install.sh >&2
  cmake --build "$BUILD_DIR" -j"$(nproc)" --target tessera >&2
elif [[ $which == hybrid ]]; then  # the tessera binary, Serial and OpenMP Kokkos
  [[ -x "$BUILD_DIR/tessera" ]] || scripts/install.sh >&2
  cmake --build "$BUILD_DIR" -j"$(nproc)" --target tessera >&2
  if [[ ! -f "$BUILD_DIR-omp-engine/CMakeCache.txt" ]]; then
    KOKKOS_OPENMP=$(scripts/build_kokkos.sh openmp)
    cmake -S . -B "$BUILD_DIR-omp-engine" -DCMAKE_BUILD_TYPE=Release -DKokkos_ROOT="$KOKKOS_OPENMP" \
      -DTESSERA_BUILD_TESTS=OFF -DTESSERA_BUILD_BENCH=OFF -DTESSERA_ENABLE_CUDA=OFF >&2
  fi
  cmake --build "$BUILD_DIR-omp-engine" -j"$(nproc)" --target tessera >&2
else
  [[ -x "$BUILD_DIR/bench/bench_train_step" ]] || scripts/install.sh >&2
  cmake --build "$BUILD_DIR" -j"$(nproc)" >&2
fi
run_train_step() {
  # GPT-2 124M, random init: a short-sequence and a long-sequence configuration.
  "$BUILD_DIR"/bench/bench_train_step --preset gpt2-small --batch 4 --seq 64 --steps 5 --warmup 1
  "$BUILD_DIR"/bench/bench_train_step --preset gpt2-small --batch 8 --seq 512 --steps 2 --warmup 1
}
run_generation() {
  # Per-token decoding time vs prompt length: KV cache (flat) vs full recompute (grows).
  "$BUILD_DIR"/bench/bench_generation --layers 12 --width 768 --heads 12 --prompts 16,128,512,896 --tokens 8
}
run_tokenizer() {
  # C++ tokenizers vs Hugging Face tokenizers/tiktoken (if importable) on the same corpus.
  "$BUILD_DIR"/bench/bench_tokenizer
  python3 scripts/tools/bench_hf_tokenizers.py 2>/dev/null || echo '{"bench":"tokenizer_hf","note":"python tokenizers/tiktoken not installed"}'
}
run_tune() {
  # tune's samplers (random, BO, GA) vs Optuna's (random, TPE, GP) on Branin, Hartmann-6 and
  # noisy Branin: best value after N evaluations over 20 seeds. Optuna goes into a venv under
  # .cache/ (pip) when it is not importable; then a Markdown table of both.
  local out="$BUILD_DIR/bench_tune.jsonl" py=python3 venv=.cache/venv-tune-bench
  "$BUILD_DIR"/bench/bench_tune --seeds "${TUNE_SEEDS:-20}" --budget "${TUNE_BUDGET:-30}" | tee "$out"
  if [[ -x .cache/venv-hf/bin/python ]] && .cache/venv-hf/bin/python -c "import optuna, scipy, torch" 2>/dev/null; then
    py=.cache/venv-hf/bin/python
  elif ! python3 -c "import optuna, scipy, torch" 2>/dev/null; then
    [[ -x $venv/bin/python ]] || python3 -m venv "$venv"
    "$venv/bin/pip" install -q optuna scipy torch >&2 || "$venv/bin/pip" install -q optuna >&2
    py=$venv/bin/python
  fi
  "$py" scripts/tools/bench_tune_optuna.py --seeds "${TUNE_SEEDS:-20}" --budget "${TUNE_BUDGET:-30}" \
    --samplers "${TUNE_OPTUNA_SAMPLERS:-random,tpe,gp}" | tee -a "$out"
  /usr/bin/python3 scripts/tools/bench_tune_table.py "$out"
}
run_peers() {
  # GPT-2 124M at B=4 T=64 and B=8 T=512, one rank, the machine's threads: Tessera fp32 and bf16
  # (train.precision; bf16 GEMMs through oneDNN when built, kernels/gemm_bf16.hpp) and PyTorch
  # (fp32 eager, bf16 autocast) alternating, then a Markdown table of ratios. PyTorch comes from
  # .cache/venv-torch when it exists, else .cache/venv-torch-bench (pip, PyPI) when python3 has no
  # torch; without it the table shows Tessera alone. PEERS_SHAPES overrides the "B T steps" list
  # (e.g. PEERS_SHAPES="4 64 3;8 512 2"); the 1-minute load average is recorded per shape.
  local out="$BUILD_DIR/bench_peers.jsonl" py=python3 venv=.cache/venv-torch-bench threads shapes
  threads=$(nproc)
  if [[ -x .cache/venv-torch/bin/python ]] && .cache/venv-torch/bin/python -c "import torch" 2>/dev/null; then
    py=.cache/venv-torch/bin/python
  elif ! python3 -c "import torch" 2>/dev/null; then
    [[ -x $venv/bin/python ]] || python3 -m venv "$venv"
    "$venv/bin/python" -c "import torch" 2>/dev/null || "$venv/bin/pip" install -q torch >&2 || true
    py=$venv/bin/python
  fi
  IFS=';' read -r -a shapes <<< "${PEERS_SHAPES:-4 64 5;8 512 2}"
  : > "$out"
  for shape in "${shapes[@]}"; do
    read -r b t n <<< "$shape"
    echo "{\"bench\":\"loadavg\",\"batch\":$b,\"seq_len\":$t,\"loadavg\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}" | tee -a "$out"
    for prec in fp32 bf16; do
      # bf16 on a CPU without avx512_bf16 exits naming the feature: recorded, the run goes on.
      "$BUILD_DIR"/bench/bench_train_step --preset gpt2-small --batch "$b" --seq "$t" --steps "$n" --warmup 1 \
        --precision "$prec" | tee -a "$out" || \
        echo "{\"bench\":\"train_step_skipped\",\"batch\":$b,\"seq_len\":$t,\"precision\":\"$prec\",\"note\":\"bench_train_step failed (bf16 needs avx512_bf16)\"}" | tee -a "$out"
    done
    for dt in fp32 bf16; do
      # PyTorch as shipped: its own libgomp's default (spinning) wait policy, not mpi_env.sh's passive.
      env -u OMP_WAIT_POLICY "$py" bench/torch_train_step.py --batch "$b" --seq "$t" --steps "$n" --warmup 1 \
        --dtype "$dt" --threads "$threads" 2>/dev/null | tee -a "$out" || echo '{"bench":"train_step_torch","note":"torch not available"}'
    done
    echo "{\"bench\":\"loadavg\",\"batch\":$b,\"seq_len\":$t,\"loadavg_after\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}" | tee -a "$out"
  done
  /usr/bin/python3 scripts/tools/bench_peers_table.py "$out"
}
run_attention() {
  # One GPT-2 124M attention layer (12 heads x 64, B=1, attn_pdrop 0.1), forward+backward at T=1024 and 2048:
  # materialized (B·H·T·T probabilities) vs tiled (model.attention = tiled); each in its own process for its
  # peak RSS, ratios in the same run. One BLAS thread: the tiled kernels run on one core on the Serial backend.
  # PyTorch's sdpa on the same shapes only when torch is importable (not installed for this).
  OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1} "$BUILD_DIR"/bench/bench_attention --seq "${ATTN_SEQS:-1024,2048}" \
    --repeats "${ATTN_REPEATS:-3}"
  if python3 -c "import torch" 2>/dev/null; then
    OMP_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1} python3 scripts/tools/bench_attention_sdpa.py --seq "${ATTN_SEQS:-1024,2048}" \
      --repeats "${ATTN_REPEATS:-3}"
  else
    echo '{"bench":"attention","path":"torch_sdpa","note":"torch not importable; not installed for this benchmark"}'
  fi
}
run_decode() {
  # SmolLM2-135M-Instruct, one prompt of DECODE_PROMPT_WORDS words, DECODE_TOKENS greedy tokens (eos ignored),
  # DECODE_THREADS threads on both sides (Tessera: one rank, OpenBLAS threads; llama.cpp: n_threads).
  # Weights: the Q4_1 GGUF is imported to float32 (Tessera computes in fp32), exported back as an F32 GGUF,
  # so llama.cpp on that file runs the very weights Tessera runs; llama.cpp on the Q4_1 file for reference.
  # llama-cpp-python is built from its sdist into .cache/venv-llamacpp-bench (CPU only) when missing.
  local gguf=.cache/assets/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf d="$BUILD_DIR/bench_decode"
  local venv=.cache/venv-llamacpp-bench threads=${DECODE_THREADS:-2} n=${DECODE_TOKENS:-64} out prompt rc
  out="$d/decode.jsonl"
  [[ -f $gguf ]] || { echo "bench decode: missing $gguf (scripts/fetch_assets.sh)" >&2; exit 1; }
  mkdir -p "$d"
  [[ -f $d/smollm2_fp32.h5 ]] || "$BUILD_DIR"/tessera import --from "$gguf" --out "$d/smollm2_fp32.h5" >&2
  [[ -f $d/smollm2_f32.gguf ]] || "$BUILD_DIR"/tessera export --format gguf --checkpoint "$d/smollm2_fp32.h5" \
    --out "$d/smollm2_f32.gguf" --quant f32 --tokenizer "$gguf" >&2
  # DECODE_INSTALL=0: no pip install (building llama.cpp from the sdist took over 25 min on this busy 2-core machine)
  if [[ ${DECODE_INSTALL:-1} == 1 ]] && { ! [[ -x $venv/bin/python ]] || ! "$venv/bin/python" -c "import llama_cpp" 2>/dev/null; }; then
    [[ -x $venv/bin/python ]] || python3 -m venv "$venv"
    CMAKE_ARGS="-DGGML_CUDA=OFF -DGGML_METAL=OFF -DGGML_VULKAN=OFF -DGGML_BLAS=OFF -DGGML_NATIVE=ON" \
      CMAKE_BUILD_PARALLEL_LEVEL=2 nice -n 10 "$venv/bin/pip" install -q llama-cpp-python >&2 || true
  fi
  prompt=$(/usr/bin/python3 -c "import sys; w='The quick brown fox jumps over the lazy dog while the farmer counts his sheep in the field'.split(); print(' '.join(w[i % len(w)] for i in range(int(sys.argv[1]))))" "${DECODE_PROMPT_WORDS:-100}")
  : > "$out"
  OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads "$BUILD_DIR"/tessera generate --checkpoint "$d/smollm2_fp32.h5" \
    --tokenizer "$gguf" --prompt "$prompt" --max-new-tokens $((n + 1)) --temperature 0 --ignore-eos --timings \
    2> "$d/tessera.err" > "$d/tessera.txt" || { cat "$d/tessera.err" >&2; exit 1; }
  /usr/bin/python3 -c "import json, os, sys; r = json.loads([l for l in open(sys.argv[1]) if l.startswith('{')][-1]); r.update(bench='decode', engine='tessera', weights='fp32 (Q4_1 dequantized)', threads=int(sys.argv[2]), loadavg_1m=os.getloadavg()[0], text=open(sys.argv[3]).read()[len(sys.argv[4]):][:120]); print(json.dumps(r))" \
    "$d/tessera.err" "$threads" "$d/tessera.txt" "$prompt" | tee -a "$out"
  if [[ -x $venv/bin/python ]] && "$venv/bin/python" -c "import llama_cpp" 2>/dev/null; then
    for w in "f32:$d/smollm2_f32.gguf" "q4_1:$gguf"; do
      # A peer that crashes (llama-cpp-python 0.3.36 segfaults on the Q4_1 file here) leaves a note row, not an abort.
      "$venv/bin/python" bench/llamacpp_decode.py --model "${w#*:}" --label "${w%%:*}" --prompt "$prompt" \
        --tokens "$n" --threads "$threads" > "$d/llamacpp_${w%%:*}.json" 2> "$d/llamacpp_${w%%:*}.err" && rc=0 || rc=$?
      if [[ $rc == 0 ]]; then tee -a "$out" < "$d/llamacpp_${w%%:*}.json"
      else echo "{\"bench\":\"decode\",\"engine\":\"llama.cpp\",\"weights\":\"${w%%:*}\",\"note\":\"exit $rc (see $d/llamacpp_${w%%:*}.err)\"}" | tee -a "$out"; fi
    done
  else
    echo '{"bench":"decode","engine":"llama.cpp","note":"llama-cpp-python not installed (pip failed)"}' | tee -a "$out"
  fi
  /usr/bin/python3 - "$out" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ts = next(r for r in rows if r["engine"] == "tessera")
print("| engine | weights | prompt tokens | prefill tok/s | decode tok/s | Tessera / this (prefill, decode) | load avg (1 min) |")
print("|---|---|---|---|---|---|---|")
for r in rows:
    if "decode_tokens_per_s" not in r: continue
    print("| %s | %s | %d | %.1f | %.1f | %.2f, %.2f | %.1f |" % (r["engine"], r["weights"], r["prompt_tokens"], r["prefill_tokens_per_s"],
          r["decode_tokens_per_s"], ts["prefill_tokens_per_s"] / r["prefill_tokens_per_s"], ts["decode_tokens_per_s"] / r["decode_tokens_per_s"],
          r.get("loadavg_1m", float("nan"))))
for r in rows:
    if "note" in r: print("%s %s: %s" % (r["engine"], r.get("weights", ""), r["note"]))
for r in rows:
    if "text" in r: print("%s %s: %r" % (r["engine"], r["weights"], r["text"][:80]))
PYEOF
}
run_hybrid() {
  # MPI x threads at the same global batch (scripts/tools/bench_hybrid.py; docs/results.md "Kokkos backends").
  /usr/bin/python3 scripts/tools/bench_hybrid.py --build "$BUILD_DIR-omp-engine" --serial-build "$BUILD_DIR" "$@"
}
run_parallel() {
  # Small GPT-2 (4 layers, 8 heads, width 256, byte vocab, T=128) on the KJV text:
  # DP weak scaling, TP/PP overheads, PP bubble, bytes per axis vs analytic, ZeRO-1
  # optimizer state. See docs/parallelism.md; extra arguments go to the script.
  /usr/bin/python3 scripts/tools/bench_parallel.py --build "$BUILD_DIR" "$@"
}
case "$which" in
  all) run_train_step; run_tokenizer; run_generation ;;
  generation) run_generation ;;
  train_step) run_train_step ;;
  tokenizer) run_tokenizer ;;
  parallel) shift; run_parallel "$@" ;;
  tune) run_tune ;;
  peers) run_peers ;;
  attention) run_attention ;;
  decode) run_decode ;;
  hybrid) shift; run_hybrid "$@" ;;
  *) echo "bench.sh: unknown benchmark '$which' (known: train_step, tokenizer, generation, parallel, tune, peers, attention, decode, hybrid)" >&2; exit 2 ;;
esac
