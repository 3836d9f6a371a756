#include "src/train/gradient_sync.hpp"
#include <cmath>
#include "kernels/grad_norm.hpp"
#include "kernels/residual.hpp"

namespace tessera {

GradientSynchronizer::GradientSynchronizer(ParameterSet<float>& params, ProcessGrid& grid, bool zero1,
                                           size_t bucket_bytes)
    : params_(params), grid_(grid), zero1_(zero1) {
  const auto& infos = params_.infos();
  bucket_of_param_.assign(infos.size(), kNoBucket);
  size_t i = 0;
  auto skip_frozen = [&] {
    while (i < infos.size() && !infos[i].trainable) ++i;
  };
  skip_frozen();
  while (i < infos.size()) {
    Bucket b{i, i, infos[i].offset, 0};
    size_t bytes = 0, members = 0;
    while (i < infos.size() && (bytes == 0 || bytes + infos[i].numel * sizeof(float) <= bucket_bytes)) {
      bytes += infos[i].numel * sizeof(float);
      bucket_of_param_[i] = buckets_.size();
      ++members;
      ++i;
      skip_frozen();
    }
    b.last_param = i;
    b.members = members;
    b.count = bytes / sizeof(float);
    buckets_.push_back(std::move(b));
  }
}

void GradientSynchronizer::begin_step() {
  for (auto& b : buckets_) {
    b.ready = 0;
    b.launched = false;
    b.op.reset();
  }
}

void GradientSynchronizer::launch(Bucket& b) {
  b.launched = true;
  if (zero1_ || grid_.dp_size() == 1 || b.count == 0) return;
  Kokkos::fence();
  float* data = params_.grads().data() + b.offset;
  b.op = grid_.dp_device().all_reduce_async(data, b.count, DType::F32, ReduceOp::Sum);
}

void GradientSynchronizer::on_grads_ready(size_t first, size_t last) {
  for (size_t p = first; p < last; ++p) {
    if (bucket_of_param_[p] == kNoBucket) continue;  // frozen: no gradient
    Bucket& b = buckets_[bucket_of_param_[p]];
    if (++b.ready == b.members && !b.launched) launch(b);
  }
}

void GradientSynchronizer::finish() {
  for (auto& b : buckets_)
    if (!b.launched) launch(b);
  for (auto& b : buckets_)
    if (b.op) b.op->wait();
  if (!zero1_ && grid_.dp_size() > 1)
    scale_inplace<float>(params_.grads(), int64_t(params_.trainable_numel()), 1.0f / float(grid_.dp_size()));
  if (grid_.tp_size() > 1) {  // LoRA's replicated factors: each tp rank holds a partial gradient
    Kokkos::fence();
    for (size_t i = 0; i < params_.infos().size(); ++i)
      if (params_.info(i).tp_partial_grad && params_.trainable(i)) {
        View1<float> g = params_.grad(i);
        grid_.tp_device().all_reduce(g.data(), g.extent(0), DType::F32, ReduceOp::Sum);
      }
  }
  if (grid_.in_embedding_group() && params_.contains("wte.weight") &&
      params_.trainable(params_.index_of("wte.weight"))) {
    Kokkos::fence();
    View1<float> g = params_.grad("wte.weight");
    grid_.embedding_device().all_reduce(g.data(), g.extent(0), DType::F32, ReduceOp::Sum);
  }
  Kokkos::fence();
}

bool GradientSynchronizer::counts_for_norm(const ParamInfo& info) const {
  if (!info.trainable) return false;
  if (info.shard_dim < 0 && grid_.tp_rank() != 0) return false;
  if (info.name == "wte.weight" && grid_.pp_size() > 1 && !grid_.is_first_stage()) return false;
  return true;
}

double GradientSynchronizer::global_sum_of_squares() {
  double local = 0;
  for (size_t i = 0; i < params_.infos().size(); ++i)
    if (counts_for_norm(params_.info(i))) local += sum_of_squares<float>(params_.grad(i), int64_t(params_.info(i).numel));
  if (grid_.tp_size() > 1) grid_.tp().all_reduce(&local, 1, DType::F64, ReduceOp::Sum);
  if (grid_.pp_size() > 1) grid_.pp().all_reduce(&local, 1, DType::F64, ReduceOp::Sum);
  return local;
}

double GradientSynchronizer::global_sum_of_squares_sharded(const float* chunk_in_memspace, size_t begin, size_t end) {
  // The chunk is in the kernels' memory space: read it through a host mirror (no copy on the host).
  Kokkos::fence();
  const auto chunk_view = Kokkos::create_mirror_view_and_copy(
      Kokkos::HostSpace(), Kokkos::View<const float*, MemSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>>(
                               chunk_in_memspace, end - begin));
  const float* chunk = chunk_view.data();
  double local = 0;
  for (const ParamInfo& info : params_.infos()) {
    const size_t lo = std::max(begin, info.offset), hi = std::min(end, info.offset + info.numel);
    if (lo >= hi || !counts_for_norm(info)) continue;
    for (size_t k = lo; k < hi; ++k) local += double(chunk[k - begin]) * double(chunk[k - begin]);
  }
  if (grid_.dp_size() > 1) grid_.dp().all_reduce(&local, 1, DType::F64, ReduceOp::Sum);
  if (grid_.tp_size() > 1) grid_.tp().all_reduce(&local, 1, DType::F64, ReduceOp::Sum);
  if (grid_.pp_size() > 1) grid_.pp().all_reduce(&local, 1, DType::F64, ReduceOp::Sum);
  return local;
}

}  // namespace tessera
