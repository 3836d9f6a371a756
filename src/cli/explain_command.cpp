#include "src/parallel/root_call.hpp"
#include "io/task_dataset.hpp"  // first: see the kIgnoreIndex note there
#include "src/cli/explain_command.hpp"

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>

#include "io/checkpoint.hpp"
#include "src/cli/task_inputs.hpp"
#include "src/config/run_config.hpp"
#include "src/explain/html_report.hpp"
#include "src/explain/integrated_gradients.hpp"
#include "src/explain/lime.hpp"
#include "src/explain/png_plot.hpp"
#include "src/explain/scalar_feature.hpp"
#include "src/explain/shapley.hpp"
#include "src/runtime/error.hpp"
#include "src/tokenizer/wordpiece_tokenizer.hpp"
#include "src/train/trainer.hpp"

namespace tessera {

namespace {

using namespace explain;

struct ExplainOptions {
  CLI::App* cmd = nullptr;
  std::string config, input, output, checkpoint, vocab, run_dir, format = "auto";
  std::string method = "shap", shap = "auto", granularity = "word", removal = "mask", target, output_kind;
  std::string text_column, continuation_column = "continuation", integration = "gauss-legendre", words_file;
  std::vector<std::string> features;
  int64_t samples = 2048;
  uint64_t seed = 1;
  int top_k = 0, steps = 64, grid = 10, batch_size = 0;
};

ExplainOptions& options() {
  static ExplainOptions o;
  return o;
}

// The id of "[MASK]" in a WordPiece vocab.txt, else -1.
int32_t wordpiece_mask_id(const std::string& vocab_txt) {
  std::ifstream f(vocab_txt);
  std::string line;
  for (int32_t id = 0; std::getline(f, line); ++id) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line == "[MASK]") return id;
  }
  return -1;
}

struct LoadedModel {
  TransformerConfig mc;
  TaskTokenizer tok;
  std::vector<std::string> labels;
  int64_t max_len = 0;
  std::string mask_token;
  int32_t mask_id = 0;
  std::unique_ptr<Transformer<float>> model;
  std::string checkpoint;
  int batch = 16;
  QaEncodeOptions qa;  // question answering: the dataset's window options
  FeatureSchema schema;  // feature head: the checkpoint's (predict's) schema; empty otherwise
};

LoadedModel load(const ExplainOptions& o, MPI_Comm comm) {
  RunConfig cfg = load_run_config(o.config);
  resolve_init_from(cfg, comm);
  if (!o.run_dir.empty()) cfg.run.dir = o.run_dir;
  require(cfg.parallel.tp == 1 && cfg.parallel.pp == 1,
          "explain runs data-parallel only, but " + o.config + " sets parallel.tp = " + std::to_string(cfg.parallel.tp) +
              " and parallel.pp = " + std::to_string(cfg.parallel.pp) + "; set both to 1");
  LoadedModel m;
  m.mc = cfg.model.transformer;
  apply_family_defaults(m.mc);
  validate_transformer_config(m.mc, o.config + ": [model]");
  const HeadKind head = m.mc.head;
  require(head != HeadKind::None,
          o.config + ": model.head = " + std::string(head_name(head)) +
              "; explain serves sequence_classification, token_classification, question_answering and causal_lm heads");
  std::string vocab = o.vocab;
  if (head != HeadKind::CausalLM) {
    require(!cfg.data.path.empty() && is_task_dataset(cfg.data.path),
            o.config + ": data.path must name the task dataset (labels, max_len, tokenizer)");
    const TaskDatasetInfo info = TaskDataset(cfg.data.path, comm).info();
    m.labels = info.label_names;
    m.max_len = info.max_len;
    require(task_head_kind(info.task) == head, "dataset '" + cfg.data.path + "' is a " + info.task +
                                                   " dataset but model.head = " + head_name(head));
    m.qa.max_len = info.max_len;
    m.qa.doc_stride = info.doc_stride > 0 ? info.doc_stride : 64;  // prepare's default (as predict)
    if (info.max_question_len > 0) m.qa.max_question_len = info.max_question_len;
    if (vocab.empty()) {
      require(!info.tokenizer_files.empty(), "dataset '" + cfg.data.path + "' does not record its tokenizer: pass --vocab");
      vocab = info.tokenizer_files[0];
      m.tok = info.tokenizer == "wordpiece" ? task_tokenizer(WordPieceTokenizer::from_vocab_txt(vocab))
                                            : open_task_tokenizer_files(info.tokenizer_files);
    } else {
      m.tok = info.tokenizer == "wordpiece" ? task_tokenizer(WordPieceTokenizer::from_vocab_txt(vocab))
                                            : open_task_tokenizer(vocab);
    }
    require(head == HeadKind::QuestionAnswering || m.mc.num_labels == int64_t(m.labels.size()), "dataset '" + cfg.data.path + "' has " +
                                                             std::to_string(m.labels.size()) +
                                                             " labels but model.num_labels = " +
                                                             std::to_string(m.mc.num_labels));
  } else {
    require(!vocab.empty(), "explain: a causal_lm model needs --vocab (FILE.gguf, FILE.tiktoken or a BPE DIR)");
    m.tok = open_task_tokenizer(vocab);
    m.max_len = m.mc.n_positions;
  }
  m.mask_id = m.tok.pad_id;
  m.mask_token = "pad (id " + std::to_string(m.tok.pad_id) + ")";
  if (m.tok.name == "wordpiece") {
    const int32_t id = wordpiece_mask_id(vocab);
    if (id >= 0) m.mask_id = id, m.mask_token = "[MASK] (id " + std::to_string(id) + ")";
  }
  m.checkpoint = checkpoint_for(o.checkpoint, cfg);
  if (m.mc.feature_head())  // the columns predict reads, with the statistics the checkpoint was trained with
    m.schema = checkpoint_feature_schema(m.mc, m.checkpoint, TaskDataset(cfg.data.path, comm).info(), cfg.data.path,
                                         comm);
  m.model = std::make_unique<Transformer<float>>(m.mc);
  const auto missing = load_model_weights(*m.model, m.checkpoint, comm);
  require(missing.empty(), m.checkpoint + ": has no weights for " + (missing.empty() ? "" : missing[0]) +
                               " (not a checkpoint of this model)");
  m.batch = o.batch_size > 0 ? o.batch_size : std::max(1, cfg.train.micro_batch_size);
  return m;
}

int label_index(const std::string& target, const std::vector<std::string>& labels) {
  for (size_t k = 0; k < labels.size(); ++k)
    if (labels[k] == target) return int(k);
  try {
    size_t used = 0;
    const int k = std::stoi(target, &used);
    if (used == target.size() && k >= 0 && k < int(labels.size())) return k;
  } catch (const std::exception&) {
  }
  std::string have;
  for (const auto& l : labels) have += (have.empty() ? "" : ", ") + l;
  throw Error("explain: --target '" + target + "' is not a label of the model (" + have + ") or an index");
}

nlohmann::json attribution_json(const TextInstance& x, const std::vector<double>& phi) {
  nlohmann::json f = nlohmann::json::array();
  for (int i = 0; i < x.M(); ++i) f.push_back({{"text", x.features[size_t(i)]}, {"attribution", phi[size_t(i)]}});
  return f;
}

// Feature head: the columns' attributions, phi[M() + j] for column j (NaN: excluded, null).
nlohmann::json column_json(const TextInstance& x, const std::vector<double>& phi) {
  nlohmann::json f = nlohmann::json::array();
  for (size_t j = 0; j < x.columns.size(); ++j) {
    const ColumnPlayer& c = x.columns[j];
    const double a = phi[size_t(x.M()) + j];
    nlohmann::json e = {{"column", c.name}, {"kind", c.kind}, {"value", c.value}, {"missing", c.missing}};
    e["attribution"] = std::isnan(a) ? nlohmann::json(nullptr) : nlohmann::json(a);
    f.push_back(e);
  }
  return f;
}

std::string shap_variant(const ExplainOptions& o, int M) {
  if (o.shap != "auto") return o.shap;
  return M <= 10 ? "exact" : "kernel";
}

int run(const ExplainOptions& o, MPI_Comm comm) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  LoadedModel m = load(o, comm);
  const HeadKind head = m.mc.head;
  if (head == HeadKind::QuestionAnswering)
    require(o.method != "pdp", "explain: --method pdp needs a sequence_classification head (model.head = "
                               "question_answering serves shap, lime and ig)");
  else if (head != HeadKind::SequenceClassification)
    require(o.method == "shap" || o.method == "lime",
            "explain: --method " + o.method + " needs a sequence_classification or question_answering head (model.head = " +
                head_name(head) + "); " + head_name(head) + " serves shap and lime");
  if (head == HeadKind::QuestionAnswering)
    require(o.removal == "mask",
            "explain: question_answering keeps token positions so that the answer span stays put: use --removal mask "
            "(--removal delete is not served for question answering)");
  require(o.output_kind.empty() || o.output_kind == "logit" || head == HeadKind::SequenceClassification ||
              head == HeadKind::QuestionAnswering,
          "explain: --output-kind applies to sequence_classification and question_answering heads");
  if (head == HeadKind::TokenClassification)
    require(o.removal == "mask" && o.granularity != "sentence",
            "explain: token_classification needs --removal mask and --granularity word or token");
  const Granularity gran = parse_granularity(o.granularity);
  const Removal removal = parse_removal(o.removal);
  TextModel tm(*m.model, m.mask_id, m.tok.pad_id, m.batch, comm);

  // Inputs: CSV/TSV/JSONL texts (and the continuation for causal LM).
  const bool qa = head == HeadKind::QuestionAnswering;
  const std::string format = input_format(o.format, o.input, qa ? head : HeadKind::SequenceClassification);
  require(format == "csv" || format == "tsv" || format == "jsonl" || (qa && format == "squad"),
          o.input + ": explain reads .csv, .tsv or .jsonl" + std::string(qa ? " or SQuAD .json" : "") +
              " (got format '" + format + "')");
  const std::string col = o.text_column.empty() ? "text" : o.text_column;
  // QA: predict's readers (SQuAD .json, JSONL / CSV / TSV with question and context).
  // A feature head reads the schema's columns too (predict's reader: a file without one is refused).
  const std::vector<InputRow> rows =
      qa ? read_questions(o.input, format)
         : read_text_records(o.input, format, col, head == HeadKind::CausalLM ? o.continuation_column : "",
                             m.schema.empty() ? std::vector<std::string>{} : m.schema.columns());
  require(!rows.empty(), o.input + ": no inputs");
  const FeatureMatrix fm = m.schema.empty() ? FeatureMatrix{} : input_feature_matrix(m.schema, rows, m.tok);
  auto with_columns = [&](TextInstance& x, size_t i) {
    if (m.schema.empty()) return;
    attach_feature_columns(x, m.schema, fm.dense.data() + i * size_t(fm.dense_dim),
                           fm.categorical.data() + i * size_t(fm.categorical_dim), rows[i].feature_values,
                           rows[i].feature_missing);
  };
  std::filesystem::create_directories(o.output);

  nlohmann::json report;
  report["run"] = {{"config", o.config}, {"checkpoint", m.checkpoint}, {"method", o.method},
                   {"granularity", o.granularity}, {"removal", o.removal}, {"seed", o.seed},
                   {"baseline", o.removal == "mask" ? "every feature replaced by " + m.mask_token
                                                    : std::string("every feature deleted")}};
  if (!m.schema.empty())
    report["run"]["column_baseline"] = o.method == "ig"
        ? "numeric and text-derived columns at the training mean (standardised 0, missing indicator off); "
          "categorical columns at the input's category (excluded from IG)"
        : "numeric and text-derived columns at the training mean (standardised 0, missing indicator off); "
          "categorical columns in the unknown bucket";
  report["inputs"] = nlohmann::json::array();
  report["plots"] = nlohmann::json::array();

  auto predicted = [&](const TextInstance& x) {
    const FeatureRows f = tm.feature_rows(x, {full_mask(x.players())});
    const auto p = tm.class_probabilities({x.ids}, m.schema.empty() ? nullptr : &f);
    return int(std::max_element(p.begin(), p.end()) - p.begin());
  };
  auto warn_truncated = [&](const TextInstance& x, size_t i) {
    if (x.truncated && rank == 0)
      std::fprintf(stderr, "tessera explain: warning: %s row %zu has more than max_len = %lld tokens; explaining its "
                           "first %d words\n", o.input.c_str(), i + 1, (long long)m.max_len, x.M());
  };

  if (o.method == "pdp") {
    require(head == HeadKind::SequenceClassification, "explain pdp needs a sequence_classification head");
    std::vector<std::string> specs = o.features;
    if (!o.words_file.empty()) {
      std::istringstream in(read_all(o.words_file));
      std::string w;
      while (in >> w) specs.push_back("count:" + w);
    }
    require(!specs.empty(), "explain pdp: give --feature length|count:WORD|presence:WORD or --words FILE");
    std::vector<std::string> texts;
    for (const auto& r : rows) {
      require(r.text.find_first_not_of(" \t\r\n") != std::string::npos, o.input + ": empty text (nothing to explain)");
      texts.push_back(r.text);
    }
    TextInstance first = make_text_instance(texts[0], m.tok, m.max_len, Granularity::Word);
    with_columns(first, 0);
    const int label = o.target.empty() ? predicted(first) : label_index(o.target, m.labels);
    nlohmann::json pdps = nlohmann::json::array();
    for (const auto& spec : specs) {
      const auto feat = make_scalar_feature(spec);
      PartialDependence pd;
      pd.feature = feat->name();
      pd.grid = feat->grid(texts, o.grid);
      // Every (input, grid value) text, encoded, scored in sharded batches.
      std::vector<std::vector<int32_t>> enc;
      std::vector<InputRow> varied;  // feature head: each input's columns, text features of the varied text
      for (size_t i = 0; i < texts.size(); ++i)
        for (double v : pd.grid) {
          InputRow r = rows[i];
          r.text = feat->with_value(texts[i], v);
          enc.push_back(make_text_instance(r.text, m.tok, m.max_len, Granularity::Word).ids);
          if (!m.schema.empty()) varied.push_back(std::move(r));
        }
      const FeatureMatrix vf = m.schema.empty() ? FeatureMatrix{} : input_feature_matrix(m.schema, varied, m.tok);
      const int B = m.batch;
      const std::vector<double> p = gather_batches((int64_t(enc.size()) + B - 1) / B, [&](int64_t g) {
        const size_t b0 = size_t(g) * size_t(B), b1 = std::min(enc.size(), b0 + size_t(B));
        const std::vector<std::vector<int32_t>> part(enc.begin() + long(b0), enc.begin() + long(b1));
        FeatureRows fr;
        if (!m.schema.empty()) {
          const size_t D = size_t(vf.dense_dim), Mc = size_t(vf.categorical_dim);
          fr.dense.assign(vf.dense.begin() + long(b0 * D), vf.dense.begin() + long(b1 * D));
          fr.categorical.assign(vf.categorical.begin() + long(b0 * Mc), vf.categorical.begin() + long(b1 * Mc));
        }
        const auto probs = tm.class_probabilities(part, m.schema.empty() ? nullptr : &fr);
        std::vector<double> out;
        for (size_t r = 0; r < part.size(); ++r) out.push_back(probs[r * m.labels.size() + size_t(label)]);
        return out;
      }, comm);
      pd.pdp.assign(pd.grid.size(), 0.0);
      std::vector<PlotSeries> series;
      for (size_t i = 0; i < texts.size(); ++i) {
        pd.ice.emplace_back(p.begin() + long(i * pd.grid.size()), p.begin() + long((i + 1) * pd.grid.size()));
        pd.observed.push_back(feat->value(texts[i]));
        for (size_t k = 0; k < pd.grid.size(); ++k) pd.pdp[k] += pd.ice.back()[k] / double(texts.size());
        series.push_back({pd.grid, pd.ice.back(), 170, 170, 170, 1});
      }
      series.push_back({pd.grid, pd.pdp, 20, 60, 200, 3});
      const std::string png = line_plot_png(series, 480, 320);
      std::string file = pd.feature;
      for (char& c : file)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      on_root(comm, [&] {
        std::ofstream f(o.output + "/pdp_" + file + ".png", std::ios::binary);
        f << png;
        require(bool(f), o.output + "/pdp_" + file + ".png: write failed");
      });
      const auto [lo, hi] = std::minmax_element(p.begin(), p.end());
      report["plots"].push_back({{"title", "PDP/ICE " + pd.feature},
                                 {"caption", "x: " + pd.feature + " " + std::to_string(pd.grid.front()) + " … " +
                                                 std::to_string(pd.grid.back()) + "; y: p(" + m.labels[size_t(label)] +
                                                 ") " + std::to_string(*lo) + " … " + std::to_string(*hi) +
                                                 "; grey ICE, blue PDP"},
                                 {"png_base64", base64(png)}});
      pdps.push_back({{"feature", pd.feature}, {"label", m.labels[size_t(label)]}, {"grid", pd.grid},
                      {"pdp", pd.pdp}, {"ice", pd.ice}, {"observed", pd.observed}});
    }
    report["pdp"] = pdps;
    on_root(comm, [&] {
      std::ofstream(o.output + "/pdp.json") << pdps.dump(1) << "\n";
    });
  } else {
    for (size_t i = 0; i < rows.size(); ++i) {
      const InputRow& r = rows[i];
      TextInstance x;
      if (qa) {
        try {
          x = make_qa_instance(r.qa, m.tok, m.qa, gran);
        } catch (const Error& e) {
          throw Error(o.input + " row " + std::to_string(i + 1) + " (question '" + r.qa.id + "'): " + e.what());
        }
        if (x.truncated && rank == 0)
          std::fprintf(stderr, "tessera explain: warning: %s row %zu: the context needs more than one window of "
                               "max_len = %lld tokens; explaining the first (%d context words)\n",
                       o.input.c_str(), i + 1, (long long)m.max_len, x.M());
      } else {
        if (r.text.find_first_not_of(" \t\r\n") == std::string::npos)
          throw Error(o.input + " row " + std::to_string(i + 1) + ": empty text (nothing to explain)");
        x = make_text_instance(r.text, m.tok, m.max_len, gran, head == HeadKind::CausalLM ? r.pair : "");
        with_columns(x, i);
        warn_truncated(x, i);
      }
      // One target per input; token classification: one per predicted entity span.
      std::vector<std::pair<TextTarget, nlohmann::json>> targets;
      TextTarget base;
      base.head = head;
      nlohmann::json span_j;
      if (head == HeadKind::SequenceClassification) {
        base.label = o.target.empty() ? predicted(x) : label_index(o.target, m.labels);
        const std::string kind = o.output_kind.empty() ? "probability" : o.output_kind;
        base.kind = kind == "logit" ? TargetKind::Logit
                    : kind == "log-probability" ? TargetKind::LogProbability : TargetKind::Probability;
        targets.push_back({base, {{"label", m.labels[size_t(base.label)]}, {"index", base.label}, {"kind", kind}}});
      } else if (qa) {
        require(o.target.empty(), "explain: --target does not apply to question_answering (the span predicted on "
                                  "the full input is explained)");
        QaSpan sp;
        try {
          sp = tm.predicted_span(x, m.max_len);
        } catch (const Error& e) {
          throw Error(o.input + " row " + std::to_string(i + 1) + " (question '" + r.qa.id + "'): " + e.what());
        }
        const std::string kind = o.output_kind.empty() ? "log-probability" : o.output_kind;
        base.kind = kind == "logit" ? TargetKind::Logit
                    : kind == "probability" ? TargetKind::Probability : TargetKind::LogProbability;
        base.qa_start = sp.start_token;
        base.qa_end = sp.end_token;
        span_j = {{"answer", sp.answer}, {"start", sp.char_start}, {"end", sp.char_end},
                  {"byte_start", sp.byte_start}, {"byte_end", sp.byte_end}, {"start_token", sp.start_token},
                  {"end_token", sp.end_token}, {"start_logit", sp.start_logit}, {"end_logit", sp.end_logit},
                  {"fallback", sp.fallback}};
        const std::string value = kind == "logit" ? "start_logit[s] + end_logit[e]"
                                  : kind == "probability" ? "p(start = s) * p(end = e)"
                                                          : "log p(start = s) + log p(end = e)";
        targets.push_back({base, {{"answer", sp.answer}, {"kind", kind == "logit" ? "span_logit" : kind == "probability" ? "span_probability" : "span_log_probability"}, {"value", value}}});
      } else if (head == HeadKind::TokenClassification) {
        int T = 0;
        const std::vector<float> logits = tm.forward_logits({x.ids}, T);
        for (const EntitySpan& e : entity_spans(x, logits, m.labels)) {
          TextTarget t = base;
          t.kind = TargetKind::LogProbability;
          t.span_tokens = e.tokens;
          t.span_tags = e.tags;
          targets.push_back({t, {{"entity", e.text}, {"type", e.type}, {"kind", "mean_log_probability_of_tags"}}});
        }
        if (targets.empty() && rank == 0)
          std::fprintf(stderr, "tessera explain: %s row %zu: no entity predicted; nothing to explain\n", o.input.c_str(), i + 1);
      } else {
        base.kind = TargetKind::LogProbability;
        targets.push_back({base, {{"continuation", r.pair}, {"kind", "log_probability"}}});
      }
      for (const auto& [t, target] : targets) {
      nlohmann::json j = {{"row", i}, {"text", qa ? r.qa.context : r.text}, {"target", target}, {"truncated", x.truncated}};
      if (qa) {
        j["id"] = r.qa.id;
        j["question"] = r.qa.question;
        j["span"] = span_j;
      }
      const std::string where = o.input + " row " + std::to_string(i + 1) + ": ";
      const double t0 = MPI_Wtime();
      try {
        if (o.method == "ig") {
          const Quadrature q = parse_quadrature(o.integration);
          const IgResult g = integrated_gradients(tm, x, t, o.steps, q);
          j["method"] = "ig";
          j["target"]["kind"] = qa ? "span_log_probability" : "log_probability";
          if (qa) j["target"]["value"] = "log p(start = s) + log p(end = e)";
          j["features"] = attribution_json(x, g.feature_attr);
          if (!x.columns.empty()) {
            std::vector<double> all = g.feature_attr;
            all.insert(all.end(), g.column_attr.begin(), g.column_attr.end());
            j["columns"] = column_json(x, all);
          }
          j["full_value"] = g.f_input;
          j["base_value"] = g.f_baseline;
          j["completeness_gap"] = g.gap();
          j["relative_completeness_gap"] = g.relative_gap();
          j["steps"] = o.steps;
          j["integration"] = o.integration;
        } else {
          const ValueFunction v = tm.value_function(x, t, removal);
          if (o.method == "lime") {
            const int N = x.players();
            const int k = o.top_k > 0 ? std::min(o.top_k, N) : N;
            const LimeResult l = lime_explain(v, N, int(o.samples), k, o.seed);
            j["method"] = "lime";
            j["features"] = attribution_json(x, l.all_weights);
            if (!x.columns.empty()) j["columns"] = column_json(x, l.all_weights);
            j["top_features"] = l.features;
            j["intercept"] = l.intercept;
            j["score"] = l.score;
            j["local_pred"] = l.local_pred;
            j["full_value"] = v({full_mask(N)})[0];
            j["base_value"] = v({empty_mask(N)})[0];
            j["evaluations"] = l.evaluations;
          } else {
            const int N = x.players();
            const std::string variant = shap_variant(o, N);
            Attribution a;
            if (variant == "exact") a = exact_shapley(v, N);
            else if (variant == "kernel") a = kernel_shap(v, N, o.samples, o.seed);
            else if (variant == "permutation") a = permutation_shap(v, N, o.samples, o.seed);
            else a = partition_shap(v, N);
            j["method"] = "shap-" + variant;
            j["features"] = attribution_json(x, a.phi);
            if (!x.columns.empty()) j["columns"] = column_json(x, a.phi);
            j["full_value"] = a.full_value;
            j["base_value"] = a.base_value;
            j["efficiency_gap"] = a.efficiency_gap();
            j["evaluations"] = a.evaluations;
            if (!a.std_error.empty()) j["std_error"] = a.std_error;
          }
        }
      } catch (const Error& e) {
        throw Error(where + e.what());
      }
      if (rank == 0)  // one line per input (timings stay out of the JSON: identical on any rank count)
        std::printf("tessera explain: row %zu: %d features, %lld evaluations, %.3f s\n", i + 1, x.players(),
                    (long long)j.value("evaluations", int64_t(o.steps)), MPI_Wtime() - t0);
      report["inputs"].push_back(j);
      }
    }
    on_root(comm, [&] {
      std::ofstream f(o.output + "/explanations.jsonl");
      for (const auto& j : report["inputs"]) f << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
      require(bool(f), o.output + "/explanations.jsonl: write failed");
    });
  }
  on_root(comm, [&] {
    std::ofstream f(o.output + "/report.html");
    f << html_report(report);
    require(bool(f), o.output + "/report.html: write failed");
  });
  if (rank == 0)
    std::printf("tessera explain: %zu inputs, method %s -> %s/ (checkpoint %s)\n", rows.size(), o.method.c_str(),
                o.output.c_str(), m.checkpoint.c_str());
  return 0;
}

}  // namespace

void register_explain(CLI::App& app) {
  ExplainOptions& o = options();
  auto* p = app.add_subcommand("explain", "Attribute a fine-tuned model's predictions to input words (SHAP, LIME, IG, PDP)");
  p->add_option("config", o.config, "run config (TOML): [model] and data.path (the task dataset)")->required();
  p->add_option("--input", o.input,
                "inputs: .csv/.tsv/.jsonl with a text column (causal LM: and a continuation; question answering: "
                "SQuAD .json or question + context columns)")->required();
  p->add_option("--output", o.output, "output directory")->required();
  p->add_option("--method", o.method, "attribution method")->check(CLI::IsMember({"shap", "lime", "ig", "pdp"}));
  p->add_option("--shap", o.shap, "SHAP estimator (auto: exact up to 10 features, else kernel)")
      ->check(CLI::IsMember({"auto", "exact", "kernel", "permutation", "partition"}));
  p->add_option("--samples", o.samples, "coalitions per input (kernel, permutation, lime)")->check(CLI::Range(1, 1 << 24));
  p->add_option("--seed", o.seed, "sampling seed");
  p->add_option("--granularity", o.granularity, "features")->check(CLI::IsMember({"word", "token", "sentence"}));
  p->add_option("--removal", o.removal, "a removed feature's tokens: mask ([MASK], else pad) or delete")
      ->check(CLI::IsMember({"mask", "delete"}));
  p->add_option("--target", o.target, "class to explain, name or index (default: the predicted class)");
  p->add_option("--output-kind", o.output_kind,
                "explained quantity (classification default probability; question answering default "
                "log-probability of the span, logit = start_logit + end_logit)")
      ->check(CLI::IsMember({"probability", "logit", "log-probability"}));
  p->add_option("--top-k", o.top_k, "lime: features in the local model (default: all)")->check(CLI::NonNegativeNumber);
  p->add_option("--steps", o.steps, "ig: quadrature points")->check(CLI::Range(1, 1 << 16));
  p->add_option("--integration", o.integration, "ig: quadrature")->check(CLI::IsMember({"gauss-legendre", "riemann"}));
  p->add_option("--feature", o.features, "pdp: length | count:WORD | presence:WORD (repeatable)");
  p->add_option("--words", o.words_file, "pdp: file of words, each a count:WORD feature");
  p->add_option("--grid", o.grid, "pdp: grid points")->check(CLI::Range(2, 1000));
  p->add_option("--checkpoint", o.checkpoint, "checkpoint file (default: newest in the run's checkpoint dir)");
  p->add_option("--vocab", o.vocab, "tokenizer (default: the dataset's; causal_lm: required)");
  p->add_option("--text-column", o.text_column, "text column / key (default 'text')");
  p->add_option("--continuation-column", o.continuation_column, "causal_lm: the scored continuation's column");
  p->add_option("--format", o.format, "input format (squad: question answering)")
      ->check(CLI::IsMember({"auto", "csv", "tsv", "jsonl", "squad"}));
  p->add_option("--batch-size", o.batch_size, "coalitions per forward (default: train.micro_batch_size)")
      ->check(CLI::Range(1, 1 << 16));
  p->add_option("--run-dir", o.run_dir, "override run.dir (where checkpoints are looked up)");
  o.cmd = p;
}

int run_explain(MPI_Comm comm) {
  const ExplainOptions& o = options();
  if (!o.cmd || !o.cmd->parsed()) return -1;
  return run(o, comm);
}

}  // namespace tessera
