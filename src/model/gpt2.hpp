// GPT-2 decoder: pre-LN blocks, learned positions, tanh-GELU, tied input/output
// embedding. Parameters carry Hugging Face's names; linear weights are stored
// [out, in] (nn.Linear layout: y = x·Wᵀ + b), so HF's Conv1D weights ([in, out])
// are transposed on import.
//
// Parameters (C = n_embd, V = vocab_size, P = n_positions), in registration order:
//   wte.weight [V,C]   wpe.weight [P,C]
//   h.{i}.ln_1.weight [C]          h.{i}.ln_1.bias [C]
//   h.{i}.attn.c_attn.weight [3C,C] h.{i}.attn.c_attn.bias [3C]
//   h.{i}.attn.c_proj.weight [C,C]  h.{i}.attn.c_proj.bias [C]
//   h.{i}.ln_2.weight [C]          h.{i}.ln_2.bias [C]
//   h.{i}.mlp.c_fc.weight [4C,C]   h.{i}.mlp.c_fc.bias [4C]
//   h.{i}.mlp.c_proj.weight [C,4C] h.{i}.mlp.c_proj.bias [C]
//   ln_f.weight [C]  ln_f.bias [C]
// weight_decay is false for biases and LayerNorm weights.
#pragma once
#include <cstdint>
#include <memory>
#include "kernels/counter_rng.hpp"
#include "kernels/views.hpp"
#include "src/model/gpt2_config.hpp"
#include "src/tensor/parameter_set.hpp"

namespace tessera {

constexpr int32_t kIgnoreIndex = -100;

struct ForwardOptions {
  bool training = false;  // dropout on when true
  uint64_t seed = 0;      // dropout RNG key: (seed, step, layer, site, element)
  uint64_t step = 0;
};

template <class S>
class GPT2 {
 public:
  explicit GPT2(const GPT2Config& cfg);
  ~GPT2();

  const GPT2Config& config() const { return cfg_; }
  ParameterSet<S>& params() { return params_; }
  const ParameterSet<S>& params() const { return params_; }

  // GPT-2 initialisation: weights N(0, initializer_range), the residual projections
  // (attn.c_proj.weight, mlp.c_proj.weight) N(0, initializer_range/√(2·n_layer)),
  // biases 0, LayerNorm weight 1 / bias 0. Each element's value is a pure function
  // of (seed, parameter index, element index in the full tensor): any shard equals
  // the matching slice of the one-rank init.
  void init_weights(uint64_t seed);

  // Forward over tokens [B,T] (host memory, row-major). With targets (host, [B,T],
  // kIgnoreIndex = skip) returns the mean cross-entropy over valid targets and keeps
  // what backward needs; without (targets == nullptr) returns 0 and leaves logits().
  // Activations are (re)allocated when B·T grows. T ≤ n_positions.
  S forward(const int32_t* tokens, const int32_t* targets, int B, int T, const ForwardOptions& opt);

  // Backward of the last forward (which must have had targets): accumulates (+=)
  // d(loss_scale · mean loss)/dθ into params().grads(). Pass 1/grad_accum_steps.
  void backward(S loss_scale);

  // Logits [B,T,V] of the last forward without targets (after a forward with
  // targets and backward(), this buffer holds gradients).
  View1<S> logits() const;

  // Number of valid (non-ignored) targets in the last forward.
  int64_t num_valid_targets() const;

  // Bytes of activation memory currently allocated.
  size_t activation_bytes() const;

 private:
  struct Activations;
  GPT2Config cfg_;
  ParameterSet<S> params_;
  std::unique_ptr<Activations> acts_;
};

}  // namespace tessera
