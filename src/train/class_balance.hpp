// Class weights for the classification loss (kernels/classification_loss.hpp).
//
// class_weights_balanced: w_c = n_samples / (n_classes · count_c) with n_samples = Σ_c count_c and
// n_classes = counts.size() — scikit-learn's compute_class_weight("balanced") formula, so Σ_c count_c·w_c =
// n_samples (a weighted mean over the training set keeps the scale of the unweighted one). A class with
// count 0 is an error naming its index (scikit-learn refuses classes absent from y as well).
//
// parse_class_weights: explicit weights from a config string list, in one of two forms (not mixed):
//   positional  ["1.0", "2.5", "0.7"]                — one number per class, class index order;
//   named       ["negative=1.0", "positive=2.5"]     — one "label=weight" per label of label_names,
//                                                       every label exactly once, any order.
// Weights must be finite and ≥ 0, and not all 0. Errors name the config key and the offending item.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace tessera {

std::vector<double> class_weights_balanced(const std::vector<int64_t>& counts);

std::vector<double> parse_class_weights(const std::vector<std::string>& items,
                                        const std::vector<std::string>& label_names, const std::string& key);

// counts[c] = #{i : labels[i] == c} for c in [0, n_classes); labels equal to ignore_index are skipped, any
// other label outside [0, n_classes) is an error naming its position.
std::vector<int64_t> class_counts(const std::vector<int32_t>& labels, int n_classes, int32_t ignore_index = -100);

}  // namespace tessera
