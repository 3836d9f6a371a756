// Autoregressive generation from a decoder: the prompt is fed once, then one
// token at a time, with the KV cache (Transformer::begin_decode/forward_decode)
// or — for checking and benchmarking — by recomputing the whole context every
// token. Sampling (greedy, temperature, top-k, top-p, repetition penalty, stop
// tokens) is tasks::sample_next_token, keyed by (seed, step), so every rank of a
// tensor-parallel group draws the same token. Both paths give the same tokens
// (tests/tasks/test_generation.cpp).
#pragma once
#include <cstdint>
#include <vector>
#include "src/model/transformer.hpp"
#include "src/tasks/token_sampler.hpp"

namespace tessera {

struct GenerationOptions {
  int max_new_tokens = 64;
  tasks::SamplingOptions sampling;
  std::vector<std::vector<int32_t>> stop_sequences;  // stop after generating any of these
  bool kv_cache = true;                              // false: recompute the full context every token
  int64_t vocab_limit = 0;  // sample among ids [0, vocab_limit) only (a tokenizer smaller than a padded vocab); 0 = all
};

struct GenerationResult {
  std::vector<int32_t> tokens;  // prompt + generated
  int64_t prompt_length = 0;
  std::vector<double> step_seconds;  // wall time of each generated token (benchmarks)
  bool stopped = false;              // a stop token / sequence ended it
};

// Context: the model's n_positions; generation ends there. The model must have
// pp = 1; with tp > 1 the vocabulary shards of the logits are summed over its tp
// communicator before sampling.
GenerationResult generate_tokens(Transformer<float>& model, const std::vector<int32_t>& prompt,
                                 const GenerationOptions& opt);

}  // namespace tessera
