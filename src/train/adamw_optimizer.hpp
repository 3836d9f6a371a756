// AdamW over a ParameterSet: first/second moments in slabs laid out like the
// parameters, one kernel call per tensor (weight decay only where the tensor
// allows it).
#pragma once
#include "kernels/adamw.hpp"
#include "src/tensor/parameter_set.hpp"

namespace tessera {

struct AdamWSettings {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
};

template <class S>
class AdamWOptimizer {
 public:
  AdamWOptimizer(const ParameterSet<S>& params, const AdamWSettings& s)
      : settings_(s), m_("adamw_m", params.numel()), v_("adamw_v", params.numel()) {}

  // One update with learning rate lr; grad_scale multiplies the gradients (clipping).
  void step(ParameterSet<S>& params, double lr, double grad_scale) {
    ++t_;
    for (size_t i = 0; i < params.infos().size(); ++i) {
      const ParamInfo& info = params.info(i);
      AdamWStep h;
      h.lr = lr;
      h.beta1 = settings_.beta1;
      h.beta2 = settings_.beta2;
      h.eps = settings_.eps;
      h.weight_decay = info.weight_decay ? settings_.weight_decay : 0.0;
      h.t = t_;
      h.grad_scale = grad_scale;
      adamw_update<S>(params.value(i), params.grad(i), slice(m_, info.offset, info.numel),
                      slice(v_, info.offset, info.numel), int64_t(info.numel), h);
    }
  }

  int64_t steps_taken() const { return t_; }
  void set_steps_taken(int64_t t) { t_ = t; }
  View1<S> exp_avg() const { return m_; }
  View1<S> exp_avg_sq() const { return v_; }
  size_t state_bytes() const { return 2 * m_.extent(0) * sizeof(S); }

 private:
  AdamWSettings settings_;
  View1<S> m_, v_;
  int64_t t_ = 0;
};

}  // namespace tessera
