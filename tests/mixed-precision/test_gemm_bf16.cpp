// gemm_host_bf16 (kernels/gemm_bf16.hpp) on every back end this build has (emulated always,
// oneDNN's matmul when CMake found libdnnl, cblas_sbgemm where OpenBLAS exports it) against a
// plain triple loop in double on the bf16-rounded operands (fp32 accumulation in the back
// ends): every transpose combination, strided (sub-matrix) cases with alpha/beta, a repeated
// shape (cached oneDNN primitive) with new data and new alpha/beta, ≤ 1e-5 relative to the
// largest |C|. The rounding itself: round-to-nearest-even, scalar and vectorised packs agree
// bit for bit; the thread rule for oneDNN's OpenMP runtime.
#include <gtest/gtest.h>
#include <cmath>
#include <cstdlib>
#include <string>
#include <random>
#include <vector>
#include "kernels/gemm_bf16.hpp"

using namespace tessera;

namespace {

std::vector<Bf16GemmBackend> built_backends() {
  std::vector<Bf16GemmBackend> v;
  for (Bf16GemmBackend b : {Bf16GemmBackend::Emulated, Bf16GemmBackend::Onednn, Bf16GemmBackend::Sbgemm})
    if (bf16_gemm_backend_usable(b)) v.push_back(b);
  return v;
}

void check_case(Bf16GemmBackend backend, Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, int64_t pad,
                float alpha, float beta, unsigned seed = 11) {
  const int64_t a_rows = ta == Trans::Yes ? K : M, a_cols = ta == Trans::Yes ? M : K;
  const int64_t b_rows = tb == Trans::Yes ? N : K, b_cols = tb == Trans::Yes ? K : N;
  const int64_t lda = a_cols + pad, ldb = b_cols + pad, ldc = N + pad;
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> A(size_t(a_rows * lda)), B(size_t(b_rows * ldb)), C(size_t(M * ldc));
  for (auto& x : A) x = nd(rng);
  for (auto& x : B) x = nd(rng);
  for (auto& x : C) x = nd(rng);
  std::vector<float> C0 = C;
  gemm_host_bf16_on(backend, ta, tb, M, N, K, alpha, A.data(), lda, B.data(), ldb, beta, C.data(), ldc);
  auto a = [&](int64_t i, int64_t k) { return double(round_to_bf16(ta == Trans::Yes ? A[k * lda + i] : A[i * lda + k])); };
  auto b = [&](int64_t k, int64_t j) { return double(round_to_bf16(tb == Trans::Yes ? B[j * ldb + k] : B[k * ldb + j])); };
  std::vector<double> ref(size_t(M * N));
  double scale = 0;
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double s = 0;
      for (int64_t k = 0; k < K; ++k) s += a(i, k) * b(k, j);
      ref[i * N + j] = alpha * s + beta * double(C0[i * ldc + j]);
      scale = std::max(scale, std::abs(ref[i * N + j]));
    }
  double worst = 0;
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) worst = std::max(worst, std::abs(double(C[i * ldc + j]) - ref[i * N + j]));
  EXPECT_LE(worst / scale, 1e-5) << bf16_gemm_backend_name(backend) << " ta=" << bool(ta) << " tb=" << bool(tb) << " M=" << M << " N=" << N << " K=" << K;
  // Padding columns of C are untouched.
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = N; j < ldc; ++j) ASSERT_EQ(C[i * ldc + j], C0[i * ldc + j]);
}

}  // namespace

TEST(GemmBf16, RoundsToNearestEven) {
  EXPECT_EQ(float_to_bf16_rne(1.0f), 0x3f80);
  // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to even (1.0).
  EXPECT_EQ(round_to_bf16(1.0f + std::ldexp(1.0f, -8)), 1.0f);
  // 1 + 3·2^-8 is halfway between 1 + 2^-7 and 1 + 2^-6: ties to even (1 + 2^-6).
  EXPECT_EQ(round_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)), 1.0f + std::ldexp(1.0f, -6));
  // Just above halfway rounds up.
  EXPECT_EQ(round_to_bf16(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20)), 1.0f + std::ldexp(1.0f, -7));
  EXPECT_TRUE(std::isnan(round_to_bf16(NAN)));
  EXPECT_EQ(round_to_bf16(INFINITY), INFINITY);
}

TEST(GemmBf16, AllTransposesMatchLoopOnRoundedOperands) {
  for (Bf16GemmBackend be : built_backends())
    for (Trans ta : {Trans::No, Trans::Yes})
      for (Trans tb : {Trans::No, Trans::Yes}) check_case(be, ta, tb, 37, 29, 53, 0, 1.f, 0.f);
}

TEST(GemmBf16, StridedSubMatricesWithAlphaBeta) {
  for (Bf16GemmBackend be : built_backends())
    for (Trans ta : {Trans::No, Trans::Yes})
      for (Trans tb : {Trans::No, Trans::Yes}) {
        check_case(be, ta, tb, 19, 23, 41, 7, 0.5f, 1.f);
        check_case(be, ta, tb, 33, 17, 70, 5, -1.25f, 0.75f);
      }
}

TEST(GemmBf16, ModelShapesAndRepeatedShapeWithNewScalars) {
  // Shapes like the model's (K a multiple of the AMX tile, M not), run twice with new data:
  // the second call reuses the cached oneDNN primitive; the third changes alpha/beta.
  for (Bf16GemmBackend be : built_backends()) {
    check_case(be, Trans::No, Trans::Yes, 130, 96, 64, 0, 1.f, 0.f, 1);
    check_case(be, Trans::No, Trans::Yes, 130, 96, 64, 0, 1.f, 0.f, 2);
    check_case(be, Trans::No, Trans::Yes, 130, 96, 64, 0, 2.f, 1.f, 3);
    check_case(be, Trans::Yes, Trans::No, 96, 64, 130, 0, 1.f, 1.f, 4);
    check_case(be, Trans::No, Trans::No, 130, 64, 96, 0, 1.f, 1.f, 5);
  }
}

// oneDNN is the default where it runs on this CPU; where it is built but has no bf16 matmul for the
// CPU (AVX2: oneDNN 2.6's bf16 kernels need AVX-512), the default falls back and says why.
TEST(GemmBf16, OnednnIsTheDefaultWhereTheCpuRunsIt) {
  if (!bf16_gemm_backend_built(Bf16GemmBackend::Onednn)) GTEST_SKIP() << "this build has no oneDNN";
  EXPECT_EQ(onednn_version().rfind("oneDNN ", 0), 0u) << onednn_version();
  if (!bf16_gemm_backend_usable(Bf16GemmBackend::Onednn)) {
    EXPECT_NE(bf16_gemm_default_backend(), Bf16GemmBackend::Onednn);
    EXPECT_NE(onednn_bf16_unusable_reason().find("AVX-512"), std::string::npos) << onednn_bf16_unusable_reason();
    EXPECT_NE(bf16_gemm_description().find("no bf16 matmul for this CPU"), std::string::npos)
        << bf16_gemm_description();
    // The default still computes the bf16 product (here: the emulation).
    std::vector<float> A(64 * 64, 1.f), B(64 * 64, 1.f), C(64 * 64);
    gemm_host_bf16(Trans::No, Trans::No, 64, 64, 64, 1.f, A.data(), 64, B.data(), 64, 0.f, C.data(), 64);
    EXPECT_EQ(C[0], 64.f);
    return;
  }
  EXPECT_TRUE(onednn_bf16_unusable_reason().empty()) << onednn_bf16_unusable_reason();
  EXPECT_EQ(bf16_gemm_default_backend(), Bf16GemmBackend::Onednn);
  std::vector<float> A(64 * 64, 1.f), B(64 * 64, 1.f), C(64 * 64);
  gemm_host_bf16(Trans::No, Trans::No, 64, 64, 64, 1.f, A.data(), 64, B.data(), 64, 0.f, C.data(), 64);
  EXPECT_EQ(C[0], 64.f);
  EXPECT_FALSE(onednn_last_impl().empty());
  EXPECT_NE(bf16_gemm_description().find("oneDNN"), std::string::npos) << bf16_gemm_description();
}

TEST(GemmBf16, KZeroScalesC) {
  for (Bf16GemmBackend be : built_backends()) {
    std::vector<float> C = {1.f, 2.f, 3.f, 4.f};
    const float dummy = 0.f;
    gemm_host_bf16_on(be, Trans::No, Trans::No, 2, 2, 0, 1.f, &dummy, 1, &dummy, 2, 0.5f, C.data(), 2);
    EXPECT_EQ(C, (std::vector<float>{0.5f, 1.f, 1.5f, 2.f})) << bf16_gemm_backend_name(be);
  }
}

TEST(GemmBf16, VectorisedPackMatchesScalarRounding) {
  // Ties, near-ties, NaN, ±Inf, zeros, denormals, and random values; 53 columns so both the
  // 16-lane body and the scalar tail run, and a row stride larger than the row.
  std::vector<float> special = {0.f, -0.f, 1.f, 1.f + std::ldexp(1.f, -8), 1.f + 3 * std::ldexp(1.f, -8),
                                -1.f - std::ldexp(1.f, -8), NAN, -NAN, INFINITY, -INFINITY, 1e-40f, -3e-39f,
                                3.3895314e38f, 65504.f};
  const int64_t rows = 7, cols = 53, ld = 60;
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.f, 10.f);
  std::vector<float> X(size_t(rows * ld));
  for (size_t i = 0; i < X.size(); ++i) X[i] = i < special.size() * 3 ? special[i % special.size()] : nd(rng);
  std::vector<uint16_t> packed(size_t(rows * cols));
  pack_bf16(X.data(), rows, cols, ld, packed.data());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      ASSERT_EQ(packed[r * cols + c], float_to_bf16_rne(X[r * ld + c])) << "r=" << r << " c=" << c;
}

TEST(GemmBf16, ThreadRuleFollowsOmpNumThreadsElseSplitsCoresOverRanks) {
  const char* passive = "passive";
  EXPECT_EQ(bf16_gemm_thread_rule("3", nullptr, 2, 1, 2), 3);   // OMP_NUM_THREADS wins
  EXPECT_EQ(bf16_gemm_thread_rule("1", passive, 8, 1, 8), 1);
  EXPECT_EQ(bf16_gemm_thread_rule(nullptr, passive, 2, 1, 2), 2);    // OpenBLAS's count, one rank
  EXPECT_EQ(bf16_gemm_thread_rule(nullptr, passive, 2, 2, 2), 1);    // two ranks on 2 cores: one each
  EXPECT_EQ(bf16_gemm_thread_rule(nullptr, "active", 16, 4, 16), 4); // four ranks on 16 cores
  EXPECT_EQ(bf16_gemm_thread_rule(nullptr, passive, 1, 1, 16), 1);   // OPENBLAS_NUM_THREADS=1
  EXPECT_EQ(bf16_gemm_thread_rule(nullptr, passive, 2, 8, 2), 1);    // more ranks than cores: still one
  EXPECT_EQ(bf16_gemm_thread_rule("", passive, 2, 2, 2), 1);         // empty variable = unset
  EXPECT_EQ(bf16_gemm_thread_rule("0", passive, 2, 1, 2), 2);
  // No wait policy: libgomp's workers would spin against OpenBLAS's threads, so one thread.
  EXPECT_EQ(bf16_gemm_thread_rule(nullptr, nullptr, 2, 1, 2), 1);
  EXPECT_EQ(bf16_gemm_thread_rule(nullptr, "", 16, 1, 16), 1);
}

TEST(GemmBf16, DiffersFromFp32OnUnroundedOperands) {
  // The bf16 path really rounds: on generic fp32 data it differs from sgemm by ~1e-3 relative.
  const int64_t M = 16, N = 16, K = 64;
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> A(M * K), B(K * N), C16(M * N), C32(M * N);
  for (auto& x : A) x = nd(rng);
  for (auto& x : B) x = nd(rng);
  gemm_host_bf16(Trans::No, Trans::No, M, N, K, 1.f, A.data(), K, B.data(), N, 0.f, C16.data(), N);
  gemm_host<float>(Trans::No, Trans::No, M, N, K, 1.f, A.data(), K, B.data(), N, 0.f, C32.data(), N);
  double diff = 0, scale = 0;
  for (int64_t i = 0; i < M * N; ++i) {
    diff = std::max(diff, double(std::abs(C16[i] - C32[i])));
    scale = std::max(scale, double(std::abs(C32[i])));
  }
  EXPECT_GT(diff / scale, 1e-5);
  EXPECT_LT(diff / scale, 2e-2);
}


// Linear backward's hint (bf16_gemm_reuse_previous_a, on the default back end): the second GEMM on the same stored dY (dX = dY·W,
// then dW = dYᵀ·X) reuses dY's bf16 copy; the result equals the unhinted call bitwise. A hint whose
// A differs (another pointer, or the same pointer with another stored shape) is ignored: the new A
// is packed, so the result is still that of the unhinted call.
TEST(GemmBf16, ReusedOperandEqualsFreshPackAndMismatchIsIgnored) {
  const int64_t N = 48, OC = 40, IC = 24;
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> dY(size_t(N * OC)), W(size_t(OC * IC)), X(size_t(N * IC)), other(size_t(N * OC));
  for (auto* v : {&dY, &W, &X, &other})
    for (auto& x : *v) x = nd(rng);
  auto dw_of = [&](const std::vector<float>& a, bool hint) {
    std::vector<float> dX(size_t(N * IC), 0.f), dW(size_t(OC * IC), 0.f);
    gemm_host_bf16(Trans::No, Trans::No, N, IC, OC, 1.f, dY.data(), OC, W.data(), IC, 1.f, dX.data(), IC);
    if (hint) bf16_gemm_reuse_previous_a();
    gemm_host_bf16(Trans::Yes, Trans::No, OC, IC, N, 1.f, a.data(), OC, X.data(), IC, 1.f, dW.data(), IC);
    return dW;
  };
  const std::vector<float> fresh = dw_of(dY, false);
  EXPECT_EQ(dw_of(dY, true), fresh);  // bitwise
  // Hint, but the second GEMM's A is another matrix: it is packed, not the stale dY copy.
  const std::vector<float> other_fresh = dw_of(other, false);
  EXPECT_EQ(dw_of(other, true), other_fresh);
  EXPECT_NE(other_fresh, fresh);
  // Same pointer, other stored shape (N/2 rows of dY): packed again.
  std::vector<float> dW_half(size_t(OC * IC), 0.f), dW_half_ref(size_t(OC * IC), 0.f), dX(size_t(N * IC), 0.f);
  gemm_host_bf16(Trans::Yes, Trans::No, OC, IC, N / 2, 1.f, dY.data(), OC, X.data(), IC, 0.f, dW_half_ref.data(), IC);
  gemm_host_bf16(Trans::No, Trans::No, N, IC, OC, 1.f, dY.data(), OC, W.data(), IC, 1.f, dX.data(), IC);
  bf16_gemm_reuse_previous_a();
  gemm_host_bf16(Trans::Yes, Trans::No, OC, IC, N / 2, 1.f, dY.data(), OC, X.data(), IC, 0.f, dW_half.data(), IC);
  EXPECT_EQ(dW_half, dW_half_ref);
  // The hint lasts one call: changing dY in place after an unhinted call is seen.
  std::vector<float> changed = dY;
  for (auto& x : changed) x *= 2.f;
  std::vector<float> dX2(size_t(N * IC), 0.f);
  gemm_host_bf16(Trans::No, Trans::No, N, IC, OC, 1.f, dY.data(), OC, W.data(), IC, 1.f, dX2.data(), IC);
  dY = changed;  // same storage (vector assignment keeps the buffer: equal sizes)
  std::vector<float> dW2(size_t(OC * IC), 0.f);
  gemm_host_bf16(Trans::Yes, Trans::No, OC, IC, N, 1.f, dY.data(), OC, X.data(), IC, 0.f, dW2.data(), IC);
  for (size_t i = 0; i < fresh.size(); ++i) ASSERT_FLOAT_EQ(dW2[i], 2.f * fresh[i]) << i;
}

// Attention's batched GEMMs follow train.precision: under BF16 each batch member equals the bf16 GEMM
// (rounded operands, fp32 accumulation: ≤ 1e-5 of a plain loop on rounded operands); under FP32 they are
// fp32 (and differ from the rounded-operand result on unrounded data).
TEST(GemmBf16, AttentionBatchedGemmFollowsModelPrecision) {
  const int64_t T = 24, hd = 8, H = 3, ld = H * hd;  // q·kᵀ per head, heads interleaved in a row (stride hd)
  std::mt19937 rng(9);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> q(size_t(T * ld)), k(size_t(T * ld));
  for (auto& x : q) x = nd(rng);
  for (auto& x : k) x = nd(rng);
  auto run = [&](GemmPrecision p) {
    std::vector<float> s(size_t(H * T * T), 0.f);
    set_model_gemm_precision(p);
    gemm_model_strided_batched<float, Kokkos::HostSpace>(Trans::No, Trans::Yes, T, T, hd, 0.5f, q.data(), ld, hd,
                                                         k.data(), ld, hd, 0.f, s.data(), T, T * T, H);
    set_model_gemm_precision(GemmPrecision::FP32);
    return s;
  };
  const auto s16 = run(GemmPrecision::BF16), s32 = run(GemmPrecision::FP32);
  double worst16 = 0, worst32_vs_rounded = 0;
  for (int64_t h = 0; h < H; ++h)
    for (int64_t i = 0; i < T; ++i)
      for (int64_t j = 0; j < T; ++j) {
        double r = 0, f = 0;
        for (int64_t c = 0; c < hd; ++c) {
          r += double(round_to_bf16(q[i * ld + h * hd + c])) * round_to_bf16(k[j * ld + h * hd + c]);
          f += double(q[i * ld + h * hd + c]) * k[j * ld + h * hd + c];
        }
        worst16 = std::max(worst16, std::abs(s16[(h * T + i) * T + j] - 0.5 * r));
        worst32_vs_rounded = std::max(worst32_vs_rounded, std::abs(s32[(h * T + i) * T + j] - 0.5 * r));
        ASSERT_NEAR(s32[(h * T + i) * T + j], 0.5 * f, 1e-5) << h << " " << i << " " << j;
      }
  if (bf16_attention_gemms()) {
    EXPECT_LE(worst16, 1e-5);
    EXPECT_GT(worst32_vs_rounded, 1e-4);  // fp32 did not round: the two paths are distinct
  } else {
    EXPECT_EQ(s16, s32);  // TESSERA_BF16_ATTENTION=0
  }
}
