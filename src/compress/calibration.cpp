// Calibration forward passes (see calibration.hpp).
#include "src/compress/calibration.hpp"

#include "io/token_dataset.hpp"
#include "kernels/gemm.hpp"
#include "src/model/transformer_internals.hpp"
#include "src/runtime/error.hpp"

namespace tessera {

std::vector<std::string> linears_of_site(const TransformerConfig& cfg, int l, LinearInput site) {
  const FamilyNames nm(cfg);
  std::vector<std::string> parts;
  switch (site) {
    case LinearInput::Attention:
      parts = nm.qkv.empty() ? std::vector<std::string>{nm.q, nm.k, nm.v} : std::vector<std::string>{nm.qkv};
      break;
    case LinearInput::AttentionOutput: parts = {nm.o}; break;
    case LinearInput::Mlp:
      parts = nm.fc.empty() ? std::vector<std::string>{nm.gate, nm.up} : std::vector<std::string>{nm.fc};
      break;
    case LinearInput::MlpOutput: parts = {nm.proj}; break;
  }
  std::vector<std::string> names;
  for (const std::string& p : parts) names.push_back(nm.layer(l, p, "weight"));
  return names;
}

InputStatsMap collect_input_stats(GPT2<float>& model, const CalibrationOptions& opt, bool full_gram,
                                  const std::string& key) {
  require(!opt.data.empty(), key + ": a calibration token dataset is needed");
  require(opt.seq_len > 0 && opt.batch > 0 && opt.tokens > 0, key + ": calibration tokens, seq_len and batch must be > 0");
  TokenDataset data(opt.data, MPI_COMM_SELF);
  require(data.has_split(opt.split), key + ": dataset '" + opt.data + "' has no split '" + opt.split + "'");
  const int T = opt.seq_len;
  const int64_t windows = (opt.tokens + T - 1) / T;
  const int64_t have = data.num_tokens(opt.split);
  require(have >= windows * T, key + ": split '" + opt.split + "' of '" + opt.data + "' has " + std::to_string(have) +
                                   " tokens, fewer than the " + std::to_string(windows * T) +
                                   " calibration tokens asked for (--calibration-tokens, --calibration-seq-len)");
  std::map<std::pair<int, LinearInput>, View1<float>> acc;
  InputStatsMap stats;
  model.set_linear_observer([&](int layer, LinearInput site, const View1<float>& x, int64_t N, int64_t IC) {
    auto k = std::make_pair(layer, site);
    InputStats& s = stats[k];
    View1<float>& a = acc[k];
    if (a.extent(0) == 0) {
      s.dim = IC;
      a = View1<float>("calibration_gram", size_t(full_gram ? IC * IC : IC));
    }
    s.rows += N;
    if (full_gram) {
      // G += xᵀx
      gemm<float>(Trans::Yes, Trans::No, IC, IC, N, 1.0f, x.data(), IC, x.data(), IC, 1.0f, a.data(), IC);
    } else {
      // g_j += Σ_n x_nj²
      Kokkos::parallel_for(
          "calibration_sumsq", RangePolicy(0, IC), KOKKOS_LAMBDA(const int64_t j) {
            float t = 0;
            for (int64_t n = 0; n < N; ++n) t += x(n * IC + j) * x(n * IC + j);
            a(j) += t;
          });
    }
  });
  std::vector<int32_t> tok;
  for (int64_t w0 = 0; w0 < windows; w0 += opt.batch) {
    const int B = int(std::min<int64_t>(opt.batch, windows - w0));
    tok.resize(size_t(B) * T);
    data.read_tokens(opt.split, w0 * T, int64_t(B) * T, tok.data());
    model.forward(tok.data(), nullptr, B, T, ForwardOptions{});
  }
  Kokkos::fence();
  model.set_linear_observer(nullptr);
  for (auto& [k, s] : stats) {
    auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), acc[k]);
    s.gram.assign(h.data(), h.data() + h.extent(0));
  }
  return stats;
}

}  // namespace tessera
