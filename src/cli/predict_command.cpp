#include "src/parallel/root_call.hpp"
#include "io/task_dataset.hpp"  // first: see the kIgnoreIndex note there
#include "src/cli/predict_command.hpp"
#include "src/compress/quantized_checkpoint.hpp"
#include "src/cli/task_inputs.hpp"
#include "src/cli/forward_rows.hpp"
#include "src/cli/predictive.hpp"
#include "src/explain/calibration.hpp"

#include <CLI/CLI.hpp>
#include <Kokkos_Core.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/auxiliary_features.hpp"
#include "io/checkpoint.hpp"
#include "src/config/run_config.hpp"
#include "src/train/adapter_loading.hpp"
#include "src/runtime/error.hpp"
#include "src/tasks/classification_decoding.hpp"
#include "src/tasks/entity_decoding.hpp"
#include "src/tasks/span_decoding.hpp"
#include "src/tasks/tagging_input.hpp"
#include "src/tokenizer/wordpiece_tokenizer.hpp"
#include "src/train/trainer.hpp"

namespace tessera {

namespace {

struct PredictOptions {
  CLI::App* cmd = nullptr;
  std::string config, input, output, checkpoint, vocab, run_dir;
  std::string text_column, text_pair_column;  // default: the dataset's, else "text" / none
  std::string format = "auto";
  int batch_size = 0;  // 0 = train.micro_batch_size
  // Sequence classification: uncertainty over MC-dropout passes / an ensemble.
  std::string ensemble;
  int mc_dropout = 0;
  uint64_t seed = 1;
  bool samples = false;
  bool laplace = false;  // last-layer Laplace (classifier head, any family), fitted on laplace_fit_split
  std::string laplace_fit_split = "train", laplace_structure = "diag";
  int laplace_samples = 0;
};

PredictOptions& options() {
  static PredictOptions o;
  return o;
}

int rank_of(MPI_Comm comm) {
  int r = 0;
  MPI_Comm_rank(comm, &r);
  return r;
}


int run(const PredictOptions& o, MPI_Comm comm) {
  RunConfig cfg = load_run_config(o.config);
  resolve_init_from(cfg, comm);
  if (!o.run_dir.empty()) cfg.run.dir = o.run_dir;
  require(cfg.parallel.tp == 1 && cfg.parallel.pp == 1,
          "predict runs data-parallel only, but " + o.config + " sets parallel.tp = " +
              std::to_string(cfg.parallel.tp) + " and parallel.pp = " + std::to_string(cfg.parallel.pp) +
              "; set both to 1 (checkpoints load on any grid)");
  TransformerConfig mc = cfg.model.transformer;
  apply_family_defaults(mc);
  validate_transformer_config(mc, o.config + ": [model]");
  const HeadKind head = mc.head;
  require(head == HeadKind::SequenceClassification || head == HeadKind::TokenClassification ||
              head == HeadKind::QuestionAnswering,
          o.config + ": model.head = " + std::string(head_name(head)) +
              "; predict needs sequence_classification, token_classification or question_answering");

  // Label names, max_len, tokenizer and encoding options from the task dataset.
  require(!cfg.data.path.empty(), o.config + ": data.path must name the task dataset (label names, max_len, tokenizer)");
  require(is_task_dataset(cfg.data.path),
          o.config + ": data.path '" + cfg.data.path + "' is not a task dataset (tessera prepare --task)");
  const TaskDatasetInfo info = TaskDataset(cfg.data.path, comm).info();
  require(task_head_kind(info.task) == head, "dataset '" + cfg.data.path + "' is a " + info.task +
                                                 " dataset but model.head = " + head_name(head));
  const int64_t K = int64_t(info.label_names.size());
  // The feature schema: the one the checkpoint was trained with (/run/feature_schema), else the
  // training dataset's (data.path). Filled in once the checkpoint is known.
  FeatureSchema schema;
  if (head != HeadKind::QuestionAnswering)
    require(mc.num_labels == K, "dataset '" + cfg.data.path + "' has " + std::to_string(K) +
                                    " labels but model.num_labels = " + std::to_string(mc.num_labels));
  require(info.max_len <= mc.n_positions, "dataset '" + cfg.data.path + "' has max_len " +
                                              std::to_string(info.max_len) + " > model.n_positions = " +
                                              std::to_string(mc.n_positions));
  // The tokenizer prepare used: its recorded files (WordPiece vocab.txt, vocab.json +
  // merges.txt, .gguf, .tiktoken), or --vocab (a vocab.txt or any --tokenizer spec).
  std::string vocab = o.vocab;
  TaskTokenizer tok;
  if (vocab.empty()) {
    require(!info.tokenizer_files.empty(), "dataset '" + cfg.data.path +
                                               "' does not record its tokenizer files (an older prepare): pass --vocab");
    for (const std::string& f : info.tokenizer_files)
      require(std::filesystem::is_regular_file(f), f + ": no such file (a tokenizer file dataset '" + cfg.data.path +
                                                       "' was prepared with)");
    tok = info.tokenizer == "wordpiece" ? task_tokenizer(WordPieceTokenizer::from_vocab_txt(info.tokenizer_files[0]))
                                        : open_task_tokenizer_files(info.tokenizer_files);
    vocab = info.tokenizer_files[0];
  } else if (info.tokenizer == "wordpiece") {
    require(std::filesystem::is_regular_file(vocab), vocab + ": no such file (the tokenizer's vocab.txt)");
    tok = task_tokenizer(WordPieceTokenizer::from_vocab_txt(vocab));
  } else {
    tok = open_task_tokenizer(vocab);
  }
  require(tok.name == info.tokenizer, vocab + ": is tokenizer '" + tok.name + "' but dataset '" + cfg.data.path +
                                          "' was prepared with '" + info.tokenizer + "'");
  require(tok.vocab_size == info.vocab_size, vocab + ": has " + std::to_string(tok.vocab_size) +
                                                 " tokens but dataset '" + cfg.data.path + "' was prepared with " +
                                                 std::to_string(info.vocab_size));
  require(tok.pad_id == info.pad_id, vocab + ": pads with id " + std::to_string(tok.pad_id) + " but dataset '" +
                                         cfg.data.path + "' was prepared with " + std::to_string(info.pad_id));
  require(tok.vocab_size <= mc.vocab_size, vocab + ": " + std::to_string(tok.vocab_size) +
                                               " tokens but the model's vocab_size is " +
                                               std::to_string(mc.vocab_size));

  if (mc.feature_head()) {
    const std::string first =
        o.ensemble.empty() ? checkpoint_for(o.checkpoint, cfg) : split_checkpoint_list(o.ensemble)[0];
    schema = checkpoint_feature_schema(mc, first, info, cfg.data.path, comm);
  }

  // Inputs (every rank reads and encodes the whole file: the same errors everywhere).
  const std::string format = input_format(o.format, o.input, head);
  std::vector<InputRow> inputs;
  if (head == HeadKind::QuestionAnswering) {
    inputs = read_questions(o.input, format);
  } else if (format == "conll") {
    require(head == HeadKind::TokenClassification, o.input + ": CoNLL input needs a token-classification model");
    inputs = read_conll_words(o.input);
  } else {
    require(format == "csv" || format == "tsv" || format == "jsonl",
            o.input + ": unknown input format '" + format + "' (csv, tsv, jsonl" +
                (head == HeadKind::TokenClassification ? ", conll)" : ")"));
    std::string col = o.text_column.empty() ? (info.text_column.empty() ? "text" : info.text_column) : o.text_column;
    std::string pair = o.text_pair_column.empty() ? info.text_pair_column : o.text_pair_column;
    if (head == HeadKind::TokenClassification) pair.clear();
    // A feature head reads the schema's columns from the input too (statistics and
    // category index from the training dataset's schema).
    const std::vector<std::string> feature_columns =
        schema.empty() ? std::vector<std::string>{} : schema.columns();
    inputs = read_text_records(o.input, format, col, pair, feature_columns);
  }
  require(!inputs.empty(), o.input + ": no inputs");

  Encoded enc;
  enc.T = info.max_len;
  std::vector<tasks::TaggingInput> tagging;  // NER
  TaskFeatures qa_features;                  // QA
  if (head == HeadKind::SequenceClassification) {
    std::vector<ClassificationExample> ex(inputs.size());
    for (size_t i = 0; i < inputs.size(); ++i) {
      ex[i].text = inputs[i].text;
      ex[i].text_pair = inputs[i].pair;
    }
    const TaskFeatures f = encode_classification(ex, tok, info.max_len);
    enc.ids = f.input_ids;
    enc.mask = f.attention_mask;
    enc.types = f.token_type_ids;
    if (!schema.empty()) {  // the same vectors prepare writes: "<file>:<line>: column 'c': value 'x' is not a number"
      const FeatureMatrix m = input_feature_matrix(schema, inputs, tok);
      enc.D = m.dense_dim;
      enc.M = m.categorical_dim;
      enc.dense = m.dense;
      enc.categorical = m.categorical;
    }
  } else if (head == HeadKind::TokenClassification) {
    for (const InputRow& r : inputs) {
      tagging.push_back(tasks::encode_words_for_tagging(r.text, tok, info.max_len));
      append_row(enc, tagging.back().input_ids, tok.pad_id);
    }
  } else {
    std::vector<QaExample> ex;
    for (const InputRow& r : inputs) ex.push_back(r.qa);
    QaEncodeOptions qo;
    qo.max_len = info.max_len;
    if (info.doc_stride > 0) qo.doc_stride = info.doc_stride;
    else qo.doc_stride = 64;  // prepare's default, for datasets that do not record it
    if (info.max_question_len > 0) qo.max_question_len = info.max_question_len;
    qa_features = encode_qa(ex, tok, qo);
    enc.ids = qa_features.input_ids;
    enc.mask = qa_features.attention_mask;
    enc.types = qa_features.token_type_ids;
  }

  // The output file must be writable before the model runs.
  std::ofstream out;
  on_root(comm, [&] {
    out.open(o.output, std::ios::binary | std::ios::trunc);
    require(bool(out), o.output + ": cannot open for writing");
  });

  require(!o.laplace || (o.mc_dropout == 0 && o.ensemble.empty()),
          "predict: --laplace does not combine with --mc-dropout / --ensemble");
  const bool uncertain = o.mc_dropout > 0 || !o.ensemble.empty() || (o.laplace && o.laplace_samples > 0);
  require((!uncertain && !o.laplace) || head == HeadKind::SequenceClassification,
          "predict: --mc-dropout, --ensemble and --laplace need a sequence_classification head (model.head = " +
              std::string(head_name(head)) + ")");
  require(o.ensemble.empty() || o.checkpoint.empty(), "predict: pass --checkpoint or --ensemble, not both");
  require(!o.samples || uncertain, "predict: --samples needs --mc-dropout, --ensemble or --laplace-samples");
  if (o.mc_dropout > 0) require_dropout(mc, o.config);
  const std::string ckpt = o.ensemble.empty() ? checkpoint_for(o.checkpoint, cfg) : o.ensemble;
  const int B = o.batch_size > 0 ? o.batch_size : cfg.train.micro_batch_size;
  require(B >= 1, "predict: --batch-size must be >= 1");
  const int64_t T = enc.T;
  const int64_t per_row = head == HeadKind::SequenceClassification  ? K
                          : head == HeadKind::TokenClassification ? T * K
                                                                  : T * 2;
  // Sequence classification: softmax(z / T) with the checkpoint's fitted temperature
  // (tessera calibrate --fit-temperature), averaged over the samples.
  PredictiveSamples samples;
  LaplaceResult laplace;
  std::vector<float> logits;
  if (head == HeadKind::SequenceClassification) {
    const std::vector<std::string> ckpts =
        o.ensemble.empty() ? std::vector<std::string>{ckpt} : split_checkpoint_list(o.ensemble);
    samples = predictive_samples(mc, ckpts, enc, B, K, tok.pad_id, o.mc_dropout, o.seed, comm, cfg.model.adapter);
    if (o.laplace) {
      TaskDataset data(cfg.data.path, comm);
      laplace = run_laplace(mc, data, o.laplace_fit_split, ckpt, enc, B, tok.pad_id, o.laplace_samples, o.seed, comm, o.laplace_structure);
    }
  } else {
    // float32 or quantised (packed weights, src/compress/quantized_checkpoint.hpp)
    const std::unique_ptr<Transformer<float>> owned = load_inference_model(mc, cfg.model.adapter, ckpt, comm);
    logits = forward_rows(*owned, enc, B, per_row, tok.pad_id, comm);
  }

  on_root(comm, [&] {
    auto write = [&](const nlohmann::json& j) { out << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n"; };
    if (head == HeadKind::SequenceClassification) {
      std::vector<std::vector<double>> probs;  // per sample [n, K]
      if (o.laplace && o.laplace_samples > 0) probs = laplace.samples;
      else if (o.laplace) probs = {laplace.probs};
      else
        for (size_t s = 0; s < samples.logits.size(); ++s)
          probs.push_back(explain::softmax_rows(samples.logits[s], K,
                                                samples.temperatures[size_t(samples.checkpoint_of[s])]));
      std::vector<float> z(static_cast<size_t>(K));
      for (size_t i = 0; i < inputs.size(); ++i) {
        std::vector<std::vector<double>> per_input;
        for (const auto& p : probs) per_input.emplace_back(p.begin() + long(i * size_t(K)), p.begin() + long((i + 1) * size_t(K)));
        const explain::PredictiveUncertainty u = explain::predictive_uncertainty(per_input);
        // decode_classification takes logits: log p̄ gives back p̄ under its softmax.
        for (int64_t k = 0; k < K; ++k) z[size_t(k)] = float(std::log(std::max(u.mean[size_t(k)], 1e-300)));
        nlohmann::json j = tasks::classification_json(tasks::decode_classification(z.data(), K, info.label_names));
        if (o.laplace) j["laplace"] = {{"prior_precision", laplace.la.prior_precision},
                                       {"predictive", o.laplace_samples > 0 ? "mc" : "probit"},
                                       {"structure", o.laplace_structure}};
        else if (samples.temperatures.size() == 1 && samples.temperatures[0] != 1.0)
          j["temperature"] = samples.temperatures[0];
        if (uncertain) {
          j["uncertainty"] = {{"samples", per_input.size()}, {"entropy", u.entropy},
                              {"expected_entropy", u.expected_entropy}, {"mutual_information", u.mutual_information}};
          if (o.samples) j["samples"] = per_input;
        }
        write(j);
      }
    } else if (head == HeadKind::TokenClassification) {
      for (size_t i = 0; i < inputs.size(); ++i) {
        std::vector<tasks::TaggedToken> tokens = tagging[i].tokens;
        tasks::assign_tags(tokens, logits.data() + i * size_t(T * K), K);
        nlohmann::json j;
        if (inputs[i].from_conll) j["text"] = inputs[i].text;
        j["entities"] = tasks::entities_json(tasks::decode_entities(tokens, info.label_names, inputs[i].text));
        write(j);
      }
    } else {
      // Start / end logits per window, then the best span over each question's windows.
      const int64_t R = qa_features.size();
      std::vector<float> start(size_t(R * T)), end(size_t(R * T));
      for (int64_t i = 0; i < R * T; ++i) {
        start[size_t(i)] = logits[size_t(2 * i)];
        end[size_t(i)] = logits[size_t(2 * i + 1)];
      }
      std::vector<std::string> contexts;
      for (const InputRow& r : inputs) contexts.push_back(r.qa.context);
      const auto preds = tasks::decode_qa_features(qa_features, start.data(), end.data(), contexts);
      for (size_t i = 0; i < inputs.size(); ++i) {
        nlohmann::json s = tasks::span_json(preds[i]);
        write({{"id", inputs[i].qa.id}, {"answer", s["answer"]}, {"start", s["start"]}, {"end", s["end"]},
               {"score", s["score"]}});
      }
    }
    out.close();
    require(bool(out), o.output + ": write failed");
  });
  if (rank_of(comm) == 0)
    std::printf("tessera predict: %zu inputs -> %s (checkpoint %s)\n", inputs.size(), o.output.c_str(), ckpt.c_str());
  return 0;
}

}  // namespace

void register_predict(CLI::App& app) {
  PredictOptions& o = options();
  auto* p = app.add_subcommand("predict", "Run a fine-tuned task model over raw inputs (JSON Lines out)");
  p->add_option("config", o.config, "run config (TOML): [model] and data.path (the task dataset)")->required();
  p->add_option("--input", o.input, "inputs: .csv/.tsv/.jsonl texts, CoNLL (NER), SQuAD .json or .jsonl (QA)")
      ->required();
  p->add_option("--output", o.output, "output .jsonl, one line per input")->required();
  p->add_option("--checkpoint", o.checkpoint, "checkpoint file (default: newest in the run's checkpoint dir)");
  p->add_option("--vocab", o.vocab,
                "tokenizer: WordPiece vocab.txt, FILE.gguf, FILE.tiktoken or DIR (default: the dataset's files)");
  p->add_option("--text-column", o.text_column, "text column / key (default: the dataset's, else 'text')");
  p->add_option("--text-pair-column", o.text_pair_column, "second text column (default: the dataset's)");
  p->add_option("--format", o.format, "input format")
      ->check(CLI::IsMember({"auto", "csv", "tsv", "jsonl", "conll", "squad"}));
  p->add_option("--batch-size", o.batch_size, "rows per forward (default: train.micro_batch_size)")
      ->check(CLI::Range(1, 1 << 16));
  p->add_option("--run-dir", o.run_dir, "override run.dir (where checkpoints are looked up)");
  p->add_option("--mc-dropout", o.mc_dropout,
                "classification: T passes with the model's dropout on; mean, entropy, mutual information")
      ->check(CLI::Range(1, 100000));
  p->add_option("--seed", o.seed, "dropout seed for --mc-dropout (default 1)");
  p->add_option("--ensemble", o.ensemble, "classification: comma-separated checkpoints, mean of their probabilities");
  p->add_flag("--laplace", o.laplace,
              "classification: last-layer Laplace predictive (probit; fitted on --laplace-fit-split)");
  p->add_option("--laplace-fit-split", o.laplace_fit_split, "dataset split the Laplace Hessian is fitted on (train)");
  p->add_option("--laplace-structure", o.laplace_structure, "Laplace Hessian: diag or kron (KFAC)")
      ->check(CLI::IsMember({"diag", "kron"}));
  p->add_option("--laplace-samples", o.laplace_samples, "Monte-Carlo samples of the Laplace predictive (0 = probit)")
      ->check(CLI::Range(0, 100000));
  p->add_flag("--samples", o.samples, "with --mc-dropout / --ensemble: also write every sample's probabilities");
  o.cmd = p;
}

int run_predict(MPI_Comm comm) {
  const PredictOptions& o = options();
  if (!o.cmd || !o.cmd->parsed()) return -1;
  return run(o, comm);
}

}  // namespace tessera
