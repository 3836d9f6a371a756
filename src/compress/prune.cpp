// tessera prune (see prune.hpp).
#include "src/compress/prune.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include "io/checkpoint.hpp"
#include "io/token_dataset.hpp"
#include "src/compress/head_pruning.hpp"
#include "src/compress/quantize.hpp"
#include "src/compress/quantized_checkpoint.hpp"
#include "src/config/run_config.hpp"
#include "src/parallel/root_call.hpp"
#include "src/runtime/error.hpp"
#include "src/train/trainer.hpp"

namespace tessera {

void parse_nm_pattern(const std::string& text, PruneOptions& opt, const std::string& key) {
  const size_t colon = text.find(':');
  int n = 0, m = 0;
  try {
    require(colon != std::string::npos, "");
    n = std::stoi(text.substr(0, colon));
    m = std::stoi(text.substr(colon + 1));
  } catch (const std::exception&) {
    throw Error(key + " '" + text + "' is not N:M (e.g. 2:4)");
  }
  require(n > 0 && m > 1 && n < m, key + " '" + text + "': need 0 < N < M");
  opt.n = n;
  opt.m = m;
}

std::vector<uint8_t> nm_mask(const std::vector<float>& score, int64_t rows, int64_t cols, int n, int m,
                             const std::string& what) {
  require(cols % m == 0, what + ": " + std::to_string(n) + ":" + std::to_string(m) + " sparsity needs the input "
                             "(reduction) dimension divisible by " + std::to_string(m) + ", it is " +
                             std::to_string(cols));
  std::vector<uint8_t> mask(score.size(), 0);
  std::vector<int> idx(static_cast<size_t>(m));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c0 = 0; c0 < cols; c0 += m) {
      const float* s = &score[size_t(r * cols + c0)];
      std::iota(idx.begin(), idx.end(), 0);
      // the N largest scores of the group (ties: the lower column first)
      std::partial_sort(idx.begin(), idx.begin() + n, idx.end(),
                        [&](int a, int b) { return s[a] > s[b] || (s[a] == s[b] && a < b); });
      for (int k = 0; k < n; ++k) mask[size_t(r * cols + c0 + idx[size_t(k)])] = 1;
    }
  return mask;
}

std::vector<uint8_t> unstructured_mask(const std::vector<float>& score, int64_t group, double sparsity) {
  std::vector<uint8_t> mask(score.size(), 1);
  std::vector<int64_t> idx(static_cast<size_t>(group));
  const int64_t prune = int64_t(std::floor(sparsity * double(group)));
  for (size_t g0 = 0; g0 < score.size(); g0 += size_t(group)) {
    std::iota(idx.begin(), idx.end(), int64_t(g0));
    std::nth_element(idx.begin(), idx.begin() + prune, idx.end(),
                     [&](int64_t a, int64_t b) { return score[size_t(a)] < score[size_t(b)] || (score[size_t(a)] == score[size_t(b)] && a < b); });
    for (int64_t k = 0; k < prune; ++k) mask[size_t(idx[size_t(k)])] = 0;
  }
  return mask;
}

namespace {

// --method heads: Michel et al.'s importance on next-token windows of the calibration
// split, then the least important heads of each layer zeroed (head_masks) and masked.
PruneSummary prune_heads_checkpoint(const std::string& in, const std::string& out, const PruneOptions& opt,
                                    MPI_Comm comm) {
  const auto t0 = std::chrono::steady_clock::now();
  require(opt.heads_per_layer > 0 || opt.head_fraction >= 0,
          "prune --method heads: give --heads-per-layer K or --fraction F");
  require(!(opt.heads_per_layer > 0 && opt.head_fraction >= 0),
          "prune --method heads: give one of --heads-per-layer and --fraction");
  require(opt.head_fraction < 1, "prune --method heads: --fraction " + std::to_string(opt.head_fraction) +
                                     " is outside [0, 1)");
  PruneSummary sum;
  CompressedModel cm;
  std::map<std::string, std::vector<int64_t>> shapes;
  on_root(comm, [&] {
    const std::string q = checkpoint_quantization(in, MPI_COMM_SELF);
    require(q.empty(), in + ": quantized (" + q + "); prune the float32 checkpoint");
    const TrainingState st = read_checkpoint_state(in, MPI_COMM_SELF);
    RunConfig cfg = parse_model_config(st.config_toml, in + " (stored config)");
    resolve_init_from(cfg, MPI_COMM_SELF);
    const TransformerConfig& mc = cfg.model.transformer;
    require(mc.head == HeadKind::CausalLM,
            in + ": prune --method heads measures importance with next-token targets of the calibration tokens "
                 "and needs a causal_lm model; for a classifier use model.heads_per_layer in train (validation split)");
    const int keep = opt.heads_per_layer > 0 ? opt.heads_per_layer
                                             : mc.n_head - int(std::floor(opt.head_fraction * mc.n_head));
    const std::string key = opt.heads_per_layer > 0 ? "prune: --heads-per-layer" : "prune: --fraction";
    if (keep < 1 || keep > mc.n_head) least_important_heads({}, mc.n_layer, mc.n_head, keep, key);  // names the key
    GPT2<float> model(mc);
    require(load_model_weights(model, in, MPI_COMM_SELF).empty(), in + ": checkpoint lacks model parameters");
    const CalibrationOptions& c = opt.calibration;
    const std::string ckey = "--calibration-data";
    require(!c.data.empty(), ckey + ": a calibration token dataset is needed for --method heads");
    require(c.seq_len > 1 && c.tokens > 0 && c.batch > 0, ckey + ": calibration tokens, seq_len (> 1) and batch must be > 0");
    require(c.seq_len <= mc.n_positions, "--calibration-seq-len " + std::to_string(c.seq_len) + " exceeds n_positions " +
                                             std::to_string(mc.n_positions));
    TokenDataset data(c.data, MPI_COMM_SELF);
    require(data.has_split(c.split), ckey + ": dataset '" + c.data + "' has no split '" + c.split + "'");
    const int T = c.seq_len;
    const int64_t windows = (c.tokens + T - 1) / T;
    const int64_t have = data.num_tokens(c.split);
    require(have >= windows * T + 1, ckey + ": split '" + c.split + "' of '" + c.data + "' has " +
                                         std::to_string(have) + " tokens, fewer than the " +
                                         std::to_string(windows * T + 1) + " calibration tokens asked for");
    int64_t w0 = 0;
    std::vector<int32_t> buf;
    const std::vector<double> imp = normalize_head_importance(
        head_importance<float>(model, [&](MicroBatch& mb) {
          if (w0 >= windows) return false;
          const int B = int(std::min<int64_t>(c.batch, windows - w0));
          mb = MicroBatch{};
          mb.B = B;
          mb.T = T;
          mb.tokens.resize(size_t(B) * T);
          mb.labels.resize(size_t(B) * T);
          buf.resize(size_t(T) + 1);
          for (int b = 0; b < B; ++b) {  // window b: T tokens and their next tokens
            data.read_tokens(c.split, (w0 + b) * T, T + 1, buf.data());
            for (int t = 0; t < T; ++t) {
              mb.tokens[size_t(b) * T + t] = buf[size_t(t)];
              mb.labels[size_t(b) * T + t] = buf[size_t(t) + 1];
            }
          }
          w0 += B;
          return true;
        }, MPI_COMM_NULL),
        mc.n_layer, mc.n_head);
    const HeadLists pruned = least_important_heads(imp, mc.n_layer, mc.n_head, keep, key);
    cm.masks = head_masks(mc, pruned);
    for (const ParamInfo& info : model.params().infos()) {
      auto v = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), model.params().value(info.name));
      std::vector<float> w(v.data(), v.data() + v.extent(0));
      shapes[info.name] = info.full_shape;
      auto it = cm.masks.find(info.name);
      if (it != cm.masks.end()) {
        for (size_t i = 0; i < w.size(); ++i)
          if (!it->second[i]) {
            w[i] = 0;
            ++sum.zeros;
          }
        sum.weights += int64_t(w.size());
        ++sum.tensors;
      }
      cm.fp32.emplace(info.name, std::move(w));
    }
    sum.heads = format_prune_heads(pruned);
    cm.config_toml = st.config_toml;
    cm.model_family = st.model_family;
    cm.sparsity = "heads " + std::to_string(keep) + "/" + std::to_string(mc.n_head) + " per layer: " + sum.heads;
  });
  write_quantized_checkpoint(out, cm, shapes, comm);
  int len = int(sum.heads.size());
  MPI_Bcast(&len, 1, MPI_INT, 0, comm);
  sum.heads.resize(size_t(len));
  if (len > 0) MPI_Bcast(sum.heads.data(), len, MPI_CHAR, 0, comm);
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return sum;
}

}  // namespace

PruneSummary prune_checkpoint(const std::string& in, const std::string& out, const PruneOptions& opt,
                              MPI_Comm comm) {
  if (opt.method == "heads") return prune_heads_checkpoint(in, out, opt, comm);
  const auto t0 = std::chrono::steady_clock::now();
  require(opt.method == "magnitude" || opt.method == "wanda",
          "prune: --method '" + opt.method + "' is not magnitude, wanda or heads");
  require(opt.sparsity >= 0 && opt.sparsity < 1, "prune: --sparsity " + std::to_string(opt.sparsity) +
                                                     " is outside [0, 1)");
  const std::string scope = !opt.scope.empty() ? opt.scope : opt.method == "wanda" ? "row" : "layer";
  require(scope == "global" || scope == "layer" || scope == "row",
          "prune: --scope '" + scope + "' is not global, layer or row");
  const bool nm = opt.n > 0;
  PruneSummary sum;
  CompressedModel cm;
  std::map<std::string, std::vector<int64_t>> shapes;
  on_root(comm, [&] {
    const std::string q = checkpoint_quantization(in, MPI_COMM_SELF);
    require(q.empty(), in + ": quantized (" + q + "); prune the float32 checkpoint");
    const TrainingState st = read_checkpoint_state(in, MPI_COMM_SELF);
    RunConfig cfg = parse_model_config(st.config_toml, in + " (stored config)");
    resolve_init_from(cfg, MPI_COMM_SELF);
    const TransformerConfig& mc = cfg.model.transformer;
    std::unique_ptr<GPT2<float>> model = load_inference_model(mc, in, MPI_COMM_SELF);
    InputStatsMap stats;
    if (opt.method == "wanda") stats = collect_input_stats(*model, opt.calibration, false, "--calibration-data");
    std::map<std::string, std::pair<int, LinearInput>> site_of;
    for (int l = 0; l < mc.n_layer; ++l)
      for (LinearInput s : {LinearInput::Attention, LinearInput::AttentionOutput, LinearInput::Mlp,
                            LinearInput::MlpOutput})
        for (const std::string& n : linears_of_site(mc, l, s)) site_of[n] = {l, s};
    auto targeted = [&](const std::string& name) {
      if (!site_of.count(name)) return false;
      for (const std::string& p : opt.keep_dense)
        if (name.find(p) != std::string::npos) return false;
      return true;
    };
    // Importance of every targeted tensor.
    std::map<std::string, std::vector<float>> scores;
    for (const ParamInfo& info : model->params().infos()) {
      auto v = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), model->params().value(info.name));
      std::vector<float> w(v.data(), v.data() + v.extent(0));
      shapes[info.name] = info.full_shape;
      if (targeted(info.name)) {
        const int64_t cols = info.full_shape[1];
        std::vector<float> s(w.size());
        std::vector<double> xnorm;
        if (opt.method == "wanda") {
          const InputStats& is = stats.at(site_of.at(info.name));
          require(is.dim == cols, in + ": tensor " + info.name + ": no calibration inputs");
          for (double g : is.gram) xnorm.push_back(std::sqrt(g));
        }
        for (size_t i = 0; i < w.size(); ++i)
          s[i] = std::fabs(w[i]) * (xnorm.empty() ? 1.0f : float(xnorm[i % size_t(cols)]));  // |W|·‖X‖
        scores.emplace(info.name, std::move(s));
      }
      cm.fp32.emplace(info.name, std::move(w));
    }
    // Global scope: one threshold over every targeted score.
    float global_threshold = -1;
    int64_t global_prune = 0;
    if (!nm && scope == "global") {
      std::vector<float> all;
      for (const auto& [name, s] : scores) all.insert(all.end(), s.begin(), s.end());
      global_prune = int64_t(std::floor(opt.sparsity * double(all.size())));
      if (global_prune > 0) {
        std::nth_element(all.begin(), all.begin() + (global_prune - 1), all.end());
        global_threshold = all[size_t(global_prune - 1)];
      }
    }
    for (auto& [name, s] : scores) {
      const std::vector<int64_t>& shape = shapes.at(name);
      const int64_t rows = shape[0], cols = shape[1];
      std::vector<uint8_t> mask;
      if (nm) {
        mask = nm_mask(s, rows, cols, opt.n, opt.m, in + ": tensor " + name);
      } else if (scope == "global") {
        mask.assign(s.size(), 1);
        for (size_t i = 0; i < s.size(); ++i)
          if (s[i] <= global_threshold) mask[i] = 0;
      } else {
        mask = unstructured_mask(s, scope == "row" ? cols : rows * cols, opt.sparsity);
      }
      std::vector<float>& w = cm.fp32.at(name);
      for (size_t i = 0; i < w.size(); ++i)
        if (!mask[i]) {
          w[i] = 0;
          ++sum.zeros;
        }
      sum.weights += int64_t(w.size());
      ++sum.tensors;
      cm.masks.emplace(name, std::move(mask));
    }
    cm.config_toml = st.config_toml;
    cm.model_family = st.model_family;
    cm.sparsity = nm ? opt.method + " " + std::to_string(opt.n) + ":" + std::to_string(opt.m)
                     : opt.method + " " + scope + " " + std::to_string(opt.sparsity);
  });
  write_quantized_checkpoint(out, cm, shapes, comm);
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return sum;
}

}  // namespace tessera
