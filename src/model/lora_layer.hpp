// LoRA on one linear layer of a block (internal to the transformer's translation
// units). For input x [N, in] and base output y [N, out] (row strides ldx, ldy):
//   forward : xd = dropout(x);  u = xd·Aᵀ [N, r] (kept);  y += s·u·Bᵀ,  s = alpha/r
//   backward: dB += s·dyᵀ·u;  du = s·dy·B;  dA += duᵀ·xd;  dx += dropout_bwd(du·A)
// Tensor parallelism follows the base layer's split: a column-parallel layer
// splits B by rows (A replicated: its gradient is a partial sum over tp), a
// row-parallel layer splits A by columns (B replicated, partial gradient, and the
// LoRA output joins the base layer's partial output before its all-reduce). The
// partial gradients are summed over tp once per step (GradientSynchronizer).
#pragma once
#include <string>
#include "kernels/gemm.hpp"
#include "kernels/lora_dropout.hpp"
#include "kernels/views.hpp"
#include "src/model/transformer_config.hpp"

namespace tessera {

// The block's linear layers that can carry an adapter (index into the per-layer u buffer).
enum LoraSite : int { kLoraQKV = 0, kLoraQ, kLoraK, kLoraV, kLoraO, kLoraFC, kLoraGate, kLoraUp, kLoraProj, kLoraSites };

// True when a target (PEFT target_modules entry) selects the module: equal, a
// dotted suffix of it ("q_proj" selects "layers.0.self_attn.q_proj"), or a glob on it.
bool lora_target_matches(const std::string& target, const std::string& module);

inline std::string lora_a_name(const std::string& module) { return module + ".lora_A.weight"; }
inline std::string lora_b_name(const std::string& module) { return module + ".lora_B.weight"; }
inline bool is_lora_parameter(const std::string& name) {
  return name.find(".lora_A.weight") != std::string::npos || name.find(".lora_B.weight") != std::string::npos;
}

// One adapter call's operands (local shapes; x/y/dx with row strides).
template <class S>
struct LoraCall {
  View1<S> a, b, ga, gb;   // A [r, in_l], B [out_l, r] and their gradients (empty = frozen)
  View1<S> u;              // [N, r] kept from the forward
  View1<S> xd_scratch;     // [N, in_l] (dropout > 0)
  View1<S> du_scratch;     // [N, r]
  View1<S> dxd_scratch;    // [N, in_l] (dropout > 0)
  int64_t N = 0, in = 0, out = 0, r = 0;
  double scale = 1, dropout = 0;
  RngKey key{};
  LoraDropoutShape drop_shape;  // rows N, cols in, ld ldx, full-tensor column indexing
};

template <class S>
void lora_forward(const LoraCall<S>& c, const View1<S>& x, int64_t ldx, View1<S> y, int64_t ldy) {
  const S* xd = x.data();
  int64_t ldxd = ldx;
  if (c.dropout > 0) {
    lora_dropout_forward<S>(c.xd_scratch, x, c.drop_shape, S(c.dropout), c.key);
    xd = c.xd_scratch.data();
    ldxd = c.in;
  }
  gemm<S>(Trans::No, Trans::Yes, c.N, c.r, c.in, S(1), xd, ldxd, c.a.data(), c.in, S(0), c.u.data(), c.r);
  gemm<S>(Trans::No, Trans::Yes, c.N, c.out, c.r, S(c.scale), c.u.data(), c.r, c.b.data(), c.r, S(1), y.data(), ldy);
}

template <class S>
void lora_backward(const LoraCall<S>& c, const View1<S>& dy, int64_t lddy, const View1<S>& x, int64_t ldx,
                   View1<S> dx, int64_t lddx) {
  if (c.gb.extent(0) > 0)
    gemm<S>(Trans::Yes, Trans::No, c.out, c.r, c.N, S(c.scale), dy.data(), lddy, c.u.data(), c.r, S(1), c.gb.data(),
            c.r);
  gemm<S>(Trans::No, Trans::No, c.N, c.r, c.out, S(c.scale), dy.data(), lddy, c.b.data(), c.r, S(0),
          c.du_scratch.data(), c.r);
  const S* xd = x.data();
  int64_t ldxd = ldx;
  if (c.dropout > 0) {  // recompute xd from the counter RNG
    lora_dropout_forward<S>(c.xd_scratch, x, c.drop_shape, S(c.dropout), c.key);
    xd = c.xd_scratch.data();
    ldxd = c.in;
  }
  if (c.ga.extent(0) > 0)
    gemm<S>(Trans::Yes, Trans::No, c.r, c.in, c.N, S(1), c.du_scratch.data(), c.r, xd, ldxd, S(1), c.ga.data(), c.in);
  if (dx.extent(0) == 0) return;
  if (c.dropout > 0) {
    gemm<S>(Trans::No, Trans::No, c.N, c.in, c.r, S(1), c.du_scratch.data(), c.r, c.a.data(), c.in, S(0),
            c.dxd_scratch.data(), c.in);
    LoraDropoutShape s = c.drop_shape;
    s.ld = lddx;
    lora_dropout_backward<S>(dx, c.dxd_scratch, s, S(c.dropout), c.key);
  } else {
    gemm<S>(Trans::No, Trans::No, c.N, c.in, c.r, S(1), c.du_scratch.data(), c.r, c.a.data(), c.in, S(1), dx.data(),
            lddx);
  }
}

}  // namespace tessera
