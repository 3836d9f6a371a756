// Input of the auxiliary-feature head (src/model, FeatureHeadConfig): one row per sample
//   u[r, 0:C)              = z[r, :]                        (the text representation)
//   u[r, C:C+D)            = dense[r, :]                    (standardised features)
//   u[r, C+D+j·E : +E)     = table[cat[r, j], :]            (categorical column j, j < M)
// cat holds row indices into the stacked embedding table (column j's offset added).
// backward: dz[r, :] = du[r, 0:C) (overwrite); dtable[v, e] += Σ_{(r, j): cat[r,j] = v} du[r, C+D+j·E+e]
// (summed in (r, j) order per element: deterministic; an empty dtable = frozen).
// ReLU: y = max(x, 0); backward dinp += dout·[x > 0].
#pragma once
#include "kernels/views.hpp"

namespace tessera {

template <class S>
void feature_input_forward(View1<S> u, ConstView1<S> z, ConstView1<S> dense, ConstView1<int32_t> cat,
                           ConstView1<S> table, int64_t rows, int64_t C, int64_t D, int64_t M, int64_t E);
template <class S>
void feature_input_backward(View1<S> dz, View1<S> dtable, ConstView1<S> du, ConstView1<int32_t> cat, int64_t rows,
                            int64_t C, int64_t D, int64_t M, int64_t E, int64_t table_rows);

template <class S>
void relu_forward(View1<S> out, ConstView1<S> inp, int64_t n);
template <class S>
void relu_backward(View1<S> dinp, ConstView1<S> inp, ConstView1<S> dout, int64_t n);

}  // namespace tessera
