// L1 penalty λ·Σ|θ| on one parameter tensor: grad_i += λ·sign(θ_i) with sign(0) = 0 (the subgradient 0 at the
// kink, as torch.sign gives); returns λ·Σ|θ| (summed in double) for logging. NaN θ adds nothing to grad and
// makes the returned penalty NaN, so the logged value shows it.
#pragma once
#include "kernels/views.hpp"

namespace tessera {

template <class S>
S l1_penalty_add_grad(View1<S> grad, ConstView1<S> param, int64_t n, S lambda);

}  // namespace tessera
