// Learning-rate schedule: linear warmup from 0 to lr over warmup_steps, then
// cosine / linear decay to lr·min_lr_ratio at total_steps, or constant.
//   warmup : lr · (step+1)/warmup
//   cosine : lr_min + ½(lr - lr_min)(1 + cos(π·progress))
//   linear : lr - (lr - lr_min)·progress
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

namespace tessera {

inline double learning_rate(const std::string& schedule, double lr, double min_lr_ratio, int64_t warmup_steps,
                            int64_t step, int64_t total_steps) {
  if (step < warmup_steps) return lr * double(step + 1) / double(warmup_steps);
  if (schedule == "constant") return lr;
  const double lr_min = lr * min_lr_ratio;
  const int64_t decay_steps = std::max<int64_t>(1, total_steps - warmup_steps);
  const double progress = std::clamp(double(step - warmup_steps) / double(decay_steps), 0.0, 1.0);
  if (schedule == "linear") return lr - (lr - lr_min) * progress;
  return lr_min + 0.5 * (lr - lr_min) * (1.0 + std::cos(M_PI * progress));  // cosine
}

}  // namespace tessera
