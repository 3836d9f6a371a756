// GPT-2 hyper-parameters (names follow Hugging Face's GPT2Config).
#pragma once
#include <cstdint>

namespace tessera {

struct GPT2Config {
  int n_layer = 12;
  int n_head = 12;
  int n_embd = 768;
  int n_positions = 1024;  // context length
  int vocab_size = 50257;
  double embd_pdrop = 0.0;  // dropout after token+position embedding
  double attn_pdrop = 0.0;  // dropout on attention probabilities
  double resid_pdrop = 0.0; // dropout on each residual branch output
  double layer_norm_epsilon = 1e-5;
  double initializer_range = 0.02;

  int head_dim() const { return n_embd / n_head; }
  // Parameter count, tied embeddings counted once.
  int64_t num_parameters() const {
    const int64_t C = n_embd, L = n_layer;
    const int64_t per_layer = 2 * C + (C * 3 * C + 3 * C) + (C * C + C) + 2 * C + (C * 4 * C + 4 * C) + (4 * C * C + C);
    return int64_t(vocab_size) * C + int64_t(n_positions) * C + L * per_layer + 2 * C;
  }
};

}  // namespace tessera
