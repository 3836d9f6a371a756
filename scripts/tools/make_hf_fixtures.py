#!/usr/bin/env python3
"""Hugging Face reference fixtures (run once; outputs are committed, tests never run Python).

    python3 -m venv .cache/venv-hf
    .cache/venv-hf/bin/pip install torch transformers tokenizers safetensors gguf sentencepiece accelerate
    scripts/fetch_assets.sh && scripts/fetch_gguf.sh          # MiniLM + SmolLM2 Q4_1 GGUF
    .cache/venv-hf/bin/python scripts/tools/make_hf_fixtures.py [all|minilm|tiny|smollm2|tokenizer|readme]

(partial runs keep the README's facts in .cache/hf_fixtures_info.json; the fixtures were made with
TESSERA_CORPUS=<`git show HEAD:tests/fixtures/tokenizer/corpus.txt`>, i.e. the committed corpus)

Everything runs on the CPU in float32 with eager attention, seeds fixed; the library
versions are written into tests/fixtures/hf/README.md and into every safetensors'
__metadata__ / jsonl header. Assets: env TESSERA_ASSETS or <repo>/.cache/assets; tokenizer
corpus: env TESSERA_CORPUS or tests/fixtures/tokenizer/corpus.txt (its sha256 goes in the header).

Writes (tests/fixtures/hf/ unless noted):
  minilm_hidden.safetensors     MiniLM (BertModel from minilm/model.safetensors): 4 sentences,
                                right-padded: input_ids/attention_mask/token_type_ids (I32),
                                last_hidden_state [4,T,384], pooler_output [4,384] (F32)
  tiny_gpt2/   tiny_bert/   tiny_roberta/   tiny_llama/
                                save_pretrained() of a randomly initialised model (config.json +
                                model.safetensors, weights F16, see README) and reference.safetensors
                                (inputs I32, outputs F32, computed in float32 from the F16 weights)
  smollm2_reference.safetensors + smollm2_reference.json
                                SmolLM2-135M-Instruct Q4_1 GGUF loaded by transformers (dequantised
                                to float32): prompt ids, last-position logits [3,V], greedy ids
  ../tokenizer/smollm2_gguf.jsonl         ids/offsets per corpus line, AutoTokenizer(gguf_file=...)
  ../tokenizer/smollm2_digits_diff.jsonl  the lines where SmolLM2's published pre-tokenizer
                                          (Digits(individual) + ByteLevel) gives other ids/offsets
  README.md                     provenance (versions, seeds, command) and notes
"""
import hashlib
import importlib.metadata as md
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "tests" / "fixtures" / "hf"
TOKFIX = REPO / "tests" / "fixtures" / "tokenizer"
CORPUS = Path(os.environ.get("TESSERA_CORPUS", TOKFIX / "corpus.txt"))  # override: e.g. a `git show HEAD:` copy
ASSETS = Path(os.environ.get("TESSERA_ASSETS", REPO / ".cache" / "assets"))
GGUF_DIR = ASSETS / "smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
PACKAGES = ["torch", "transformers", "tokenizers", "safetensors", "gguf", "accelerate", "numpy"]


def versions():
    return {p: md.version(p) for p in PACKAGES} | {"python": sys.version.split()[0]}


def sha256(p):
    return hashlib.sha256(Path(p).read_bytes()).hexdigest()


def save_st(path, tensors, meta):
    from safetensors.numpy import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for k, v in tensors.items():
        a = v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v)
        if a.dtype.kind in "iu":
            a = a.astype(np.int32)
        elif a.dtype.kind == "f":
            a = a.astype(np.float32)
        arrays[k] = np.ascontiguousarray(a)
    m = {k: v if isinstance(v, str) else json.dumps(v, ensure_ascii=False) for k, v in meta.items()}
    save_file(arrays, str(path), metadata=m | {"versions": json.dumps(versions())})
    print(f"{path.relative_to(REPO)}: {path.stat().st_size} bytes")


# ---------------------------------------------------------------- 1. MiniLM
MINILM_SENTENCES = [
    "Hello world!",
    "The quick brown fox jumps over the lazy dog.",
    "In the beginning God created the heaven and the earth, and the earth was without form.",
    "Tokenizers split text; models embed it.",
]


def make_minilm():
    import tokenizers
    from transformers import BertModel, BertTokenizerFast

    d = ASSETS / "minilm"
    # transformers 5: `vocab=` takes the vocab.txt path (a `vocab_file=` keyword is silently ignored).
    tok = BertTokenizerFast(vocab=str(d / "vocab.txt"), do_lower_case=True)
    enc = tok(MINILM_SENTENCES, padding=True, return_tensors="pt")  # right padding, [CLS] .. [SEP]
    ref = tokenizers.Tokenizer.from_file(str(d / "tokenizer.json"))
    ref.no_padding()
    ref.no_truncation()
    for i, s in enumerate(MINILM_SENTENCES):  # same ids as the checkpoint's own tokenizer.json
        n = int(enc["attention_mask"][i].sum())
        assert enc["input_ids"][i, :n].tolist() == ref.encode(s).ids, s
    model = BertModel.from_pretrained(str(d), attn_implementation="eager", dtype=torch.float32).eval()
    with torch.no_grad():
        out = model(**enc)
    has_pooler = model.pooler is not None
    t = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"],
         "token_type_ids": enc["token_type_ids"], "last_hidden_state": out.last_hidden_state}
    if has_pooler:
        t["pooler_output"] = out.pooler_output
    save_st(OUT / "minilm_hidden.safetensors", t, {
        "sentences": MINILM_SENTENCES,
        "model": "BertModel.from_pretrained(minilm/ config.json + model.safetensors), eval, fp32, eager attention",
        "tokenizer": "BertTokenizerFast(vocab=vocab.txt, do_lower_case=True), padding=True (right), [CLS]/[SEP] added",
        "model_safetensors_sha256": sha256(d / "model.safetensors"),
        "pooler": "checkpoint has pooler.dense weights" if has_pooler else "no pooler weights",
    })
    return {"minilm_pooler": has_pooler, "minilm_T": int(enc["input_ids"].shape[1])}


# ---------------------------------------------------------------- 2-4. tiny random models
def randomise(model, seed):
    """torch.manual_seed(seed) init, then every parameter that init left constant (biases = 0,
    LayerNorm/RMSNorm weights = 1) gets N(0, 0.1) noise so a bias/gain bug cannot hide; finally
    all weights are rounded to float16 (they are stored as F16) and kept as float32 values."""
    g = torch.Generator().manual_seed(seed + 1000)
    with torch.no_grad():
        for _, p in model.named_parameters():
            if p.numel() > 1 and torch.all(p == p.flatten()[0]):
                p.add_(torch.randn(p.shape, generator=g) * 0.1)
            p.copy_(p.half().float())
    return model.eval()


def save_model(model, name, inputs, output):
    """save_pretrained as F16, then reload the folder in float32 and check it reproduces `output`."""
    d = OUT / name
    d.mkdir(parents=True, exist_ok=True)
    model.half().save_pretrained(str(d), safe_serialization=True)
    model.float()
    again = type(model).from_pretrained(str(d), dtype=torch.float32, attn_implementation="eager").eval()
    got = again(**inputs)
    got = got.logits if hasattr(got, "logits") else got.last_hidden_state
    assert torch.equal(got, output), f"{name}: reloaded model differs"
    for f in sorted(d.iterdir()):
        print(f"{f.relative_to(REPO)}: {f.stat().st_size} bytes")


def make_tiny_gpt2():
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    cfg = GPT2Config(n_layer=2, n_head=4, n_embd=64, n_positions=64, vocab_size=1000, bos_token_id=999,
                     eos_token_id=999, attn_implementation="eager")
    model = randomise(GPT2LMHeadModel(cfg), 0)
    ids = torch.randint(0, 1000, (2, 16), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        logits = model(input_ids=ids).logits
    save_model(model, "tiny_gpt2", {"input_ids": ids}, logits)
    save_st(OUT / "tiny_gpt2" / "reference.safetensors", {"input_ids": ids, "logits": logits},
            {"model": "GPT2LMHeadModel(seed 0), eval, fp32 compute from the stored F16 weights, no attention mask",
             "input_ids": "torch.randint(0, 1000, (2, 16), Generator seed 1)"})


def make_tiny_bert():
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=1000, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=128, max_position_embeddings=64, type_vocab_size=2, pad_token_id=0,
                     attn_implementation="eager")
    model = randomise(BertModel(cfg, add_pooling_layer=True), 0)
    g = torch.Generator().manual_seed(2)
    lens, segA = [12, 9, 5], [6, 4, 5]  # row 2 is a single segment
    ids = torch.zeros(3, 12, dtype=torch.long)
    mask = torch.zeros(3, 12, dtype=torch.long)
    tt = torch.zeros(3, 12, dtype=torch.long)
    for b, (n, a) in enumerate(zip(lens, segA)):
        ids[b, :n] = torch.randint(5, 1000, (n,), generator=g)
        mask[b, :n] = 1
        tt[b, a:n] = 1
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask, token_type_ids=tt)
    save_model(model, "tiny_bert", {"input_ids": ids, "attention_mask": mask, "token_type_ids": tt},
               out.last_hidden_state)
    save_st(OUT / "tiny_bert" / "reference.safetensors",
            {"input_ids": ids, "attention_mask": mask, "token_type_ids": tt,
             "last_hidden_state": out.last_hidden_state, "pooler_output": out.pooler_output},
            {"model": "BertModel(seed 0, pooler), eval, fp32 compute from the stored F16 weights",
             "input": "3 rows, lengths 12/9/5, right-padded with 0; token_type 1 from 6/4/- on"})


def make_tiny_roberta():
    from transformers import RobertaConfig, RobertaModel

    torch.manual_seed(0)
    cfg = RobertaConfig(vocab_size=1000, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=128, max_position_embeddings=66, type_vocab_size=1, pad_token_id=1,
                        bos_token_id=0, eos_token_id=2, attn_implementation="eager")
    model = randomise(RobertaModel(cfg, add_pooling_layer=True), 0)
    g = torch.Generator().manual_seed(3)
    lens = [12, 7, 3]
    ids = torch.ones(3, 12, dtype=torch.long)  # pad id 1
    mask = torch.zeros(3, 12, dtype=torch.long)
    for b, n in enumerate(lens):
        ids[b, :n] = torch.randint(3, 1000, (n,), generator=g)
        ids[b, 0], ids[b, n - 1] = 0, 2  # <s> ... </s>
        mask[b, :n] = 1
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask)
    save_model(model, "tiny_roberta", {"input_ids": ids, "attention_mask": mask}, out.last_hidden_state)
    save_st(OUT / "tiny_roberta" / "reference.safetensors",
            {"input_ids": ids, "attention_mask": mask, "last_hidden_state": out.last_hidden_state,
             "pooler_output": out.pooler_output},
            {"model": "RobertaModel(seed 0, pooler), eval, fp32 compute from the stored F16 weights",
             "positions": "position_ids = cumsum(input_ids != 1) * (input_ids != 1) + 1 (padding_idx 1); "
                          "pad positions use row 1; max_position_embeddings = 64 + 2",
             "input": "3 rows, lengths 12/7/3, <s>=0 ... </s>=2, right-padded with 1, no token_type_ids"})


def make_tiny_llama():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=1000, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                      rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=False, attn_implementation="eager")
    model = randomise(LlamaForCausalLM(cfg), 0)
    ids = torch.randint(0, 1000, (2, 16), generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        logits = model(input_ids=ids).logits
    save_model(model, "tiny_llama", {"input_ids": ids}, logits)
    save_st(OUT / "tiny_llama" / "reference.safetensors", {"input_ids": ids, "logits": logits},
            {"model": "LlamaForCausalLM(seed 0, GQA 4/2 heads, untied lm_head), eval, fp32 compute from the "
                      "stored F16 weights, no attention mask, positions 0..15",
             "input_ids": "torch.randint(0, 1000, (2, 16), Generator seed 4)"})


def make_tiny():
    make_tiny_gpt2()
    make_tiny_bert()
    make_tiny_roberta()
    make_tiny_llama()


# ---------------------------------------------------------------- 5. SmolLM2 from the GGUF
SMOLLM2_PROMPTS = [
    "The capital of France is",
    "def fibonacci(n):",
    "Once upon a time, there was a little",
]


def ggml_reverse_permute(w, n_head):
    """The formula we document (row r of head h in HF = row of the GGUF tensor below)."""
    out, d = w.shape[0], w.shape[0] // n_head // 2
    idx = np.empty(out, dtype=np.int64)
    for h in range(n_head):
        for r in range(2 * d):
            idx[h * 2 * d + r] = h * 2 * d + (2 * r if r < d else 2 * (r - d) + 1)
    return w[idx]


def make_smollm2():
    import gguf
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = GGUF_DIR / GGUF_NAME
    tok = AutoTokenizer.from_pretrained(str(GGUF_DIR), gguf_file=GGUF_NAME)
    model = AutoModelForCausalLM.from_pretrained(str(GGUF_DIR), gguf_file=GGUF_NAME, dtype=torch.float32,
                                                 attn_implementation="eager").eval()
    cfg = model.config
    ids = [tok(p, add_special_tokens=True)["input_ids"] for p in SMOLLM2_PROMPTS]
    logits = []
    with torch.no_grad():
        for x in ids:
            logits.append(model(input_ids=torch.tensor([x])).logits[0, -1])
        gen = model.generate(torch.tensor([ids[0]]), attention_mask=torch.ones(1, len(ids[0]), dtype=torch.long),
                             max_new_tokens=20, do_sample=False, pad_token_id=tok.pad_token_id)
    cont = gen[0, len(ids[0]):].tolist()

    # Check the documented q/k un-permutation against what transformers loaded.
    r = gguf.GGUFReader(str(path))
    tens = {t.name: t for t in r.tensors}
    def deq(name):
        t = tens[name]
        a = gguf.quants.dequantize(t.data, t.tensor_type)
        return a.reshape([int(x) for x in reversed(t.shape.tolist())]) if a.ndim == 1 else a
    attn = model.model.layers[0].self_attn
    for gname, hw, nh in [("blk.0.attn_q.weight", attn.q_proj.weight, cfg.num_attention_heads),
                          ("blk.0.attn_k.weight", attn.k_proj.weight, cfg.num_key_value_heads),
                          ("blk.0.attn_v.weight", attn.v_proj.weight, None)]:
        g = deq(gname)
        mine = ggml_reverse_permute(g, nh) if nh else g
        assert np.array_equal(mine, hw.detach().numpy()), gname
    tied = "output.weight" not in tens
    types = {}
    for t in r.tensors:
        types.setdefault(t.tensor_type.name, []).append(t.name)
    type_summary = {k: (len(v), v[:3]) for k, v in types.items()}

    meta = {
        "prompts": SMOLLM2_PROMPTS,
        "gguf": GGUF_NAME, "gguf_sha256": sha256(path),
        "model": "AutoModelForCausalLM.from_pretrained(dir, gguf_file=...) dequantised to float32, eval, eager",
        "tokenizer": "AutoTokenizer.from_pretrained(dir, gguf_file=...), add_special_tokens=True (adds nothing: "
                     "add_bos_token false)",
        "generate": "greedy: generate(max_new_tokens=20, do_sample=False), no chat template",
        "greedy_text": tok.decode(cont),
        "config": {k: getattr(cfg, k, None) for k in ["vocab_size", "hidden_size", "intermediate_size",
                   "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "head_dim", "rms_norm_eps",
                   "max_position_embeddings", "tie_word_embeddings"]} | {"rope": str(getattr(cfg, "rope_parameters", None))},
        "lm_head_tied_to_token_embd": tied,
        "gguf_tensor_types": type_summary,
    }
    t = {f"prompt{i}_ids": torch.tensor(x) for i, x in enumerate(ids)}
    t |= {"last_logits": torch.stack(logits), "greedy_ids": torch.tensor(cont)}
    save_st(OUT / "smollm2_reference.safetensors", t, meta)
    (OUT / "smollm2_reference.json").write_text(json.dumps(
        meta | {"prompt_ids": ids, "greedy_ids": cont}, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return {"smollm2_greedy_text": meta["greedy_text"], "smollm2_tied": tied, "smollm2_types": type_summary,
            "smollm2_config": meta["config"]}


# ---------------------------------------------------------------- 6. SmolLM2 tokenizer parity
def char_to_byte_table(s):
    t = [0]
    for ch in s:
        t.append(t[-1] + len(ch.encode("utf-8")))
    return t


def make_tokenizer():
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer

    text = CORPUS.read_text(encoding="utf-8")
    lines = text[:-1].split("\n")
    hf = AutoTokenizer.from_pretrained(str(GGUF_DIR), gguf_file=GGUF_NAME)
    bt = hf.backend_tokenizer
    j = json.loads(bt.to_str())
    # SmolLM2's published tokenizer.json: the same vocab/merges/added tokens, pre-tokenizer
    # Sequence[Digits(individual_digits=True), ByteLevel(add_prefix_space=False, use_regex=True)]
    # (what llama.cpp applies for tokenizer.ggml.pre = "smollm": "\p{N}" split, then the GPT-2 regex).
    digits_pre = {"type": "Sequence", "pretokenizers": [
        {"type": "Digits", "individual_digits": True},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}]}
    dig = Tokenizer.from_str(json.dumps(j | {"pre_tokenizer": digits_pre}))
    common = {
        "tokenizers": md.version("tokenizers"), "transformers": md.version("transformers"),
        "python": sys.version.split()[0], "corpus_sha256": sha256(CORPUS),
        "corpus_lines": len(lines), "offsets": "utf-8 byte offsets [begin,end) flattened",
        "gguf": GGUF_NAME, "gguf_sha256": sha256(GGUF_DIR / GGUF_NAME),
    }
    rows, diff = [], []
    n_rt = 0
    for i, s in enumerate(lines):
        tb = char_to_byte_table(s)
        e = bt.encode(s)
        row = {"ids": e.ids, "offsets": [tb[x] for o in e.offsets for x in o]}
        if bt.decode(e.ids, skip_special_tokens=False) != s:
            row["roundtrip"] = False
            n_rt += 1
        rows.append(row)
        d = dig.encode(s)
        drow = {"ids": d.ids, "offsets": [tb[x] for o in d.offsets for x in o]}
        if drow["ids"] != row["ids"] or drow["offsets"] != row["offsets"]:
            diff.append({"line": i + 1} | drow)

    def dump(name, header, rs):
        with open(TOKFIX / name, "w", encoding="utf-8") as f:
            f.write(json.dumps({"header": header}, ensure_ascii=False) + "\n")
            for r in rs:
                f.write(json.dumps(r, separators=(",", ":")) + "\n")
        print(f"tests/fixtures/tokenizer/{name}: {len(rs)} rows, {os.path.getsize(TOKFIX / name)} bytes")

    dump("smollm2_gguf.jsonl", common | {
        "tokenizer": "transformers AutoTokenizer.from_pretrained(dir, gguf_file=...).backend_tokenizer.encode(line)",
        "pre_tokenizer": j["pre_tokenizer"], "decoder": j["decoder"],
        "added_tokens": [a["content"] for a in j["added_tokens"]], "roundtrip_failures": n_rt}, rows)
    dump("smollm2_digits_diff.jsonl", common | {
        "tokenizer": "HF tokenizers: smollm2_gguf's tokenizer with SmolLM2's published pre_tokenizer; rows only "
                     "for corpus lines (1-based 'line') whose ids or offsets differ from smollm2_gguf.jsonl",
        "pre_tokenizer": digits_pre, "lines_differing": len(diff)}, diff)
    return {"tok_pre_hf": j["pre_tokenizer"], "tok_digits_diff": len(diff), "tok_rt_fail": n_rt,
            "tok_added": len(j["added_tokens"])}


# ---------------------------------------------------------------- README
def write_readme(info):
    v = versions()
    s = f"""# Hugging Face reference fixtures

Made by `scripts/tools/make_hf_fixtures.py all` (see its header for the venv and assets), on the CPU,
float32, eager attention, with {", ".join(f"{k} {x}" for k, x in v.items())}.
Inputs are int32, outputs float32 (safetensors; `__metadata__` says how each was made).

| file | what |
|---|---|
| `minilm_hidden.safetensors` | MiniLM-L6-H384 (`BertModel` from `minilm/model.safetensors` + `config.json`): 4 sentences tokenized by `BertTokenizerFast(vocab.txt)`, right-padded to T={info.get("minilm_T", "?")}; `input_ids`, `attention_mask`, `token_type_ids`, `last_hidden_state` [4,T,384]{", `pooler_output` [4,384] (the checkpoint has `pooler.dense` weights)" if info.get("minilm_pooler") else " (no pooler weights in the checkpoint)"} |
| `tiny_gpt2/` | `GPT2LMHeadModel` n_layer 2, n_head 4, n_embd 64, n_positions 64, vocab 1000 (gelu_new, tied lm_head); `reference.safetensors`: `input_ids` [2,16], `logits` [2,16,1000] |
| `tiny_bert/` | `BertModel` 2 layers, 4 heads, hidden 64, intermediate 128, vocab 1000, 64 positions, 2 token types, pooler; input with padding and token types; `last_hidden_state`, `pooler_output` |
| `tiny_roberta/` | `RobertaModel` same sizes, pad_token_id 1, `max_position_embeddings` 66 (64 + padding_idx 1 + 1: positions start at 2), type_vocab 1; right-padded input; `last_hidden_state`, `pooler_output` |
| `tiny_llama/` | `LlamaForCausalLM` 2 layers, hidden 64, 4 heads / 2 kv heads (GQA), intermediate 128, vocab 1000, untied lm_head, rope_theta 10000, rms_norm_eps 1e-5; `input_ids` [2,16], `logits` [2,16,1000] |
| `smollm2_reference.safetensors`, `.json` | SmolLM2-135M-Instruct Q4_1 GGUF through transformers: `prompt{{0,1,2}}_ids`, `last_logits` [3,{(info.get("smollm2_config") or {}).get("vocab_size", "V")}], `greedy_ids` [20] (prompt 0) |
| `../tokenizer/smollm2_gguf.jsonl` | SmolLM2 tokenizer as transformers builds it from the GGUF: ids + byte offsets for every line of `tokenizer/corpus.txt` |
| `../tokenizer/smollm2_digits_diff.jsonl` | the {info.get("tok_digits_diff", "?")} corpus lines where SmolLM2's published pre-tokenizer (individual digits) differs |

## Tiny models: seeds and storage

`torch.manual_seed(0)` before constructing each model (transformers' own init: N(0, 0.02) weights).
Parameters init leaves constant (biases 0, LayerNorm/RMSNorm gains 1) then get N(0, 0.1) noise
(`torch.Generator` seed 1000) so a bias or gain bug cannot hide. All weights are then rounded to
float16 and saved with `save_pretrained` as **F16** (`config.json` says `"dtype": "float16"`) to keep the
folder small; the reference outputs are computed in **float32** from exactly those F16 values upcast,
so an importer that widens F16 to float32 should match to float32 rounding (~1e-5 relative).
Inputs: `torch.Generator` seeds 1 (gpt2), 2 (bert), 3 (roberta), 4 (llama).

## SmolLM2: the reference weights are the dequantised GGUF

`AutoModelForCausalLM.from_pretrained(dir, gguf_file=name)` dequantises every tensor to float32 with
`gguf.quants.dequantize` (Q4_1 blocks: x = d * q + m; Q8_0: x = d * q) and renames the tensors
(`blk.N.attn_q.weight` -> `model.layers.N.self_attn.q_proj.weight`, ...). lm_head is
{"tied to `token_embd.weight` (the GGUF has no `output.weight`)" if info.get("smollm2_tied") else "`output.weight`"}.
Tensor types in the file: {", ".join(f"{k} x{v[0]} (e.g. {v[1][0]})" for k, v in info.get("smollm2_types", {}).items())}.

**q/k un-permutation** (transformers `modeling_gguf_pytorch_utils.LlamaTensorProcessor._reverse_permute_weights`,
undoing llama.cpp `convert_hf_to_gguf.py`'s `permute`): for `attn_q` with n_head = num_attention_heads and
`attn_k` with n_head = num_key_value_heads (attn_v, attn_output untouched), on the row-major [out, in] matrix
(ggml dims reversed), with d = out / n_head / 2 (= head_dim / 2):

    hf = W.reshape(n_head, d, 2, in).swapaxes(1, 2).reshape(out, in)
    i.e. for head h, r in [0, 2d):  HF[h*2d + r] = GGUF[h*2d + 2r]           if r <  d
                                    HF[h*2d + r] = GGUF[h*2d + 2(r-d) + 1]   if r >= d

(GGUF stores each head's rows interleaved (even/odd = the two rotary halves) for llama.cpp's
adjacent-pair RoPE; HF's rotate_half wants the halves contiguous.) The script asserts this formula
against the loaded `q_proj`/`k_proj` of layer 0. Config read from the GGUF: {json.dumps(info.get("smollm2_config", {}))}.
Greedy continuation of prompt 0: {json.dumps(info.get("smollm2_greedy_text", ""))}.

## SmolLM2 tokenizer: what transformers builds from the GGUF

The GGUF says `tokenizer.ggml.model = gpt2`, `tokenizer.ggml.pre = smollm`. transformers' GGUF loader
(`integrations/gguf/gguf_tokenizer_mapping.py`) builds a `GPT2Tokenizer` from tokens + merges, adds the 17
control tokens (`token_type` 3: `<|endoftext|>`, `<|im_start|>`, `<|im_end|>`, ...) as special added tokens,
and has **no entry for `smollm`** in `GGUF_PRE_TOKENIZER_SPLITS`, so its pre-tokenizer stays
`{json.dumps(info.get("tok_pre_hf"))}` (GPT-2 regex only). SmolLM2's published `tokenizer.json` (and llama.cpp
for pre `smollm`: a `\\p{{N}}` split before the GPT-2 regex) splits every number character on its own first
(`Digits(individual_digits=True)`). The vocabulary has no merge containing an ASCII digit, so the two agree
except around non-ASCII numbers (`½`, `²`, `Ⅻ`, `٣`, ...): {info.get("tok_digits_diff", "?")} of the 2459 corpus
lines differ; `smollm2_digits_diff.jsonl` holds those lines as the published tokenizer encodes them.
Decode round trip failures (HF): {info.get("tok_rt_fail", "?")}. The vocabulary has no token for 21 bytes (0x04 0x06
0x13 0x14 0x16 0x1D 0xC0 0xC1 0xF1 0xF2 0xF5-0xFF); HF's BPE (no unk token) drops them and merges across them.
Tessera's reader (`src/tokenizer/gguf_tokenizer.hpp`): `GgufPreTokenizer::Gpt2` reproduces `smollm2_gguf.jsonl`,
the default `Auto` (from `tokenizer.ggml.pre`) the published pre-tokenizer.
"""
    (OUT / "README.md").write_text(s, encoding="utf-8")
    print("tests/fixtures/hf/README.md written")


def main():
    what = sys.argv[1] if len(sys.argv) > 1 else "all"
    torch.set_grad_enabled(False)
    info_path = REPO / ".cache" / "hf_fixtures_info.json"  # README facts kept across partial runs
    info = json.loads(info_path.read_text()) if info_path.exists() else {}
    OUT.mkdir(parents=True, exist_ok=True)
    if what in ("all", "minilm"):
        info |= make_minilm()
    if what in ("all", "tiny"):
        make_tiny()
    if what in ("all", "smollm2"):
        info |= make_smollm2()
    if what in ("all", "tokenizer"):
        info |= make_tokenizer()
    info_path.parent.mkdir(parents=True, exist_ok=True)
    info_path.write_text(json.dumps(info))
    write_readme(info)
    total = sum(f.stat().st_size for f in OUT.rglob("*") if f.is_file())
    print(f"tests/fixtures/hf total: {total} bytes")


if __name__ == "__main__":
    main()
