// Host softmax over one row of logits, in double: p_i = exp(z_i − max_j z_j) / Σ_k exp(z_k − max_j z_j).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace tessera::tasks {

// -inf entries get probability 0 (masked logits). A NaN or +inf logit, or a row with
// no finite logit, throws Error "<what>: ..." naming the position.
std::vector<double> softmax(const float* logits, int64_t n, const std::string& what);
std::vector<double> softmax(const double* logits, int64_t n, const std::string& what);

// Index of the largest value; the lowest index on ties.
int64_t argmax(const double* values, int64_t n);

}  // namespace tessera::tasks
