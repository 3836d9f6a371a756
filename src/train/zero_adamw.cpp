#include "src/train/zero_adamw.hpp"
#include <algorithm>
#include "kernels/adamw.hpp"
#include "kernels/residual.hpp"
#include "src/runtime/error.hpp"

namespace tessera {

ZeroAdamW::ZeroAdamW(ParameterSet<float>& params, ProcessGrid& grid, const AdamWSettings& s)
    : params_(params), grid_(grid), settings_(s) {
  const size_t dp = size_t(grid.dp_size());
  require(params.trainable_capacity() % dp == 0, "ZeRO-1: parameter slab is not padded to a multiple of dp");
  chunk_ = params.trainable_capacity() / dp;
  begin_ = chunk_ * size_t(grid.dp_rank());
  end_ = begin_ + chunk_;
  m_ = View1<float>("zero_m", chunk_);
  v_ = View1<float>("zero_v", chunk_);
  for (const ParamInfo& info : params.infos()) {
    if (!info.trainable) continue;
    const size_t lo = std::max(begin_, info.offset), hi = std::min(end_, info.offset + info.numel);
    if (lo >= hi) continue;
    if (!runs_.empty() && runs_.back().decay == info.weight_decay && runs_.back().offset + runs_.back().numel == lo - begin_)
      runs_.back().numel += hi - lo;
    else
      runs_.push_back({lo - begin_, hi - lo, info.weight_decay});
  }
}

void ZeroAdamW::reduce_gradients() {
  Kokkos::fence();
  float* g = params_.grads().data();
  if (grid_.dp_size() > 1) {
    // Padding elements are zero in every rank's slab, so they stay zero.
    grid_.dp_device().reduce_scatter(g, g + begin_, chunk_, DType::F32, ReduceOp::Sum);
    scale_inplace<float>(slice(params_.grads(), begin_, chunk_), int64_t(chunk_), 1.0f / float(grid_.dp_size()));
  }
}

void ZeroAdamW::step(double lr, double grad_scale) {
  ++t_;
  View1<float> p = slice(params_.values(), begin_, chunk_), g = slice(params_.grads(), begin_, chunk_);
  for (const Run& r : runs_) {
    const AdamWStep h = adamw_step(settings_, lr, r.decay, t_, grad_scale);
    adamw_update<float>(slice(p, r.offset, r.numel), slice(g, r.offset, r.numel), slice(m_, r.offset, r.numel),
                        slice(v_, r.offset, r.numel), int64_t(r.numel), h);
  }
  Kokkos::fence();
  if (grid_.dp_size() > 1) {
    float* values = params_.values().data();
    grid_.dp_device().all_gather(values + begin_, values, chunk_, DType::F32);
  }
}

void ZeroAdamW::gather_moments(View1<float> m_full, View1<float> v_full) {
  Kokkos::fence();
  require(m_full.extent(0) >= params_.trainable_capacity() && v_full.extent(0) >= params_.trainable_capacity(),
          "ZeRO-1: moment buffers smaller than the parameter slab");
  if (grid_.dp_size() > 1) {
    grid_.dp_device().all_gather(m_.data(), m_full.data(), chunk_, DType::F32);
    grid_.dp_device().all_gather(v_.data(), v_full.data(), chunk_, DType::F32);
  } else {
    Kokkos::deep_copy(slice(m_full, 0, chunk_), m_);
    Kokkos::deep_copy(slice(v_full, 0, chunk_), v_);
  }
}

void ZeroAdamW::scatter_moments(const View1<float>& m_full, const View1<float>& v_full) {
  Kokkos::deep_copy(m_, slice(m_full, begin_, chunk_));
  Kokkos::deep_copy(v_, slice(v_full, begin_, chunk_));
}

}  // namespace tessera
