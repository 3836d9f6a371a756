// Classification metrics, reproducing scikit-learn (1.9) accuracy_score,
// precision_recall_fscore_support (zero_division="warn" -> 0.0) and confusion_matrix.
#include <algorithm>
#include <map>
#include <set>
#include <sstream>
#include <type_traits>

#include "src/metrics/metrics.hpp"
#include "src/metrics/python_text.hpp"
#include "src/runtime/error.hpp"

namespace tessera::metrics {
namespace {

template <typename Label>
std::string show(const Label& l) {
  std::ostringstream ss;
  if constexpr (std::is_same_v<Label, std::string>) ss << '"' << l << '"';
  else ss << l;
  return ss.str();
}

template <typename Label>
void check_inputs(const std::vector<Label>& y_true, const std::vector<Label>& y_pred, const char* fn) {
  require(y_true.size() == y_pred.size(), std::string(fn) + ": y_true has " + std::to_string(y_true.size()) +
                                              " samples but y_pred has " + std::to_string(y_pred.size()));
  require(!y_true.empty(), std::string(fn) + ": empty input (y_true and y_pred have no samples)");
}

template <typename Label>
void check_labels(const std::vector<Label>& labels, const char* fn) {
  require(!labels.empty(), std::string(fn) + ": 'labels' should contain at least one label");
  std::set<Label> seen;
  for (const auto& l : labels)
    require(seen.insert(l).second, std::string(fn) + ": duplicate label " + show(l) + " in 'labels'");
}

template <typename Label>
std::vector<Label> union_sorted(const std::vector<Label>& a, const std::vector<Label>& b) {
  std::set<Label> s(a.begin(), a.end());
  s.insert(b.begin(), b.end());
  return {s.begin(), s.end()};
}

// sklearn _prf_divide with zero_division="warn": 0.0 where the denominator is 0.
double divide(double num, double den) { return den == 0.0 ? 0.0 : num / den; }

PrfScores prf_from_counts(int64_t tp, int64_t pred, int64_t truth) {
  PrfScores s;
  s.precision = divide(static_cast<double>(tp), static_cast<double>(pred));
  s.recall = divide(static_cast<double>(tp), static_cast<double>(truth));
  // F-beta (beta=1) as sklearn >= 1.3 computes it: (1+b^2) tp / (b^2 true + pred).
  s.f1 = divide(2.0 * static_cast<double>(tp), 1.0 * static_cast<double>(truth) + static_cast<double>(pred));
  s.support = truth;
  return s;
}

}  // namespace

template <typename Label>
double accuracy_score(const std::vector<Label>& y_true, const std::vector<Label>& y_pred) {
  check_inputs(y_true, y_pred, "accuracy_score");
  int64_t same = 0;
  for (size_t i = 0; i < y_true.size(); ++i) same += y_true[i] == y_pred[i];
  return static_cast<double>(same) / static_cast<double>(y_true.size());
}

template <typename Label>
PrfReport<Label> precision_recall_fscore_support(const std::vector<Label>& y_true, const std::vector<Label>& y_pred,
                                                 const OptionalLabels<Label>& labels) {
  check_inputs(y_true, y_pred, "precision_recall_fscore_support");
  if (labels) check_labels(*labels, "precision_recall_fscore_support");
  PrfReport<Label> rep;
  rep.labels = labels ? *labels : union_sorted(y_true, y_pred);
  const size_t k = rep.labels.size();
  std::map<Label, size_t> index;
  for (size_t i = 0; i < k; ++i) index.emplace(rep.labels[i], i);
  std::vector<int64_t> tp(k, 0), pred(k, 0), truth(k, 0);
  for (size_t i = 0; i < y_true.size(); ++i) {
    auto t = index.find(y_true[i]);
    auto p = index.find(y_pred[i]);
    if (t != index.end()) ++truth[t->second];
    if (p != index.end()) ++pred[p->second];
    if (t != index.end() && y_true[i] == y_pred[i]) ++tp[t->second];
  }
  int64_t stp = 0, spred = 0, strue = 0;
  std::vector<double> P(k), R(k), F(k), W(k);
  for (size_t i = 0; i < k; ++i) {
    rep.per_class.push_back(prf_from_counts(tp[i], pred[i], truth[i]));
    stp += tp[i];
    spred += pred[i];
    strue += truth[i];
    P[i] = rep.per_class[i].precision;
    R[i] = rep.per_class[i].recall;
    F[i] = rep.per_class[i].f1;
    W[i] = static_cast<double>(truth[i]);
  }
  rep.micro = prf_from_counts(stp, spred, strue);
  const double n = static_cast<double>(k);
  rep.macro = {detail::numpy_sum(P) / n, detail::numpy_sum(R) / n, detail::numpy_sum(F) / n, strue};
  const double wsum = detail::numpy_sum(W);
  if (wsum == 0.0) {
    // numpy.average raises ZeroDivisionError; sklearn's _nanaverage falls back to the plain mean.
    rep.weighted = rep.macro;
  } else {
    auto wavg = [&](const std::vector<double>& v) {
      std::vector<double> prod(k);
      for (size_t i = 0; i < k; ++i) prod[i] = v[i] * W[i];
      return detail::numpy_sum(prod) / wsum;
    };
    rep.weighted = {wavg(P), wavg(R), wavg(F), strue};
  }
  return rep;
}

template <typename Label>
ConfusionMatrix<Label> confusion_matrix(const std::vector<Label>& y_true, const std::vector<Label>& y_pred,
                                        const OptionalLabels<Label>& labels) {
  check_inputs(y_true, y_pred, "confusion_matrix");
  ConfusionMatrix<Label> cm;
  if (labels) {
    check_labels(*labels, "confusion_matrix");
    std::set<Label> in_true(y_true.begin(), y_true.end());
    bool any = std::any_of(labels->begin(), labels->end(), [&](const Label& l) { return in_true.count(l) > 0; });
    require(any, "confusion_matrix: at least one label specified must be in y_true");
    cm.labels = *labels;
  } else {
    cm.labels = union_sorted(y_true, y_pred);
  }
  const size_t k = cm.labels.size();
  std::map<Label, size_t> index;
  for (size_t i = 0; i < k; ++i) index.emplace(cm.labels[i], i);
  cm.counts.assign(k, std::vector<int64_t>(k, 0));
  for (size_t i = 0; i < y_true.size(); ++i) {
    auto t = index.find(y_true[i]);
    auto p = index.find(y_pred[i]);
    if (t != index.end() && p != index.end()) ++cm.counts[t->second][p->second];
  }
  return cm;
}

template <typename Label>
ClassificationMetrics<Label> classification_metrics(const std::vector<Label>& y_true, const std::vector<Label>& y_pred,
                                                    const OptionalLabels<Label>& labels) {
  ClassificationMetrics<Label> m;
  m.accuracy = accuracy_score(y_true, y_pred);
  m.prf = precision_recall_fscore_support(y_true, y_pred, labels);
  m.confusion = confusion_matrix(y_true, y_pred, labels);
  return m;
}

#define TESSERA_METRICS_INSTANTIATE(L)                                                                             \
  template double accuracy_score<L>(const std::vector<L>&, const std::vector<L>&);                                 \
  template PrfReport<L> precision_recall_fscore_support<L>(const std::vector<L>&, const std::vector<L>&,           \
                                                           const std::optional<std::vector<L>>&);                   \
  template ConfusionMatrix<L> confusion_matrix<L>(const std::vector<L>&, const std::vector<L>&,                     \
                                                  const std::optional<std::vector<L>>&);                            \
  template ClassificationMetrics<L> classification_metrics<L>(const std::vector<L>&, const std::vector<L>&,         \
                                                              const std::optional<std::vector<L>>&);

TESSERA_METRICS_INSTANTIATE(int64_t)
TESSERA_METRICS_INSTANTIATE(std::string)
#undef TESSERA_METRICS_INSTANTIATE

}  // namespace tessera::metrics
