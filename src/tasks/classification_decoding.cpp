#include "src/tasks/classification_decoding.hpp"

#include <algorithm>
#include <numeric>

#include "src/runtime/error.hpp"
#include "src/tasks/softmax.hpp"

namespace tessera::tasks {

ClassificationPrediction decode_classification(const float* logits, int64_t K,
                                               const std::vector<std::string>& label_names) {
  require(K > 0, "classification decoding: no logits (K = 0)");
  require(label_names.empty() || static_cast<int64_t>(label_names.size()) == K,
          "classification decoding: the label map has " + std::to_string(label_names.size()) +
              " labels but the model gives " + std::to_string(K) + " logits");
  ClassificationPrediction p;
  p.probabilities = softmax(logits, K, "classification decoding");
  p.label_names = label_names;
  if (p.label_names.empty())
    for (int64_t i = 0; i < K; ++i) p.label_names.push_back("LABEL_" + std::to_string(i));
  const int64_t best = argmax(p.probabilities.data(), K);
  p.label_id = static_cast<int32_t>(best);
  p.label = p.label_names[static_cast<size_t>(best)];
  p.score = p.probabilities[static_cast<size_t>(best)];
  return p;
}

std::vector<LabelScore> top_k_labels(const ClassificationPrediction& p, int k) {
  const auto K = static_cast<int64_t>(p.probabilities.size());
  const int64_t n = (k <= 0 || k > K) ? K : k;
  std::vector<int32_t> idx(static_cast<size_t>(K));
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](int32_t a, int32_t b) {
    return p.probabilities[static_cast<size_t>(a)] > p.probabilities[static_cast<size_t>(b)];
  });
  std::vector<LabelScore> out;
  for (int64_t i = 0; i < n; ++i) {
    const auto id = static_cast<size_t>(idx[static_cast<size_t>(i)]);
    out.push_back({static_cast<int32_t>(id), p.label_names[id], p.probabilities[id]});
  }
  return out;
}

nlohmann::json classification_json(const ClassificationPrediction& p, int top_k) {
  nlohmann::json probs = nlohmann::json::object();
  for (size_t i = 0; i < p.probabilities.size(); ++i) {
    require(!probs.contains(p.label_names[i]),
            "classification decoding: label '" + p.label_names[i] + "' appears twice in the label map");
    probs[p.label_names[i]] = p.probabilities[i];
  }
  nlohmann::json j = {{"label", p.label}, {"score", p.score}, {"probabilities", probs}};
  if (top_k > 0) {
    nlohmann::json top = nlohmann::json::array();
    for (const auto& s : top_k_labels(p, top_k)) top.push_back({{"label", s.label}, {"score", s.score}});
    j["top_k"] = top;
  }
  return j;
}

}  // namespace tessera::tasks
