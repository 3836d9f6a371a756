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
//
// Parallel layout (ModelParallel): with tp ranks, c_attn is column-parallel by
// heads (each rank holds its heads' rows of q, k and v: shard_groups = 3),
// c_fc column-parallel, both c_proj row-parallel (their biases replicated and
// added after the all-reduce), wte vocab-parallel (rows), LayerNorms and wpe
// replicated. With pp stages, stage s holds blocks balanced_range(n_layer, pp, s);
// the first stage holds wte/wpe, the last ln_f and its own copy of wte for the
// tied head (its gradient is summed across the two stages by the trainer).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>
#include "kernels/counter_rng.hpp"
#include "kernels/views.hpp"
#include "src/model/gpt2_config.hpp"
#include "src/model/model_parallel.hpp"
#include "src/tensor/parameter_set.hpp"

namespace tessera {

constexpr int32_t kIgnoreIndex = -100;

// RNG site of a parameter's initialisation stream: a hash of its name, so every
// shard and every pipeline stage draws the same values as the one-rank model.
uint32_t param_rng_site(const std::string& name);

struct ForwardOptions {
  bool training = false;  // dropout on when true
  uint64_t seed = 0;      // dropout RNG key: (seed, step, layer, site, element)
  uint64_t step = 0;
};

template <class S>
class GPT2 {
 public:
  explicit GPT2(const GPT2Config& cfg);
  GPT2(const GPT2Config& cfg, const ModelParallel& mp);
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

  // ---- pipeline-stage interface (the whole model is one stage when pp = 1)
  const ModelParallel& parallel() const { return mp_; }
  bool is_first_stage() const { return mp_.pp_rank == 0; }
  bool is_last_stage() const { return mp_.pp_rank == mp_.pp_size - 1; }
  int first_layer() const { return layer_begin_; }
  int end_layer() const { return layer_end_; }
  // Activation sets kept at once (micro-batches in flight on this stage).
  void set_num_slots(int slots);
  // Forward of one micro-batch in activation slot `slot`. The first stage reads
  // tokens; later stages read input_hidden [B·T·C] (the previous stage's output).
  // The last stage needs targets and returns the mean loss; others return 0.
  S forward_stage(int slot, const int32_t* tokens, const int32_t* targets, int B, int T, const ForwardOptions& opt,
                  const View1<S>& input_hidden);
  // This stage's output [B·T·C] for slot (not on the last stage).
  View1<S> stage_output(int slot) const;
  // Backward of slot; later-than-last stages pass output_grad [B·T·C] (the next
  // stage's input gradient). Parameter gradients accumulate (+=).
  void backward_stage(int slot, S loss_scale, const View1<S>& output_grad);
  // Gradient w.r.t. this stage's input [B·T·C] after backward_stage (not on the first stage).
  View1<S> stage_input_grad(int slot) const;
  // Called during backward with a range [first, last) of parameter indices whose
  // gradients are complete for this backward (to start data-parallel reductions early).
  void set_grads_ready_hook(std::function<void(size_t, size_t)> hook) { grads_ready_ = std::move(hook); }

  // Bytes of activation memory currently allocated.
  size_t activation_bytes() const;

 private:
  struct Activations;
  GPT2Config cfg_;
  ModelParallel mp_;
  int layer_begin_ = 0, layer_end_ = 0;
  ParameterSet<S> params_;
  std::vector<std::unique_ptr<Activations>> slots_;
  std::function<void(size_t, size_t)> grads_ready_;
};

}  // namespace tessera
