#!/usr/bin/env python3
"""llama.cpp peer for `scripts/bench.sh decode`: greedy decode and prefill tokens/s of a GGUF
through llama-cpp-python (PyPI; benchmark-only, never a Tessera dependency).
Prefill = one eval() of the whole prompt; decode = N single-token eval()s, each the argmax of the
last logits (no end-of-text stop), so the counts match `tessera generate --timings --ignore-eos`.
Prints one JSON line."""
import argparse, json, os, time
import numpy as np
from llama_cpp import Llama

ap = argparse.ArgumentParser()
ap.add_argument("--model", required=True)
ap.add_argument("--prompt", required=True)
ap.add_argument("--tokens", type=int, default=64)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--label", default="")
a = ap.parse_args()
llm = Llama(model_path=a.model, n_ctx=1024, n_batch=1024, n_threads=a.threads, n_threads_batch=a.threads,
            logits_all=False, verbose=False)
n_vocab = llm.n_vocab()


def greedy():  # argmax of the last evaluated token's logits (the only row kept without logits_all)
    return int(np.argmax(np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(n_vocab,))))


prompt = llm.tokenize(a.prompt.encode(), add_bos=False, special=False)
t0 = time.perf_counter()
llm.eval(prompt)
t1 = time.perf_counter()
out = []
tok = greedy()
t2 = time.perf_counter()
for _ in range(a.tokens):
    out.append(tok)
    llm.eval([tok])
    tok = greedy()
t3 = time.perf_counter()
print(json.dumps({"bench": "decode", "engine": "llama.cpp (llama-cpp-python)", "weights": a.label,
                  "prompt_tokens": len(prompt), "prefill_s": t1 - t0, "prefill_tokens_per_s": len(prompt) / (t1 - t0),
                  "decode_tokens": a.tokens, "decode_s": t3 - t2, "decode_tokens_per_s": a.tokens / (t3 - t2),
                  "threads": a.threads, "loadavg_1m": os.getloadavg()[0], "text": llm.detokenize(out).decode("utf-8", "replace")[:120]}))
