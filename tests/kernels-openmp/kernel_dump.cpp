// tessera_kernel_dump: runs every Kokkos kernel of kernels/ (float) on fixed, seeded inputs and writes each
// output to one binary file, so two builds (Serial and OpenMP, or host and CUDA) can be compared element by
// element (tests/kernels-openmp/test_kernels_openmp.cpp).
//   tessera_kernel_dump OUT.bin
// File: "TKDUMP1\n", then a header record "backend" whose text is "<exec space> <concurrency>", then records
//   u32 name length, name, u8 exact (1 = the kernel's operation order is fixed, so any backend must give the
//   same bits; 0 = a parallel reduction whose summation order depends on the thread count), u64 n, n doubles.
// Record names are "<kernel function>[.<output>]" and start with the kernel's function name, so the test can
// check that every kernel declared in kernels/*.hpp has a record.
#include <Kokkos_Core.hpp>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "io/dequantize.hpp"
#include "kernels/adamw.hpp"
#include "kernels/attention.hpp"
#include "kernels/bias.hpp"
#include "kernels/classification_loss.hpp"
#include "kernels/cross_entropy.hpp"
#include "kernels/cross_entropy_vocab_parallel.hpp"
#include "kernels/dequantize.hpp"
#include "kernels/dropout.hpp"
#include "kernels/embedding.hpp"
#include "kernels/gather_rows.hpp"
#include "kernels/gelu.hpp"
#include "kernels/grad_norm.hpp"
#include "kernels/head_gate.hpp"
#include "kernels/l1_penalty.hpp"
#include "kernels/layernorm.hpp"
#include "kernels/lora_dropout.hpp"
#include "kernels/packed_linear.hpp"
#include "kernels/residual.hpp"
#include "kernels/rmsnorm.hpp"
#include "kernels/rope.hpp"
#include "kernels/span_logits.hpp"
#include "kernels/swiglu.hpp"
#include "kernels/tanh_activation.hpp"
#include "kernels/feature_input.hpp"
#include "kernels/tiled_attention.hpp"

using namespace tessera;

namespace {

std::FILE* g_out = nullptr;

// splitmix64: the inputs depend only on (seed, index), never on the backend.
uint64_t mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}
double unit(uint64_t seed, int64_t i) { return double(mix(seed * 1000003ull + uint64_t(i)) >> 11) * 0x1.0p-53; }

template <class T>
View1<T> filled(int64_t n, uint64_t seed, double lo, double hi) {
  View1<T> v("dump_input", n);
  auto h = Kokkos::create_mirror_view(v);
  for (int64_t i = 0; i < n; ++i) h(i) = T(lo + (hi - lo) * unit(seed, i));
  Kokkos::deep_copy(v, h);
  return v;
}
View1<int32_t> ints(int64_t n, uint64_t seed, int32_t lo, int32_t hi) {  // [lo, hi)
  View1<int32_t> v("dump_ints", n);
  auto h = Kokkos::create_mirror_view(v);
  for (int64_t i = 0; i < n; ++i) h(i) = lo + int32_t(mix(seed * 7919ull + uint64_t(i)) % uint64_t(hi - lo));
  Kokkos::deep_copy(v, h);
  return v;
}
template <class T>
View1<T> copy_of(const View1<T>& v) {
  View1<T> c("dump_copy", v.extent(0));
  Kokkos::deep_copy(c, v);
  return c;
}

void write_raw(const std::string& name, bool exact, const std::vector<double>& x) {
  const uint32_t len = uint32_t(name.size());
  const uint8_t ex = exact ? 1 : 0;
  const uint64_t n = x.size();
  std::fwrite(&len, 4, 1, g_out);
  std::fwrite(name.data(), 1, len, g_out);
  std::fwrite(&ex, 1, 1, g_out);
  std::fwrite(&n, 8, 1, g_out);
  std::fwrite(x.data(), 8, n, g_out);
}
template <class T>
void rec(const std::string& name, const View1<T>& v, bool exact = true) {
  Kokkos::fence();
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v);
  std::vector<double> x(h.extent(0));
  for (size_t i = 0; i < x.size(); ++i) x[i] = double(h(i));
  write_raw(name, exact, x);
}
void rec_scalar(const std::string& name, double s, bool exact) { write_raw(name, exact, {s}); }

const RngKey kKey{1234, 7, 2, 3};

void dump_elementwise() {
  const int64_t n = 3001;
  auto x = filled<float>(n, 1, -3, 3), dy = filled<float>(n, 2, -1, 1);
  View1<float> y("y", n), dx;
  gelu_forward<float>(y, x, n);
  rec("gelu_forward", y);
  dx = filled<float>(n, 3, -1, 1);
  gelu_backward<float>(dx, x, dy, n);
  rec("gelu_backward", dx);
  gelu_erf_forward<float>(y, x, n);
  rec("gelu_erf_forward", y);
  dx = filled<float>(n, 3, -1, 1);
  gelu_erf_backward<float>(dx, x, dy, n);
  rec("gelu_erf_backward", dx);
  tanh_forward<float>(y, x, n);
  rec("tanh_forward", y);
  dx = filled<float>(n, 3, -1, 1);
  tanh_backward<float>(dx, y, dy, n);
  rec("tanh_backward", dx);
  relu_forward<float>(y, x, n);
  rec("relu_forward", y);
  dx = filled<float>(n, 3, -1, 1);
  relu_backward<float>(dx, x, dy, n);
  rec("relu_backward", dx);
  {  // feature head input: 37 rows of [z (5) ; dense (3) ; 2 categorical columns x 4]
    const int64_t R = 37, C = 5, D = 3, M = 2, E = 4, rows = 9, W = C + D + M * E;
    auto z = filled<float>(R * C, 21, -1, 1), dense = filled<float>(R * D, 22, -2, 2);
    auto table = filled<float>(rows * E, 23, -1, 1), du = filled<float>(R * W, 24, -1, 1);
    auto cat = ints(R * M, 25, 0, int32_t(rows));
    View1<float> u("u", R * W), dz("dz", R * C);
    feature_input_forward<float>(u, z, dense, cat, table, R, C, D, M, E);
    rec("feature_input_forward", u);
    auto dtable = filled<float>(rows * E, 26, -1, 1);
    feature_input_backward<float>(dz, dtable, du, cat, R, C, D, M, E, rows);
    rec("feature_input_backward.dz", dz);
    rec("feature_input_backward.dtable", dtable);
  }

  auto b = filled<float>(n, 4, -2, 2);
  residual_forward<float>(y, x, b, n);
  rec("residual_forward", y);
  accumulate<float>(y, dy, n);
  rec("accumulate", y);
  scale_inplace<float>(y, n, 0.37f);
  rec("scale_inplace", y);

  dropout_forward<float>(y, x, n, 0.25f, kKey, 17);
  rec("dropout_forward", y);
  dx = filled<float>(n, 3, -1, 1);
  dropout_backward<float>(dx, dy, n, 0.25f, kKey, 17);
  rec("dropout_backward", dx);

  // AdamW (weight decay, clipping multiplier, step 3)
  auto p = filled<float>(n, 5, -1, 1), g = filled<float>(n, 6, -0.1, 0.1), m = filled<float>(n, 7, -0.01, 0.01),
       v = filled<float>(n, 8, 0, 0.001);
  AdamWStep h;
  h.lr = 3e-3; h.weight_decay = 0.1; h.t = 3; h.grad_scale = 0.8;
  adamw_update<float>(p, g, m, v, n, h);
  rec("adamw_update.params", p);
  rec("adamw_update.m", m);
  rec("adamw_update.v", v);

  // Gradient norm (a parallel reduction) and the finiteness check.
  rec_scalar("sum_of_squares", sum_of_squares<float>(x, n), false);
  rec_scalar("all_finite", all_finite<float>(x, n) ? 1 : 0, true);
  auto xn = copy_of(x);
  {
    auto hx = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), xn);
    hx(1777) = std::nanf("");
    Kokkos::deep_copy(xn, hx);
  }
  rec_scalar("all_finite.nan", all_finite<float>(xn, n) ? 1 : 0, true);

  // L1 penalty: the gradient is element-wise, the returned penalty a reduction.
  auto pz = copy_of(p);
  {
    auto hp = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), pz);
    for (int64_t i = 0; i < n; i += 97) hp(i) = 0;
    Kokkos::deep_copy(pz, hp);
  }
  auto gl = filled<float>(n, 9, -1, 1);
  rec_scalar("l1_penalty_add_grad.penalty", l1_penalty_add_grad<float>(gl, pz, n, 0.01f), false);
  rec("l1_penalty_add_grad.grad", gl);
}

void dump_rows() {
  const int64_t N = 37;
  const int C = 72;
  auto x = filled<float>(N * C, 11, -2, 2), w = filled<float>(C, 12, 0.5, 1.5), bb = filled<float>(C, 13, -0.5, 0.5),
       dy = filled<float>(N * C, 14, -1, 1);
  View1<float> y("y", N * C), mean("mean", N), rstd("rstd", N);
  layernorm_forward<float>(y, mean, rstd, x, w, bb, N, C, 1e-5f);
  rec("layernorm_forward.out", y);
  rec("layernorm_forward.mean", mean);
  rec("layernorm_forward.rstd", rstd);
  auto dx = filled<float>(N * C, 15, -1, 1), dw = filled<float>(C, 16, -1, 1), db = filled<float>(C, 17, -1, 1);
  layernorm_backward<float>(dx, dw, db, dy, x, w, mean, rstd, N, C);
  rec("layernorm_backward.dinp", dx);
  rec("layernorm_backward.dweight", dw);
  rec("layernorm_backward.dbias", db);

  rmsnorm_forward<float>(y, rstd, x, w, N, C, 1e-6f);
  rec("rmsnorm_forward.out", y);
  rec("rmsnorm_forward.rstd", rstd);
  dx = filled<float>(N * C, 15, -1, 1);
  dw = filled<float>(C, 16, -1, 1);
  rmsnorm_backward<float>(dx, dw, dy, x, w, rstd, N, C);
  rec("rmsnorm_backward.dinp", dx);
  rec("rmsnorm_backward.dweight", dw);

  // Bias on a column slice of a wider buffer (ld > OC).
  const int64_t OC = 40, ld = C;
  auto out = copy_of(x);
  bias_add_forward<float>(out, filled<float>(OC, 18, -1, 1), N, OC, ld);
  rec("bias_add_forward", out);
  auto dbias = filled<float>(OC, 19, -1, 1);
  bias_backward<float>(dbias, dy, N, OC, ld);
  rec("bias_backward", dbias);

  // SwiGLU on [gate | up] rows.
  const int64_t F = C / 2;
  View1<float> sw("sw", N * F);
  swiglu_forward<float>(sw, x, N, F);
  rec("swiglu_forward", sw);
  auto dgu = filled<float>(N * C, 20, -1, 1);
  swiglu_backward<float>(dgu, x, filled<float>(N * F, 21, -1, 1), N, F);
  rec("swiglu_backward", dgu);

  // Head gates: NH = 6 heads of hd = 12.
  const int NH = 6, hd = 12;
  auto gate = filled<float>(NH, 22, 0, 1);
  head_gate_forward<float>(y, x, gate, N, NH, hd);
  rec("head_gate_forward", y);
  auto d = copy_of(dy);
  auto dgate = filled<float>(NH, 23, -1, 1);
  head_gate_backward<float>(d, dgate, x, gate, N, NH, hd);
  rec("head_gate_backward.dctx", d);
  rec("head_gate_backward.dgate", dgate, false);  // a parallel_reduce per head

  // Row gather with repeated rows.
  const int64_t M = 9;
  auto rows = ints(M, 24, 0, int32_t(N));
  {
    auto hr = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), rows);
    hr(3) = hr(7) = hr(1);
    Kokkos::deep_copy(rows, hr);
  }
  View1<float> gout("gout", M * C);
  gather_rows_forward<float>(gout, x, rows, M, C);
  rec("gather_rows_forward", gout);
  auto ginp = filled<float>(N * C, 25, -1, 1);
  gather_rows_backward<float>(ginp, filled<float>(M * C, 26, -1, 1), rows, M, C);
  rec("gather_rows_backward", ginp);

  // Span logits: [N,2] ↔ two [N] rows.
  View1<float> st("st", N), en("en", N);
  span_logits_split<float>(st, en, slice(x, 0, 2 * N), N);
  rec("span_logits_split.start", st);
  rec("span_logits_split.end", en);
  auto dl = filled<float>(2 * N, 27, -1, 1);
  span_logits_merge_grad<float>(dl, st, en, N);
  rec("span_logits_merge_grad", dl);
}

void dump_embedding_and_losses() {
  // Embedding, vocab shard [vocab_start, vocab_start + vocab_local) of a 50-token vocabulary.
  const int B = 3, T = 11, C = 24;
  const int64_t vs = 10, vl = 30;
  auto tok = ints(B * T, 31, 0, 50);
  auto wte = filled<float>(vl * C, 32, -1, 1), wpe = filled<float>(T * C, 33, -1, 1);
  View1<float> emb("emb", B * T * C);
  embedding_forward<float>(emb, tok, wte, wpe, B, T, C, vs, vl);
  rec("embedding_forward", emb);
  auto dwte = filled<float>(vl * C, 34, -1, 1), dwpe = filled<float>(T * C, 35, -1, 1);
  embedding_backward<float>(dwte, dwpe, filled<float>(B * T * C, 36, -1, 1), tok, B, T, C, vs, vl);
  rec("embedding_backward.dwte", dwte);
  rec("embedding_backward.dwpe", dwpe);

  // Softmax cross-entropy over N rows of V logits, some rows ignored.
  const int64_t N = 29, V = 203;
  const int32_t ignore = -100;
  auto logits = filled<float>(N * V, 37, -6, 6);
  auto tgt = ints(N, 38, 0, int32_t(V));
  {
    auto ht = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), tgt);
    ht(4) = ht(17) = ignore;
    Kokkos::deep_copy(tgt, ht);
  }
  View1<float> losses("losses", N), lse("lse", N);
  cross_entropy_forward<float>(losses, lse, logits, tgt, N, V, ignore);
  rec("cross_entropy_forward.losses", losses);
  rec("cross_entropy_forward.lse", lse);
  rec_scalar("count_valid_targets", double(count_valid_targets(tgt, N, ignore)), true);
  auto lg = copy_of(logits);
  cross_entropy_backward_inplace<float>(lg, lse, tgt, N, V, 0.5f, ignore);
  rec("cross_entropy_backward_inplace", lg);

  // Vocab-parallel pieces on the column shard [vstart, vstart + Vl) (one rank: the partials are final).
  const int64_t vstart = 0;
  View1<float> rmax("rmax", N), rsum("rsum", N), tl("tl", N), l2("l2", N), lse2("lse2", N);
  cross_entropy_row_max<float>(rmax, logits, N, V);
  rec("cross_entropy_row_max", rmax);
  cross_entropy_row_sumexp<float>(rsum, logits, rmax, N, V);
  rec("cross_entropy_row_sumexp", rsum);
  cross_entropy_target_logit<float>(tl, logits, tgt, N, V, vstart, ignore);
  rec("cross_entropy_target_logit", tl);
  cross_entropy_finish<float>(l2, lse2, rmax, rsum, tl, tgt, N, ignore);
  rec("cross_entropy_finish.losses", l2);
  rec("cross_entropy_finish.lse", lse2);
  lg = copy_of(logits);
  cross_entropy_backward_inplace_shard<float>(lg, lse2, tgt, N, V, vstart, 0.5f, ignore);
  rec("cross_entropy_backward_inplace_shard", lg);

  // Weighted, label-smoothed classification loss over K classes.
  const int K = 7;
  auto cl = filled<float>(N * K, 39, -4, 4);
  auto ct = ints(N, 40, 0, K);
  {
    auto ht = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), ct);
    ht(5) = ignore;
    Kokkos::deep_copy(ct, ht);
  }
  auto cw = filled<float>(K, 41, 0.5, 2);
  View1<float> clse("clse", N);
  float wsum = 0;
  const float loss = classification_loss_forward<float>(clse, cl, ct, cw, N, K, 0.1f, ignore, &wsum);
  rec_scalar("classification_loss_forward.loss", loss, false);
  rec_scalar("classification_loss_forward.weight_sum", wsum, false);
  rec("classification_loss_forward.lse", clse);
  auto dcl = filled<float>(N * K, 42, -1, 1);
  classification_loss_backward<float>(dcl, cl, clse, ct, cw, N, K, 0.1f, ignore, 0.25f / wsum);
  rec("classification_loss_backward", dcl);
}

void dump_attention() {
  // GQA (NH = 4 query heads, NKV = 2 kv heads), causal, key padding, attention dropout.
  const int B = 2, T = 45, NH = 4, NKV = 2, hd = 8, C = NH * hd, W = (NH + 2 * NKV) * hd;
  AttentionShape sh{B, T, C, NH};
  sh.NKV = NKV;
  auto qkv = filled<float>(int64_t(B) * T * W, 51, -1, 1);
  auto mask = ints(B * T, 52, 0, 1);
  {
    auto hm = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), mask);
    for (int i = 0; i < B * T; ++i) hm(i) = (i % T) < T - 3 * (i / T) - 2 ? 1 : 0;  // right padding per row
    Kokkos::deep_copy(mask, hm);
  }
  const float p = 0.1f;
  const int64_t BTT = int64_t(B) * NH * T * T;
  View1<float> out("out", int64_t(B) * T * C), att("att", BTT), attd("attd", BTT), scratch("scratch", BTT);
  auto dout = filled<float>(int64_t(B) * T * C, 53, -1, 1);
  attention_forward<float>(out, att, attd, qkv, mask, sh, p, kKey);
  rec("attention_forward.out", out);
  rec("attention_forward.att", att);
  rec("attention_forward.attd", attd);
  auto dqkv = filled<float>(int64_t(B) * T * W, 54, -0.1, 0.1);
  attention_backward<float>(dqkv, scratch, dout, qkv, att, attd, sh, p, kKey);
  rec("attention_backward", dqkv);

  // Bidirectional, no padding, no dropout, on the tiled path too.
  for (bool causal : {true, false}) {
    AttentionShape s2 = sh;
    s2.causal = causal;
    const std::string tag = causal ? ".causal" : ".bidirectional";
    View1<float> tout("tout", int64_t(B) * T * C), lse("lse", int64_t(B) * NH * T), delta("delta", int64_t(B) * NH * T);
    tiled_attention_forward<float>(tout, lse, qkv, mask, s2, causal ? p : 0.f, kKey);
    rec("tiled_attention_forward" + tag + ".out", tout);
    rec("tiled_attention_forward" + tag + ".lse", lse);
    auto tdq = filled<float>(int64_t(B) * T * W, 54, -0.1, 0.1);
    tiled_attention_backward<float>(tdq, delta, dout, qkv, tout, lse, mask, s2, causal ? p : 0.f, kKey);
    rec("tiled_attention_backward" + tag, tdq);
  }

  // KV-cache prefill of 40 positions then one decode step, both paths.
  const int T_max = 64;
  for (int tiled = 0; tiled < 2; ++tiled) {
    const std::string name = tiled ? "tiled_attention_forward_cached" : "attention_forward_cached";
    View1<float> kc("kc", int64_t(B) * NKV * T_max * hd), vc("vc", int64_t(B) * NKV * T_max * hd);
    View1<float> o1("o1", int64_t(B) * 40 * C), o2("o2", int64_t(B) * 1 * C);
    auto q1 = filled<float>(int64_t(B) * 40 * W, 55, -1, 1), q2 = filled<float>(int64_t(B) * W, 56, -1, 1);
    View1<int32_t> nomask("nomask", 0);
    auto call = [&](View1<float> o, View1<float> q, int Tn, int64_t pos0) {
      if (tiled)
        tiled_attention_forward_cached<float>(o, q, kc, vc, nomask, B, Tn, pos0, T_max, NH, NKV, hd, true);
      else
        attention_forward_cached<float>(o, q, kc, vc, nomask, B, Tn, pos0, T_max, NH, NKV, hd, true);
    };
    call(o1, q1, 40, 0);
    call(o2, q2, 1, 40);
    rec(name + ".prefill", o1);
    rec(name + ".decode", o2);
    rec(name + ".k_cache", kc);
  }

  // RoPE in place on the q and k heads, then back.
  auto rq = copy_of(qkv);
  rope_forward<float>(rq, int64_t(B) * T, T, 3, NH, NKV, hd, 10000.0);
  rec("rope_forward", rq);
  rope_backward<float>(rq, int64_t(B) * T, T, 3, NH, NKV, hd, 10000.0);
  rec("rope_backward", rq);

  // LoRA dropout on a column shard of a wider logical tensor.
  LoraDropoutShape ls;
  ls.rows = 23; ls.cols = 19; ls.ld = 25; ls.row0 = 5; ls.full_cols = 57; ls.col0 = 19;
  auto lx = filled<float>(ls.rows * ls.ld, 57, -1, 1);
  View1<float> lo("lo", ls.rows * ls.cols);
  lora_dropout_forward<float>(lo, lx, ls, 0.3f, kKey);
  rec("lora_dropout_forward", lo);
  auto ldx = filled<float>(ls.rows * ls.ld, 58, -1, 1);
  lora_dropout_backward<float>(ldx, filled<float>(ls.rows * ls.cols, 59, -1, 1), ls, 0.3f, kKey);
  rec("lora_dropout_backward", ldx);
}

// Random ggml blocks whose half-precision scales are finite (the quantised bytes are arbitrary).
View1<uint8_t> ggml_blocks(uint32_t type, int64_t n, uint64_t seed) {
  int64_t block_bytes = 0, halves = 0;
  switch (type) {
    case 2: block_bytes = 18; halves = 1; break;  // Q4_0
    case 3: block_bytes = 20; halves = 2; break;  // Q4_1
    case 6: block_bytes = 22; halves = 1; break;  // Q5_0
    case 7: block_bytes = 24; halves = 2; break;  // Q5_1
    case 8: block_bytes = 34; halves = 1; break;  // Q8_0
  }
  const int64_t blocks = n / 32;
  View1<uint8_t> raw("raw", blocks * block_bytes);
  auto h = Kokkos::create_mirror_view(raw);
  for (int64_t i = 0; i < raw.extent_int(0); ++i) h(i) = uint8_t(mix(seed * 31 + uint64_t(i)) & 0xff);
  for (int64_t b = 0; b < blocks; ++b)
    for (int64_t k = 0; k < halves; ++k) {
      const uint16_t half = fp32_to_fp16(float(0.01 + 0.1 * unit(seed + 1, b * 2 + k)));
      std::memcpy(&h(b * block_bytes + 2 * k), &half, 2);
    }
  Kokkos::deep_copy(raw, h);
  return raw;
}

void dump_quantised() {
  const int64_t n = 32 * 41;
  for (uint32_t type : {2u, 3u, 6u, 7u, 8u}) {
    View1<float> out("deq", n);
    dequantize_ggml_device<float>(out, ggml_blocks(type, n, 60 + type), type, n);
    rec("dequantize_ggml_device.type" + std::to_string(type), out);
  }
  {  // F16 and BF16: finite values written through the host converters.
    View1<uint8_t> raw("raw16", 2 * n);
    auto h = Kokkos::create_mirror_view(raw);
    for (uint32_t type : {1u, 30u}) {
      for (int64_t i = 0; i < n; ++i) {
        const float f = float(-4 + 8 * unit(70 + type, i));
        const uint16_t bits = type == 1 ? fp32_to_fp16(f) : fp32_to_bf16(f);
        std::memcpy(&h(2 * i), &bits, 2);
      }
      Kokkos::deep_copy(raw, h);
      View1<float> out("deq16", n);
      dequantize_ggml_device<float>(out, raw, type, n);
      rec("dequantize_ggml_device.type" + std::to_string(type), out);
    }
  }

  // Packed linear layers: the per-(n, o) dot path (N ≤ kPackedDotRows) and the tile + GEMM path.
  const int64_t rows = 150, cols = 64;  // 150 rows: more than one kPackedTileRows tile
  for (PackedFormat f : {PackedFormat::Int8, PackedFormat::Q8_0, PackedFormat::Q4_0, PackedFormat::Q4_1}) {
    PackedMatrix w;
    w.format = f;
    w.rows = rows;
    w.cols = cols;
    if (f == PackedFormat::Int8) {
      View1<uint8_t> bytes("bytes", rows * cols);
      auto hb = Kokkos::create_mirror_view(bytes);
      for (int64_t i = 0; i < rows * cols; ++i) hb(i) = uint8_t(mix(80 + uint64_t(i)) & 0xff);
      Kokkos::deep_copy(bytes, hb);
      w.bytes = bytes;
      w.row_scale = filled<float>(rows, 81, 0.001, 0.02);
    } else {
      w.bytes = ggml_blocks(uint32_t(packed_ggml_type(f)), rows * cols, 82 + uint64_t(f));
    }
    const std::string tag = std::string(".") + packed_format_name(f);
    auto bias = filled<float>(rows, 83, -1, 1);
    for (int64_t N : {int64_t(2), int64_t(19)}) {
      auto inp = filled<float>(N * cols, 84, -1, 1);
      View1<float> out("pout", N * rows);
      packed_linear_forward<float>(out, rows, inp, cols, w, bias, N);
      rec("packed_linear_forward" + tag + ".N" + std::to_string(N), out);
    }
    View1<float> deq("pdeq", 30 * cols);
    packed_dequantize_rows<float>(deq, w, 100, 30);
    rec("packed_dequantize_rows" + tag, deq);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT.bin\n", argv[0]);
    return 2;
  }
  Kokkos::ScopeGuard guard(argc, argv);
  g_out = std::fopen(argv[1], "wb");
  if (!g_out) {
    std::fprintf(stderr, "tessera_kernel_dump: cannot write %s\n", argv[1]);
    return 1;
  }
  std::fwrite("TKDUMP1\n", 1, 8, g_out);
  const std::string backend =
      std::string(Kokkos::DefaultExecutionSpace::name()) + " " + std::to_string(Kokkos::DefaultExecutionSpace().concurrency());
  {
    const uint32_t len = 7;
    const uint8_t ex = 1;
    const uint64_t n = backend.size();
    std::fwrite(&len, 4, 1, g_out);
    std::fwrite("backend", 1, 7, g_out);
    std::fwrite(&ex, 1, 1, g_out);
    std::fwrite(&n, 8, 1, g_out);
    std::fwrite(backend.data(), 1, n, g_out);
  }
  dump_elementwise();
  dump_rows();
  dump_embedding_and_losses();
  dump_attention();
  dump_quantised();
  std::fclose(g_out);
  std::printf("tessera_kernel_dump: %s -> %s\n", backend.c_str(), argv[1]);
  return 0;
}
