#include "src/parallel/root_call.hpp"
#include "io/task_dataset.hpp"  // first: see the kIgnoreIndex note there
#include "src/cli/augment_command.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "io/checkpoint.hpp"
#include "io/task_readers.hpp"
#include "kernels/counter_rng.hpp"
#include "src/cli/forward_rows.hpp"
#include "src/cli/generate_batch.hpp"
#include "src/cli/predictive.hpp"
#include "src/cli/task_inputs.hpp"
#include "src/compress/quantized_checkpoint.hpp"
#include "src/config/run_config.hpp"
#include "src/explain/calibration.hpp"
#include "src/runtime/error.hpp"
#include "src/tasks/augment_filters.hpp"
#include "src/tasks/text_generation.hpp"
#include "src/tasks/word_perturbation.hpp"
#include "src/tokenizer/text_tokenizer.hpp"
#include "src/tokenizer/wordpiece_tokenizer.hpp"
#include "src/train/trainer.hpp"

namespace tessera {

namespace {

constexpr uint32_t kShotSite = 0xa06e0001u;    // few-shot example draws
constexpr uint32_t kSampleSite = 0xa06e0002u;  // per-candidate sampling seeds
constexpr uint32_t kSourceSite = 0xa06e0003u;  // perturbation source draws

struct AugmentOptions {
  CLI::App* cmd = nullptr;
  std::string input, output, log, format = "auto", text_column = "text", label_column = "label";
  std::string method = "generate";
  std::vector<std::string> classes;
  double target_ratio = 1.0;
  int64_t count = 0;
  double oversample = 1.5;
  uint64_t seed = 1;
  // generation
  std::string generator, tokenizer, header = "Examples of sentences with the label \"{label}\":";
  int shots = 4;
  int max_new_tokens = 48;
  double temperature = 0.9, top_p = 0.95, repetition_penalty = 1.1;
  int top_k = 50;
  std::vector<std::string> stop;
  // perturbation
  tasks::PerturbOptions perturb;
  // filters
  tasks::AugmentFilterOptions filter;
  double near_dup = -1;  // -1: 0.8 for generate, off for perturb
  std::string classifier, classifier_checkpoint;
};

AugmentOptions& options() {
  static AugmentOptions o;
  return o;
}

int rank_of(MPI_Comm comm) {
  int r = 0;
  MPI_Comm_rank(comm, &r);
  return r;
}

uint64_t below(const RngKey& key, uint64_t index, uint64_t n) {
  return std::min<uint64_t>(n - 1, uint64_t(std::floor(rng_uniform(key, index) * double(n))));
}

// Every rank gets every rank's strings, in global order: rank r holds items r, r+size, ….
std::vector<std::string> allgather_strided(const std::vector<std::string>& mine, size_t n, MPI_Comm comm) {
  int size = 1;
  MPI_Comm_size(comm, &size);
  std::string blob;
  for (const std::string& s : mine) blob += escape_line(s) + '\n';
  int len = int(blob.size());
  std::vector<int> lens(static_cast<size_t>(size), 0), displs(static_cast<size_t>(size), 0);
  MPI_Allgather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, comm);
  for (int r = 1; r < size; ++r) displs[size_t(r)] = displs[size_t(r - 1)] + lens[size_t(r - 1)];
  std::string all(size_t(displs.back() + lens.back()), '\0');
  MPI_Allgatherv(blob.data(), len, MPI_CHAR, all.data(), lens.data(), displs.data(), MPI_CHAR, comm);
  std::vector<std::string> out(n);
  for (int r = 0; r < size; ++r) {
    size_t pos = size_t(displs[size_t(r)]), i = size_t(r);
    const size_t stop = pos + size_t(lens[size_t(r)]);
    while (pos < stop) {
      const size_t nl = all.find('\n', pos);
      require(i < n, "augment: rank " + std::to_string(r) + " sent more candidates than expected");
      out[i] = unescape_line(std::string_view(all).substr(pos, nl - pos));
      pos = nl + 1;
      i += size_t(size);
    }
  }
  return out;
}

// Generated text as a CSV cell can hold it: control bytes (newline included) become
// spaces, bytes that are not valid UTF-8 are dropped, ends trimmed.
std::string clean_generated(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    bool ok = n > 0 && i + n <= s.size() && !(n == 2 && c < 0xc2);
    for (size_t k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(s[i + k]) >> 6) == 0x2;
    if (!ok) {
      ++i;
      continue;
    }
    if (n == 1 && (c < 0x20 || c == 0x7f)) out += ' ';
    else out.append(s, i, n);
    i += n;
  }
  const size_t b = out.find_first_not_of(' '), e = out.find_last_not_of(' ');
  return b == std::string::npos ? "" : out.substr(b, e - b + 1);
}

// RFC 4180 field.
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

// Per-class counts; the target classes and how many new samples each gets.
struct Plan {
  std::vector<int64_t> counts, need;  // [K]
};
Plan plan_targets(const AugmentOptions& o, const ClassificationData& d) {
  const size_t K = d.label_names.size();
  Plan p;
  p.counts.assign(K, 0);
  for (const auto& e : d.examples) ++p.counts[size_t(e.label)];
  const int64_t top = *std::max_element(p.counts.begin(), p.counts.end());
  std::vector<char> target(K, 0);
  if (o.classes.empty()) {
    for (size_t c = 0; c < K; ++c) target[c] = p.counts[c] < top;
  } else {
    for (const std::string& name : o.classes) {
      const auto it = std::find(d.label_names.begin(), d.label_names.end(), name);
      require(it != d.label_names.end(), "augment --classes: label '" + name + "' does not occur in " + o.input);
      target[size_t(it - d.label_names.begin())] = 1;
    }
  }
  p.need.assign(K, 0);
  for (size_t c = 0; c < K; ++c) {
    if (!target[c]) continue;
    p.need[c] = o.count > 0 ? o.count : std::max<int64_t>(0, int64_t(std::ceil(o.target_ratio * double(top))) - p.counts[c]);
  }
  return p;
}

// The generator: a decoder checkpoint with a causal-LM head, else an Error naming it.
std::unique_ptr<GPT2<float>> load_generator(const std::string& file, MPI_Comm comm) {
  require(std::filesystem::is_regular_file(file), "augment --generator " + file + ": no such file");
  RunConfig cfg = parse_model_config(read_checkpoint_state(file, comm).config_toml, file + " (stored config)");
  resolve_init_from(cfg, comm);
  const TransformerConfig& mc = cfg.model.transformer;
  require(mc.head == HeadKind::CausalLM && !mc.is_encoder(),
          "augment --generator " + file + ": a " + family_name(mc.family) + " checkpoint with head '" +
              head_name(mc.head) + "'; generation needs a decoder checkpoint with a causal_lm head (e.g. "
              "tessera import --from SmolLM2-135M-Instruct.Q4_1.gguf)");
  return load_inference_model(mc, file, comm);
}

std::string make_prompt(const AugmentOptions& o, const std::string& label, const std::vector<std::string>& shots) {
  std::string header = o.header;
  for (size_t at; (at = header.find("{label}")) != std::string::npos;) header.replace(at, 7, label);
  std::string p = header + "\n";
  for (const std::string& s : shots) {
    std::string one = s;
    std::replace(one.begin(), one.end(), '\n', ' ');
    p += "- " + one + "\n";
  }
  return p + "-";
}

// Candidates c = 0..n-1 of the target classes, class after class; candidate c is
// generated on rank c mod size from its own prompt and sampling seed.
std::vector<tasks::Candidate> generate_candidates(const AugmentOptions& o, const ClassificationData& d,
                                                  const std::vector<int32_t>& labels_of, MPI_Comm comm,
                                                  std::ostream& log) {
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  require(!o.generator.empty(), "augment --method generate needs --generator CHECKPOINT (a causal LM)");
  require(!o.tokenizer.empty(), "augment --method generate needs --tokenizer (the generator's: FILE.gguf, DIR, …)");
  std::vector<std::vector<int64_t>> by_class(d.label_names.size());
  for (size_t i = 0; i < d.examples.size(); ++i) by_class[size_t(d.examples[i].label)].push_back(int64_t(i));
  const std::unique_ptr<GPT2<float>> model = load_generator(o.generator, comm);
  const TextTokenizer tok = TextTokenizer::open(o.tokenizer);
  require(tok.vocab_size() <= model->config().vocab_size,
          "augment --tokenizer " + o.tokenizer + ": " + std::to_string(tok.vocab_size()) +
              " tokens but the generator's vocab_size is " + std::to_string(model->config().vocab_size));
  GenerationOptions go;
  go.max_new_tokens = o.max_new_tokens;
  go.vocab_limit = tok.vocab_size();
  go.sampling.temperature = o.temperature;
  go.sampling.top_k = o.top_k;
  go.sampling.top_p = o.top_p;
  go.sampling.repetition_penalty = o.repetition_penalty;
  if (tok.eos_id() >= 0) go.sampling.stop_tokens.push_back(tok.eos_id());
  const std::vector<std::string> stops = o.stop.empty() ? std::vector<std::string>{"\n"} : o.stop;
  for (const std::string& s : stops)
    for (const std::string& v : {s, " " + s})
      if (!s.empty()) go.stop_sequences.push_back(tok.encode(v));

  const size_t n = labels_of.size();
  std::vector<std::string> mine, sources_mine;
  int64_t tokens = 0;
  for (size_t c = size_t(rank); c < n; c += size_t(size)) {
    const int32_t y = labels_of[c];
    const std::vector<int64_t>& pool = by_class[size_t(y)];
    // Few-shot examples: min(shots, |pool|) distinct ones by a partial Fisher–Yates.
    std::vector<int64_t> idx = pool;
    const RngKey key{o.seed, uint64_t(c), 0, kShotSite};
    const size_t m = std::min(idx.size(), size_t(std::max(o.shots, 0)));
    for (size_t k = 0; k < m; ++k) std::swap(idx[k], idx[k + below(key, k, idx.size() - k)]);
    std::vector<std::string> shots;
    std::string src;
    for (size_t k = 0; k < m; ++k) {
      shots.push_back(d.examples[size_t(idx[k])].text);
      src += (k ? ";" : "") + std::to_string(idx[k]);
    }
    go.sampling.seed = rng_bits(RngKey{o.seed, uint64_t(c), 0, kSampleSite}, 0);
    const std::string prompt = make_prompt(o, d.label_names[size_t(y)], shots);
    const GenerationResult r = generate_tokens(*model, tok.encode(prompt), go);
    std::vector<int32_t> gen(r.tokens.begin() + r.prompt_length, r.tokens.end());
    if (!gen.empty() && tok.eos_id() >= 0 && gen.back() == tok.eos_id()) gen.pop_back();
    tokens += int64_t(gen.size());
    mine.push_back(clean_generated(cut_at_stop(tok.decode(gen), stops)));
    sources_mine.push_back(src);
    if (rank == 0 && (c / size_t(size)) % 10 == 0)
      std::cerr << "augment: candidate " << c + 1 << "/" << n << " (" << gen.size() << " tokens)\n";
  }
  MPI_Allreduce(MPI_IN_PLACE, &tokens, 1, MPI_INT64_T, MPI_SUM, comm);
  const std::vector<std::string> texts = allgather_strided(mine, n, comm);
  const std::vector<std::string> sources = allgather_strided(sources_mine, n, comm);
  log << "generated " << n << " candidates (" << tokens << " tokens) with " << o.generator << " over " << size
      << " rank(s)\n";
  std::vector<tasks::Candidate> out(n);
  for (size_t c = 0; c < n; ++c) out[c] = {texts[c], labels_of[c], "generated", sources[c]};
  return out;
}

std::vector<tasks::Candidate> perturb_candidates(const AugmentOptions& o, const ClassificationData& d,
                                                 const std::vector<int32_t>& labels_of) {
  std::vector<std::vector<int64_t>> by_class(d.label_names.size());
  for (size_t i = 0; i < d.examples.size(); ++i) by_class[size_t(d.examples[i].label)].push_back(int64_t(i));
  std::vector<tasks::Candidate> out;
  for (size_t c = 0; c < labels_of.size(); ++c) {
    const std::vector<int64_t>& pool = by_class[size_t(labels_of[c])];
    const int64_t src = pool[size_t(below(RngKey{o.seed, uint64_t(c), 0, kSourceSite}, 0, pool.size()))];
    out.push_back({tasks::perturb_words(d.examples[size_t(src)].text, o.perturb, o.seed, uint64_t(c)), labels_of[c],
                   "perturbed", std::to_string(src)});
  }
  return out;
}

// p(intended class | text) from a fine-tuned classifier run (its config + checkpoint).
tasks::ClassProbability classifier_filter(const AugmentOptions& o, const std::vector<std::string>& label_names,
                                          MPI_Comm comm) {
  if (o.classifier.empty()) return {};
  RunConfig cfg = load_run_config(o.classifier);
  resolve_init_from(cfg, comm);
  TransformerConfig mc = cfg.model.transformer;
  apply_family_defaults(mc);
  require(mc.head == HeadKind::SequenceClassification,
          "augment --classifier " + o.classifier + ": model.head = " + head_name(mc.head) +
              "; the classifier filter needs a sequence_classification model");
  require(is_task_dataset(cfg.data.path), "augment --classifier " + o.classifier + ": data.path '" + cfg.data.path +
                                              "' is not a task dataset (label names, tokenizer)");
  const TaskDatasetInfo info = TaskDataset(cfg.data.path, comm).info();
  require(!info.tokenizer_files.empty(), "augment --classifier: dataset '" + cfg.data.path +
                                             "' does not record its tokenizer files");
  const TaskTokenizer tok = info.tokenizer == "wordpiece"
                                ? task_tokenizer(WordPieceTokenizer::from_vocab_txt(info.tokenizer_files[0]))
                                : open_task_tokenizer_files(info.tokenizer_files);
  std::vector<int32_t> map(label_names.size(), -1);  // augment label id → classifier label id
  for (size_t c = 0; c < label_names.size(); ++c) {
    const auto it = std::find(info.label_names.begin(), info.label_names.end(), label_names[c]);
    if (it != info.label_names.end()) map[c] = int32_t(it - info.label_names.begin());
  }
  const std::string ckpt = checkpoint_for(o.classifier_checkpoint, cfg);
  const int64_t K = int64_t(info.label_names.size());
  const int B = std::max(1, cfg.train.micro_batch_size);
  const int64_t T = info.max_len;
  const std::string label_list = [&] {
    std::string s;
    for (const auto& l : info.label_names) s += (s.empty() ? "" : ", ") + l;
    return s;
  }();
  // A feature head: generated texts have no user columns, so only a schema of text-derived
  // features (prepare --text-features) is served; those are computed from each candidate.
  FeatureSchema schema;
  if (mc.feature_head()) {
    schema = checkpoint_feature_schema(mc, ckpt, info, cfg.data.path, comm);
    std::string cols;
    for (const std::string& c : schema.columns()) cols += (cols.empty() ? "'" : ", '") + c + "'";
    require(cols.empty(), "augment --classifier " + o.classifier + ": the classifier reads the feature column(s) " +
                              cols + " (its feature schema), which generated text cannot have; the classifier filter "
                              "serves text-only classifiers and feature heads with text-derived features only "
                              "(prepare --text-features)");
  }
  return [=](const std::vector<std::string>& texts, const std::vector<int32_t>& labels) {
    std::vector<ClassificationExample> ex(texts.size());
    for (size_t i = 0; i < texts.size(); ++i) {
      ex[i].text = texts[i];
      require(map[size_t(labels[i])] >= 0, "augment --classifier " + o.classifier + ": label '" +
                                               label_names[size_t(labels[i])] + "' is not one of its labels (" +
                                               label_list + ")");
    }
    const TaskFeatures f = encode_classification(ex, tok, T);
    Encoded enc;
    enc.T = T;
    enc.ids = f.input_ids;
    enc.mask = f.attention_mask;
    enc.types = f.token_type_ids;
    if (!schema.empty()) {  // text-derived features of each candidate, with the training statistics
      std::vector<FeatureRowInput> rows;
      for (size_t i = 0; i < texts.size(); ++i) rows.push_back({texts[i], "", {}, {}, "candidate " + std::to_string(i + 1)});
      const FeatureMatrix m =
          compute_features(schema, rows, [&](const std::string& t) { return int64_t(tok.encode(t).ids.size()); });
      enc.D = m.dense_dim;
      enc.M = m.categorical_dim;
      enc.dense = m.dense;
      enc.categorical = m.categorical;
    }
    const std::unique_ptr<GPT2<float>> model = load_inference_model(mc, ckpt, comm);
    std::vector<float> logits = forward_rows(*model, enc, B, K, tok.pad_id, comm);
    logits.resize(size_t(int64_t(texts.size()) * K));
    MPI_Bcast(logits.data(), int(logits.size()), MPI_FLOAT, 0, comm);
    const std::vector<double> p = explain::softmax_rows(logits, K, checkpoint_temperature(ckpt, comm));
    std::vector<double> out(texts.size());
    for (size_t i = 0; i < texts.size(); ++i) out[i] = p[i * size_t(K) + size_t(map[size_t(labels[i])])];
    return out;
  };
}

int run(const AugmentOptions& o0, MPI_Comm comm) {
  AugmentOptions o = o0;
  const int rank = rank_of(comm);
  require(o.method == "generate" || o.method == "perturb", "augment --method: generate or perturb");
  std::ostringstream log;
  ClassificationReadOptions ro;
  ro.format = o.format;
  ro.text_column = o.text_column;
  ro.label_column = o.label_column;
  const ClassificationData d = read_classification(o.input, ro);
  require(!d.examples.empty(), "augment --input " + o.input + ": no rows");
  const Plan plan = plan_targets(o, d);
  std::vector<int32_t> labels_of;  // the intended class of each candidate
  log << "augment " << o.input << " (" << d.examples.size() << " rows):";
  for (size_t c = 0; c < d.label_names.size(); ++c) {
    log << " " << d.label_names[c] << "=" << plan.counts[c];
    if (plan.need[c] > 0) log << " (+" << plan.need[c] << ")";
    const int64_t n =
        o.method == "generate" ? int64_t(std::ceil(double(plan.need[c]) * std::max(1.0, o.oversample))) : plan.need[c];
    for (int64_t i = 0; i < n; ++i) labels_of.push_back(int32_t(c));
  }
  log << "; method " << o.method << ", seed " << o.seed << "\n";
  // The classifier filter first: a classifier it cannot serve fails before any generation.
  const tasks::ClassProbability by_classifier = classifier_filter(o, d.label_names, comm);
  std::vector<tasks::Candidate> cands = o.method == "generate" ? generate_candidates(o, d, labels_of, comm, log)
                                                               : perturb_candidates(o, d, labels_of);
  o.filter.near_dup = o.near_dup >= 0 ? o.near_dup : (o.method == "generate" ? 0.8 : 2.0);
  std::vector<std::string> train_texts;
  for (const auto& e : d.examples) train_texts.push_back(e.text);
  tasks::FilterCounts counts;
  const std::vector<tasks::Candidate> kept =
      tasks::filter_candidates(train_texts, cands, plan.need, o.filter, by_classifier, counts);
  log << counts.summary() << "\n";
  std::vector<int64_t> added(d.label_names.size(), 0);
  for (const auto& c : kept) ++added[size_t(c.label)];
  for (size_t c = 0; c < d.label_names.size(); ++c)
    if (plan.need[c] > 0)
      log << "  " << d.label_names[c] << ": " << plan.counts[c] << " + " << added[c] << " " << o.method << " (asked "
          << plan.need[c] << ")\n";
  on_root(comm, [&] {
    std::ofstream f(o.output, std::ios::binary | std::ios::trunc);
    require(bool(f), "augment --output " + o.output + ": cannot open for writing");
    f << csv_field(o.text_column) << "," << csv_field(o.label_column) << ",provenance,source_ids\n";
    for (size_t i = 0; i < d.examples.size(); ++i)
      f << csv_field(d.examples[i].text) << "," << csv_field(d.label_names[size_t(d.examples[i].label)]) << ",original,"
        << i << "\n";
    for (const auto& c : kept)
      f << csv_field(c.text) << "," << csv_field(d.label_names[size_t(c.label)]) << "," << c.provenance << ","
        << csv_field(c.sources) << "\n";
    require(bool(f.flush()), "augment --output " + o.output + ": write failed");
    log << "wrote " << o.output << ": " << d.examples.size() << " original + " << kept.size() << " " << o.method
        << " rows\n";
    std::cout << log.str();
    if (!o.log.empty()) {
      std::ofstream l(o.log, std::ios::binary | std::ios::trunc);
      require(bool(l), "augment --log " + o.log + ": cannot open for writing");
      l << log.str();
    }
  });
  return 0;
}

}  // namespace

void register_augment(CLI::App& app) {
  AugmentOptions& o = options();
  auto* c = app.add_subcommand("augment", "Synthetic minority data for classification (LM generation or perturbation)");
  o.cmd = c;
  c->add_option("--input", o.input, "training file (CSV/TSV/JSONL with text and label columns)")->required();
  c->add_option("--output", o.output, "output CSV: text, label, provenance, source_ids (ready for prepare)")->required();
  c->add_option("--method", o.method, "generate (causal LM, few-shot) | perturb (word deletion/swap)")
      ->check(CLI::IsMember({"generate", "perturb"}));
  c->add_option("--format", o.format, "csv | tsv | jsonl | auto (from the extension)");
  c->add_option("--text-column", o.text_column, "text column");
  c->add_option("--label-column", o.label_column, "label column");
  c->add_option("--classes", o.classes, "classes to augment (repeatable; default: every class smaller than the largest)");
  c->add_option("--target-ratio", o.target_ratio, "top each class up to this share of the largest class (default 1)")
      ->check(CLI::Range(0.0, 100.0));
  c->add_option("--count", o.count, "new samples per target class (overrides --target-ratio)")->check(CLI::NonNegativeNumber);
  c->add_option("--oversample", o.oversample, "generate: candidates per wanted sample, before filtering (default 1.5)")
      ->check(CLI::Range(1.0, 100.0));
  c->add_option("--seed", o.seed, "seed of prompts, sampling and perturbations");
  c->add_option("--log", o.log, "also write the run log (filter counts) to this file");
  c->add_option("--generator", o.generator, "generate: causal-LM checkpoint (tessera import of a GGUF / HF model)");
  c->add_option("--tokenizer", o.tokenizer, "generate: the generator's tokenizer (FILE.gguf | FILE.tiktoken | DIR)");
  c->add_option("--header", o.header, "generate: first prompt line ({label} = the class name)");
  c->add_option("--shots", o.shots, "generate: training examples of the class per prompt (default 4)")
      ->check(CLI::Range(0, 64));
  c->add_option("--max-new-tokens", o.max_new_tokens, "generate: tokens per candidate")->check(CLI::Range(1, 4096));
  c->add_option("--temperature", o.temperature, "generate: sampling temperature (0 = greedy)")->check(CLI::Range(0.0, 100.0));
  c->add_option("--top-k", o.top_k, "generate: top-k (0 = off)")->check(CLI::NonNegativeNumber);
  c->add_option("--top-p", o.top_p, "generate: nucleus mass (1 = off)")->check(CLI::Range(0.0, 1.0));
  c->add_option("--repetition-penalty", o.repetition_penalty, "generate: CTRL repetition penalty (1 = off)")
      ->check(CLI::Range(0.0, 100.0));
  c->add_option("--stop", o.stop, "generate: stop text (repeatable; default a newline)");
  c->add_option("--delete-prob", o.perturb.delete_prob, "perturb: per-word deletion probability (default 0.1)")
      ->check(CLI::Range(0.0, 0.99));
  c->add_option("--swaps", o.perturb.swaps, "perturb: random word swaps (default 1)")->check(CLI::Range(0, 1000));
  c->add_option("--min-words", o.filter.min_words, "filter: drop candidates with fewer words (0 = off)")
      ->check(CLI::NonNegativeNumber);
  c->add_option("--max-words", o.filter.max_words, "filter: drop candidates with more words (0 = off)")
      ->check(CLI::NonNegativeNumber);
  c->add_option("--near-dup", o.near_dup,
                "filter: drop a candidate whose word n-gram Jaccard with a training text or an earlier candidate is >= "
                "this (default 0.8 for generate; > 1 = off, perturb's default)")
      ->check(CLI::Range(0.0, 2.0));
  c->add_option("--ngram", o.filter.ngram, "filter: n of the word n-grams (default 2)")->check(CLI::Range(1, 16));
  c->add_option("--classifier", o.classifier, "filter: a fine-tuned classifier's run config (TOML)");
  c->add_option("--classifier-checkpoint", o.classifier_checkpoint, "filter: its checkpoint (default: newest of the run)");
  c->add_option("--min-confidence", o.filter.min_confidence,
                "filter: keep candidates the classifier gives their class with probability >= this (default 0.5)")
      ->check(CLI::Range(0.0, 1.0));
}

int run_augment(MPI_Comm comm) {
  const AugmentOptions& o = options();
  if (o.cmd == nullptr || !o.cmd->parsed()) return -1;
  return run(o, comm);
}

}  // namespace tessera
