#include "src/cli/compress_command.hpp"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>
#include "src/compress/prune.hpp"
#include "src/compress/quantize.hpp"

namespace tessera {

namespace {

struct CompressOptions {
  CLI::App* quantize = nullptr;
  CLI::App* prune = nullptr;
  std::string in, out, pattern;
  QuantizeOptions q;
  PruneOptions p;
  CalibrationOptions calib;
};

CompressOptions& options() {
  static CompressOptions o;
  return o;
}

void add_calibration(CLI::App* app, CalibrationOptions& c) {
  app->add_option("--calibration-data", c.data, "token dataset (.h5) prepared with the model's tokenizer");
  app->add_option("--calibration-split", c.split, "split of it to calibrate on (default train)");
  app->add_option("--calibration-tokens", c.tokens, "calibration tokens (default 4096)")->check(CLI::PositiveNumber);
  app->add_option("--calibration-seq-len", c.seq_len, "tokens per calibration window (default 256)")
      ->check(CLI::PositiveNumber);
}

int rank_of(MPI_Comm comm) {
  int r = 0;
  MPI_Comm_rank(comm, &r);
  return r;
}

}  // namespace

void register_compress(CLI::App& app) {
  CompressOptions& o = options();
  o.quantize = app.add_subcommand("quantize", "Weight-only quantisation of a float32 checkpoint");
  o.quantize->add_option("--checkpoint", o.in, "float32 checkpoint (.h5)")->required();
  o.quantize->add_option("--out", o.out, "quantised checkpoint to write (.h5)")->required();
  o.quantize->add_option("--method", o.q.method, "int8 | q8_0 | q4_0 | q4_1 | gptq4")->required();
  o.quantize->add_option("--gptq-format", o.q.gptq_format, "block format gptq4 writes: q4_0 (default) | q4_1");
  o.quantize->add_option("--gptq-damp", o.q.gptq_damp, "GPTQ dampening, fraction of mean diag(H) (default 0.01)")
      ->check(CLI::Range(0.0, 1.0));
  o.quantize->add_option("--keep-fp32", o.q.keep_fp32, "leave tensors whose name contains this in float32 (repeatable)");
  add_calibration(o.quantize, o.calib);

  o.prune = app.add_subcommand("prune", "Prune a float32 checkpoint's linear weights (sparse checkpoint with masks)");
  o.prune->add_option("--checkpoint", o.in, "float32 checkpoint (.h5)")->required();
  o.prune->add_option("--out", o.out, "sparse checkpoint to write (.h5)")->required();
  o.prune->add_option("--method", o.p.method, "importance: magnitude (default) | wanda | heads (attention heads)");
  o.prune->add_option("--heads-per-layer", o.p.heads_per_layer, "--method heads: keep the K most important heads per layer");
  o.prune->add_option("--fraction", o.p.head_fraction, "--method heads: prune floor(F·n_head) heads per layer, F in [0, 1)");
  o.prune->add_option("--sparsity", o.p.sparsity, "unstructured fraction pruned, in [0, 1) (default 0.5)");
  o.prune->add_option("--scope", o.p.scope, "unstructured comparison group: global | layer | row");
  o.prune->add_option("--pattern", o.pattern, "N:M semi-structured along the input dimension, e.g. 2:4");
  o.prune->add_option("--keep-dense", o.p.keep_dense, "leave tensors whose name contains this unpruned (repeatable)");
  add_calibration(o.prune, o.calib);
}

int run_compress(MPI_Comm comm) {
  CompressOptions& o = options();
  if (o.quantize && o.quantize->parsed()) {
    o.q.calibration = o.calib;
    const QuantizeSummary s = quantize_checkpoint(o.in, o.out, o.q, comm);
    if (rank_of(comm) == 0)
      std::printf("tessera quantize: %s -> %s (%s): %lld packed tensors (%.1f MB), %lld float32 (%.1f MB), %.1f s\n",
                  o.in.c_str(), o.out.c_str(), o.q.method.c_str(), static_cast<long long>(s.packed_tensors),
                  double(s.packed_bytes) / 1e6, static_cast<long long>(s.fp32_tensors), double(s.fp32_bytes) / 1e6,
                  s.seconds);
    return 0;
  }
  if (o.prune && o.prune->parsed()) {
    o.p.calibration = o.calib;
    if (!o.pattern.empty()) parse_nm_pattern(o.pattern, o.p, "--pattern");
    const PruneSummary s = prune_checkpoint(o.in, o.out, o.p, comm);
    if (rank_of(comm) == 0 && o.p.method == "heads")
      std::printf("tessera prune: %s -> %s (heads): pruned heads \"%s\" (%lld of %lld weights in %lld tensors zero), %.1f s\n",
                  o.in.c_str(), o.out.c_str(), s.heads.c_str(), static_cast<long long>(s.zeros),
                  static_cast<long long>(s.weights), static_cast<long long>(s.tensors), s.seconds);
    else if (rank_of(comm) == 0)
      std::printf("tessera prune: %s -> %s (%s%s%s): %lld tensors, %lld of %lld weights zero (%.2f%%), %.1f s\n",
                  o.in.c_str(), o.out.c_str(), o.p.method.c_str(), o.pattern.empty() ? "" : " ",
                  o.pattern.c_str(), static_cast<long long>(s.tensors), static_cast<long long>(s.zeros),
                  static_cast<long long>(s.weights), s.weights ? 100.0 * double(s.zeros) / double(s.weights) : 0.0,
                  s.seconds);
    return 0;
  }
  return -1;
}

}  // namespace tessera
