// Training-time pruning masks (see sparsity_masks.hpp).
#include "src/compress/sparsity_masks.hpp"

#include <algorithm>
#include <cmath>
#include <vector>
#include "io/hdf5_file.hpp"
#include "src/compress/quantize.hpp"
#include "src/runtime/error.hpp"

namespace tessera {

void SparsityMasks::ensure(const GPT2<float>& model) {
  if (mask_.extent(0) == model.params().capacity()) return;
  mask_ = View1<float>("sparsity_mask", model.params().capacity());
  Kokkos::deep_copy(mask_, 1.0f);
}

void SparsityMasks::load(const GPT2<float>& model, const std::string& file, MPI_Comm comm) {
  h5::File f = h5::File::open_read(file, comm);
  if (!f.is_group("/masks")) return;
  ensure(model);
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), mask_);
  std::vector<uint8_t> buf;
  for (const ParamInfo& info : model.params().infos()) {
    const std::string obj = "/masks/" + info.name;
    if (!f.is_dataset(obj)) continue;
    require(f.dataset_shape(obj) == info.full_shape, file + ": " + obj + " has a different shape than the parameter");
    buf.resize(info.numel);
    h5::Handle d = f.open_dataset(obj);
    h5::read_box(f, d, obj, H5T_NATIVE_UINT8, info.local_start, info.local_shape, buf.data(), true, false,
                 info.shard_groups);
    for (size_t i = 0; i < info.numel; ++i) host(info.offset + i) = buf[i] ? 1.0f : 0.0f;
    active_ = true;
  }
  Kokkos::deep_copy(mask_, host);
}

void SparsityMasks::add(GPT2<float>& model, const std::map<std::string, std::vector<uint8_t>>& full,
                        const std::string& what) {
  if (full.empty()) return;
  ensure(model);
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), mask_);
  for (const auto& [name, m] : full) {
    require(model.params().contains(name), what + ": the model has no parameter " + name);
    const ParamInfo& info = model.params().info(name);
    require(int64_t(m.size()) == product(info.full_shape), what + ": mask of " + name + " has the wrong size");
    const int64_t rows = info.full_shape[0], cols = info.full_shape.size() > 1 ? info.full_shape[1] : 1;
    const int64_t lr = info.local_shape[0], lc = info.local_shape.size() > 1 ? info.local_shape[1] : 1;
    const int G = std::max(1, info.shard_groups);
    for (int64_t i = 0; i < lr; ++i) {
      int64_t r = i;  // full row of local row i
      if (info.shard_dim == 0) r = G > 1 ? (i / (lr / G)) * (rows / G) + info.local_start[0] + i % (lr / G)
                                         : info.local_start[0] + i;
      for (int64_t j = 0; j < lc; ++j) {
        const int64_t col = info.shard_dim == 1 ? info.local_start[1] + j : j;
        if (!m[size_t(r * cols + col)]) host(info.offset + size_t(i * lc + j)) = 0.0f;
      }
    }
  }
  Kokkos::deep_copy(mask_, host);
  active_ = true;
  const View1<float> v = model.params().values(), mk = mask_;
  Kokkos::parallel_for(
      "apply_sparsity_mask", RangePolicy(0, int64_t(mk.extent(0))), KOKKOS_LAMBDA(const int64_t i) { v(i) *= mk(i); });
  Kokkos::fence();
}

double SparsityMasks::scheduled_sparsity(const PruneSection& p, int64_t step) {
  if (p.final_sparsity <= 0 || step < p.start_step) return 0;
  const double frac = std::min(1.0, double(step - p.start_step) / double(p.end_step - p.start_step));
  return p.final_sparsity + (p.initial_sparsity - p.final_sparsity) * std::pow(1.0 - frac, 3);  // s_t
}

void SparsityMasks::configure_gradual(const GPT2<float>& model, const PruneSection& p, bool resumed) {
  if (p.final_sparsity <= 0) return;
  gradual_ = p;
  ensure(model);
  active_ = true;
  if (!resumed) return;
  // Resumed: pruned weights are the zeros of the targeted tensors.
  const auto values = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), model.params().values());
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), mask_);
  for (const ParamInfo& info : model.params().infos())
    if (is_block_linear_weight(model.config(), info.name))
      for (size_t i = 0; i < info.numel; ++i)
        if (values(info.offset + i) == 0.0f) host(info.offset + i) = 0.0f;
  Kokkos::deep_copy(mask_, host);
}

void SparsityMasks::prune_to(GPT2<float>& model, double sparsity) {
  const auto values = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), model.params().values());
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), mask_);
  std::vector<float> mag;
  for (const ParamInfo& info : model.params().infos()) {
    if (!is_block_linear_weight(model.config(), info.name) || info.numel == 0) continue;
    const int64_t k = int64_t(std::floor(sparsity * double(info.numel)));
    if (k == 0) continue;
    // Masked entries count as magnitude −1, so they stay among the pruned.
    mag.resize(info.numel);
    for (size_t i = 0; i < info.numel; ++i)
      mag[i] = host(info.offset + i) == 0.0f ? -1.0f : std::fabs(values(info.offset + i));
    std::vector<float> sorted = mag;
    std::nth_element(sorted.begin(), sorted.begin() + (k - 1), sorted.end());
    const float threshold = sorted[size_t(k - 1)];
    int64_t pruned = 0;
    for (size_t i = 0; i < info.numel; ++i)  // ≤ threshold, at most k (ties: the first ones)
      if (mag[i] < threshold || (mag[i] == threshold && pruned < k)) {
        host(info.offset + i) = 0.0f;
        ++pruned;
      }
  }
  Kokkos::deep_copy(mask_, host);
}

void SparsityMasks::after_step(GPT2<float>& model, int64_t step) {
  if (!active_) return;
  const PruneSection& p = gradual_;
  if (p.final_sparsity > 0 && step >= p.start_step && step <= p.end_step &&
      ((step - p.start_step) % p.frequency == 0 || step == p.end_step))
    prune_to(model, scheduled_sparsity(p, step));
  const View1<float> v = model.params().values(), m = mask_;
  Kokkos::parallel_for(
      "apply_sparsity_mask", RangePolicy(0, int64_t(m.extent(0))), KOKKOS_LAMBDA(const int64_t i) { v(i) *= m(i); });
  Kokkos::fence();
}

}  // namespace tessera
