// Sequence-classification decoding: logits[K] -> p = softmax(z), label = argmax p (lowest
// id on ties), top-k labels, and the JSON object `tessera predict` prints.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace tessera::tasks {

struct LabelScore {
  int32_t id = -1;
  std::string label;
  double score = 0.0;  // probability
};

struct ClassificationPrediction {
  int32_t label_id = -1;
  std::string label;
  double score = 0.0;                 // probability of the predicted label
  std::vector<double> probabilities;  // K, in label-id order
  std::vector<std::string> label_names;  // K (the given map, or LABEL_<i>)
};

// label_names: the dataset's label map (id = index), or empty for HF's default names
// "LABEL_<i>"; any other size than K throws Error. NaN / +inf logits throw Error.
ClassificationPrediction decode_classification(const float* logits, int64_t K,
                                               const std::vector<std::string>& label_names);

// The k most probable labels, most probable first (lower id first on equal
// probability); k <= 0 or k > K gives all K.
std::vector<LabelScore> top_k_labels(const ClassificationPrediction& p, int k);

// {"label": name, "score": p, "probabilities": {name: p, ...}} and, when top_k > 0,
// "top_k": [{"label": name, "score": p}, ...]. Keys of "probabilities" are label
// names (nlohmann::json orders them by name); duplicate names throw Error.
nlohmann::json classification_json(const ClassificationPrediction& p, int top_k = 0);

}  // namespace tessera::tasks
