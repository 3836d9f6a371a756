#include "src/train/sampler.hpp"
#include <algorithm>
#include <cmath>
#include <numeric>
#include "kernels/counter_rng.hpp"
#include "src/runtime/error.hpp"

namespace tessera {

int32_t pick_token(const float* logits, int64_t V, double temperature, int top_k, double u) {
  if (temperature <= 0.0) return int32_t(std::max_element(logits, logits + V) - logits);
  std::vector<int32_t> idx(V);
  std::iota(idx.begin(), idx.end(), 0);
  int64_t k = (top_k > 0 && top_k < V) ? top_k : V;
  if (k < V)
    std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  double mx = -INFINITY;
  for (int64_t i = 0; i < k; ++i) mx = std::max(mx, double(logits[idx[i]]));
  std::vector<double> p(k);
  double sum = 0;
  for (int64_t i = 0; i < k; ++i) sum += p[i] = std::exp((logits[idx[i]] - mx) / temperature);
  double acc = 0, target = u * sum;
  for (int64_t i = 0; i < k; ++i) {
    acc += p[i];
    if (target < acc) return idx[i];
  }
  return idx[k - 1];
}

std::vector<int32_t> sample_tokens(GPT2<float>& model, std::vector<int32_t> ids, const SamplingOptions& opt) {
  require(!ids.empty(), "generate: empty prompt");
  const int P = model.config().n_positions;
  const int64_t V = model.config().vocab_size;
  const RngKey key{opt.seed, 0, 0, 0x5a3f1eu};
  std::vector<float> row(V);
  for (int n = 0; n < opt.max_new_tokens; ++n) {
    const int T = int(std::min<size_t>(ids.size(), size_t(P)));
    const int32_t* window = ids.data() + (ids.size() - T);
    model.forward(window, nullptr, 1, T, ForwardOptions{});
    auto logits = model.logits();
    auto last = Kokkos::subview(logits, std::make_pair(size_t(T - 1) * V, size_t(T) * V));
    Kokkos::View<float*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>> host_row(row.data(), V);
    Kokkos::deep_copy(host_row, last);
    const int32_t next = pick_token(row.data(), V, opt.temperature, opt.top_k, rng_uniform(key, uint64_t(n)));
    ids.push_back(next);
    if (next == opt.stop_token) break;
  }
  return ids;
}

}  // namespace tessera
