// Row gather (pool the [CLS] / last-token rows): inp [*, C], rows [M] (int32), out [M, C].
// forward : out[m,:] = inp[rows[m],:]
// backward: dinp[rows[m],:] += dout[m,:]   (race-free when rows repeat: parallel over channels, m in order)
#pragma once
#include "kernels/views.hpp"

namespace tessera {

template <class S>
void gather_rows_forward(View1<S> out, ConstView1<S> inp, ConstView1<int32_t> rows, int64_t M, int C);

template <class S>
void gather_rows_backward(View1<S> dinp, ConstView1<S> dout, ConstView1<int32_t> rows, int64_t M, int C);

}  // namespace tessera
