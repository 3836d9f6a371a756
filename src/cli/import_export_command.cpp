#include "src/parallel/root_call.hpp"
#include "src/cli/import_export_command.hpp"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "io/adapter_file.hpp"
#include "io/checkpoint.hpp"
#include "src/config/run_config.hpp"
#include "src/train/adapter_loading.hpp"
#include "src/train/trainer.hpp"
#include "io/hf_checkpoint.hpp"
#include "io/hf_config.hpp"
#include "io/model_checkpoint.hpp"
#include "src/compress/gguf_export.hpp"
#include "src/runtime/error.hpp"

namespace tessera {

namespace {

struct ImportExportOptions {
  CLI::App* import_cmd = nullptr;
  CLI::App* export_cmd = nullptr;
  std::string from;        // import: HF directory or .gguf
  std::string checkpoint;  // export: Tessera checkpoint
  std::string out;         // import: checkpoint file; export: directory
  std::string format = "hf";
  bool adapter = false;    // export: the LoRA adapter only; import: a PEFT adapter directory
  std::string base;        // import --adapter: the base model's Tessera checkpoint
  std::string dtype;       // export --format hf: fp32 (default) | bf16 | fp16
  GgufExportOptions gguf;  // --format gguf
};

ImportExportOptions& options() {
  static ImportExportOptions o;
  return o;
}

int rank_of(MPI_Comm comm) {
  int r = 0;
  MPI_Comm_rank(comm, &r);
  return r;
}


std::string describe(const ImportedModel& m) {
  const TransformerConfig& c = m.config;
  int64_t n = 0;
  for (const auto& [name, t] : m.tensors) n += int64_t(t.data.size());
  char buf[512];
  std::snprintf(buf, sizeof buf, "%s (%s), %d layers, hidden %d, %d heads (%d kv), ffn %d, vocab %d, %s, %zu tensors, %lld parameters",
                hf_architecture(c).c_str(), family_name(c.family), c.n_layer, c.n_embd, c.n_head, c.kv_heads(),
                c.ffn_dim(), c.vocab_size, c.tie_word_embeddings ? "tied embeddings" : "untied embeddings",
                m.tensors.size(), static_cast<long long>(n));
  return buf;
}

// PEFT directory -> Tessera adapter file: the base checkpoint gives the architecture,
// the PEFT config the head (task_type) and [lora]; tensors are checked against the base.
int run_import_adapter(const ImportExportOptions& o, MPI_Comm comm) {
  require(!o.base.empty(), "import --adapter: --base BASE.h5 (the base model's Tessera checkpoint) is required");
  const TrainingState st = read_checkpoint_state(o.base, comm);
  require(!st.config_toml.empty(), o.base + ": checkpoint has no stored config (/run/config)");
  RunConfig base = parse_model_config(st.config_toml, o.base + ": /run/config");
  resolve_init_from(base, comm);
  base.model.transformer.lora = LoraConfig{};
  LoraAdapter a = read_peft_directory(o.from, base.model.transformer, /*adopt_head=*/true);
  check_adapter_tensors(a, a.base);
  a.config_toml = adapter_config_toml(a.base);
  write_adapter_file(o.out, a, comm);
  if (rank_of(comm) == 0) {
    std::printf("tessera import --adapter: %s -> %s (base %s, head %s)\n  LoRA r=%d alpha=%g dropout=%g, %zu tensors\n",
                o.from.c_str(), o.out.c_str(), o.base.c_str(), head_name(a.base.head), a.base.lora.r, a.base.lora.alpha,
                a.base.lora.dropout, a.tensors.size());
    if (!a.note.empty()) std::printf("  %s\n", a.note.c_str());
  }
  return 0;
}

int run_import(const ImportExportOptions& o, MPI_Comm comm) {
  if (o.adapter) return run_import_adapter(o, comm);
  require(o.base.empty(), "import: --base applies to --adapter only");
  ImportedModel m;
  on_root(comm, [&] { m = import_pretrained(o.from); });
  write_model_checkpoint(o.out, m, comm);
  if (rank_of(comm) == 0) {
    std::printf("tessera import: %s -> %s\n  %s\n", o.from.c_str(), o.out.c_str(), describe(m).c_str());
    if (!m.dropped.empty()) {
      std::printf("  not imported (buffers, tied duplicates, pre-training heads):");
      for (const std::string& d : m.dropped) std::printf(" %s", d.c_str());
      std::printf("\n");
    }
  }
  return 0;
}

int run_export_gguf(const ImportExportOptions& o, MPI_Comm comm) {
  const GgufExportSummary s = export_gguf(o.checkpoint, o.out, o.gguf, comm);
  if (rank_of(comm) == 0) {
    std::string types;
    for (const auto& [t, n] : s.tensors_by_type) types += (types.empty() ? "" : ", ") + std::to_string(n) + " " + t;
    std::printf("tessera export: %s -> %s (GGUF v3, %s, %s): %s tensors, %.1f MB\n", o.checkpoint.c_str(),
                o.out.c_str(), s.architecture.c_str(), s.file_type.c_str(), types.c_str(), double(s.bytes) / 1e6);
    if (s.requantized > 0)
      std::printf("  %d packed tensors requantised to --quant %s (lossy)\n", s.requantized, o.gguf.quant.c_str());
    if (s.tokenizer)
      std::printf("  tokenizer metadata from %s\n", o.gguf.tokenizer.c_str());
    else
      std::printf("  note: no tokenizer metadata written (pass --tokenizer FILE.gguf to copy tokenizer.*, or a GPT-2 vocab.json + merges.txt directory; llama.cpp "
                  "needs it to load the file)\n");
  }
  return 0;
}

int run_export_adapter(const ImportExportOptions& o, MPI_Comm comm) {
  require(o.format == "tessera" || o.format == "peft",
          "export --adapter: --format '" + o.format + "' is not supported (tessera: one HDF5 adapter file, peft: a "
          "directory with adapter_model.safetensors + adapter_config.json)");
  const LoraAdapter a = adapter_from_checkpoint(o.checkpoint, comm);
  int64_t n = 0;
  for (const auto& [name, t] : a.tensors) n += int64_t(t.data.size());
  if (o.format == "peft") on_root(comm, [&] { write_peft_directory(o.out, a); });
  else write_adapter_file(o.out, a, comm);
  if (rank_of(comm) == 0)
    std::printf("tessera export --adapter: %s -> %s%s\n  LoRA r=%d alpha=%g dropout=%g, %zu tensors, %lld parameters\n",
                o.checkpoint.c_str(), o.out.c_str(),
                o.format == "peft" ? "/{adapter_model.safetensors,adapter_config.json}" : "", a.base.lora.r,
                a.base.lora.alpha, a.base.lora.dropout, a.tensors.size(), static_cast<long long>(n));
  return 0;
}

int run_export(ImportExportOptions o, MPI_Comm comm) {
  if (o.adapter) {
    if (o.format == "hf") o.format = "tessera";
    require(o.dtype.empty(), "export --adapter: --dtype is not supported (adapters are written in fp32)");
    return run_export_adapter(o, comm);
  }
  require(o.format != "tessera" && o.format != "peft", "export: --format " + o.format + " needs --adapter");
  require(o.dtype.empty() || o.format == "hf",
          "export: --dtype applies to --format hf (gguf: --quant f32 | f16 | ...; adapters are written in fp32)");
  if (o.format == "gguf") return run_export_gguf(o, comm);
  require(o.format == "hf", "export: --format '" + o.format + "' is not supported (hf, gguf)");
  require(o.gguf.quant.empty() && o.gguf.tokenizer.empty() && o.gguf.name.empty(),
          "export: --quant, --tokenizer and --name apply to --format gguf only");
  const StDtype dtype = o.dtype == "bf16" ? StDtype::BF16 : o.dtype == "fp16" ? StDtype::F16 : StDtype::F32;
  const ImportedModel m = read_model_checkpoint(o.checkpoint, comm);
  on_root(comm, [&] { export_hf_directory(o.out, m, dtype); });
  if (rank_of(comm) == 0)
    std::printf("tessera export: %s -> %s/{model.safetensors,config.json} (%s)\n  %s\n", o.checkpoint.c_str(),
                o.out.c_str(), st_dtype_name(dtype), describe(m).c_str());
  return 0;
}

}  // namespace

void register_import_export(CLI::App& app) {
  ImportExportOptions& o = options();
  o.import_cmd = app.add_subcommand("import", "Hugging Face directory or GGUF file -> Tessera checkpoint");
  o.import_cmd->add_option("--from", o.from, "HF model directory (config.json + model.safetensors) or .gguf file")
      ->required();
  o.import_cmd->add_option("--out", o.out, "checkpoint file to write (.h5)")->required();
  o.import_cmd->add_flag("--adapter", o.adapter,
                         "--from is a PEFT LoRA directory (adapter_config.json + adapter_model.safetensors): write a "
                         "Tessera adapter file for the base model --base");
  o.import_cmd->add_option("--base", o.base, "import --adapter: the base model's Tessera checkpoint (tessera import)");

  o.export_cmd = app.add_subcommand("export", "Tessera checkpoint -> Hugging Face directory or GGUF file");
  o.export_cmd->add_option("--checkpoint", o.checkpoint, "Tessera checkpoint (.h5)")->required();
  o.export_cmd->add_option("--out", o.out, "hf: directory for model.safetensors + config.json; gguf: the .gguf file")
      ->required();
  o.export_cmd->add_flag("--adapter", o.adapter,
                         "LoRA checkpoint: write only the adapter (lora_A/lora_B + task head); --format tessera (HDF5 "
                         "file, default) or peft (directory)");
  o.export_cmd->add_option("--format", o.format, "output format (hf | gguf; with --adapter: tessera | peft)")
      ->check(CLI::IsMember({"hf", "gguf", "tessera", "peft"}));
  o.export_cmd->add_option("--quant", o.gguf.quant,
                           "gguf: type of float 2-D tensors and of packed ones stored otherwise (f32 | f16 | q8_0 | "
                           "q4_0 | q4_1); default: as the checkpoint holds them")
      ->check(CLI::IsMember({"f32", "f16", "q8_0", "q4_0", "q4_1"}));
  o.export_cmd->add_option("--dtype", o.dtype,
                           "hf: stored dtype of every tensor (fp32 | bf16 | fp16; rounded to nearest even from the "
                           "checkpoint's fp32 masters); default fp32")
      ->check(CLI::IsMember({"fp32", "bf16", "fp16"}));
  o.export_cmd->add_option("--tokenizer", o.gguf.tokenizer, "gguf: GGUF file whose tokenizer.* metadata is copied, or a GPT-2 tokenizer directory (vocab.json + merges.txt)");
  o.export_cmd->add_option("--name", o.gguf.name, "gguf: general.name (default: the checkpoint's file stem)");
}

int run_import_export(MPI_Comm comm) {
  const ImportExportOptions& o = options();
  if (o.import_cmd && o.import_cmd->parsed()) return run_import(o, comm);
  if (o.export_cmd && o.export_cmd->parsed()) return run_export(o, comm);
  return -1;
}

}  // namespace tessera
