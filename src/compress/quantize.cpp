// tessera quantize (see quantize.hpp).
#include "src/compress/quantize.hpp"

#include <chrono>
#include <cstdio>
#include "io/checkpoint.hpp"
#include "src/compress/block_quantize.hpp"
#include "src/compress/gptq.hpp"
#include "src/compress/quantized_checkpoint.hpp"
#include "src/config/run_config.hpp"
#include "src/parallel/root_call.hpp"
#include "src/runtime/error.hpp"
#include "src/train/trainer.hpp"

namespace tessera {

bool is_block_linear_weight(const TransformerConfig& cfg, const std::string& name) {
  for (int l = 0; l < cfg.n_layer; ++l)
    for (LinearInput s : {LinearInput::Attention, LinearInput::AttentionOutput, LinearInput::Mlp, LinearInput::MlpOutput})
      for (const std::string& n : linears_of_site(cfg, l, s))
        if (n == name) return true;
  return false;
}

namespace {

std::vector<float> host_values(const GPT2<float>& model, const std::string& name) {
  auto v = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), model.params().value(name));
  return std::vector<float>(v.data(), v.data() + v.extent(0));
}

PackedTensor round_to_nearest(PackedFormat f, const std::vector<float>& w, int64_t rows, int64_t cols,
                              const std::string& what) {
  require(cols % packed_block_cols(f) == 0, what + ": " + std::to_string(cols) +
                                                " input columns are not a multiple of the " + packed_format_name(f) +
                                                " block (" + std::to_string(packed_block_cols(f)) + ")");
  PackedTensor t;
  t.format = f;
  t.rows = rows;
  t.cols = cols;
  const int64_t rb = packed_row_bytes(f, cols);
  t.blocks.resize(size_t(rows * rb));
  if (f == PackedFormat::Int8) t.row_scale.resize(size_t(rows));
  for (int64_t r = 0; r < rows; ++r)
    quantize_row(f, &w[size_t(r * cols)], cols, &t.blocks[size_t(r * rb)],
                 f == PackedFormat::Int8 ? &t.row_scale[size_t(r)] : nullptr);
  return t;
}

}  // namespace

QuantizeSummary quantize_checkpoint(const std::string& in, const std::string& out, const QuantizeOptions& opt,
                                    MPI_Comm comm) {
  const auto t0 = std::chrono::steady_clock::now();
  const bool gptq = opt.method == "gptq4";
  require(gptq || opt.method == "int8" || opt.method == "q8_0" || opt.method == "q4_0" || opt.method == "q4_1",
          "quantize: --method '" + opt.method + "' is not one of int8, q8_0, q4_0, q4_1, gptq4");
  const PackedFormat fmt = parse_packed_format(gptq ? opt.gptq_format : opt.method, "quantize: --method");
  require(!gptq || fmt == PackedFormat::Q4_0 || fmt == PackedFormat::Q4_1,
          "quantize: --gptq-format '" + opt.gptq_format + "' is not q4_0 or q4_1");
  QuantizeSummary sum;
  CompressedModel qm;
  std::map<std::string, std::vector<int64_t>> shapes;
  on_root(comm, [&] {
    const std::string already = checkpoint_quantization(in, MPI_COMM_SELF);
    require(already.empty(), in + ": already quantized (" + already +
                                 "); quantize the float32 checkpoint it came from");
    const TrainingState st = read_checkpoint_state(in, MPI_COMM_SELF);
    RunConfig cfg = parse_model_config(st.config_toml, in + " (stored config)");
    resolve_init_from(cfg, MPI_COMM_SELF);
    const TransformerConfig& mc = cfg.model.transformer;
    std::unique_ptr<GPT2<float>> model = load_inference_model(mc, in, MPI_COMM_SELF);
    InputStatsMap stats;
    if (gptq) stats = collect_input_stats(*model, opt.calibration, true, "--calibration-data");
    auto kept = [&](const std::string& name) {
      for (const std::string& p : opt.keep_fp32)
        if (name.find(p) != std::string::npos) return true;
      return false;
    };
    std::map<std::pair<int, LinearInput>, GptqFactor> factors;
    std::map<std::string, std::pair<int, LinearInput>> site_of;
    for (int l = 0; l < mc.n_layer; ++l)
      for (LinearInput s : {LinearInput::Attention, LinearInput::AttentionOutput, LinearInput::Mlp,
                            LinearInput::MlpOutput})
        for (const std::string& n : linears_of_site(mc, l, s)) site_of[n] = {l, s};
    for (const ParamInfo& info : model->params().infos()) {
      std::vector<float> w = host_values(*model, info.name);
      if (!site_of.count(info.name) || kept(info.name)) {
        shapes[info.name] = info.full_shape;
        sum.fp32_bytes += int64_t(w.size() * sizeof(float));
        ++sum.fp32_tensors;
        qm.fp32.emplace(info.name, std::move(w));
        continue;
      }
      const int64_t rows = info.full_shape[0], cols = info.full_shape[1];
      const std::string what = in + ": tensor " + info.name;
      PackedTensor t;
      if (gptq) {
        const auto site = site_of.at(info.name);
        if (!factors.count(site)) {  // one factor per input site (q/k/v and gate/up share theirs)
          const InputStats& s = stats.at(site);
          require(s.dim == cols && s.rows > 0, what + ": no calibration inputs");
          std::vector<double> H(s.gram.size());
          for (size_t i = 0; i < H.size(); ++i) H[i] = 2.0 * s.gram[i] / double(s.rows);  // H = 2XXᵀ/n
          factors.clear();
          factors.emplace(site, gptq_factor(std::move(H), cols, opt.gptq_damp, what));
        }
        GptqOptions go;
        go.format = fmt;
        go.damp = opt.gptq_damp;
        go.batch = opt.gptq_batch;
        t.format = fmt;
        t.rows = rows;
        t.cols = cols;
        t.blocks = gptq_quantize(w, rows, cols, factors.at(site), go, what);
      } else {
        t = round_to_nearest(fmt, w, rows, cols, what);
      }
      sum.packed_bytes += int64_t(t.blocks.size() + t.row_scale.size() * sizeof(float));
      ++sum.packed_tensors;
      qm.packed.emplace(info.name, std::move(t));
    }
    qm.config_toml = st.config_toml;
    qm.model_family = st.model_family;
    qm.method = gptq ? "gptq4 (" + opt.gptq_format + ")" : opt.method;
  });
  write_quantized_checkpoint(out, qm, shapes, comm);
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return sum;
}

}  // namespace tessera
