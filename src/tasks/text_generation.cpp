#include "src/tasks/text_generation.hpp"

#include <algorithm>
#include <chrono>
#include "src/parallel/communicator.hpp"
#include "src/runtime/error.hpp"

namespace tessera {

namespace {

// Full-vocabulary logits of row `row` of the last forward (tp shards summed) into `full`,
// which the decode loop reuses across tokens (no fresh vocabulary-sized buffer per token).
void full_logits_row(Transformer<float>& model, int64_t row, std::vector<float>& full) {
  const TransformerConfig& c = model.config();
  const ModelParallel& mp = model.parallel();
  const auto [v0, v1] = balanced_range(c.vocab_size, mp.tp_size, mp.tp_rank);
  const int64_t Vl = v1 - v0;
  const View1<float> logits = model.logits();
  auto host = Kokkos::create_mirror_view_and_copy(
      Kokkos::HostSpace(), Kokkos::subview(logits, std::make_pair(size_t(row * Vl), size_t((row + 1) * Vl))));
  full.assign(size_t(c.vocab_size), 0.0f);
  for (int64_t v = 0; v < Vl; ++v) full[size_t(v0 + v)] = host(v);
  if (mp.tp_size > 1) mp.tp->all_reduce(full.data(), full.size(), DType::F32, ReduceOp::Sum);
}

}  // namespace

GenerationResult generate_tokens(Transformer<float>& model, const std::vector<int32_t>& prompt,
                                 const GenerationOptions& opt) {
  const TransformerConfig& c = model.config();
  require(c.head == HeadKind::CausalLM && !c.is_encoder(), "generate: needs a decoder with the causal_lm head");
  require(model.parallel().pp_size == 1, "generate: runs with pp = 1 (tensor parallelism is fine)");
  require(!prompt.empty(), "generate: empty prompt");
  tasks::check_sampling_options(opt.sampling);
  const int context = c.n_positions;
  require(int64_t(prompt.size()) < context, "generate: the prompt has " + std::to_string(prompt.size()) +
                                                " tokens; the model's context is " + std::to_string(context));
  GenerationResult r;
  r.tokens = prompt;
  r.prompt_length = int64_t(prompt.size());
  const int total = int(std::min<int64_t>(context, int64_t(prompt.size()) + opt.max_new_tokens));
  using clock = std::chrono::steady_clock;
  if (opt.kv_cache) model.begin_decode(1, total);
  std::vector<float> logits;
  for (int step = 0; int64_t(r.tokens.size()) < total; ++step) {
    const auto t0 = clock::now();
    const int64_t n = int64_t(r.tokens.size());
    int64_t row = 0;
    if (opt.kv_cache) {
      if (step == 0) {
        model.forward_decode(r.tokens.data(), 1, int(n), 0);
        row = n - 1;
      } else {
        model.forward_decode(&r.tokens.back(), 1, 1, n - 1);
      }
    } else {
      model.forward(r.tokens.data(), nullptr, 1, int(n), ForwardOptions{});
      row = n - 1;
    }
    full_logits_row(model, row, logits);
    const int64_t V = opt.vocab_limit > 0 ? std::min<int64_t>(opt.vocab_limit, c.vocab_size) : c.vocab_size;
    const int32_t next = tasks::sample_next_token(logits.data(), V, r.tokens, opt.sampling, uint64_t(step));
    r.tokens.push_back(next);
    r.step_seconds.push_back(std::chrono::duration<double>(clock::now() - t0).count());
    const std::vector<int32_t> generated(r.tokens.begin() + r.prompt_length, r.tokens.end());
    if (tasks::is_stop_token(next, opt.sampling) || tasks::hits_stop(generated, opt.stop_sequences)) {
      r.stopped = true;
      break;
    }
  }
  return r;
}

}  // namespace tessera
