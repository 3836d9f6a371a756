#!/usr/bin/env python3
"""Generates the safetensors/GGUF test fixtures and fuzz seed corpora.

    python scripts/tools/make_format_fixtures.py            # small fixtures + seeds
    python scripts/tools/make_format_fixtures.py --real     # + reference values of the
                                                            #   real MiniLM / SmolLM2 files

Needs numpy, and for references the PyPI packages `gguf` (gguf.quants.dequantize) and
`safetensors`, e.g. in a venv: python3 -m venv .cache/venv-formats &&
.cache/venv-formats/bin/pip install gguf numpy safetensors.

Writes (all small, committed):
  tests/fixtures/formats/tiny.safetensors      written by HF safetensors (F32, F16, BF16, F64, I64 + metadata)
  tests/fixtures/formats/tiny_safetensors.json its values as float32 (numpy)
  tests/fixtures/formats/hf_written.safetensors HF's own serialisation of 3 tensors (writer test)
  tests/fixtures/formats/tiny.gguf             hand-built GGUF v3: every metadata type, arrays, tokenizer,
                                               tensors F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 + Q6_K
  tests/fixtures/formats/tiny_gguf.json        gguf.quants.dequantize of each tensor
  tests/fixtures/formats/minilm_reference.json  (--real) first values + sums of MiniLM tensors
  tests/fixtures/formats/smollm2_reference.json (--real) metadata + first 64 values + sums
  fuzz/corpus/fuzz_safetensors/*, fuzz/corpus/fuzz_gguf/*  valid and invalid seeds
  fuzz/corpus/fuzz_{bpe_vocab_merges,tiktoken,wordpiece_vocab}/*  tokenizer seeds
"""
import base64
import json
import os
import struct
import sys

import numpy as np

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIX = os.path.join(REPO, "tests", "fixtures", "formats")
CORPUS = os.path.join(REPO, "fuzz", "corpus")
ASSETS = os.environ.get("TESSERA_ASSETS", os.path.join(REPO, ".cache", "assets"))


def put(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, 0o644)


# ---------------------------------------------------------------- safetensors
def st_bytes(header_obj, data, pad=True, raw_header=None):
    h = raw_header if raw_header is not None else json.dumps(header_obj, separators=(",", ":")).encode()
    if pad:
        h += b" " * ((8 - (8 + len(h)) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + data


def st_seeds():
    d = os.path.join(CORPUS, "fuzz_safetensors")
    a = np.arange(6, dtype=np.float32) - 2.5
    b = np.array([1.0, -2.0, 65504.0, 6e-8], dtype=np.float16)
    hdr = {"__metadata__": {"format": "pt"},
           "a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
           "b": {"dtype": "F16", "shape": [4], "data_offsets": [24, 32]},
           "c": {"dtype": "BF16", "shape": [2], "data_offsets": [32, 36]},
           "d": {"dtype": "I64", "shape": [1], "data_offsets": [36, 44]},
           "e": {"dtype": "U8", "shape": [0], "data_offsets": [44, 44]}}
    data = a.tobytes() + b.tobytes() + struct.pack("<HH", 0x3f80, 0xc000) + struct.pack("<q", -7)
    seeds = {
        "valid_mixed": st_bytes(hdr, data),
        "valid_empty": st_bytes({}, b""),
        "valid_f64": st_bytes({"x": {"dtype": "F64", "shape": [2], "data_offsets": [0, 16]}},
                              struct.pack("<dd", 1.5, -1e300)),
        "valid_f8": st_bytes({"x": {"dtype": "F8_E4M3", "shape": [2], "data_offsets": [0, 2]}}, b"\x01\x02"),
        "bad_len_huge": struct.pack("<Q", 1 << 62) + b"{}",
        "bad_len_short": b"\x05\x00\x00",
        "bad_json": st_bytes(None, b"", raw_header=b'{"a": {"dtype": "F32", "shape": [1]'),
        "bad_dtype": st_bytes({"x": {"dtype": "F31", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4),
        "bad_overlap": st_bytes({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                 "y": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, b"\0" * 8),
        "bad_size": st_bytes({"x": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\0" * 8),
        "bad_past_end": st_bytes({"x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, b"\0" * 8),
        "bad_overflow": st_bytes({"x": {"dtype": "F32", "shape": [4294967296, 4294967296, 16],
                                        "data_offsets": [0, 0]}}, b""),
        "bad_duplicate": st_bytes(None, b"\0" * 8, raw_header=b'{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
                                  b'"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}'),
        "bad_deep": st_bytes(None, b"", raw_header=b"[" * 200 + b"]" * 200),
        "bad_metadata": st_bytes({"__metadata__": {"k": 1}}, b""),
    }
    for k, v in seeds.items():
        put(os.path.join(d, k), v)


def tiny_safetensors():
    from safetensors.numpy import save_file
    rng = np.random.default_rng(1234)
    tensors = {
        "f32.weight": rng.standard_normal((3, 5)).astype(np.float32),
        "f16.weight": (rng.standard_normal((4, 4)) * 3).astype(np.float16),
        "f64.bias": rng.standard_normal(7).astype(np.float64),
        "i64.ids": np.array([0, -1, 5, 1 << 40], dtype=np.int64),
        "scalar": np.array(3.25, dtype=np.float32),
    }
    # bfloat16: numpy has none; store the top halves of float32 values (exact bf16 values)
    bf = (rng.standard_normal(6).astype(np.float32).view(np.uint32) & 0xFFFF0000).view(np.float32)
    path = os.path.join(FIX, "tiny.safetensors")
    save_file(tensors, path, metadata={"producer": "make_format_fixtures.py"})
    # add the BF16 tensor by rewriting the header (safetensors.numpy cannot save bf16)
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    hdr = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    hdr["bf16.weight"] = {"dtype": "BF16", "shape": [2, 3], "data_offsets": [len(data), len(data) + 12]}
    data += (bf.view(np.uint32) >> 16).astype(np.uint16).tobytes()
    put(path, st_bytes(hdr, data))
    # reference via HF safetensors (torch-free: numpy loader cannot do bf16, so check it by hand)
    from safetensors import safe_open
    ref = {}
    with safe_open(path, "np") as f:
        for k in f.keys():
            if k == "bf16.weight":
                continue
            v = f.get_tensor(k)
            ref[k] = {"dtype": hdr[k]["dtype"], "shape": list(v.shape),
                      "values": [float(x) for x in v.astype(np.float32).reshape(-1)]}
    ref["bf16.weight"] = {"dtype": "BF16", "shape": [2, 3], "values": [float(x) for x in bf]}
    # a file written by HF's serializer, for the byte-identical writer test
    from safetensors.numpy import save
    put(os.path.join(FIX, "hf_written.safetensors"),
        save({"b": np.array([1.5, -2.0, 3.0], dtype=np.float32), "c": np.zeros(1, dtype=np.float32),
              "a.x": np.array([[1.0, 0.5], [-0.25, 65504.0]], dtype=np.float16)}, metadata={"k": "v"}))
    out = {"file": "tiny.safetensors", "metadata": {"producer": "make_format_fixtures.py"}, "tensors": ref}
    put(os.path.join(FIX, "tiny_safetensors.json"), (json.dumps(out, indent=1, sort_keys=True) + "\n").encode())


# ---------------------------------------------------------------- GGUF
U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)
SCALAR_FMT = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", F32: "<f", BOOL: "<?",
              U64: "<Q", I64: "<q", F64: "<d"}


def gstr(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


def gval(t, v):
    if t == STR:
        return gstr(v)
    if t == ARR:
        et, items = v
        return struct.pack("<IQ", et, len(items)) + b"".join(gval(et, x) for x in items)
    return struct.pack(SCALAR_FMT[t], v)


def gguf_bytes(kvs, tensors, version=3, alignment=32):
    """kvs: [(key, type, value)], tensors: [(name, dims, ggml_type, raw_bytes)]."""
    out = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(kvs))
    for k, t, v in kvs:
        out += gstr(k) + struct.pack("<I", t) + gval(t, v)
    off = 0
    offsets = []
    for name, dims, gt, raw in tensors:
        offsets.append(off)
        out += gstr(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        out += struct.pack("<IQ", gt, off)
        off += len(raw)
        off += (-off) % alignment
    out += b"\0" * ((-len(out)) % alignment)
    data = b""
    for (name, dims, gt, raw), o in zip(tensors, offsets):
        data += b"\0" * (o - len(data)) + raw
    return out + data


def f16(x):
    return np.array([x], dtype=np.float16).tobytes()


def quant_blocks(gt, nblocks, rng):
    """Random but finite blocks of ggml type gt."""
    out = b""
    for _ in range(nblocks):
        d = f16(rng.uniform(0.01, 0.2))
        m = f16(rng.uniform(-1, 1))
        if gt == 2:    # Q4_0
            out += d + rng.integers(0, 256, 16, dtype=np.uint8).tobytes()
        elif gt == 3:  # Q4_1
            out += d + m + rng.integers(0, 256, 16, dtype=np.uint8).tobytes()
        elif gt == 6:  # Q5_0
            out += d + rng.integers(0, 256, 4, dtype=np.uint8).tobytes() + rng.integers(0, 256, 16, dtype=np.uint8).tobytes()
        elif gt == 7:  # Q5_1
            out += d + m + rng.integers(0, 256, 20, dtype=np.uint8).tobytes()
        elif gt == 8:  # Q8_0
            out += d + rng.integers(-128, 128, 32, dtype=np.int8).tobytes()
        elif gt == 14:  # Q6_K: ql[128] qh[64] scales[16] d
            out += rng.integers(0, 256, 208, dtype=np.uint8).tobytes() + d
    return out


def tiny_gguf_parts(rng):
    kvs = [
        ("general.architecture", STR, "llama"),
        ("general.name", STR, "tiny"),
        ("general.alignment", U32, 32),
        ("llama.block_count", U32, 2),
        ("llama.embedding_length", U64, 64),
        ("llama.rope.freq_base", F32, 10000.0),
        ("test.u8", U8, 200), ("test.i8", I8, -5), ("test.u16", U16, 60000), ("test.i16", I16, -30000),
        ("test.i32", I32, -123456), ("test.i64", I64, -(1 << 40)), ("test.f64", F64, 0.125),
        ("test.bool", BOOL, True), ("test.f32_array", ARR, (F32, [0.5, -1.0, 2.0])),
        ("test.i64_array", ARR, (I64, [1, -2, 3])), ("test.bool_array", ARR, (BOOL, [True, False])),
        ("test.empty_array", ARR, (U8, [])),
        ("tokenizer.ggml.model", STR, "gpt2"),
        ("tokenizer.ggml.pre", STR, "smollm"),
        ("tokenizer.ggml.tokens", ARR, (STR, ["<|endoftext|>", "a", "b", "ab", "\u0120a", "\u00e9"])),
        ("tokenizer.ggml.token_type", ARR, (I32, [3, 1, 1, 1, 1, 1])),
        ("tokenizer.ggml.merges", ARR, (STR, ["a b", "\u0120 a"])),
        ("tokenizer.ggml.bos_token_id", U32, 0),
        ("tokenizer.ggml.eos_token_id", U32, 0),
        ("tokenizer.ggml.add_bos_token", BOOL, False),
    ]
    f32 = rng.standard_normal(64).astype(np.float32)
    f16v = (rng.standard_normal(64) * 2).astype(np.float16)
    bf = (rng.standard_normal(32).astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)
    tensors = [
        ("t.f32", [32, 2], 0, f32.tobytes()),
        ("t.f16", [64], 1, f16v.tobytes()),
        ("t.bf16", [32], 30, bf.tobytes()),
        ("t.q4_0", [64, 2], 2, quant_blocks(2, 4, rng)),
        ("t.q4_1", [32, 3], 3, quant_blocks(3, 3, rng)),
        ("t.q5_0", [64], 6, quant_blocks(6, 2, rng)),
        ("t.q5_1", [64], 7, quant_blocks(7, 2, rng)),
        ("t.q8_0", [32, 2], 8, quant_blocks(8, 2, rng)),
        ("t.q6_k", [256], 14, quant_blocks(14, 1, rng)),
    ]
    return kvs, tensors


def tiny_gguf():
    import gguf
    rng = np.random.default_rng(42)
    kvs, tensors = tiny_gguf_parts(rng)
    put(os.path.join(FIX, "tiny.gguf"), gguf_bytes(kvs, tensors))
    ref = {}
    for name, dims, gt, raw in tensors:
        qt = gguf.GGMLQuantizationType(gt)
        if gt == 30:
            vals = (np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)
        else:
            vals = gguf.quants.dequantize(np.frombuffer(raw, dtype=np.uint8), qt).reshape(-1)
        ref[name] = {"type": qt.name, "dims": dims, "values": [float(x) for x in vals.astype(np.float32)]}
    # cross-check our parse with the gguf package's reader
    r = gguf.GGUFReader(os.path.join(FIX, "tiny.gguf"))
    assert [t.name for t in r.tensors] == [t[0] for t in tensors]
    out = {"file": "tiny.gguf", "tensors": ref}
    put(os.path.join(FIX, "tiny_gguf.json"), (json.dumps(out, indent=1, sort_keys=True) + "\n").encode())


def gguf_seeds():
    d = os.path.join(CORPUS, "fuzz_gguf")
    rng = np.random.default_rng(7)
    kvs, tensors = tiny_gguf_parts(rng)
    small = [t for t in tensors if t[0] in ("t.f16", "t.q4_1", "t.q8_0", "t.q6_k")]
    seeds = {
        "valid_tiny": gguf_bytes(kvs, tensors),
        "valid_v2_small": gguf_bytes(kvs[:6], small, version=2),
        "valid_meta_only": gguf_bytes(kvs, []),
        "valid_align64": gguf_bytes([("general.alignment", U32, 64)], small, alignment=64),
        "bad_magic": b"GGUX" + gguf_bytes([], [])[4:],
        "bad_version": gguf_bytes([], [], version=1),
        "bad_count": b"GGUF" + struct.pack("<IQQ", 3, 1 << 60, 1 << 60),
        "bad_string_len": b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 1 << 40) + b"abc",
        "bad_nested_array": b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + gstr("x") + struct.pack("<I", ARR)
                            + struct.pack("<IQ", ARR, 1) + struct.pack("<IQ", U8, 0) + b"\0" * 16,
        "bad_dims": gguf_bytes([], [("x", [32, 0, 1, 1, 1], 0, b"")]),
        "bad_type": gguf_bytes([], [("x", [32], 99, b"\0" * 128)]),
        "bad_past_end": gguf_bytes([], [("x", [1024], 0, b"\0" * 16)]),
        "bad_alignment": gguf_bytes([("general.alignment", U32, 3)], []),
        "truncated": gguf_bytes(kvs, tensors)[:300],
    }
    for k, v in seeds.items():
        put(os.path.join(d, k), v)


def tokenizer_seeds():
    put(os.path.join(CORPUS, "fuzz_bpe_vocab_merges", "valid"),
        json.dumps({"a": 0, "b": 1, "ab": 2, "\u0120": 3, "\u0120a": 4, "<|endoftext|>": 5}).encode()
        + b"\0#version: 0.2\na b\n\u0120 a\n".decode().encode())
    put(os.path.join(CORPUS, "fuzz_bpe_vocab_merges", "bad_json"), b'{"a": 0, \0a b\n')
    put(os.path.join(CORPUS, "fuzz_bpe_vocab_merges", "bad_merge"), b'{"a": 0, "b": 1}\0a c\nab\n')
    ranks = b"".join(base64.b64encode(bytes([i])) + b" %d\n" % i for i in range(256))
    put(os.path.join(CORPUS, "fuzz_tiktoken", "valid_bytes"), ranks + base64.b64encode(b"ab") + b" 256\n")
    put(os.path.join(CORPUS, "fuzz_tiktoken", "bad_b64"), b"!!!! 0\nYQ== x\n")
    put(os.path.join(CORPUS, "fuzz_wordpiece_vocab", "valid"),
        b"[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\n##s\n!\nit\n'\ns\ncafe\n")
    put(os.path.join(CORPUS, "fuzz_wordpiece_vocab", "no_unk"), b"a\nb\n")


# ---------------------------------------------------------------- real files
def minilm_reference():
    from safetensors import safe_open
    path = os.path.join(ASSETS, "minilm", "model.safetensors")
    names = ["embeddings.word_embeddings.weight", "embeddings.LayerNorm.bias",
             "encoder.layer.0.attention.self.query.weight", "encoder.layer.5.output.dense.bias",
             "pooler.dense.weight"]
    out = {"file": "minilm/model.safetensors", "tensors": {}}
    with safe_open(path, "np") as f:
        keys = list(f.keys())
        out["count"] = len(keys)
        for n in names:
            if n not in keys:
                continue
            v = f.get_tensor(n)
            flat = v.reshape(-1)
            out["tensors"][n] = {"shape": list(v.shape), "dtype": str(v.dtype),
                                 "first": [float(x) for x in flat[:16]],
                                 "last": float(flat[-1]),
                                 "sum": float(flat.astype(np.float64).sum())}
    put(os.path.join(FIX, "minilm_reference.json"), (json.dumps(out, indent=1, sort_keys=True) + "\n").encode())


def smollm2_reference():
    import gguf
    path = os.path.join(ASSETS, "smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
    r = gguf.GGUFReader(path)

    def field(k):
        f = r.fields[k]
        v = f.parts[f.data[0]]
        return bytes(v).decode() if f.types[0] == gguf.GGUFValueType.STRING else v.tolist()[0]

    toks = r.fields["tokenizer.ggml.tokens"]
    merges = r.fields["tokenizer.ggml.merges"]
    out = {"file": "smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", "version": int(field("GGUF.version")),
           "tensor_count": len(r.tensors),
           "metadata": {k: field(k) for k in ["general.architecture", "llama.block_count", "llama.embedding_length",
                                              "llama.attention.head_count", "llama.attention.head_count_kv",
                                              "llama.vocab_size", "llama.context_length", "llama.feed_forward_length",
                                              "tokenizer.ggml.model", "tokenizer.ggml.pre",
                                              "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id"]},
           "tokenizer": {"n_tokens": len(toks.data), "n_merges": len(merges.data),
                         "tokens_first": [bytes(toks.parts[i]).decode() for i in toks.data[:8]],
                         "token_1000": bytes(toks.parts[toks.data[1000]]).decode(),
                         "merges_first": [bytes(merges.parts[i]).decode() for i in merges.data[:4]]},
           "tensors": {}}
    out["metadata"]["llama.rope.freq_base"] = float(field("llama.rope.freq_base"))
    for name in ["token_embd.weight", "blk.0.attn_q.weight", "blk.29.ffn_down.weight", "blk.0.attn_norm.weight",
                 "output_norm.weight"]:
        t = next(t for t in r.tensors if t.name == name)
        v = gguf.quants.dequantize(t.data, t.tensor_type).reshape(-1).astype(np.float32)
        out["tensors"][name] = {"type": t.tensor_type.name, "dims": [int(x) for x in t.shape],
                                "first": [float(x) for x in v[:64]],
                                "sum": float(v.astype(np.float64).sum()),
                                "abs_sum": float(np.abs(v.astype(np.float64)).sum())}
    put(os.path.join(FIX, "smollm2_reference.json"), (json.dumps(out, indent=1, sort_keys=True) + "\n").encode())


def main():
    st_seeds()
    gguf_seeds()
    tokenizer_seeds()
    tiny_safetensors()
    tiny_gguf()
    if "--real" in sys.argv:
        minilm_reference()
        smollm2_reference()
    print("make_format_fixtures.py: wrote", FIX, "and", CORPUS)


if __name__ == "__main__":
    main()
