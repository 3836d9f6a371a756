// train.precision: which arithmetic the model's GEMMs use (docs/peft.md, "Mixed precision (bf16)").
// fp32: everything fp32. bf16: the linear layers and the LM head (forward and backward) multiply
// bf16-rounded operands with fp32 accumulation (kernels/gemm_bf16.hpp); master weights, gradients,
// optimizer state, the other kernels and all reductions stay fp32, checkpoints hold fp32.
#pragma once
#include <string>
#include "kernels/gemm_bf16.hpp"

namespace tessera {

// Picks the precision and installs it (set_model_gemm_precision). bf16 needs a CPU with
// avx512_bf16 and host kernels; without the feature it throws an Error naming it, unless
// fallback == "fp32" (one line on stdout when announce, then fp32). bf16 with device
// kernels is an error (the cuBLAS path is fp32 only).
GemmPrecision apply_train_precision(const std::string& precision, const std::string& fallback, bool announce);

}  // namespace tessera
