#include "src/train/trainer.hpp"
#include <chrono>
#include <cmath>
#include <filesystem>
#include <sstream>
#include "io/checkpoint.hpp"
#include "io/token_dataset.hpp"
#include "kernels/device_runtime.hpp"
#include "kernels/grad_norm.hpp"
#include "src/runtime/error.hpp"
#include "src/tokenizer/byte_tokenizer.hpp"
#include "src/train/adamw_optimizer.hpp"
#include "src/train/lr_schedule.hpp"
#include "src/train/sampler.hpp"
#include "src/train/step_log.hpp"
#include "src/train/token_batch_loader.hpp"

namespace fs = std::filesystem;

namespace tessera {

double flops_per_token(const GPT2Config& c, int T) {
  return 6.0 * double(c.num_parameters()) + 12.0 * c.n_layer * c.n_embd * double(T);
}

double evaluate_loss(GPT2<float>& model, const TokenDataset& data, const std::string& split, int T, int B,
                     int64_t max_batches) {
  TokenBatchLoader loader(data, split, T, B, /*shuffle=*/false, 0);
  int64_t n = loader.batches_per_epoch();
  if (max_batches > 0) n = std::min(n, max_batches);
  std::vector<int32_t> tok(size_t(B) * T), tgt(size_t(B) * T);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    loader.next_batch(tok.data(), tgt.data());
    sum += model.forward(tok.data(), tgt.data(), B, T, ForwardOptions{});
  }
  return n > 0 ? sum / double(n) : NAN;
}

void load_model_weights(GPT2<float>& model, const std::string& file, MPI_Comm comm) {
  auto host = Kokkos::create_mirror_view(model.params().values());
  read_checkpoint<float>(file, model.params().infos(), {TensorGroupIn<float>{"params", host.data()}}, comm);
  Kokkos::deep_copy(model.params().values(), host);
}

namespace {

struct Checkpointer {
  std::string dir;
  int keep_last;
  MPI_Comm comm;

  std::string save(GPT2<float>& model, AdamWOptimizer<float>& opt, const TrainingState& st) {
    auto p = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), model.params().values());
    auto m = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), opt.exp_avg());
    auto v = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), opt.exp_avg_sq());
    return write_checkpoint<float>(dir, model.params().infos(),
                                   {{"params", p.data()}, {"optimizer/exp_avg", m.data()}, {"optimizer/exp_avg_sq", v.data()}},
                                   st, keep_last, comm);
  }

  TrainingState load(const std::string& file, GPT2<float>& model, AdamWOptimizer<float>& opt) {
    auto p = Kokkos::create_mirror_view(model.params().values());
    auto m = Kokkos::create_mirror_view(opt.exp_avg());
    auto v = Kokkos::create_mirror_view(opt.exp_avg_sq());
    TrainingState st = read_checkpoint<float>(
        file, model.params().infos(),
        {{"params", p.data()}, {"optimizer/exp_avg", m.data()}, {"optimizer/exp_avg_sq", v.data()}}, comm);
    Kokkos::deep_copy(model.params().values(), p);
    Kokkos::deep_copy(opt.exp_avg(), m);
    Kokkos::deep_copy(opt.exp_avg_sq(), v);
    opt.set_steps_taken(st.step);
    return st;
  }
};

std::string fmt_double(double x) {
  std::ostringstream s;
  s.precision(6);
  s << x;
  return s.str();
}

}  // namespace

TrainSummary run_training(const RunConfig& cfg, MPI_Comm comm, int64_t stop_at_step) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  const bool lead = rank == 0;
  select_backend(cfg.train.device, lead);

  const fs::path run_dir = cfg.run.dir;
  std::error_code ec;
  fs::create_directories(run_dir, ec);
  require(!ec && fs::is_directory(run_dir), "run.dir '" + cfg.run.dir + "' cannot be created: " + ec.message());
  const std::string ckpt_dir = cfg.checkpoint.dir.empty() ? (run_dir / "checkpoints").string() : cfg.checkpoint.dir;

  // ---- data
  TokenDataset data(cfg.data.path, comm);
  const GPT2Config& mc = cfg.model.gpt2;
  require(data.info().vocab_size <= mc.vocab_size,
          "dataset '" + cfg.data.path + "' has vocab_size " + std::to_string(data.info().vocab_size) +
              " (tokenizer " + data.info().tokenizer + ") but the model's vocab_size is " +
              std::to_string(mc.vocab_size));
  const int T = cfg.data.seq_len, B = cfg.train.micro_batch_size, accum = cfg.train.grad_accum_steps;
  TokenBatchLoader loader(data, cfg.data.train_split, T, B, cfg.data.shuffle, cfg.train.seed);
  const bool has_val = !cfg.data.validation_split.empty() && data.has_split(cfg.data.validation_split);

  int64_t total_steps = cfg.train.max_steps;
  if (total_steps <= 0)
    total_steps = std::max<int64_t>(1, int64_t(std::ceil(cfg.train.epochs * double(loader.batches_per_epoch()) / accum)));

  // ---- model + optimizer
  GPT2<float> model(mc);
  model.init_weights(cfg.train.seed);
  if (!cfg.model.init_from.empty()) load_model_weights(model, cfg.model.init_from, comm);
  AdamWOptimizer<float> opt(model.params(), {cfg.optim.beta1, cfg.optim.beta2, cfg.optim.eps, cfg.optim.weight_decay});
  Checkpointer ckpt{ckpt_dir, cfg.checkpoint.keep_last, comm};

  StepLog log((run_dir / "metrics.jsonl").string(), lead, total_steps);
  int64_t step = 0, tokens_seen = 0;
  TrainSummary summary;
  if (cfg.checkpoint.resume) {
    const std::string latest = find_latest_checkpoint(ckpt_dir);
    if (!latest.empty()) {
      TrainingState st = ckpt.load(latest, model, opt);
      step = st.step;
      tokens_seen = st.tokens_seen;
      loader.set_position(st.data_epoch, st.data_cursor);
      log.message("resumed from " + latest + " at step " + std::to_string(step));
    } else {
      log.message("resume requested, no checkpoint in " + ckpt_dir + ": starting fresh");
    }
  }
  log.message("model gpt2: " + std::to_string(mc.n_layer) + " layers, " + std::to_string(mc.n_head) + " heads, width " +
              std::to_string(mc.n_embd) + ", " + std::to_string(mc.num_parameters()) + " parameters; data " +
              cfg.data.path + " (" + std::to_string(loader.num_samples()) + " train samples of " + std::to_string(T) +
              " tokens); " + std::to_string(total_steps) + " steps of " + std::to_string(B * accum * T) + " tokens");
  log.record("config", {{"config", cfg.source_text}, {"parameters", mc.num_parameters()}});

  auto save = [&](int64_t at_step) {
    TrainingState st;
    st.step = at_step;
    st.tokens_seen = tokens_seen;
    st.seed = cfg.train.seed;
    st.data_epoch = loader.epoch();
    st.data_cursor = loader.cursor();
    st.config_toml = cfg.source_text.empty() ? to_toml(cfg) : cfg.source_text;
    st.model_family = "gpt2";
    const auto t0 = std::chrono::steady_clock::now();
    summary.last_checkpoint = ckpt.save(model, opt, st);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    log.message("checkpoint " + summary.last_checkpoint + " (" + fmt_double(secs) + " s)");
    log.record("checkpoint", {{"step", at_step}, {"path", summary.last_checkpoint}, {"seconds", secs}});
  };
  auto validate = [&](int64_t at_step) {
    if (!has_val) return;
    summary.last_val_loss = evaluate_loss(model, data, cfg.data.validation_split, T, B, cfg.train.eval_batches);
    log.eval(at_step, cfg.data.validation_split, summary.last_val_loss);
  };

  std::vector<int32_t> tok(size_t(B) * T), tgt(size_t(B) * T);
  const double flops_step = flops_per_token(mc, T) * double(B) * T * accum;
  const auto run_start = std::chrono::steady_clock::now();
  while (step < total_steps) {
    const auto t0 = std::chrono::steady_clock::now();
    model.params().zero_grads();
    double loss = 0;
    for (int micro = 0; micro < accum; ++micro) {
      loader.next_batch(tok.data(), tgt.data());
      ForwardOptions fo{true, cfg.train.seed, uint64_t(step * accum + micro)};
      const double l = model.forward(tok.data(), tgt.data(), B, T, fo);
      if (!std::isfinite(l))
        throw Error("loss is " + fmt_double(l) + " at step " + std::to_string(step + 1) + " (micro-batch " +
                    std::to_string(micro) + "): training diverged; lower optim.lr or raise optim.warmup_steps");
      model.backward(1.0f / float(accum));
      loss += l / accum;
    }
    const double norm = std::sqrt(sum_of_squares<float>(model.params().grads(), int64_t(model.params().numel())));
    if (!std::isfinite(norm))
      throw Error("gradient norm is " + fmt_double(norm) + " at step " + std::to_string(step + 1));
    const double lr = learning_rate(cfg.optim.schedule, cfg.optim.lr, cfg.optim.min_lr_ratio, cfg.optim.warmup_steps,
                                    step, total_steps);
    opt.step(model.params(), lr, clip_scale(norm, cfg.train.grad_clip));
    ++step;
    tokens_seen += int64_t(B) * T * accum;
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    summary.last_train_loss = loss;
    if (step % cfg.train.log_interval == 0 || step == total_steps)
      log.train_step(step, loss, lr, norm, double(B) * T * accum / secs, flops_step / secs * 1e-9, secs * 1e3);

    const bool last = step == total_steps;
    if (!last && cfg.train.eval_interval > 0 && step % cfg.train.eval_interval == 0) validate(step);
    if (!last && cfg.checkpoint.interval > 0 && step % cfg.checkpoint.interval == 0) save(step);
    if (!last && step == stop_at_step) {
      log.message("stopping at step " + std::to_string(step) + " as asked (--stop-at-step)");
      save(step);
      summary.stopped_early = true;
      summary.steps_done = step;
      return summary;
    }
    if (!last && cfg.train.max_time_s > 0) {
      double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start).count();
      MPI_Bcast(&elapsed, 1, MPI_DOUBLE, 0, comm);
      if (elapsed >= cfg.train.max_time_s) {
        log.message("train.max_time_s reached after step " + std::to_string(step) + ": checkpointing and stopping");
        save(step);
        summary.stopped_early = true;
        summary.steps_done = step;
        return summary;
      }
    }
  }
  validate(step);
  save(step);
  summary.steps_done = step;

  if (cfg.generate.max_new_tokens > 0 && lead) {
    ByteTokenizer tokenizer;
    require(data.info().tokenizer == tokenizer.name(),
            "generate: dataset tokenizer '" + data.info().tokenizer + "' has no decoder in this build");
    SamplingOptions so;
    so.max_new_tokens = cfg.generate.max_new_tokens;
    so.temperature = cfg.generate.temperature;
    so.top_k = cfg.generate.top_k;
    so.seed = cfg.train.seed;
    auto prompt = tokenizer.encode(cfg.generate.prompt.empty() ? "\n" : cfg.generate.prompt);
    auto out = sample_tokens(model, prompt, so);
    log.message("sample: " + tokenizer.decode(out));
    log.record("sample", {{"step", step}, {"text", tokenizer.decode(out)}});
  }
  log.record("summary", {{"steps", step},
                         {"train_loss", summary.last_train_loss},
                         {"val_loss", summary.last_val_loss},
                         {"checkpoint", summary.last_checkpoint}});
  return summary;
}

}  // namespace tessera
