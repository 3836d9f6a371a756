#include "src/cli/commands.hpp"
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <tuple>
#include "io/auxiliary_features.hpp"
#include "io/checkpoint.hpp"
#include "io/task_dataset.hpp"
#include "src/tasks/task_evaluator.hpp"
#include "src/cli/predictive.hpp"
#include "src/cli/task_inputs.hpp"
#include "src/train/task_batch_loader.hpp"
#include "io/checkpoint_verify.hpp"
#include "io/inspect.hpp"
#include "io/task_prepare.hpp"
#include "io/text_dataset_builder.hpp"
#include "io/token_dataset.hpp"
#include "src/config/run_config.hpp"
#include "src/cli/generate_batch.hpp"
#include "src/compress/quantized_checkpoint.hpp"
#include "src/metrics/metrics.hpp"
#include "src/train/adapter_loading.hpp"
#include "src/runtime/error.hpp"
#include "src/tokenizer/byte_tokenizer.hpp"
#include "src/tasks/text_generation.hpp"
#include "src/tokenizer/text_tokenizer.hpp"
#include "src/train/trainer.hpp"
#include "src/train/memory_estimate.hpp"

namespace tessera {

namespace {
// HPC ops: `--run-dir DIR` (train/eval/generate) overrides run.dir, so batch
// scripts can key run directories by job id without rewriting the config.
std::string g_run_dir_override;
void apply_run_dir_override(RunConfig& cfg) {
  if (!g_run_dir_override.empty()) cfg.run.dir = g_run_dir_override;
}
}  // namespace

void register_commands(CLI::App& app, CommandLine& cl) {
  auto* train = app.add_subcommand("train", "Train or fine-tune a model from a TOML config");
  train->add_option("config", cl.config, "run config (TOML, see docs/config.md)")->required();
  train->add_flag("--resume", cl.resume, "resume from the newest complete checkpoint");
  train->add_option("--stop-at-step", cl.stop_at_step, "checkpoint and stop after this step (resume later)")
      ->check(CLI::NonNegativeNumber);
  train->add_option("--run-dir", g_run_dir_override, "override run.dir (logs, checkpoints)");  // HPC ops
  train->callback([&] { cl.command = "train"; });

  auto* eval = app.add_subcommand("eval", "Validation loss and perplexity of a checkpoint");
  eval->add_option("config", cl.config, "run config (TOML)")->required();
  eval->add_option("--checkpoint", cl.checkpoint, "checkpoint file (default: newest in the run's checkpoint dir)");
  eval->add_option("--split", cl.split, "dataset split to evaluate");
  eval->add_option("--run-dir", g_run_dir_override, "override run.dir (where checkpoints are looked up)");  // HPC ops
  eval->callback([&] { cl.command = "eval"; });

  auto* gen = app.add_subcommand("generate", "Sample text from a checkpoint");
  gen->add_option("config", cl.config, "run config (TOML); optional with --checkpoint (its stored config is used)");
  gen->add_option("--checkpoint", cl.checkpoint, "checkpoint file (default: newest in the run's checkpoint dir)");
  auto* prompt = gen->add_option("--prompt", cl.prompt, "prompt text");
  auto* batch_in = gen->add_option("--input", cl.inputs, "batch mode: prompts, one per line (\"\\n\" is a newline)")
                       ->expected(1)
                       ->excludes(prompt);
  auto* batch_out = gen->add_option("--output", cl.output, "batch mode: one line per prompt, the escaped continuation");
  batch_in->needs(batch_out);
  batch_out->needs(batch_in);
  gen->add_option("--max-new-tokens", cl.max_new_tokens, "tokens to generate")->check(CLI::Range(1, 1 << 20));
  gen->add_option("--temperature", cl.temperature, "sampling temperature (0 = greedy)")->check(CLI::Range(0.0, 100.0));
  gen->add_option("--top-k", cl.top_k, "sample among the k most likely tokens (0 = all)")->check(CLI::NonNegativeNumber);
  gen->add_option("--top-p", cl.top_p, "nucleus sampling: smallest set with this probability mass (1 = off)")
      ->check(CLI::Range(0.0, 1.0));
  gen->add_option("--repetition-penalty", cl.repetition_penalty, "CTRL repetition penalty (1 = off)")
      ->check(CLI::Range(0.0, 100.0));
  gen->add_option("--stop", cl.stop, "stop when the generated text contains this (repeatable)");
  gen->add_option("--tokenizer", cl.tokenizer,
                  "byte | FILE.gguf | FILE.tiktoken | DIR with vocab.json+merges.txt (default: the dataset's)");
  gen->add_flag("--no-kv-cache", cl.no_kv_cache, "recompute the whole context every token (for checks)");
  gen->add_flag("--timings", cl.timings,
                "print {prompt_tokens, prefill_s, prefill_tokens_per_s, decode_tokens, decode_tokens_per_s} as JSON on "
                "stderr (benchmarks)");
  gen->add_flag("--ignore-eos", cl.ignore_eos, "the end-of-text token does not stop generation (benchmarks)");
  gen->add_option("--seed", cl.seed, "sampling seed");
  gen->add_option("--run-dir", g_run_dir_override, "override run.dir (where checkpoints are looked up)");  // HPC ops
  gen->callback([&] { cl.command = "generate"; });

  auto* prep = app.add_subcommand("prepare", "Tokenize plain text (or task data with --task) into an HDF5 dataset");
  prep->add_option("--input", cl.inputs, "text file(s)")->required();
  prep->add_option("--output", cl.output, "output .h5")->required();
  prep->add_option("--validation-fraction", cl.validation_fraction, "share of documents for validation")
      ->check(CLI::Range(0.0, 0.9));
  prep->add_option("--test-fraction", cl.test_fraction, "share of documents for test")->check(CLI::Range(0.0, 0.9));
  prep->add_option("--doc-separator", cl.doc_separator, "blank-lines | line | file")
      ->check(CLI::IsMember({"blank-lines", "line", "file"}));
  prep->add_option("--task", cl.task, "task data instead of plain text: classification | ner | qa")
      ->check(CLI::IsMember({"classification", "ner", "qa"}));
  prep->add_option("--validation-input", cl.task_validation, "task validation file (with --task)");
  prep->add_option("--test-input", cl.task_test, "task test file (with --task)");
  prep->add_flag("--skip-bad-rows", cl.skip_bad_rows,
                 "task data: skip and count malformed rows instead of failing (with --task)");
  prep->add_option("--vocab", cl.vocab, "WordPiece vocab.txt (with --task)");
  prep->add_option("--tokenizer", cl.tokenizer,
                   "plain text: byte (default) | FILE.gguf | FILE.tiktoken | DIR with vocab.json+merges.txt; "
                   "with --task: the byte-level BPE ones, instead of --vocab");
  prep->add_option("--max-len", cl.max_len, "tokens per row (with --task)")->check(CLI::Range(8, 1 << 16));
  prep->add_option("--doc-stride", cl.doc_stride, "QA window overlap in tokens")->check(CLI::Range(1, 1 << 16));
  prep->add_option("--numeric-features", cl.numeric_features,
                   "classification: numeric columns (comma-separated), standardised with train statistics");
  prep->add_option("--categorical-features", cl.categorical_features,
                   "classification: categorical columns (comma-separated), indexed on train with an unknown bucket");
  prep->add_option("--text-features", cl.text_features,
                   "classification: words,tokens,wordlist:FILE,punct_ratio,upper_ratio,has_number");
  prep->add_option("--label-alignment", cl.label_alignment, "NER: first-subword | all-subwords")
      ->check(CLI::IsMember({"first-subword", "all-subwords"}));
  prep->callback([&] { cl.command = "prepare"; });

  auto* insp = app.add_subcommand("inspect", "Describe a Tessera HDF5 file (dataset or checkpoint) or a run config (CONFIG.toml: memory estimate)");
  insp->add_option("file", cl.file, "HDF5 file")->required();
  insp->add_flag("--verify", cl.verify, "read every chunk and check its checksum; exit 1 on corruption");
  insp->callback([&] { cl.command = "inspect"; });

  auto* score = app.add_subcommand("score", "Score a hypothesis file against reference files (sacreBLEU BLEU)");
  score->add_option("metric", cl.metric, "bleu")->required()->check(CLI::IsMember({"bleu"}));
  score->add_option("--hypotheses", cl.hypotheses, "system outputs, one segment per line")->required();
  score->add_option("--references", cl.references, "references, one segment per line (repeat for more references)")
      ->required();
  score->add_flag("--lowercase", cl.lowercase, "case-insensitive BLEU (sacrebleu --lowercase)");
  score->callback([&] { cl.command = "score"; });
}

namespace {

std::string checkpoint_for(const CommandLine& cl, const RunConfig& cfg) {
  if (!cl.checkpoint.empty()) return cl.checkpoint;
  const std::string dir =
      cfg.checkpoint.dir.empty() ? (std::filesystem::path(cfg.run.dir) / "checkpoints").string() : cfg.checkpoint.dir;
  std::string latest = find_latest_checkpoint(dir);
  if (latest.empty()) latest = adapter_base_checkpoint(cfg);  // model.adapter on model.init_from
  require(!latest.empty(), "no checkpoint given and none found in '" + dir + "'" +
                               (cfg.model.adapter.empty() ? "" : " (and no model.init_from for model.adapter's base model)"));
  return latest;
}

int cmd_train(const CommandLine& cl, MPI_Comm comm) {
  RunConfig cfg = load_run_config(cl.config);
  apply_run_dir_override(cfg);  // HPC ops
  if (cl.resume) cfg.checkpoint.resume = true;
  TrainSummary s = run_training(cfg, comm, cl.stop_at_step);
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0) {
    std::cout << "done: " << s.steps_done << " steps, ";
    if (std::isnan(s.last_train_loss))
      std::cout << "no training step run (already at step " << s.steps_done << ")";
    else
      std::cout << "train loss " << s.last_train_loss;
    if (s.last_val_loss >= 0) std::cout << ", validation loss " << s.last_val_loss << " (perplexity " << std::exp(s.last_val_loss) << ")";
    std::cout << ", checkpoint " << s.last_checkpoint << (s.stopped_early ? " (stopped early; resume with --resume)" : "")
              << (s.early_stopping ? " (early stopping; best weights from step " + std::to_string(s.best_step) + ")" : "")
              << "\n";
  }
  // HPC ops: exit 3 = "checkpointed and stopped early: resubmit/requeue with --resume"
  // (a stop signal, or train.max_time_s; not --stop-at-step, which the user asked for).
  const bool asked = cl.stop_at_step > 0 && s.steps_done == cl.stop_at_step && !s.preempted;
  if (s.preempted || (s.stopped_early && !asked)) return 3;
  return 0;
}

// The run config (with --run-dir applied) and the checkpoint file eval/generate read.
struct TrainedModel {
  RunConfig cfg;
  std::string file;
};
TrainedModel locate_trained_model(const CommandLine& cl) {
  TrainedModel t{load_run_config(cl.config), ""};
  apply_run_dir_override(t.cfg);  // HPC ops
  resolve_init_from(t.cfg, MPI_COMM_WORLD);
  t.file = checkpoint_for(cl, t.cfg);
  return t;
}

// Task datasets: every metric of the head (data-parallel over the ranks, one model
// replica each), the loss, and the per-class report as JSON on rank 0.
int eval_task(const RunConfig& cfg, const std::string& file, const std::string& split, MPI_Comm comm) {
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  TaskDataset data(cfg.data.path, comm);
  require(data.has_split(split), "dataset '" + cfg.data.path + "' has no split '" + split + "'");
  // The split's stored feature vectors were standardised with data.path's schema: it must be
  // the one the checkpoint was trained with (predict reads the checkpoint's).
  if (cfg.model.transformer.feature_head()) require_dataset_feature_schema(data, file, comm, "eval");
  // float32 or quantised (packed weights, src/compress/quantized_checkpoint.hpp)
  const std::unique_ptr<GPT2<float>> owned = load_inference_model(cfg, file, comm);
  GPT2<float>& model = *owned;
  const int B = cfg.train.micro_batch_size;
  TaskBatchLoader loader = TaskBatchLoader::for_evaluation(data, split, B, rank, size);
  TaskEvaluator ev(cfg.model.transformer.head, data.info(), data.read_split(split),
                   cfg.model.transformer.head == HeadKind::QuestionAnswering ? data.read_examples(split)
                                                                              : TaskExamples{});
  // Sequence classification with a fitted temperature (tessera calibrate
  // --fit-temperature): the NLL of softmax(z / T) next to the raw loss.
  const bool classify = cfg.model.transformer.head == HeadKind::SequenceClassification;
  const double temperature = classify ? checkpoint_temperature(file, comm) : 1.0;
  const int64_t K = cfg.model.transformer.num_labels;
  double cal_nll = 0, cal_n = 0;
  MicroBatch mb;
  double loss = 0;
  for (int64_t i = 0; i < loader.eval_batches(); ++i) {
    loader.next_batch(mb);
    loss += model.forward(mb.inputs(), mb.B, mb.T, ForwardOptions{});
    auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), model.logits());
    ev.add_batch(mb, host.data());
    if (temperature != 1.0)
      for (int b = 0; b < mb.B; ++b) {
        if (mb.example_index.size() == size_t(mb.B) && mb.example_index[size_t(b)] < 0) continue;
        const float* z = host.data() + size_t(b) * size_t(K);
        double mx = -INFINITY, se = 0;
        for (int64_t k = 0; k < K; ++k) mx = std::max(mx, double(z[k]) / temperature);
        for (int64_t k = 0; k < K; ++k) se += std::exp(double(z[k]) / temperature - mx);
        cal_nll += mx + std::log(se) - double(z[mb.labels[size_t(b)]]) / temperature;
        cal_n += 1;
      }
  }
  double cal[2] = {cal_nll, cal_n};
  MPI_Allreduce(MPI_IN_PLACE, cal, 2, MPI_DOUBLE, MPI_SUM, comm);
  loss = loader.eval_batches() > 0 ? loss / double(loader.eval_batches()) : NAN;
  MPI_Allreduce(MPI_IN_PLACE, &loss, 1, MPI_DOUBLE, MPI_SUM, comm);
  loss /= size;
  std::map<std::string, double> metrics = ev.finish(comm);
  if (rank == 0) {
    std::cout << "eval " << file << " | " << split << " loss " << loss;
    for (const auto& [k, v] : metrics)
      if (k.find('/') == std::string::npos) std::cout << " | " << k << " " << v;
    if (temperature != 1.0)
      std::cout << " | temperature " << temperature << " | calibrated_nll " << (cal[1] > 0 ? cal[0] / cal[1] : NAN);
    std::cout << "\n" << ev.report().dump(2) << "\n";
  }
  return 0;
}

int cmd_eval(const CommandLine& cl, MPI_Comm comm) {
  const auto [cfg, file] = locate_trained_model(cl);
  if (is_task_dataset(cfg.data.path)) return eval_task(cfg, file, cl.split, comm);
  // float32 or quantised (packed weights, src/compress/quantized_checkpoint.hpp)
  const std::unique_ptr<GPT2<float>> owned = load_inference_model(cfg, file, comm);
  GPT2<float>& model = *owned;
  TokenDataset data(cfg.data.path, comm);
  require(data.has_split(cl.split), "dataset '" + cfg.data.path + "' has no split '" + cl.split + "'");
  const double loss = evaluate_loss(model, data, cl.split, cfg.data.seq_len, cfg.train.micro_batch_size, 0);
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0)
    std::cout << "eval " << file << " | " << cl.split << " loss " << loss << " | perplexity " << std::exp(loss) << "\n";
  return 0;
}

int cmd_generate(const CommandLine& cl, MPI_Comm comm) {
  // The model: from CONFIG (+ checkpoint lookup) or, without CONFIG, the checkpoint's own config.
  RunConfig cfg;
  std::string file;
  if (!cl.config.empty()) {
    std::tie(cfg, file) = [&] {
      auto t = locate_trained_model(cl);
      return std::make_pair(t.cfg, t.file);
    }();
  } else {
    require(!cl.checkpoint.empty(), "generate: give a CONFIG or --checkpoint");
    file = cl.checkpoint;
    cfg = parse_model_config(read_checkpoint_state(file, comm).config_toml, file + " (stored config)");
    resolve_init_from(cfg, comm);  // a fine-tuned checkpoint's architecture comes from its model.init_from
  }
  // float32 or quantised (packed weights, src/compress/quantized_checkpoint.hpp)
  const std::unique_ptr<GPT2<float>> owned = load_inference_model(cfg, file, comm);
  GPT2<float>& model = *owned;
  std::string spec = cl.tokenizer;
  if (spec.empty()) {
    require(!cfg.data.path.empty(), "generate: no --tokenizer and no dataset in the config to take it from");
    const std::string name = TokenDataset(cfg.data.path, comm).info().tokenizer;
    require(name == "byte-v1", "generate: dataset tokenizer '" + name + "': pass --tokenizer");
    spec = "byte";
  }
  const TextTokenizer tok = TextTokenizer::open(spec);
  require(tok.vocab_size() <= cfg.model.transformer.vocab_size,
          "generate: tokenizer " + tok.name() + " has " + std::to_string(tok.vocab_size()) +
              " tokens but the model's vocab_size is " + std::to_string(cfg.model.transformer.vocab_size));
  GenerationOptions go;
  go.max_new_tokens = cl.max_new_tokens;
  go.kv_cache = !cl.no_kv_cache;
  go.vocab_limit = tok.vocab_size();  // a model vocabulary padded beyond the tokenizer's is never sampled there
  go.sampling.temperature = cl.temperature;
  go.sampling.top_k = cl.top_k;
  go.sampling.top_p = cl.top_p;
  go.sampling.repetition_penalty = cl.repetition_penalty;
  go.sampling.seed = cl.seed;
  if (tok.eos_id() >= 0 && !cl.ignore_eos) go.sampling.stop_tokens.push_back(tok.eos_id());
  if (!cl.inputs.empty()) {  // batch mode: --input PROMPTS --output OUT
    const BatchGenerationStats s = generate_batch(model, tok, go, cl.stop, cl.inputs.front(), cl.output, comm);
    int rank = 0;
    MPI_Comm_rank(comm, &rank);
    if (rank == 0)
      std::cout << "generated " << s.prompts << " continuations (" << s.generated_tokens << " tokens) in " << s.seconds
                << " s -> " << cl.output << "\n";
    return 0;
  }
  for (const std::string& s : cl.stop) go.stop_sequences.push_back(tok.encode(s));
  const GenerationResult r = generate_tokens(model, tok.encode(cl.prompt.empty() ? "\n" : cl.prompt), go);
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0) std::cout << tok.decode(r.tokens) << "\n";
  if (rank == 0 && cl.timings && !r.step_seconds.empty()) {
    // Step 0 runs the whole prompt (prefill) and picks the first token; every later step is one decoded token.
    const double prefill = r.step_seconds.front();
    double decode = 0;
    for (size_t i = 1; i < r.step_seconds.size(); ++i) decode += r.step_seconds[i];
    const size_t decoded = r.step_seconds.size() - 1;
    std::fprintf(stderr,
                 "{\"prompt_tokens\": %lld, \"prefill_s\": %.9g, \"prefill_tokens_per_s\": %.9g, "
                 "\"decode_tokens\": %zu, \"decode_s\": %.9g, \"decode_tokens_per_s\": %.9g}\n",
                 (long long)r.prompt_length, prefill, prefill > 0 ? double(r.prompt_length) / prefill : 0.0, decoded,
                 decode, decode > 0 ? double(decoded) / decode : 0.0);
  }
  return 0;
}

int cmd_prepare(const CommandLine& cl, MPI_Comm comm) {
  for (const std::string& in : cl.inputs) {
    std::error_code ec;
    if (std::filesystem::is_directory(in, ec))
      throw Error("prepare --input " + in + ": is a directory, not a file; pass the files in it (e.g. --input " +
                  (std::filesystem::path(in) / "*.txt").string() + ")");
    if (!std::filesystem::exists(in, ec)) throw Error("prepare --input " + in + ": no such file");
  }
  if (!cl.task.empty()) {
    require(cl.inputs.size() == 1, "prepare --task takes one --input (the training file)");
    PrepareTaskOptions t;
    t.task = cl.task;
    t.train = cl.inputs[0];
    t.validation = cl.task_validation;
    t.test = cl.task_test;
    t.output = cl.output;
    t.vocab = cl.vocab;
    t.tokenizer = cl.tokenizer;
    t.max_len = cl.max_len;
    t.doc_stride = cl.doc_stride;
    t.label_alignment = cl.label_alignment;
    t.skip_bad_rows = cl.skip_bad_rows;
    t.features.numeric = split_feature_list(cl.numeric_features);
    t.features.categorical = split_feature_list(cl.categorical_features);
    t.features.text = split_feature_list(cl.text_features);
    const auto splits = prepare_task_dataset(t, comm);
    int rank = 0;
    MPI_Comm_rank(comm, &rank);
    if (rank == 0) {
      std::cout << "prepared " << cl.output << " (" << cl.task << "):";
      for (const auto& [name, s] : splits) std::cout << " " << name << "=" << s.rows << " rows";
      std::cout << "\n";
      for (const auto& [name, s] : splits)
        if (s.skipped > 0)
          std::cout << name << ": skipped " << s.skipped << " rows (first: " << s.first_skipped << ")\n";
    }
    return 0;
  }
  require(cl.task_test.empty() && !cl.skip_bad_rows, "prepare: --test-input and --skip-bad-rows need --task");
  require(cl.numeric_features.empty() && cl.categorical_features.empty() && cl.text_features.empty(),
          "prepare: --numeric-features, --categorical-features and --text-features need --task classification");
  PrepareTextOptions o;
  o.inputs = cl.inputs;
  o.output = cl.output;
  o.validation_fraction = cl.validation_fraction;
  o.test_fraction = cl.test_fraction;
  o.doc_separator = cl.doc_separator;
  if (!cl.tokenizer.empty()) o.tokenizer = cl.tokenizer;
  prepare_text_dataset(o, comm);
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0) {
    TokenDataset d(cl.output, MPI_COMM_SELF);
    std::cout << "prepared " << cl.output << ":";
    for (const auto& s : d.info().splits) std::cout << " " << s << "=" << d.num_tokens(s) << " tokens/" << d.num_documents(s) << " docs";
    std::cout << "\n";
  }
  return 0;
}

// sacrebleu's BLEUScore text: "BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)".
std::string format_bleu(const metrics::BleuScore& b) {
  const double ratio = b.ref_len > 0 ? double(b.sys_len) / double(b.ref_len) : 0.0;
  char buf[256];
  std::snprintf(buf, sizeof buf, "BLEU = %.2f %.1f/%.1f/%.1f/%.1f (BP = %.3f ratio = %.3f hyp_len = %lld ref_len = %lld)",
                b.score, b.precisions[0], b.precisions[1], b.precisions[2], b.precisions[3], b.bp, ratio,
                static_cast<long long>(b.sys_len), static_cast<long long>(b.ref_len));
  return buf;
}

// `tessera inspect CONFIG.toml`: the model, grid, hang-watchdog timeout and the
// per-rank memory estimate against what this node has.
int inspect_config(const std::string& path, MPI_Comm comm, std::ostream& out) {
  RunConfig cfg = load_run_config(path);
  resolve_init_from(cfg, comm);
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  if (rank != 0) return 0;
  const TransformerConfig& m = cfg.model.transformer;
  auto num = [](double x) {
    std::ostringstream s;
    s << x;
    return s.str();
  };
  const MemoryEstimate e = estimate_training_memory(cfg);
  std::string source;
  const double avail = available_memory_bytes(&source);
  out << path << ": Tessera run config\n  model " << family_name(m.family) << " (" << head_name(m.head) << "): " << m.n_layer
      << " layers, " << m.n_head << " heads, width " << m.n_embd << ", vocab " << m.vocab_size << ", "
      << m.num_parameters() << " parameters\n  grid dp " << cfg.parallel.dp << " × tp " << cfg.parallel.tp << " × pp "
      << cfg.parallel.pp << (cfg.parallel.zero1 ? " (ZeRO-1)" : "") << " = " << cfg.parallel.dp * cfg.parallel.tp * cfg.parallel.pp
      << " ranks; hang watchdog: "
      << (cfg.parallel.timeout_s > 0 ? num(cfg.parallel.timeout_s) + " s floor, × " +
                                           num(cfg.parallel.timeout_step_factor) + " the slowest step"
                                     : std::string("off"))
      << "\n  " << describe(e) << "\n  available on this node: "
      << (avail >= 0 ? format_bytes(avail) + " (" + source + ")" : std::string("unknown")) << "\n";
  if (avail >= 0)
    out << "  " << (e.total() <= avail ? "fits" : "does NOT fit") << " with one rank per node"
        << (e.total() <= avail ? "" : ": tessera train refuses it before allocating") << "\n";
  return 0;
}

int cmd_score(const CommandLine& cl, MPI_Comm comm) {
  const std::vector<std::string> hyps = read_lines(cl.hypotheses);
  std::vector<std::vector<std::string>> refs;
  for (const std::string& file : cl.references) {
    refs.push_back(read_lines(file));
    require(refs.back().size() == hyps.size(), "score: " + file + " has " + std::to_string(refs.back().size()) +
                                                   " lines but " + cl.hypotheses + " has " + std::to_string(hyps.size()));
  }
  const metrics::BleuScore b = metrics::corpus_bleu(hyps, refs, metrics::BleuOptions{cl.lowercase, false});
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0)
    std::cout << format_bleu(b) << "\n"
              << "nrefs:" << refs.size() << "|case:" << (cl.lowercase ? "lc" : "mixed") << "|eff:no|tok:13a|smooth:exp\n";
  return 0;
}

}  // namespace

int run_command(const CommandLine& cl, MPI_Comm comm) {
  if (cl.command == "train") return cmd_train(cl, comm);
  if (cl.command == "eval") return cmd_eval(cl, comm);
  if (cl.command == "generate") return cmd_generate(cl, comm);
  if (cl.command == "prepare") return cmd_prepare(cl, comm);
  if (cl.command == "inspect" && cl.verify) return print_verification(cl.file, std::cout);
  if (cl.command == "inspect" && std::filesystem::path(cl.file).extension() == ".toml")
    return inspect_config(cl.file, comm, std::cout);
  if (cl.command == "inspect") return inspect_file(cl.file, std::cout);
  if (cl.command == "score") return cmd_score(cl, comm);
  throw Error("unknown command '" + cl.command + "'");
}

}  // namespace tessera
