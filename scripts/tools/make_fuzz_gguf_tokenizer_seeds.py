"""Seed corpus of fuzz/fuzz_gguf_tokenizer.cpp: four tiny GGUF files with tokenizer
metadata (pre "smollm", pre "gpt2", no pre, a bad merge), written with PyPI `gguf`
(0.19.0; e.g. the .cache/venv-hf of scripts/tools/make_hf_fixtures.py):

    .cache/venv-hf/bin/python scripts/tools/make_fuzz_gguf_tokenizer_seeds.py
"""
import os

import gguf
import numpy as np

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "fuzz", "corpus", "fuzz_gguf_tokenizer")


def make(name, pre, tokens, merges, types):
    w = gguf.GGUFWriter(os.path.join(OUT, name), "llama")
    w.add_tokenizer_model("gpt2")
    if pre is not None:
        w.add_tokenizer_pre(pre)
    w.add_token_list(tokens)
    w.add_token_merges(merges)
    w.add_token_types(types)
    w.add_eos_token_id(0)
    w.add_tensor("token_embd.weight", np.zeros((len(tokens), 2), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    os.makedirs(OUT, exist_ok=True)
    base = ["<|endoftext|>", "a", "b", "c", "Ġ", "1", "2", "ab", "Ġa", "abc", "Ġab"]
    types = [3] + [1] * (len(base) - 1)
    make("smollm_pre.gguf", "smollm", base, ["a b", "Ġ a", "ab c", "Ġa b"], types)
    make("gpt2_pre.gguf", "gpt2", base, ["a b", "Ġ a", "ab c"], types)
    make("no_pre.gguf", None, base, ["a b"], types)
    make("bad_merge.gguf", "gpt2", base, ["a", "zz yy"], types)


if __name__ == "__main__":
    main()
