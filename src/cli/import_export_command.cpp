#include "src/parallel/root_call.hpp"
#include "src/cli/import_export_command.hpp"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "io/hf_checkpoint.hpp"
#include "io/hf_config.hpp"
#include "io/model_checkpoint.hpp"
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

int run_import(const ImportExportOptions& o, MPI_Comm comm) {
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

int run_export(const ImportExportOptions& o, MPI_Comm comm) {
  require(o.format == "hf", "export: --format '" + o.format + "' is not supported (hf)");
  const ImportedModel m = read_model_checkpoint(o.checkpoint, comm);
  on_root(comm, [&] { export_hf_directory(o.out, m); });
  if (rank_of(comm) == 0)
    std::printf("tessera export: %s -> %s/{model.safetensors,config.json}\n  %s\n", o.checkpoint.c_str(),
                o.out.c_str(), describe(m).c_str());
  return 0;
}

}  // namespace

void register_import_export(CLI::App& app) {
  ImportExportOptions& o = options();
  o.import_cmd = app.add_subcommand("import", "Hugging Face directory or GGUF file -> Tessera checkpoint");
  o.import_cmd->add_option("--from", o.from, "HF model directory (config.json + model.safetensors) or .gguf file")
      ->required();
  o.import_cmd->add_option("--out", o.out, "checkpoint file to write (.h5)")->required();

  o.export_cmd = app.add_subcommand("export", "Tessera checkpoint -> Hugging Face directory");
  o.export_cmd->add_option("--checkpoint", o.checkpoint, "Tessera checkpoint (.h5)")->required();
  o.export_cmd->add_option("--out", o.out, "directory for model.safetensors + config.json")->required();
  o.export_cmd->add_option("--format", o.format, "output format")->check(CLI::IsMember({"hf"}));
}

int run_import_export(MPI_Comm comm) {
  const ImportExportOptions& o = options();
  if (o.import_cmd && o.import_cmd->parsed()) return run_import(o, comm);
  if (o.export_cmd && o.export_cmd->parsed()) return run_export(o, comm);
  return -1;
}

}  // namespace tessera
