#include "src/train/trainer.hpp"
#include <sys/resource.h>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include "io/auxiliary_features.hpp"
#include "io/checkpoint.hpp"
#include "io/hdf5_file.hpp"
#include "io/task_dataset.hpp"
#include "io/token_dataset.hpp"
#include "kernels/l1_penalty.hpp"
#include "src/compress/head_pruning.hpp"
#include "src/compress/sparsity_masks.hpp"
#include "src/tasks/task_evaluator.hpp"
#include "src/train/class_balance.hpp"
#include "src/train/mixed_precision.hpp"
#include "src/train/early_stopping.hpp"
#include "src/train/freezing.hpp"
#include "src/train/resampling_sampler.hpp"
#include "src/train/task_batch_loader.hpp"
#include "kernels/device_runtime.hpp"
#include "kernels/gemm.hpp"
#include "kernels/grad_norm.hpp"
#include "src/parallel/process_grid.hpp"
#include "src/runtime/error.hpp"
#include "src/runtime/fault_injection.hpp"
#include "src/runtime/progress_board.hpp"  // HPC ops: hang watchdog names stalled ranks
#include "src/train/resume_state.hpp"        // --resume: verified checkpoint, fallback
#include "src/runtime/stop_signal.hpp"     // HPC ops: SIGUSR1/SIGTERM → checkpoint and stop
#include "src/tokenizer/byte_tokenizer.hpp"
#include "src/train/adamw_optimizer.hpp"
#include "src/train/adapter_loading.hpp"
#include "src/train/block_subset.hpp"
#include "src/train/gradient_sync.hpp"
#include "src/train/lr_schedule.hpp"
#include "src/train/memory_estimate.hpp"
#include "src/train/pipeline_runner.hpp"
#include "src/tasks/text_generation.hpp"
#include "src/train/step_log.hpp"
#include "src/train/token_batch_loader.hpp"
#include "src/train/training_data.hpp"
#include "src/train/training_recipe.hpp"
#include "src/train/validation.hpp"
#include "src/train/zero_adamw.hpp"

namespace fs = std::filesystem;

namespace tessera {

double flops_per_token(const GPT2Config& c, int T) {
  // Embedding lookups do no GEMM work: the token table counts only as a (tied or
  // untied) LM head; position/type tables never.
  double matmul_params = double(c.num_parameters());
  if (c.positions == PositionKind::Learned) matmul_params -= double(c.position_offset + c.n_positions) * c.n_embd;
  matmul_params -= double(c.type_vocab_size) * c.n_embd;
  if (c.head != HeadKind::CausalLM || !c.tie_word_embeddings) matmul_params -= double(c.vocab_size) * c.n_embd;
  return 6.0 * matmul_params + 12.0 * c.n_layer * c.n_embd * double(T);
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

std::vector<std::string> load_model_weights(GPT2<float>& model, const std::string& file, MPI_Comm comm,
                                            const std::vector<int>& kept_blocks) {
  std::set<std::string> present;
  {
    h5::File f = h5::File::open_read(file, comm);
    require(f.is_group("/params"), file + ": not a Tessera checkpoint (no /params group)");
    for (const std::string& n : f.list("/params")) present.insert(n);
  }
  std::vector<ParamInfo> infos;
  std::vector<std::string> missing;
  for (ParamInfo info : model.params().infos()) {
    if (!kept_blocks.empty()) info.name = checkpoint_name_of(info.name, kept_blocks);  // model.init_blocks
    if (present.count(info.name)) infos.push_back(info);
    else missing.push_back(info.name);
  }
  require(!infos.empty(), file + ": none of the model's parameters are in this checkpoint (family mismatch?)");
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), model.params().values());
  read_checkpoint<float>(file, infos, {TensorGroupIn<float>{"params", host.data()}}, comm);
  Kokkos::deep_copy(model.params().values(), host);
  return missing;
}

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

double peak_rss_mb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_maxrss) / 1024.0;
}

// Best-of-3 GFLOP/s of a 512³ single-precision GEMM through the dispatch: the
// per-rank peak that MFU is measured against when train.peak_gflops is 0.
double measure_gemm_peak_gflops() {
  const int n = 512;
  std::vector<float> a(size_t(n) * n, 0.5f), b(size_t(n) * n, 0.25f), c(size_t(n) * n);
  double best = 1e30;
  for (int r = 0; r < 4; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    gemm_host<float>(Trans::No, Trans::No, n, n, n, 1.f, a.data(), n, b.data(), n, 0.f, c.data(), n);
    if (r > 0) best = std::min(best, seconds_since(t0));
  }
  return 2.0 * n * n * double(n) / best * 1e-9;
}

// Starts a step's gradients at λ·sign(θ) for every matrix (weight_decay) parameter:
// the data-parallel average then gives mean(∇loss) + λ·sign(θ). The last stage's
// copy of a tied embedding is skipped (its gradient is summed with the first's).
void add_l1_gradient(GPT2<float>& model, float lambda) {
  auto& ps = model.params();
  for (size_t i = 0; i < ps.infos().size(); ++i) {
    const ParamInfo& info = ps.info(i);
    if (!info.weight_decay || !info.trainable) continue;
    if (model.has_tied_copy() && info.name == model.token_embedding_name()) continue;
    l1_penalty_add_grad<float>(ps.grad(i), ps.value(i), int64_t(info.numel), lambda);
  }
}

std::string fmt_double(double x) {
  std::ostringstream s;
  s.precision(6);
  s << x;
  return s.str();
}

struct Checkpointer {
  std::string dir;
  int keep_last;
  MPI_Comm comm;

  std::string save(GPT2<float>& model, Optimizer& opt, const TrainingState& st) {
    auto [m_dev, v_dev] = opt.moments();
    auto p = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), model.params().values());
    // Checkpoints hold moments for every tensor: frozen ones (after the trainable part) are 0.
    const size_t n = model.params().capacity();
    Kokkos::View<float*, Kokkos::HostSpace> m("ckpt_m", n), v("ckpt_v", n);
    Kokkos::deep_copy(slice(m, 0, m_dev.extent(0)), m_dev);
    Kokkos::deep_copy(slice(v, 0, v_dev.extent(0)), v_dev);
    return write_checkpoint<float>(dir, model.params().infos(),
                                   {{"params", p.data()}, {"optimizer/exp_avg", m.data()}, {"optimizer/exp_avg_sq", v.data()}},
                                   st, keep_last, comm);
  }

  TrainingState load(const std::string& file, GPT2<float>& model, Optimizer& opt) {
    const size_t n = model.params().capacity();
    Kokkos::View<float*, Kokkos::HostSpace> p("ckpt_p", n), m("ckpt_m", n), v("ckpt_v", n);
    TrainingState st = read_checkpoint<float>(
        file, model.params().infos(),
        {{"params", p.data()}, {"optimizer/exp_avg", m.data()}, {"optimizer/exp_avg_sq", v.data()}}, comm);
    Kokkos::deep_copy(model.params().values(), p);
    const size_t nt = model.params().trainable_capacity();
    View1<float> md("m", nt), vd("v", nt);
    Kokkos::deep_copy(md, slice(m, 0, nt));
    Kokkos::deep_copy(vd, slice(v, 0, nt));
    opt.set_moments(md, vd);
    opt.set_steps_taken(st.step);
    return st;
  }
};

}  // namespace

namespace {

// model.prune_heads / model.heads_per_layer: the heads to prune (heads_per_layer:
// the least important on the validation split, measured on the model as initialised
// from init_from — before any resume — so a resumed run derives the same heads).
HeadLists configured_head_pruning(const RunConfig& cfg, const TrainingData& data, GPT2<float>& model,
                                  ProcessGrid& grid, MPI_Comm comm, std::string& note) {
  const TransformerConfig& mc = cfg.model.transformer;
  const std::string origin = cfg.source_path.empty() ? "config" : cfg.source_path;
  if (!cfg.model.prune_heads.empty()) {
    require(!mc.lora.enabled(), origin + ": model.prune_heads: not supported together with [lora] adapters");
    return parse_prune_heads(cfg.model.prune_heads, mc.n_layer, mc.n_head, origin + ": model.prune_heads");
  }
  if (cfg.model.heads_per_layer <= 0) return {};
  const std::string key = origin + ": model.heads_per_layer";
  require(cfg.model.heads_per_layer <= mc.n_head, key + " = " + std::to_string(cfg.model.heads_per_layer) +
                                                      " is outside [1, " + std::to_string(mc.n_head) +
                                                      "] (the model has " + std::to_string(mc.n_head) +
                                                      " heads per layer)");
  require(!mc.lora.enabled(), key + ": not supported together with [lora] adapters");
  require(grid.pp_size() == 1, key + ": head importance needs parallel.pp = 1");
  require(data.has_validation, key + ": head importance needs the validation split data.validation_split = \"" +
                                   cfg.data.validation_split + "\" in " + cfg.data.path);
  const int B = cfg.train.micro_batch_size;
  std::unique_ptr<BatchSource> val;
  int64_t n = 0;
  if (data.task) {
    auto t = std::make_unique<TaskBatchLoader>(TaskBatchLoader::for_evaluation(
        *data.task_data, cfg.data.validation_split, B, grid.dp_rank(), grid.dp_size()));
    n = t->eval_batches();
    val = std::move(t);
  } else {
    val = std::make_unique<TokenBatchLoader>(*data.lm, cfg.data.validation_split, data.seq_len, B, false, 0,
                                             grid.dp_rank(), grid.dp_size());
    n = val->batches_per_epoch();
    if (cfg.train.eval_batches > 0) n = std::min(n, cfg.train.eval_batches);
  }
  int64_t i = 0;
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<double> imp = normalize_head_importance(
      head_importance<float>(model, [&](MicroBatch& mb) {
        if (i++ >= n) return false;
        val->next_batch(mb);
        return true;
      }, comm),
      mc.n_layer, mc.n_head);
  note = "head importance on " + std::to_string(n) + " validation batches in " +
         fmt_double(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()) + " s";
  return least_important_heads(imp, mc.n_layer, mc.n_head, cfg.model.heads_per_layer, key);
}

}  // namespace

double collective_timeout_floor(const RunConfig& cfg) {
  if (cfg.given.count("parallel.timeout_s")) return cfg.parallel.timeout_s;
  // The default; TESSERA_DEFAULT_TIMEOUT_S replaces it (tests: the default path with a short floor).
  const char* env = std::getenv("TESSERA_DEFAULT_TIMEOUT_S");
  if (env && *env) {
    char* end = nullptr;
    const double v = std::strtod(env, &end);
    require(end && *end == '\0' && std::isfinite(v) && v >= 0,
            std::string("TESSERA_DEFAULT_TIMEOUT_S = '") + env + "': expected a number of seconds >= 0");
    return v;
  }
  return cfg.parallel.timeout_s;
}

void resolve_feature_head(RunConfig& cfg, MPI_Comm comm) {
  FeatureHeadConfig& f = cfg.model.transformer.features;
  f.dense_dim = 0;
  f.categorical_cardinalities.clear();
  if (cfg.model.transformer.head != HeadKind::SequenceClassification || cfg.data.path.empty() ||
      !is_task_dataset(cfg.data.path))
    return;
  const TaskDataset data(cfg.data.path, comm);
  if (data.info().feature_schema.empty()) return;
  const FeatureSchema fs = FeatureSchema::from_json(data.info().feature_schema, cfg.data.path + ": /@feature_schema");
  f.dense_dim = fs.dense_dim();
  for (const auto& c : fs.categorical) f.categorical_cardinalities.push_back(c.cardinality());
}

void resolve_init_from(RunConfig& cfg, MPI_Comm comm) {
  resolve_feature_head(cfg, comm);
  if (cfg.model.init_from.empty()) return resolve_adapter(cfg, comm);
  const TrainingState st = read_checkpoint_state(cfg.model.init_from, comm);
  require(!st.config_toml.empty(), cfg.model.init_from + ": checkpoint has no stored config (/run/config)");
  adopt_init_from_architecture(cfg, st.config_toml, cfg.model.init_from);
  resolve_feature_head(cfg, comm);  // the widths are the dataset's
  if (!cfg.model.init_blocks.empty()) {  // layer dropping: fewer blocks, mapped onto the checkpoint's
    const std::vector<int> kept = parse_block_subset(cfg.model.init_blocks, cfg.model.transformer.n_layer,
                                                     cfg.source_path.empty() ? "config" : cfg.source_path);
    cfg.model.transformer.n_layer = int(kept.size());
    cfg.model.init_blocks = block_list(kept);
    require(cfg.parallel.pp <= cfg.model.transformer.n_layer,
            "parallel.pp = " + std::to_string(cfg.parallel.pp) + " exceeds the " + std::to_string(kept.size()) +
                " blocks kept by model.init_blocks");
  }
  resolve_adapter(cfg, comm);  // [lora] from model.adapter, on the final architecture
}

TrainSummary run_training(const RunConfig& cfg_in, MPI_Comm comm, int64_t stop_at_step, const TrainingHooks& hooks) {
  RunConfig cfg = cfg_in;
  resolve_init_from(cfg, comm);
  check_training_memory(cfg, comm);  // fail fast: refuse a model that cannot fit, before allocating
  // The config stored in checkpoints: the file as written, or — when the architecture
  // came from model.init_from — the resolved config without init_from, so the
  // checkpoint alone describes its model (generate --checkpoint, export, init_from).
  std::string stored_config = cfg.source_text.empty() ? to_toml(cfg) : cfg.source_text;
  if (!cfg.model.init_from.empty() || !cfg.model.adapter.empty()) {
    RunConfig self_contained = cfg;  // [lora] as resolved from model.adapter; the checkpoint holds the adapter
    self_contained.model.init_from = "";
    self_contained.model.adapter = "";
    self_contained.model.init_blocks = "";
    stored_config = to_toml(self_contained);
  }
  const ParallelSection& par = cfg.parallel;
  ProcessGrid grid(comm, par.dp, par.tp, par.pp);
  // HPC ops: hang watchdog on by default (parallel.timeout_s, default 300 s; 0 = off),
  // raised to timeout_step_factor × the slowest step once steps are measured.
  const double timeout_floor = collective_timeout_floor(cfg);
  double timeout_now = timeout_floor;
  auto raise_timeout = [&](double seconds) {
    if (timeout_floor <= 0 || par.timeout_step_factor <= 0) return;
    const double t = std::max(timeout_floor, par.timeout_step_factor * seconds);
    if (t > timeout_now) grid.set_timeout_seconds(timeout_now = t);
  };
  if (timeout_floor > 0) grid.set_timeout_seconds(timeout_floor);
  install_stop_signal_handler();             // HPC ops: preemption (see stop_signal.hpp)
  ProgressBoardScope progress_board(comm);    // HPC ops: watchdog progress board (collective)
  const bool lead = grid.world_rank() == 0;
  select_backend(cfg.train.device, lead);
  apply_train_precision(cfg.train.precision, cfg.train.bf16_fallback, lead);

  const fs::path run_dir = cfg.run.dir;
  std::error_code ec;
  fs::create_directories(run_dir, ec);
  require(!ec && fs::is_directory(run_dir), "run.dir '" + cfg.run.dir + "' cannot be created: " + ec.message());
  const std::string ckpt_dir = cfg.checkpoint.dir.empty() ? (run_dir / "checkpoints").string() : cfg.checkpoint.dir;

  // ---- data (every data-parallel rank reads its own samples of each global micro-batch),
  // ---- model (this rank's slice and stage), optimizer, gradient reduction
  const TransformerConfig& mc = cfg.model.transformer;
  const int B = cfg.train.micro_batch_size, accum = cfg.train.grad_accum_steps;
  TrainingData data = open_training_data(cfg, grid, comm);
  const bool task = data.task, has_val = data.has_validation;
  const int T = data.seq_len;
  BatchSource* loader = data.loader.get();
  const std::vector<double>& class_weights = data.class_weights;
  const int64_t total_steps = total_training_steps(cfg, data);
  // A feature head's checkpoints carry the schema it was trained with (predict uses it).
  const std::string feature_schema = mc.feature_head() && data.task_data ? data.task_data->info().feature_schema : "";
  TrainingRecipe recipe(cfg, grid, data, comm);
  GPT2<float>& model = recipe.model();
  Optimizer& opt = recipe.optimizer();
  GradientSynchronizer& sync = recipe.sync();
  PipelineRunner& runner = recipe.runner();
  const std::vector<std::string>& fresh = recipe.fresh_parameters();
  SparsityMasks masks;  // sparse init_from (tessera prune) and [prune] gradual pruning
  if (!cfg.model.init_from.empty()) masks.load(model, cfg.model.init_from, comm);
  std::string head_note;
  const HeadLists pruned_heads = configured_head_pruning(cfg, data, model, grid, comm, head_note);
  if (count_heads(pruned_heads) > 0) {
    masks.add(model, head_masks(mc, pruned_heads), "model.prune_heads");
    // The stored config names the heads, so the checkpoint describes its model.
    RunConfig stored = cfg;
    stored.model.prune_heads = format_prune_heads(pruned_heads);
    stored.model.heads_per_layer = 0;
    stored.model.init_from = "";
    stored.model.adapter = "";
    stored.model.init_blocks = "";
    if (!cfg.model.init_from.empty() || cfg.model.heads_per_layer > 0) stored_config = to_toml(stored);
  }
  Checkpointer ckpt{ckpt_dir, cfg.checkpoint.keep_last, comm};

  StepLog log((run_dir / "metrics.jsonl").string(), lead, total_steps, hooks.console_path);
  int64_t step = 0, tokens_seen = 0;
  TrainSummary summary;
  const std::string metric = cfg.train.eval_metric;
  EarlyStopping stopper(metric, metric_is_greater_better(metric), std::max(1, cfg.train.early_stopping_patience),
                        cfg.train.early_stopping_min_delta);
  const std::string best_dir = (run_dir / "best").string();
  if (cfg.checkpoint.resume) {
    const ResumeChoice choice = choose_resume_checkpoint(ckpt_dir, comm);  // verified, with fallback
    for (const std::string& s : choice.skipped) log.message(s);
    const std::string latest = choice.file;
    if (!latest.empty()) {
      TrainingState st = ckpt.load(latest, model, opt);
      step = st.step;
      tokens_seen = st.tokens_seen;
      with_checkpoint_context(latest, [&] {
        loader->set_position(st.data_epoch, st.data_cursor);
        stopper.restore(st.scalars);
      });
      log.message("resumed from " + latest + " at step " + std::to_string(step));
    } else {
      log.message("resume requested, no checkpoint in " + ckpt_dir + ": starting fresh");
    }
  }
  masks.configure_gradual(model, cfg.prune, step > 0);
  if (count_heads(pruned_heads) > 0)
    log.message((head_note.empty() ? std::string() : head_note + "; ") + "pruned " +
                std::to_string(count_heads(pruned_heads)) + " of " + std::to_string(mc.n_layer * mc.n_head) +
                " attention heads: model.prune_heads = \"" + format_prune_heads(pruned_heads) + "\"");
  const int64_t global_tokens = int64_t(B) * T * accum * grid.dp_size();
  if (!cfg.model.adapter.empty())
    log.message("adapter " + cfg.model.adapter + ": " + std::to_string(recipe.adapter_tensors()) +
                " tensors loaded (r " + std::to_string(mc.lora.r) + ", alpha " + fmt_double(mc.lora.alpha) + ")");
  if (!fresh.empty())
    log.message(std::to_string(fresh.size()) + " parameters not in " + cfg.model.init_from + " start from init (" +
                fresh.front() + (fresh.size() > 1 ? ", …" : "") + ")");
  if (recipe.counted().trainable != recipe.counted().total)
    log.message(std::to_string(recipe.counted().trainable) + " of " + std::to_string(recipe.counted().total) +
                " parameters trainable (the rest frozen: no gradients, no optimizer state)");
  if (!class_weights.empty()) {
    std::string w;
    for (double x : class_weights) w += (w.empty() ? "" : ", ") + fmt_double(x);
    log.message("class weights [" + w + "]");
  }
  if (!data.smote_minority.empty()) {
    std::string names;
    for (size_t c = 0; c < data.smote_minority.size(); ++c)
      if (data.smote_minority[c]) names += (names.empty() ? "" : ", ") + std::to_string(c);
    log.message("SMOTE on pooled head inputs: " + fmt_double(cfg.train.smote_ratio) + " synthetic rows per minority row, k " +
                std::to_string(cfg.train.smote_k) + ", minority class ids [" + names + "]");
  }
  log.message(std::string("model ") + family_name(mc.family) + " (" + head_name(mc.head) + "): " + std::to_string(mc.n_layer) + " layers, " + std::to_string(mc.n_head) + " heads, width " +
              std::to_string(mc.n_embd) + ", " + std::to_string(mc.num_parameters()) + " parameters; grid dp " +
              std::to_string(grid.dp_size()) + " × tp " + std::to_string(grid.tp_size()) + " × pp " +
              std::to_string(grid.pp_size()) + (par.zero1 ? " (ZeRO-1)" : "") + "; data " + cfg.data.path + " (" +
              std::to_string(loader->num_samples()) + " train samples of " + std::to_string(T) + " tokens); " +
              std::to_string(total_steps) + " steps of " + std::to_string(global_tokens) + " tokens");
  log.record("config", {{"config", cfg.source_text},
                        {"parameters", mc.num_parameters()},
                        {"trainable_parameters", recipe.counted().trainable},
                        {"dp", grid.dp_size()},
                        {"tp", grid.tp_size()},
                        {"pp", grid.pp_size()},
                        {"zero1", par.zero1},
                        {"optimizer_state_bytes_per_rank", opt.state_bytes()},
                        {"recompute", cfg.train.recompute},
                        {"activation_bytes_estimate_per_rank", estimate_training_memory(cfg).activation_bytes}});

  // Seconds per phase over the run (rank 0's view) for the end-of-run summary.
  std::map<std::string, double> phase_total;
  double peak = cfg.train.peak_gflops;
  if (peak <= 0) {
    peak = lead ? measure_gemm_peak_gflops() : 0.0;
    grid.world().broadcast(&peak, 1, DType::F64, 0);
  }
  const double job_peak_gflops = peak * grid.world_size();
  auto save = [&](int64_t at_step) {
    TrainingState st;
    st.step = at_step;
    st.tokens_seen = tokens_seen;
    st.seed = cfg.train.seed;
    st.data_epoch = loader->epoch();
    st.data_cursor = loader->cursor();
    st.scalars = stopper.save();
    st.config_toml = stored_config;
    st.model_family = family_name(mc.family);
    st.feature_schema = feature_schema;
    const auto t0 = std::chrono::steady_clock::now();
    summary.last_checkpoint = ckpt.save(model, opt, st);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    phase_total["checkpoint"] += secs;
    log.message("checkpoint " + summary.last_checkpoint + " (" + fmt_double(secs) + " s)");
    log.record("checkpoint", {{"step", at_step}, {"path", summary.last_checkpoint}, {"seconds", secs}});
  };
  // Validation on any grid: data-parallel ranks take interleaved global batches;
  // the last stage's loss (and task metrics) are combined over dp and sent along
  // the pipeline, so every rank returns the same numbers.
  auto validate = [&](int64_t at_step) -> std::map<std::string, double> {
    if (!has_val) return {};
    const auto t_eval = std::chrono::steady_clock::now();
    std::map<std::string, double> metrics = validate_split(cfg, data, model, runner, grid);
    phase_total["eval"] += seconds_since(t_eval);
    const double loss = metrics["loss"];
    summary.last_val_loss = loss;
    log.eval(at_step, cfg.data.validation_split, loss);
    if (task) {
      std::ostringstream line;
      line << "eval step " << at_step << ":";
      for (const auto& [k, v] : metrics)
        if (k.find('/') == std::string::npos) line << " " << k << " " << fmt_double(v);
      log.message(line.str());
      nlohmann::json rec = {{"step", at_step}, {"split", cfg.data.validation_split}};
      for (const auto& [k, v] : metrics) rec[k] = v;
      log.record("eval_metrics", rec);
    }
    return metrics;
  };
  // Evaluate, track the best weights (train.keep_best) and early stopping; true = stop.
  auto evaluate_and_track = [&](int64_t at_step, bool final_eval = false) -> bool {
    const std::map<std::string, double> m = validate(at_step);
    if (m.empty()) return false;
    const auto it = m.find(metric);
    require(it != m.end(), "train.eval_metric = \"" + metric + "\" is not computed for this task (" +
                               std::string(head_name(mc.head)) + ")");
    summary.last_metrics = m;
    const bool best = stopper.update(at_step, it->second);
    if (best && cfg.train.keep_best) {
      TrainingState st;
      st.step = at_step;
      st.tokens_seen = tokens_seen;
      st.seed = cfg.train.seed;
      st.config_toml = stored_config;
      st.model_family = family_name(mc.family);
      st.feature_schema = feature_schema;
      st.scalars = {{metric, it->second}};
      auto p = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), model.params().values());
      const std::string path =
          write_checkpoint<float>(best_dir, model.params().infos(), {{"params", p.data()}}, st, 1, comm);
      log.message("best " + metric + " " + fmt_double(it->second) + " at step " + std::to_string(at_step) + ": " + path);
    }
    // The hook sees the final evaluation too; asking to stop then changes nothing (the run is done).
    if (hooks.on_evaluation && hooks.on_evaluation(at_step, m) && !final_eval) summary.stopped_by_hook = true;
    return summary.stopped_by_hook || (cfg.train.early_stopping_patience > 0 && stopper.should_stop());
  };

  if (stop_at_step > 0 && step == stop_at_step) {  // e.g. reshard: load on this grid, save again, stop
    log.message("already at step " + std::to_string(step) + ": saving on this grid and stopping (--stop-at-step)");
    save(step);
    summary.stopped_early = true;
    summary.steps_done = step;
    return summary;
  }
  const double flops_step = flops_per_token(mc, T) * double(global_tokens);
  // Before the first step is measured: its ideal time at the job's measured GEMM peak,
  // with a 5 % efficiency margin (so a slow, large model's first step is not cut short).
  raise_timeout(20.0 * flops_step / std::max(1.0, job_peak_gflops * 1e9));
  log.message(timeout_floor > 0
                  ? "hang watchdog: collectives time out after " + fmt_double(timeout_now) + " s (parallel.timeout_s " +
                        fmt_double(timeout_floor) +
                        (par.timeout_step_factor > 0 ? ", raised to " + fmt_double(par.timeout_step_factor) + " × the slowest step" : std::string()) +
                        ")"
                  : std::string("hang watchdog off (parallel.timeout_s = 0): a stalled rank hangs the job"));
  double slowest_step = 0;
  if (step > 0 && step >= total_steps)
    log.message("already at step " + std::to_string(step) + " of " + std::to_string(total_steps) +
                ": no training step to run (evaluating and saving only)");
  const auto run_start = std::chrono::steady_clock::now();
  auto fetch = [&](int, MicroBatch& mb) { loader->next_batch(mb); };
  bool early_stop = false;
  while (step < total_steps) {
    fault_point("step", step + 1);  // test-only fault injection (TESSERA_FAULT), free when unset
    publish_progress(step + 1, "train");  // HPC ops: watchdog progress board
    const auto t0 = std::chrono::steady_clock::now();
    grid.tp().reset_counters();
    grid.pp().reset_counters();
    grid.dp().reset_counters();
    if (grid.in_embedding_group()) grid.embedding().reset_counters();
    model.params().zero_grads();
    if (cfg.optim.l1 > 0) add_l1_gradient(model, float(cfg.optim.l1));
    sync.begin_step();
    model.set_grads_ready_hook(nullptr);
    double loss = runner.train_step(fetch, cfg.train.seed, uint64_t(step * accum),
                                    [&] { model.set_grads_ready_hook([&](size_t a, size_t b) { sync.on_grads_ready(a, b); }); });
    model.set_grads_ready_hook(nullptr);
    if (grid.dp_size() > 1) {
      grid.dp().all_reduce(&loss, 1, DType::F64, ReduceOp::Sum);
      loss /= grid.dp_size();
    }
    if (grid.pp_size() > 1) grid.pp().broadcast(&loss, 1, DType::F64, grid.pp_size() - 1);
    if (!std::isfinite(loss))
      throw Error("loss is " + fmt_double(loss) + " at step " + std::to_string(step + 1) +
                  ": training diverged; lower optim.lr or raise optim.warmup_steps");

    const auto t_sync = std::chrono::steady_clock::now();
    sync.finish();
    double sumsq;
    if (ZeroAdamW* z = opt.zero()) {
      z->reduce_gradients();
      sumsq = sync.global_sum_of_squares_sharded(z->grad_chunk(), z->chunk_begin(), z->chunk_end());
    } else {
      sumsq = sync.global_sum_of_squares();
    }
    const double norm = std::sqrt(sumsq);
    if (!std::isfinite(norm)) throw Error("gradient norm is " + fmt_double(norm) + " at step " + std::to_string(step + 1));
    const double lr = learning_rate(cfg.optim.schedule, cfg.optim.lr, cfg.optim.min_lr_ratio, cfg.optim.warmup_steps,
                                    step, total_steps);
    const double sync_secs = seconds_since(t_sync);
    const auto t_opt = std::chrono::steady_clock::now();
    opt.step(lr, clip_scale(norm, cfg.train.grad_clip));
    Kokkos::fence();
    const double opt_secs = seconds_since(t_opt);
    ++step;
    tokens_seen += global_tokens;
    masks.after_step(model, step);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (secs > slowest_step) raise_timeout(slowest_step = secs);
    summary.last_train_loss = loss;
    const PipelineRunner::Times& rt = runner.last_times();
    const std::map<std::string, double> phases = {{"data", rt.data},           {"forward", rt.forward},
                                                  {"backward", rt.backward},   {"grad_sync", sync_secs},
                                                  {"optimizer", opt_secs}};
    for (const auto& [k, v] : phases) phase_total[k] += v;
    phase_total["step"] += secs;
    if (step % cfg.train.log_interval == 0 || step == total_steps) {
      // Rank skew and memory: every rank's step time and peak RSS, gathered.
      double mine[2] = {secs, peak_rss_mb()};
      std::vector<double> all(2 * size_t(grid.world_size()));
      MPI_Allgather(mine, 2, MPI_DOUBLE, all.data(), 2, MPI_DOUBLE, grid.world_comm());
      std::vector<double> times;
      double max_rss = 0;
      for (int r = 0; r < grid.world_size(); ++r) {
        times.push_back(all[2 * r]);
        max_rss = std::max(max_rss, all[2 * r + 1]);
      }
      std::sort(times.begin(), times.end());
      const double median = times[times.size() / 2];
      const double gflops = flops_step / secs * 1e-9;
      nlohmann::json phase_ms, wait_ms = {{"tp", grid.tp().wait_seconds() * 1e3},
                                          {"pp", grid.pp().wait_seconds() * 1e3},
                                          {"dp", grid.dp().wait_seconds() * 1e3}};
      for (const auto& [k, v] : phases) phase_ms[k] = v * 1e3;
      log.train_step(step, loss, lr, norm, double(global_tokens) / secs, gflops, gflops / job_peak_gflops,
                     secs * 1e3,
                     {{"phase_ms", phase_ms},
                      {"comm_wait_ms", wait_ms},
                      {"peak_rss_mb_max_rank", max_rss},
                      {"activation_mb", double(model.activation_bytes()) / 1048576.0},  // this rank's buffers
                      {"rank_skew", median > 0 ? times.back() / median : 1.0},
                      {"peak_gflops_job", job_peak_gflops}});
      // Bytes this rank handed to each axis' collectives and messages during the step.
      nlohmann::json comm_bytes = {{"tp", grid.tp().total_bytes()}, {"pp", grid.pp().total_bytes()},
                                   {"dp", grid.dp().total_bytes()}};
      if (grid.in_embedding_group()) comm_bytes["embedding"] = grid.embedding().total_bytes();
      log.record("comm", {{"step", step}, {"rank", grid.world_rank()}, {"bytes", comm_bytes}});
    }

    const bool last = step == total_steps;
    if (!last && cfg.train.eval_interval > 0 && step % cfg.train.eval_interval == 0 && evaluate_and_track(step)) {
      if (summary.stopped_by_hook)
        log.message("stopped after step " + std::to_string(step) + " by the evaluation hook (e.g. a tune pruner)");
      else
        log.message("early stopping after step " + std::to_string(step) + ": no " + metric + " improvement in " +
                  std::to_string(cfg.train.early_stopping_patience) + " evaluations (best " +
                  fmt_double(stopper.best_value()) + " at step " + std::to_string(stopper.best_step()) + ")");
      early_stop = true;
      break;
    }
    if (!last && cfg.checkpoint.interval > 0 && step % cfg.checkpoint.interval == 0) save(step);
    if (!last && step == stop_at_step) {
      log.message("stopping at step " + std::to_string(step) + " as asked (--stop-at-step)");
      save(step);
      summary.stopped_early = true;
      summary.steps_done = step;
      return summary;
    }
    // ---- HPC ops: preemption. Any rank got SIGUSR1/SIGTERM → all checkpoint and stop.
    if (!last) {
      int stop_sig = stop_signal_received();
      grid.world().all_reduce(&stop_sig, 1, DType::I32, ReduceOp::Max);
      if (stop_sig != 0) {
        log.message("signal " + std::to_string(stop_sig) + " received: checkpointing after step " + std::to_string(step) +
                    " and stopping (requeue/resubmit with --resume)");
        save(step);
        summary.stopped_early = summary.preempted = true;
        summary.steps_done = step;
        return summary;
      }
    }
    // ---- end HPC ops
    if (!last && cfg.train.max_time_s > 0) {
      double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start).count();
      grid.world().broadcast(&elapsed, 1, DType::F64, 0);
      if (elapsed >= cfg.train.max_time_s) {
        log.message("train.max_time_s reached after step " + std::to_string(step) + ": checkpointing and stopping");
        save(step);
        summary.stopped_early = true;
        summary.steps_done = step;
        return summary;
      }
    }
  }
  if (!early_stop) evaluate_and_track(step, /*final_eval=*/true);
  summary.early_stopping = early_stop && !summary.stopped_by_hook;
  // Restore the best evaluation's weights (HF load_best_model_at_end) before the final save.
  if (cfg.train.keep_best && has_val && stopper.has_best() && stopper.best_step() != step) {
    const std::string best = find_latest_checkpoint(best_dir);
    if (!best.empty()) {
      load_model_weights(model, best, comm);
      log.message("restored the best weights (" + metric + " " + fmt_double(stopper.best_value()) + " at step " +
                  std::to_string(stopper.best_step()) + ") from " + best);
    }
  }
  save(step);
  summary.steps_done = step;
  summary.best_step = stopper.has_best() ? stopper.best_step() : -1;
  summary.best_metric = stopper.has_best() ? stopper.best_value() : NAN;

  if (cfg.generate.max_new_tokens > 0 && grid.world_size() == 1 && !task) {
    ByteTokenizer tokenizer;
    require(data.lm->info().tokenizer == tokenizer.name(),
            "generate: dataset tokenizer '" + data.lm->info().tokenizer + "' has no decoder in this build");
    GenerationOptions go;
    go.max_new_tokens = cfg.generate.max_new_tokens;
    go.sampling.temperature = cfg.generate.temperature;
    go.sampling.top_k = cfg.generate.top_k;
    go.sampling.seed = cfg.train.seed;
    const auto out = generate_tokens(model, tokenizer.encode(cfg.generate.prompt.empty() ? "\n" : cfg.generate.prompt), go).tokens;
    log.message("sample: " + tokenizer.decode(out));
    log.record("sample", {{"step", step}, {"text", tokenizer.decode(out)}});
  } else if (cfg.generate.max_new_tokens > 0) {
    log.message("sample skipped on a multi-rank grid: run `tessera generate` on the checkpoint");
  }
  if (phase_total["step"] > 0) {
    std::ostringstream line;
    line.precision(1);
    line << std::fixed << "summary: " << phase_total["step"] << " s in training steps";
    for (const char* k : {"data", "forward", "backward", "grad_sync", "optimizer"})
      line << " | " << k << " " << 100.0 * phase_total[k] / phase_total["step"] << "%";
    line << " | eval " << phase_total["eval"] << " s | checkpoint " << phase_total["checkpoint"] << " s | peak RSS "
         << peak_rss_mb() << " MiB (rank 0)";
    log.message(line.str());
  }
  log.record("summary", {{"steps", step},
                         {"phase_seconds", phase_total},
                         {"peak_rss_mb_rank0", peak_rss_mb()},
                         {"train_loss", summary.last_train_loss},
                         {"val_loss", summary.last_val_loss},
                         {"checkpoint", summary.last_checkpoint}});
  return summary;
}

}  // namespace tessera
