#!/usr/bin/env python3
"""PEFT LoRA adapter fixtures (run once; outputs are committed, tests never run Python).

    scripts/fetch_torch_venv.sh            # .cache/venv-torch: torch, transformers, peft
    .cache/venv-torch/bin/python scripts/tools/make_peft_fixtures.py peft
    .cache/venv-torch/bin/python scripts/tools/make_peft_fixtures.py tessera [--tessera build/tessera]

Both run on the CPU in float32 (dtype=torch.float32, eager attention, dropout off, seeds
fixed) on the tiny Hugging Face models of tests/fixtures/hf/ (F16 weights upcast).

`peft` (PEFT -> Tessera): for each case below, get_peft_model() with a LoraConfig, every
lora_A/lora_B (and the new classifier head) filled with seeded N(0, 0.3) noise so B is
non-zero, then save_pretrained() into tests/fixtures/peft/<case>/ (adapter_config.json +
adapter_model.safetensors, as PEFT writes them) and reference.safetensors: the inputs
(I32) and PEFT's logits (F32). The ctest loads the directory as model.adapter on the
imported base model and compares logits (tests/peft/test_adapter_load.cpp).

  gpt2_causal_lm   GPT2LMHeadModel, target_modules ["c_attn", "mlp.c_proj"], r 2, alpha 5,
                   fan_in_fan_out (Conv1D); input_ids [1, 8]
  llama_causal_lm  LlamaForCausalLM (GQA), ["q_proj", "v_proj", "down_proj"], r 4, alpha 6,
                   use_rslora (scale alpha/sqrt(r)); input_ids [1, 8]
  bert_seq_cls     BertForSequenceClassification (3 labels, the pooler), ["query", "value"],
                   r 2, alpha 4, task SEQ_CLS (classifier in modules_to_save); input_ids,
                   attention_mask (row 1 right-padded), token_type_ids [2, 8]

`tessera` (Tessera -> PEFT): with the tessera binary, imports tiny_gpt2, trains it 4 steps
with LoRA (r 2, alpha 8, attn.c_attn + mlp.c_fc, lr 0.02) on a few lines of text and writes
the adapter with `tessera export --adapter --format peft` into
tests/fixtures/peft/tessera_gpt2_causal_lm/; then PeftModel.from_pretrained() loads that
directory on tiny_gpt2 and reference.safetensors records PEFT's logits for a fixed input.
The ctest loads the same directory into Tessera and compares with PEFT's logits.

Every reference.safetensors' __metadata__ says how it was made (versions, case,
max |logits(adapter) - logits(base)|: what the adapter moves).
"""
import argparse
import importlib.metadata as md
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from safetensors.torch import save_file

REPO = Path(__file__).resolve().parents[2]
HF = REPO / "tests" / "fixtures" / "hf"
OUT = REPO / "tests" / "fixtures" / "peft"
PACKAGES = ["torch", "transformers", "peft", "safetensors"]


def versions():
    return {p: md.version(p) for p in PACKAGES} | {"python": sys.version.split()[0]}


def load_base(kind, **kw):
    import transformers as tf
    cls = {"gpt2": tf.GPT2LMHeadModel, "llama": tf.LlamaForCausalLM, "bert_seq_cls": tf.BertForSequenceClassification}[kind]
    sub = HF_DIR[kind]
    torch.manual_seed(0)  # a new head (BertForSequenceClassification's classifier) is initialised here
    m = cls.from_pretrained(HF / sub, dtype=torch.float32, attn_implementation="eager", **kw)
    return m.eval()


HF_DIR = {"gpt2": "tiny_gpt2", "llama": "tiny_llama", "bert_seq_cls": "tiny_bert"}


def relative_base_path(d, kind):
    """adapter_config.json names the base model by its repository path, not this machine's."""
    p = d / "adapter_config.json"
    j = json.loads(p.read_text())
    j["base_model_name_or_path"] = f"tests/fixtures/hf/{HF_DIR[kind]}"
    p.write_text(json.dumps(j, indent=2, sort_keys=True) + "\n")


def logits_of(model, inputs):
    with torch.no_grad():
        return model(**inputs).logits.float().contiguous()


def write_reference(dirpath, inputs, logits, base_logits, case, note):
    tensors = {k: v.to(torch.int32).contiguous() for k, v in inputs.items()}
    tensors["logits"] = logits
    meta = {"case": case, "how": note, "adapter_effect_max_abs": f"{(logits - base_logits).abs().max().item():.6g}"}
    meta |= {k: v for k, v in versions().items()}
    save_file(tensors, str(dirpath / "reference.safetensors"), metadata=meta)
    print(f"{case}: logits {tuple(logits.shape)}, adapter moves them by {meta['adapter_effect_max_abs']}")


def make_peft_case(case, kind, lora_kw, inputs, task_type, model_kw=None):
    from peft import LoraConfig, get_peft_model
    base = load_base(kind, **(model_kw or {}))
    cfg = LoraConfig(task_type=task_type, lora_dropout=0.0, **lora_kw)
    model = get_peft_model(base, cfg)
    g = torch.Generator().manual_seed(2000)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_A" in name or "lora_B" in name or "modules_to_save" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    model.eval()
    out = logits_of(model, inputs)
    with model.disable_adapter():
        base_out = logits_of(model, inputs)
    d = OUT / case
    shutil.rmtree(d, ignore_errors=True)
    model.save_pretrained(str(d), safe_serialization=True)
    for extra in d.glob("README.md"):
        extra.unlink()
    relative_base_path(d, kind)
    write_reference(d, inputs, out, base_out, case,
                    f"get_peft_model({kind}, {json.dumps(lora_kw)}), lora_A/lora_B/head ~ N(0, 0.3) seed 2000")


def cmd_peft(_args):
    g = torch.Generator().manual_seed(7)
    ids8 = torch.randint(0, 1000, (1, 8), generator=g)
    make_peft_case("gpt2_causal_lm", "gpt2",
                   {"r": 2, "lora_alpha": 5, "target_modules": ["c_attn", "mlp.c_proj"], "fan_in_fan_out": True},
                   {"input_ids": ids8}, "CAUSAL_LM")
    ids8 = torch.randint(0, 1000, (1, 8), generator=g)
    make_peft_case("llama_causal_lm", "llama",
                   {"r": 4, "lora_alpha": 6, "target_modules": ["q_proj", "v_proj", "down_proj"], "use_rslora": True},
                   {"input_ids": ids8}, "CAUSAL_LM")
    ids = torch.randint(1, 1000, (2, 8), generator=g)
    mask = torch.ones(2, 8, dtype=torch.long)
    mask[1, 6:] = 0
    ids[1, 6:] = 0
    make_peft_case("bert_seq_cls", "bert_seq_cls", {"r": 2, "lora_alpha": 4, "target_modules": ["query", "value"]},
                   {"input_ids": ids, "attention_mask": mask, "token_type_ids": torch.zeros(2, 8, dtype=torch.long)},
                   "SEQ_CLS", {"num_labels": 3})


def run(cmd):
    print("+", " ".join(cmd))
    subprocess.run(cmd, check=True)


def cmd_tessera(args):
    from peft import PeftModel
    tessera = str(Path(args.tessera).resolve())
    case = "tessera_gpt2_causal_lm"
    d = OUT / case
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        run([tessera, "import", "--from", str(HF / "tiny_gpt2"), "--out", str(t / "base.h5")])
        (t / "text.txt").write_text("In the beginning God created the heaven and the earth.\n" * 40)
        run([tessera, "prepare", "--input", str(t / "text.txt"), "--output", str(t / "data.h5"),
             "--validation-fraction", "0.1", "--doc-separator", "line"])
        (t / "run.toml").write_text(f"""[model]
init_from = "{t / 'base.h5'}"
embd_pdrop = 0.0
attn_pdrop = 0.0
resid_pdrop = 0.0
[lora]
r = 2
alpha = 8
dropout = 0.0
targets = ["attn.c_attn", "mlp.c_fc"]
[data]
path = "{t / 'data.h5'}"
seq_len = 16
[train]
max_steps = 4
micro_batch_size = 2
eval_interval = 0
peak_gflops = 1
[optim]
lr = 0.02
schedule = "constant"
[run]
dir = "{t / 'run'}"
""")
        run([tessera, "train", str(t / "run.toml")])
        shutil.rmtree(d, ignore_errors=True)
        run([tessera, "export", "--adapter", "--format", "peft", "--checkpoint",
             str(t / "run" / "checkpoints" / "step_00000004.h5"), "--out", str(d)])
    base = load_base("gpt2")
    g = torch.Generator().manual_seed(11)
    inputs = {"input_ids": torch.randint(0, 1000, (1, 8), generator=g)}
    base_out = logits_of(base, inputs)
    model = PeftModel.from_pretrained(base, str(d)).eval()
    out = logits_of(model, inputs)
    write_reference(d, inputs, out, base_out, case,
                    "tessera export --adapter --format peft of a 4-step LoRA run on tiny_gpt2, "
                    "loaded by PeftModel.from_pretrained")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="what", required=True)
    sub.add_parser("peft")
    t = sub.add_parser("tessera")
    t.add_argument("--tessera", default=str(REPO / "build" / "tessera"))
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    {"peft": cmd_peft, "tessera": cmd_tessera}[args.what](args)


if __name__ == "__main__":
    main()
