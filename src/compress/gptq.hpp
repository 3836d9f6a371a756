// GPTQ (Frantar et al. 2022, "GPTQ: Accurate Post-Training Quantization for
// Generative Pre-trained Transformers") for one linear weight W [rows, cols] with
// the layer-wise Hessian H = 2/n · Σ x xᵀ [cols, cols] of its calibration inputs:
//   dead inputs (H_ii = 0) → W[:, i] = 0, H_ii = 1;  H += λI, λ = damp · mean(diag H)
//   U = chol(H⁻¹) (upper: H⁻¹ = UᵀU)
//   for each lazy batch [i1, i2) of `batch` columns, for each column i in it:
//     at a block start (i % 32 == 0) every row's block grid comes from the current
//     (error-updated) weights of columns [i, i+32) (grouped scales, one group a block)
//     q = grid(w_i);  e = (w_i − q)/U_ii;  W[:, j] −= e·U_ij for j in (i, i2)
//   then W[:, i2:] −= E·U[i1:i2, i2:] (one GEMM per batch)
// The codes and grids are written as blocks of `format` (Q4_0, Q4_1 or Q8_0), so the
// result runs on the same packed kernels and exports to GGUF unchanged.
#pragma once
#include <cstdint>
#include <string>
#include <vector>
#include "kernels/packed_linear.hpp"

namespace tessera {

struct GptqOptions {
  PackedFormat format = PackedFormat::Q4_0;
  double damp = 0.01;  // λ as a fraction of mean(diag H)
  int64_t batch = 128; // lazy-batch columns (a multiple of 32)
};

// The damped Hessian's factor U (and its dead inputs), shared by the layers one input feeds.
struct GptqFactor {
  int64_t cols = 0;
  std::vector<double> U;        // [cols, cols] upper, H⁻¹ = UᵀU
  std::vector<int64_t> dead;    // inputs with H_ii = 0
};
GptqFactor gptq_factor(std::vector<double> H, int64_t cols, double damp, const std::string& what);
std::vector<uint8_t> gptq_quantize(std::vector<float>& W, int64_t rows, int64_t cols, const GptqFactor& f,
                                   const GptqOptions& opt, const std::string& what);

// W row-major [rows, cols] (modified: holds the error-updated weights afterwards),
// H [cols, cols] row-major. Returns rows · packed_row_bytes bytes. Errors name `what`.
std::vector<uint8_t> gptq_quantize(std::vector<float>& W, int64_t rows, int64_t cols, std::vector<double> H,
                                   const GptqOptions& opt, const std::string& what);

// Upper U with H⁻¹ = UᵀU, H symmetric positive definite [n, n] (double, row-major).
// Returns false when H is not positive definite.
bool inverse_cholesky_upper(std::vector<double>& H, int64_t n);

}  // namespace tessera
