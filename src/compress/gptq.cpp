// GPTQ column-by-column rounding with error feedback (algorithm in gptq.hpp).
#include "src/compress/gptq.hpp"

#include <algorithm>
#include <cmath>
#include "kernels/gemm.hpp"
#include "src/compress/block_quantize.hpp"
#include "src/runtime/error.hpp"

namespace tessera {

namespace {

// In place lower Cholesky A = L·Lᵀ (row-major, lower triangle used). False if not PD.
bool cholesky_lower(std::vector<double>& A, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    double* aj = &A[size_t(j * n)];
    double s = aj[j];
    for (int64_t k = 0; k < j; ++k) s -= aj[k] * aj[k];
    if (!(s > 0)) return false;
    const double ljj = std::sqrt(s);
    aj[j] = ljj;
    for (int64_t i = j + 1; i < n; ++i) {
      double* ai = &A[size_t(i * n)];
      double t = ai[j];
      for (int64_t k = 0; k < j; ++k) t -= ai[k] * aj[k];
      ai[j] = t / ljj;
    }
  }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j) A[size_t(i * n + j)] = 0;
  return true;
}

}  // namespace

bool inverse_cholesky_upper(std::vector<double>& H, int64_t n) {
  if (!cholesky_lower(H, n)) return false;
  // M = L⁻¹ (lower), column by column of the identity by forward substitution.
  std::vector<double> M(size_t(n * n), 0.0);
  for (int64_t c = 0; c < n; ++c) {
    M[size_t(c * n + c)] = 1.0 / H[size_t(c * n + c)];
    for (int64_t i = c + 1; i < n; ++i) {
      double t = 0;
      const double* li = &H[size_t(i * n)];
      for (int64_t k = c; k < i; ++k) t -= li[k] * M[size_t(k * n + c)];
      M[size_t(i * n + c)] = t / li[i];
    }
  }
  // H⁻¹ = Mᵀ·M, then its lower Cholesky factor Lh: U = Lhᵀ.
  gemm_host<double>(Trans::Yes, Trans::No, n, n, n, 1.0, M.data(), n, M.data(), n, 0.0, H.data(), n);
  if (!cholesky_lower(H, n)) return false;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j) std::swap(H[size_t(i * n + j)], H[size_t(j * n + i)]);
  return true;
}

GptqFactor gptq_factor(std::vector<double> H, int64_t K, double damp0, const std::string& what) {
  require(int64_t(H.size()) == K * K, what + ": GPTQ Hessian shape differs");
  GptqFactor f;
  f.cols = K;
  double mean_diag = 0;
  for (int64_t i = 0; i < K; ++i) mean_diag += H[size_t(i * K + i)];
  mean_diag /= double(K);
  require(mean_diag > 0, what + ": calibration activations are all zero (empty Hessian)");
  for (int64_t i = 0; i < K; ++i)
    if (H[size_t(i * K + i)] == 0) {
      H[size_t(i * K + i)] = 1;
      f.dead.push_back(i);
    }
  bool ok = false;
  for (double damp = damp0; damp <= 1.0 && !ok; damp *= 10) {
    f.U = H;
    for (int64_t i = 0; i < K; ++i) f.U[size_t(i * K + i)] += damp * mean_diag;
    ok = inverse_cholesky_upper(f.U, K);
  }
  require(ok, what + ": the calibration Hessian is not positive definite even with damping 1.0");
  return f;
}

std::vector<uint8_t> gptq_quantize(std::vector<float>& W, int64_t R, int64_t K, std::vector<double> H,
                                   const GptqOptions& opt, const std::string& what) {
  return gptq_quantize(W, R, K, gptq_factor(std::move(H), K, opt.damp, what), opt, what);
}

std::vector<uint8_t> gptq_quantize(std::vector<float>& W, int64_t R, int64_t K, const GptqFactor& f,
                                   const GptqOptions& opt, const std::string& what) {
  require(opt.format != PackedFormat::Int8, what + ": GPTQ writes block formats (q4_0, q4_1, q8_0)");
  require(K % 32 == 0, what + ": " + std::to_string(K) + " input columns are not a multiple of the block (32)");
  require(opt.batch > 0 && opt.batch % 32 == 0, what + ": GPTQ lazy batch must be a positive multiple of 32");
  require(f.cols == K && int64_t(W.size()) == R * K, what + ": GPTQ shapes differ");
  for (int64_t i : f.dead)
    for (int64_t r = 0; r < R; ++r) W[size_t(r * K + i)] = 0;
  const std::vector<double>& U = f.U;
  const int64_t row_bytes = packed_row_bytes(opt.format, K), bb = packed_block_bytes(opt.format);
  std::vector<uint8_t> out(size_t(R * row_bytes));
  std::vector<BlockGrid> grid(static_cast<size_t>(R));
  std::vector<int> codes(static_cast<size_t>(R * 32));
  const int64_t B = opt.batch;
  std::vector<float> err(size_t(R * B)), Ub(size_t(B * K));
  for (int64_t i1 = 0; i1 < K; i1 += B) {
    const int64_t i2 = std::min(K, i1 + B), nb = i2 - i1;
    for (int64_t i = i1; i < i2; ++i) {
      if (i % 32 == 0)
        for (int64_t r = 0; r < R; ++r) grid[size_t(r)] = block_grid(opt.format, &W[size_t(r * K + i)]);
      const double uii = U[size_t(i * K + i)];
      for (int64_t r = 0; r < R; ++r) {
        float* wr = &W[size_t(r * K)];
        const int q = grid[size_t(r)].code(wr[i]);
        codes[size_t(r * 32 + i % 32)] = q;
        const float e = float((wr[i] - grid[size_t(r)].value(q)) / uii);
        err[size_t(r * B + (i - i1))] = e;
        const double* ui = &U[size_t(i * K)];
        for (int64_t j = i + 1; j < i2; ++j) wr[j] -= float(e * ui[j]);
      }
      if (i % 32 == 31)
        for (int64_t r = 0; r < R; ++r)
          write_block(opt.format, grid[size_t(r)], &codes[size_t(r * 32)], &out[size_t(r * row_bytes + (i / 32) * bb)]);
    }
    if (i2 < K) {  // W[:, i2:] −= E · U[i1:i2, i2:]
      for (int64_t a = 0; a < nb; ++a)
        for (int64_t j = i2; j < K; ++j) Ub[size_t(a * K + j)] = float(U[size_t((i1 + a) * K + j)]);
      gemm_host<float>(Trans::No, Trans::No, R, K - i2, nb, -1.0f, err.data(), B, Ub.data() + i2, K, 1.0f,
                       W.data() + i2, K);
    }
  }
  return out;
}

}  // namespace tessera
