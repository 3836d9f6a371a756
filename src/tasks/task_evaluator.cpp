#include "io/task_dataset.hpp"  // first: see the kIgnoreIndex note there
#include "src/tasks/task_evaluator.hpp"

#include <algorithm>
#include <cstring>

#include "src/metrics/metrics.hpp"
#include "src/runtime/error.hpp"
#include "src/tasks/span_decoding.hpp"
#include "src/train/batch_source.hpp"

namespace tessera {

namespace {

// Index of the largest logit, lowest index on ties; NaN is never chosen.
int32_t argmax_row(const float* z, int64_t K) {
  int32_t best = 0;
  for (int64_t k = 1; k < K; ++k)
    if (z[k] > z[best] || (z[best] != z[best] && z[k] == z[k])) best = static_cast<int32_t>(k);
  return best;
}

int64_t bits_of(double d) {
  int64_t i;
  std::memcpy(&i, &d, sizeof i);
  return i;
}
double double_of(int64_t i) {
  double d;
  std::memcpy(&d, &i, sizeof d);
  return d;
}

// Every rank's records, in rank order, on every rank.
std::vector<int64_t> all_gather(const std::vector<int64_t>& mine, MPI_Comm comm) {
  if (comm == MPI_COMM_NULL) return mine;
  int n = 1;
  MPI_Comm_size(comm, &n);
  if (n == 1) return mine;
  const int64_t len = static_cast<int64_t>(mine.size());
  require(len < (int64_t(1) << 31), "task evaluator: too many records on one rank to gather");
  std::vector<int64_t> lens(static_cast<size_t>(n));
  MPI_Allgather(&len, 1, MPI_INT64_T, lens.data(), 1, MPI_INT64_T, comm);
  std::vector<int> counts(static_cast<size_t>(n)), displs(static_cast<size_t>(n));
  int64_t total = 0;
  for (int r = 0; r < n; ++r) {
    require(total < (int64_t(1) << 31), "task evaluator: too many records to gather");
    counts[size_t(r)] = static_cast<int>(lens[size_t(r)]);
    displs[size_t(r)] = static_cast<int>(total);
    total += lens[size_t(r)];
  }
  std::vector<int64_t> all(static_cast<size_t>(total));
  MPI_Allgatherv(mine.data(), static_cast<int>(len), MPI_INT64_T, all.data(), counts.data(), displs.data(),
                 MPI_INT64_T, comm);
  return all;
}

nlohmann::json prf_json(const metrics::PrfScores& s) {
  return {{"precision", s.precision}, {"recall", s.recall}, {"f1", s.f1}, {"support", s.support}};
}

// QA: the best span of one window (row), as decode_span ranks candidates.
struct RowSpan {
  bool has = false;
  int64_t start_token = 0, end_token = 0, byte_start = 0, byte_end = 0;
  double score = 0;
};

}  // namespace

struct TaskEvaluator::State {
  HeadKind head;
  std::vector<std::string> label_names;
  int64_t K = 0, L = 0;
  TaskFeatures features;
  TaskExamples examples;
  std::vector<int64_t> records;  // this rank's, flat (layout per head in add_batch)
  nlohmann::json report = nlohmann::json::object();
};

TaskEvaluator::TaskEvaluator(HeadKind head, const TaskDatasetInfo& info, const TaskFeatures& split_features)
    : TaskEvaluator(head, info, split_features, TaskExamples{}) {}

TaskEvaluator::TaskEvaluator(HeadKind head, const TaskDatasetInfo& info, const TaskFeatures& f,
                             const TaskExamples& examples)
    : s_(std::make_unique<State>()) {
  const std::string what = "task evaluator (" + info.task + ")";
  require(head == task_head_kind(info.task),
          what + ": head " + std::string(head_name(head)) + " does not evaluate a " + info.task + " dataset");
  require(f.max_len == info.max_len && f.size() > 0, what + ": features do not match the dataset (max_len " +
                                                         std::to_string(f.max_len) + " vs " +
                                                         std::to_string(info.max_len) + ")");
  s_->head = head;
  s_->label_names = info.label_names;
  s_->K = static_cast<int64_t>(info.label_names.size());
  s_->L = info.max_len;
  s_->features = f;
  if (head == HeadKind::QuestionAnswering) {
    require(!examples.empty(), what + ": needs the split's examples (contexts and gold answers: "
                                      "TaskDataset::read_examples)");
    for (int64_t e : f.example_index)
      require(e >= 0 && e < static_cast<int64_t>(examples.size()),
              what + ": a row refers to example " + std::to_string(e) + " but there are " +
                  std::to_string(examples.size()));
    s_->examples = examples;
  } else {
    require(s_->K > 0, what + ": no label names");
  }
}

TaskEvaluator::~TaskEvaluator() = default;
TaskEvaluator::TaskEvaluator(TaskEvaluator&&) noexcept = default;
TaskEvaluator& TaskEvaluator::operator=(TaskEvaluator&&) noexcept = default;

// Records per sample: classification [row, pred]; token classification [row, count,
// pred...] (the positions whose gold label is not ignored, in order); QA [row, has,
// start_token, end_token, byte_start, byte_end, score bits].
void TaskEvaluator::add_batch(const MicroBatch& mb, const float* logits) {
  State& s = *s_;
  const int64_t n = s.features.size(), L = s.L, K = s.K;
  require(static_cast<int64_t>(mb.example_index.size()) == mb.B,
          "task evaluator: micro-batch has " + std::to_string(mb.example_index.size()) + " example indices for B = " +
              std::to_string(mb.B));
  require(s.head == HeadKind::SequenceClassification || mb.T == L,
          "task evaluator: micro-batch T = " + std::to_string(mb.T) + " but the dataset's max_len is " +
              std::to_string(L));
  for (int b = 0; b < mb.B; ++b) {
    const int64_t row = mb.example_index[size_t(b)];
    if (row < 0) continue;
    require(row < n, "task evaluator: sample " + std::to_string(b) + " is row " + std::to_string(row) +
                         " but the split has " + std::to_string(n) + " rows");
    if (s.head == HeadKind::SequenceClassification) {
      s.records.push_back(row);
      s.records.push_back(argmax_row(logits + int64_t(b) * K, K));
    } else if (s.head == HeadKind::TokenClassification) {
      s.records.push_back(row);
      const size_t count_at = s.records.size();
      s.records.push_back(0);
      for (int64_t t = 0; t < L; ++t) {
        if (s.features.labels[size_t(row * L + t)] == kIgnoreIndex) continue;
        s.records.push_back(argmax_row(logits + (int64_t(b) * L + t) * K, K));
        ++s.records[count_at];
      }
    } else {
      std::vector<float> start(static_cast<size_t>(L)), end(static_cast<size_t>(L));
      for (int64_t t = 0; t < L; ++t) {
        start[size_t(t)] = logits[(int64_t(b) * L + t) * 2];
        end[size_t(t)] = logits[(int64_t(b) * L + t) * 2 + 1];
      }
      const int64_t e = s.features.example_index[size_t(row)];
      tasks::QaWindowLogits w{start.data(), end.data(), s.features.offsets.data() + row * L * 2, L};
      tasks::SpanDecodeOptions opt;  // n_best 20, max_answer_length 30, SQuAD v1.1
      tasks::SpanPrediction p;
      try {
        p = tasks::decode_span({w}, s.examples.contexts[size_t(e)], opt);
      } catch (const std::exception& ex) {
        throw Error("task evaluator: row " + std::to_string(row) + ": " + ex.what());
      }
      RowSpan r;
      if (p.best >= 0) {
        const auto& c = p.n_best[size_t(p.best)];
        r = {true, c.start_token, c.end_token, int64_t(c.byte_start), int64_t(c.byte_end), c.score};
      }
      s.records.insert(s.records.end(), {row, r.has ? 1 : 0, r.start_token, r.end_token, r.byte_start, r.byte_end,
                                         bits_of(r.score)});
    }
  }
}

std::map<std::string, double> TaskEvaluator::finish(MPI_Comm dp_comm) {
  State& s = *s_;
  const std::vector<int64_t> all = all_gather(s.records, dp_comm);
  const int64_t L = s.L;
  std::map<std::string, double> m;
  nlohmann::json rep = {{"task", s.head == HeadKind::SequenceClassification ? "sequence-classification"
                                 : s.head == HeadKind::TokenClassification  ? "token-classification"
                                                                            : "question-answering"}};
  // Parse into one record per row (the first seen wins), ordered by row.
  std::map<int64_t, std::vector<int64_t>> rows;
  for (size_t i = 0; i < all.size();) {
    const int64_t row = all[i];
    size_t len = s.head == HeadKind::SequenceClassification ? 2
                 : s.head == HeadKind::TokenClassification ? 2 + size_t(all[i + 1])
                                                           : 7;
    rows.emplace(row, std::vector<int64_t>(all.begin() + std::ptrdiff_t(i) + 1, all.begin() + std::ptrdiff_t(i + len)));
    i += len;
  }
  require(!rows.empty(), "task evaluator: no rows were evaluated");
  rep["rows"] = rows.size();

  if (s.head == HeadKind::SequenceClassification) {
    std::vector<int64_t> y_true, y_pred, labels;
    for (const auto& [row, r] : rows) {
      y_true.push_back(s.features.labels[size_t(row)]);
      y_pred.push_back(r[0]);
    }
    for (int64_t k = 0; k < s.K; ++k) labels.push_back(k);
    const auto cm = metrics::classification_metrics<int64_t>(y_true, y_pred, labels);
    m["accuracy"] = cm.accuracy;
    m["macro_f1"] = cm.prf.macro.f1;
    m["micro_f1"] = cm.prf.micro.f1;
    m["weighted_f1"] = cm.prf.weighted.f1;
    m["macro_precision"] = cm.prf.macro.precision;
    m["macro_recall"] = cm.prf.macro.recall;
    nlohmann::json per = nlohmann::json::object();
    for (size_t k = 0; k < size_t(s.K); ++k) {
      const std::string& name = s.label_names[k];
      const auto& c = cm.prf.per_class[k];
      m["precision/" + name] = c.precision;
      m["recall/" + name] = c.recall;
      m["f1/" + name] = c.f1;
      per[name] = prf_json(c);
    }
    rep["accuracy"] = cm.accuracy;
    rep["labels"] = s.label_names;
    rep["per_class"] = per;
    rep["macro avg"] = prf_json(cm.prf.macro);
    rep["micro avg"] = prf_json(cm.prf.micro);
    rep["weighted avg"] = prf_json(cm.prf.weighted);
    rep["confusion_matrix"] = cm.confusion.counts;  // [true][predicted], label-id order
  } else if (s.head == HeadKind::TokenClassification) {
    std::vector<std::vector<std::string>> gold, pred;
    std::vector<int64_t> tag_true, tag_pred, labels;
    int64_t correct = 0, total = 0;
    for (const auto& [row, r] : rows) {
      std::vector<std::string> g, p;
      size_t k = 1;
      for (int64_t t = 0; t < L; ++t) {
        const int32_t y = s.features.labels[size_t(row * L + t)];
        if (y == kIgnoreIndex) continue;
        require(k < r.size(), "task evaluator: row " + std::to_string(row) + ": token record too short");
        const int64_t yp = r[k++];
        g.push_back(s.label_names[size_t(y)]);
        p.push_back(s.label_names[size_t(yp)]);
        tag_true.push_back(y);
        tag_pred.push_back(yp);
        correct += (y == yp);
        ++total;
      }
      gold.push_back(std::move(g));
      pred.push_back(std::move(p));
    }
    const auto er = metrics::entity_classification_report(gold, pred, metrics::EntityMode::StrictIOB2);
    m["entity_precision"] = er.micro.precision;
    m["entity_recall"] = er.micro.recall;
    m["entity_f1"] = er.micro.f1;
    m["token_accuracy"] = total > 0 ? double(correct) / double(total) : 0.0;
    nlohmann::json per = nlohmann::json::object();
    for (const auto& t : er.per_type) {
      m["precision/" + t.type] = t.scores.precision;
      m["recall/" + t.type] = t.scores.recall;
      m["f1/" + t.type] = t.scores.f1;
      per[t.type] = prf_json(t.scores);
    }
    for (int64_t k = 0; k < s.K; ++k) labels.push_back(k);
    rep["entity_mode"] = "seqeval strict IOB2";
    rep["per_type"] = per;
    rep["micro avg"] = prf_json(er.micro);
    if (!er.per_type.empty()) {
      rep["macro avg"] = prf_json(er.macro);
      rep["weighted avg"] = prf_json(er.weighted);
    }
    rep["token_accuracy"] = m["token_accuracy"];
    rep["tokens"] = total;
    rep["labels"] = s.label_names;
    rep["tag_confusion_matrix"] = metrics::confusion_matrix<int64_t>(tag_true, tag_pred, labels).counts;
  } else {
    // Best span per example over its windows, ranked as decode_span ranks candidates:
    // higher score, then earlier window (row), start token, end token.
    std::map<int64_t, std::pair<int64_t, const std::vector<int64_t>*>> best;  // example -> (row, record)
    for (const auto& [row, r] : rows) {
      const int64_t e = s.features.example_index[size_t(row)];
      auto it = best.find(e);
      if (it == best.end()) {
        best.emplace(e, std::make_pair(row, &r));
        continue;
      }
      const std::vector<int64_t>& b = *it->second.second;
      if (!r[0]) continue;
      const double rs = double_of(r[5]), bs = double_of(b[5]);
      const bool better = !b[0] || rs > bs ||
                          (rs == bs && (row < it->second.first ||
                                        (row == it->second.first && (r[1] < b[1] || (r[1] == b[1] && r[2] < b[2])))));
      if (better) it->second = std::make_pair(row, &r);
    }
    std::vector<std::string> predictions;
    std::vector<std::vector<std::string>> truths;
    int64_t skipped = 0;
    for (const auto& [e, br] : best) {
      const auto& gold = s.examples.answers[size_t(e)];
      if (gold.empty()) {
        ++skipped;
        continue;
      }
      const std::vector<int64_t>& r = *br.second;
      const std::string& ctx = s.examples.contexts[size_t(e)];
      predictions.push_back(r[0] ? ctx.substr(size_t(r[3]), size_t(r[4] - r[3])) : std::string());
      truths.push_back(gold);
    }
    require(!predictions.empty(), "task evaluator: no evaluated question has a gold answer");
    const auto sq = metrics::squad_v1_evaluate(predictions, truths);
    m["exact_match"] = sq.exact_match;
    m["f1"] = sq.f1;
    rep["exact_match"] = sq.exact_match;
    rep["f1"] = sq.f1;
    rep["examples"] = predictions.size();
    rep["skipped_without_answers"] = skipped;
    rep["n_best"] = tasks::SpanDecodeOptions{}.n_best;
    rep["max_answer_length"] = tasks::SpanDecodeOptions{}.max_answer_length;
  }
  s.report = std::move(rep);
  return m;
}

nlohmann::json TaskEvaluator::report() const { return s_->report; }

}  // namespace tessera
