// Rotary position embedding (HF Llama "rotate_half"), in place on the q and k heads of a fused QKV buffer
// with rows of width W = (NH + 2·NKV)·hd: q heads at [0, NH·hd), k heads at [NH·hd, (NH+NKV)·hd), v untouched.
// forward : p = pos_offset + n % T, a = p·theta^(−2i/hd), (x[i], x[i+hd/2]) → (x1·cos a − x2·sin a, x2·cos a + x1·sin a)
// backward: dqkv rotated by −a in place (the transpose), so dqkv becomes the gradient before RoPE.
// Angles are computed in double.
#pragma once
#include "kernels/views.hpp"

namespace tessera {

template <class S>
void rope_forward(View1<S> qkv, int64_t N, int T, int64_t pos_offset, int NH, int NKV, int hd, double theta);

template <class S>
void rope_backward(View1<S> dqkv, int64_t N, int T, int64_t pos_offset, int NH, int NKV, int hd, double theta);

}  // namespace tessera
