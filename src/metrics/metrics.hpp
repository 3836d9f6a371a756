// Evaluation metrics (classification, entity-level sequence labelling, SQuAD v1.1,
// BLEU, perplexity), each a C++ re-implementation that reproduces one Python
// reference exactly (see docs/metrics.md for the definitions, the reference each
// one matches and the tolerance the tests hold it to):
//   * classification  — scikit-learn accuracy_score / precision_recall_fscore_support /
//                       confusion_matrix (zero_division="warn", i.e. 0.0)
//   * entities        — seqeval classification_report (default conlleval-like mode,
//                       and mode="strict", scheme=IOB2)
//   * SQuAD v1.1      — the official evaluate-v1.1.py (EM / F1 in [0, 100])
//   * BLEU            — sacrebleu corpus_bleu / sentence_bleu defaults (13a, exp smoothing)
// Bad input (length mismatches, unknown tag prefixes, invalid UTF-8, ...) throws
// tessera::Error naming the problem. Strings are UTF-8.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tessera::metrics {

// ---------------------------------------------------------------- classification
// Label is int64_t or std::string (the two instantiations src/metrics provides);
// the default label order is sorted (std::string: byte order = code point order,
// as numpy sorts str).

// Precision / recall / F1 of one class or one average. For averages, support is
// the summed support of the classes that take part (sklearn returns None there).
struct PrfScores {
  double precision = 0.0;
  double recall = 0.0;
  double f1 = 0.0;
  int64_t support = 0;
};

// Keeps `labels` out of template argument deduction (Label comes from y_true),
// so a plain std::vector<Label> converts to the optional.
template <typename T>
struct NonDeduced {
  using type = T;
};
template <typename Label>
using OptionalLabels = std::optional<std::vector<typename NonDeduced<Label>::type>>;

template <typename Label>
struct PrfReport {
  std::vector<Label> labels;         // order of per_class
  std::vector<PrfScores> per_class;  // sklearn average=None
  PrfScores micro, macro, weighted;  // sklearn average="micro"/"macro"/"weighted"
};

template <typename Label>
struct ConfusionMatrix {
  std::vector<Label> labels;                  // row / column order
  std::vector<std::vector<int64_t>> counts;   // counts[true_index][pred_index]
};

template <typename Label>
struct ClassificationMetrics {
  double accuracy = 0.0;
  PrfReport<Label> prf;
  ConfusionMatrix<Label> confusion;
};

// sklearn.metrics.accuracy_score: fraction of equal positions.
template <typename Label>
double accuracy_score(const std::vector<Label>& y_true, const std::vector<Label>& y_pred);

// sklearn.metrics.precision_recall_fscore_support for average=None, "micro",
// "macro" and "weighted" at once. labels: as sklearn's `labels=` (order kept,
// labels absent from the data get zeros, micro averages only over them); when
// absent, the sorted union of y_true and y_pred. Zero denominators give 0.0.
template <typename Label>
PrfReport<Label> precision_recall_fscore_support(const std::vector<Label>& y_true, const std::vector<Label>& y_pred,
                                                 const OptionalLabels<Label>& labels = std::nullopt);

// sklearn.metrics.confusion_matrix: rows are true labels, columns predictions;
// samples whose true or predicted label is not in `labels` are dropped.
template <typename Label>
ConfusionMatrix<Label> confusion_matrix(const std::vector<Label>& y_true, const std::vector<Label>& y_pred,
                                        const OptionalLabels<Label>& labels = std::nullopt);

// All three of the above.
template <typename Label>
ClassificationMetrics<Label> classification_metrics(const std::vector<Label>& y_true, const std::vector<Label>& y_pred,
                                                    const OptionalLabels<Label>& labels = std::nullopt);

// ---------------------------------------------------------------- entities (seqeval)

enum class EntityMode {
  Default,     // seqeval default (conlleval-like): an I-X after O or after another type starts an entity
  StrictIOB2,  // seqeval mode="strict", scheme=IOB2: only B-X (I-X)* is an entity; stray I-X are ignored
};

// One entity span [start, end) of tag positions within sentence `sentence`.
struct Entity {
  std::size_t sentence = 0;
  std::size_t start = 0;
  std::size_t end = 0;
  std::string type;
  bool operator==(const Entity& o) const {
    return sentence == o.sentence && start == o.start && end == o.end && type == o.type;
  }
};

// Entities of every sentence. Accepted tags: "O", "B-<type>", "I-<type>" (and bare
// "B" / "I", whose type is "_", as seqeval). Anything else throws tessera::Error.
std::vector<Entity> extract_entities(const std::vector<std::vector<std::string>>& sentences, EntityMode mode);

struct EntityTypeScores {
  std::string type;
  PrfScores scores;
};

// seqeval.metrics.classification_report(output_dict=True): per entity type (sorted)
// and "micro avg" / "macro avg" / "weighted avg". A macro average over no entity
// types at all is NaN, as in seqeval (numpy mean of an empty array).
struct EntityReport {
  std::vector<EntityTypeScores> per_type;
  PrfScores micro, macro, weighted;
};

EntityReport entity_classification_report(const std::vector<std::vector<std::string>>& y_true,
                                          const std::vector<std::vector<std::string>>& y_pred,
                                          EntityMode mode = EntityMode::Default);

// ---------------------------------------------------------------- SQuAD v1.1

// The official normalize_answer: Python str.lower(), drop ASCII punctuation
// (string.punctuation), replace the words a/an/the by a space, collapse whitespace.
std::string squad_normalize_answer(std::string_view s);
bool squad_exact_match(std::string_view prediction, std::string_view ground_truth);
double squad_f1(std::string_view prediction, std::string_view ground_truth);

struct SquadScores {
  double exact_match = 0.0;  // percent, [0, 100]
  double f1 = 0.0;           // percent, [0, 100]
  std::size_t total = 0;
};

// evaluate-v1.1.py: for question i, max over ground_truths[i] of EM and of F1,
// averaged over questions, times 100.
SquadScores squad_v1_evaluate(const std::vector<std::string>& predictions,
                              const std::vector<std::vector<std::string>>& ground_truths);

// ---------------------------------------------------------------- BLEU (sacrebleu)

// sacrebleu's 13a tokeniser (mteval-v13a), including its rstrip() of the segment.
std::string tokenize_13a(std::string_view line);

struct BleuOptions {
  bool lowercase = false;         // sacrebleu lowercase= (Python str.lower())
  bool effective_order = false;   // sacrebleu use_effective_order= (sentence_bleu default: true)
};

struct BleuScore {
  double score = 0.0;               // [0, 100]
  std::array<int64_t, 4> counts{};  // matched n-grams, n = 1..4
  std::array<int64_t, 4> totals{};  // hypothesis n-grams
  std::array<double, 4> precisions{};  // percent
  double bp = 0.0;                  // brevity penalty
  int64_t sys_len = 0;
  int64_t ref_len = 0;
};

// sacrebleu.corpus_bleu(hypotheses, references): references is a list of reference
// *streams*, each parallel to hypotheses (references[k][i] is the k-th reference of
// segment i), exactly as sacrebleu takes them.
BleuScore corpus_bleu(const std::vector<std::string>& hypotheses,
                      const std::vector<std::vector<std::string>>& references, const BleuOptions& options = {});

// sacrebleu.sentence_bleu(hypothesis, references) (effective order on by default).
BleuScore sentence_bleu(const std::string& hypothesis, const std::vector<std::string>& references,
                        BleuOptions options = BleuOptions{false, true});

// ---------------------------------------------------------------- perplexity

// exp(mean negative log-likelihood), NLLs in nats per token.
double perplexity(const std::vector<double>& token_nll);
// exp(total_nll / token_count).
double perplexity_from_sum(double total_nll, int64_t token_count);

// ---------------------------------------------------------------- Python string helpers
// (exposed for tests; used by SQuAD and BLEU)

// Python str.lower(): full lowercase mapping (U+0130 -> "i\u0307") and the
// Final_Sigma rule for U+03A3.
std::string python_lower(std::string_view s);
// Python str.split() with no argument (Unicode whitespace as str.isspace()).
std::vector<std::string> python_split(std::string_view s);

}  // namespace tessera::metrics
