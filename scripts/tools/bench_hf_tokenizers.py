#!/usr/bin/env python3
"""Single-thread throughput of HF `tokenizers` (and tiktoken, when installed) on the same
corpus and configurations as bench/bench_tokenizer.cpp; prints the same JSON lines.

  RAYON_NUM_THREADS=1 python bench_hf_tokenizers.py [--mb 5] [--reps 3]

One `encode` call per line (no encode_batch), after one warm-up pass over the corpus.
Needs PyPI `tokenizers` (and optionally `tiktoken`) and scripts/fetch_assets.sh's assets.
"""
import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--assets", default=os.environ.get("TESSERA_ASSETS", str(REPO / ".cache" / "assets")))
    ap.add_argument("--corpus", default=str(REPO / "tests/fixtures/tokenizer/corpus.txt"))
    ap.add_argument("--mb", type=float, default=5.0)
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    import tokenizers
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors

    A = Path(a.assets)
    base = Path(a.corpus).read_text(encoding="utf-8")[:-1].split("\n")
    lines, nbytes = [], 0
    while nbytes < a.mb * 1e6:
        for l in base:
            lines.append(l)
            nbytes += len(l.encode("utf-8")) + 1
    mb = nbytes / 1e6

    bpe = Tokenizer(models.BPE.from_file(str(A / "gpt2/vocab.json"), str(A / "gpt2/merges.txt")))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.post_processor = processors.ByteLevel(trim_offsets=False)
    bpe.add_special_tokens([AddedToken("<|endoftext|>", special=True)])
    bert = Tokenizer.from_file(str(A / "minilm/tokenizer.json"))
    bert.no_truncation()
    bert.no_padding()

    cases = [
        (f"gpt2-bpe(vocab.json+merges.txt) ids+offsets [hf tokenizers {tokenizers.__version__}]",
         lambda s: len(bpe.encode(s).ids)),
        (f"bert-uncased-wordpiece ids+offsets [hf tokenizers {tokenizers.__version__}]",
         lambda s: len(bert.encode(s, add_special_tokens=False).ids)),
    ]
    try:  # SmolLM2's tokenizer as transformers builds it from the GGUF (the Rust backend, no Python loop per token)
        from transformers import AutoTokenizer
        import transformers
        gguf = sorted((A / "smollm2").glob("*.gguf"))[0]
        smol = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name).backend_tokenizer
        cases.append((f"smollm2-bpe(gguf) ids+offsets [hf tokenizers {tokenizers.__version__}, transformers {transformers.__version__}]",
                      lambda s: len(smol.encode(s, add_special_tokens=False).ids)))
    except (ImportError, IndexError):
        pass
    try:
        import tiktoken
        from tiktoken.load import load_tiktoken_bpe
        from tiktoken_ext.openai_public import r50k_pat_str
        enc = tiktoken.Encoding(name="gpt2-local", pat_str=r50k_pat_str,
                                mergeable_ranks=load_tiktoken_bpe(str(A / "gpt2/gpt2.tiktoken")),
                                special_tokens={"<|endoftext|>": 50256}, explicit_n_vocab=50257)
        cases.append((f"gpt2-bpe(gpt2.tiktoken) ids [tiktoken {tiktoken.__version__}]",
                      lambda s: len(enc.encode(s, allowed_special={"<|endoftext|>"}))))
    except ImportError:
        pass

    for config, run in cases:
        for l in base:
            run(l)
        best, tokens = 1e30, 0
        for _ in range(a.reps):
            t0 = time.perf_counter()
            tokens = sum(run(l) for l in lines)
            best = min(best, time.perf_counter() - t0)
        print(json.dumps({"bench": "tokenizer", "impl": "python", "config": config, "mb_per_s": mb / best,
                          "tokens_per_s": tokens / best, "mb": mb, "tokens": tokens, "threads": 1}), flush=True)


if __name__ == "__main__":
    main()
