// AdamW over a ParameterSet: first/second moments in slabs laid out like the
// parameters. Neighbouring tensors with the same weight-decay flag are merged into
// one contiguous run (computed once), so a step is one streaming pass over the
// slabs in a few dozen kernel calls instead of one call per tensor. Frozen tensors
// have no moments: the state covers the trainable part of the slab only.
#pragma once
#include <vector>
#include "kernels/adamw.hpp"
#include "src/tensor/parameter_set.hpp"

namespace tessera {

struct AdamWSettings {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
};

// The kernel's hyper-parameters for one update of a run of tensors.
inline AdamWStep adamw_step(const AdamWSettings& s, double lr, bool decay, int64_t t, double grad_scale) {
  AdamWStep h;
  h.lr = lr;
  h.beta1 = s.beta1;
  h.beta2 = s.beta2;
  h.eps = s.eps;
  h.weight_decay = decay ? s.weight_decay : 0.0;
  h.t = t;
  h.grad_scale = grad_scale;
  return h;
}

template <class S>
class AdamWOptimizer {
 public:
  AdamWOptimizer(const ParameterSet<S>& params, const AdamWSettings& s)
      : settings_(s), m_("adamw_m", params.trainable_numel()), v_("adamw_v", params.trainable_numel()) {}

  // One update with learning rate lr; grad_scale multiplies the gradients (clipping).
  void step(ParameterSet<S>& params, double lr, double grad_scale) {
    ++t_;
    if (runs_total_ != params.numel() || runs_count_ != params.infos().size()) build_runs(params);
    for (const Run& r : runs_) {
      const AdamWStep h = adamw_step(settings_, lr, r.decay, t_, grad_scale);
      adamw_update<S>(slice(params.values(), r.offset, r.numel), slice(params.grads(), r.offset, r.numel),
                      slice(m_, r.offset, r.numel), slice(v_, r.offset, r.numel), int64_t(r.numel), h);
    }
  }

  int64_t steps_taken() const { return t_; }
  void set_steps_taken(int64_t t) { t_ = t; }
  View1<S> exp_avg() const { return m_; }
  View1<S> exp_avg_sq() const { return v_; }
  size_t state_bytes() const { return 2 * m_.extent(0) * sizeof(S); }

 private:
  struct Run {
    size_t offset = 0, numel = 0;
    bool decay = false;
  };
  // Contiguous slab ranges with one weight-decay flag (parameters are laid out back to back).
  void build_runs(const ParameterSet<S>& params) {
    runs_.clear();
    for (const ParamInfo& info : params.infos()) {
      if (info.numel == 0 || !info.trainable) continue;
      if (!runs_.empty() && runs_.back().decay == info.weight_decay &&
          runs_.back().offset + runs_.back().numel == info.offset)
        runs_.back().numel += info.numel;
      else
        runs_.push_back({info.offset, info.numel, info.weight_decay});
    }
    runs_total_ = params.numel();
    runs_count_ = params.infos().size();
  }

  AdamWSettings settings_;
  View1<S> m_, v_;
  std::vector<Run> runs_;
  size_t runs_total_ = 0, runs_count_ = 0;
  int64_t t_ = 0;
};

}  // namespace tessera
