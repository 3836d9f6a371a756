// The label value that means "no target here" (padding, special tokens, later
// sub-words), shared by the task readers, the model's losses and the metrics;
// the same -100 as PyTorch's CrossEntropyLoss default and Hugging Face's datasets.
#pragma once
#include <cstdint>

namespace tessera {

inline constexpr int32_t kIgnoreIndex = -100;

}  // namespace tessera
