// Independent GPT-2 reference for tests: plain loops in double, no Kokkos, no BLAS,
// no engine code. Written from the math of GPT-2 (Radford et al. 2019, pre-LN):
//   x   = wte[tok] + wpe[pos]
//   per block: x += c_proj(attn(c_attn(ln_1(x))));  x += mlp.c_proj(gelu(mlp.c_fc(ln_2(x))))
//   logits = ln_f(x)·wteᵀ ;  loss = mean over valid targets of −log softmax(logits)[target]
// Parameters use Hugging Face names; linear weights are [out, in] (y = x·Wᵀ + b).
#pragma once
#include <cmath>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace naive {

struct Config {
  int n_layer = 2, n_head = 2, n_embd = 32, n_positions = 16, vocab_size = 61;
  double eps = 1e-5;
};

using Params = std::map<std::string, std::vector<double>>;

struct Result {
  std::vector<double> logits;  // [B,T,V]
  double loss = 0;             // mean over valid targets (0 when none / no targets)
  int64_t num_valid = 0;
};

inline const std::vector<double>& param(const Params& p, const std::string& name) {
  auto it = p.find(name);
  if (it == p.end()) throw std::runtime_error("naive_gpt2: missing parameter " + name);
  return it->second;
}

// y[n, :] = LayerNorm(x[n, :]) with biased variance.
inline std::vector<double> layernorm(const std::vector<double>& x, const std::vector<double>& w,
                                     const std::vector<double>& b, int rows, int C, double eps) {
  std::vector<double> y(x.size());
  for (int n = 0; n < rows; ++n) {
    const double* xr = &x[size_t(n) * C];
    double mean = 0;
    for (int c = 0; c < C; ++c) mean += xr[c];
    mean /= C;
    double var = 0;
    for (int c = 0; c < C; ++c) var += (xr[c] - mean) * (xr[c] - mean);
    var /= C;
    const double inv = 1.0 / std::sqrt(var + eps);
    for (int c = 0; c < C; ++c) y[size_t(n) * C + c] = (xr[c] - mean) * inv * w[c] + b[c];
  }
  return y;
}

// y[n, o] = Σ_i x[n, i]·W[o, i] + b[o]
inline std::vector<double> linear(const std::vector<double>& x, const std::vector<double>& W,
                                  const std::vector<double>& b, int rows, int in, int out) {
  std::vector<double> y(size_t(rows) * out);
  for (int n = 0; n < rows; ++n)
    for (int o = 0; o < out; ++o) {
      double acc = b.empty() ? 0.0 : b[o];
      for (int i = 0; i < in; ++i) acc += x[size_t(n) * in + i] * W[size_t(o) * in + i];
      y[size_t(n) * out + o] = acc;
    }
  return y;
}

inline double gelu_tanh(double x) {
  const double k = std::sqrt(2.0 / M_PI);
  return 0.5 * x * (1.0 + std::tanh(k * (x + 0.044715 * x * x * x)));
}

// Forward over tokens [B,T]; targets [B,T] may be empty (no loss). ignore_index rows
// are left out of the mean.
inline Result gpt2_forward(const Config& cfg, const Params& p, const std::vector<int32_t>& tokens,
                           const std::vector<int32_t>& targets, int B, int T, int32_t ignore_index = -100) {
  const int C = cfg.n_embd, V = cfg.vocab_size, NH = cfg.n_head, hd = C / NH, N = B * T;
  if (T > cfg.n_positions) throw std::runtime_error("naive_gpt2: T > n_positions");
  const auto& wte = param(p, "wte.weight");
  const auto& wpe = param(p, "wpe.weight");

  std::vector<double> x(size_t(N) * C);
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t) {
      const int tok = tokens[size_t(b) * T + t];
      for (int c = 0; c < C; ++c) x[(size_t(b) * T + t) * C + c] = wte[size_t(tok) * C + c] + wpe[size_t(t) * C + c];
    }

  for (int l = 0; l < cfg.n_layer; ++l) {
    const std::string h = "h." + std::to_string(l) + ".";
    // --- causal self-attention
    const auto a_in = layernorm(x, param(p, h + "ln_1.weight"), param(p, h + "ln_1.bias"), N, C, cfg.eps);
    const auto qkv = linear(a_in, param(p, h + "attn.c_attn.weight"), param(p, h + "attn.c_attn.bias"), N, C, 3 * C);
    std::vector<double> y(size_t(N) * C, 0.0);
    const double scale = 1.0 / std::sqrt(double(hd));
    for (int b = 0; b < B; ++b)
      for (int head = 0; head < NH; ++head)
        for (int t = 0; t < T; ++t) {
          const double* q = &qkv[(size_t(b) * T + t) * 3 * C + head * hd];
          std::vector<double> score(t + 1);
          double mx = -1e300;
          for (int s = 0; s <= t; ++s) {
            const double* k = &qkv[(size_t(b) * T + s) * 3 * C + C + head * hd];
            double dot = 0;
            for (int d = 0; d < hd; ++d) dot += q[d] * k[d];
            score[s] = dot * scale;
            mx = std::max(mx, score[s]);
          }
          double z = 0;
          for (int s = 0; s <= t; ++s) {
            score[s] = std::exp(score[s] - mx);
            z += score[s];
          }
          for (int s = 0; s <= t; ++s) {
            const double prob = score[s] / z;
            const double* v = &qkv[(size_t(b) * T + s) * 3 * C + 2 * C + head * hd];
            for (int d = 0; d < hd; ++d) y[(size_t(b) * T + t) * C + head * hd + d] += prob * v[d];
          }
        }
    const auto a_out = linear(y, param(p, h + "attn.c_proj.weight"), param(p, h + "attn.c_proj.bias"), N, C, C);
    for (size_t i = 0; i < x.size(); ++i) x[i] += a_out[i];
    // --- MLP
    const auto m_in = layernorm(x, param(p, h + "ln_2.weight"), param(p, h + "ln_2.bias"), N, C, cfg.eps);
    auto fc = linear(m_in, param(p, h + "mlp.c_fc.weight"), param(p, h + "mlp.c_fc.bias"), N, C, 4 * C);
    for (double& v : fc) v = gelu_tanh(v);
    const auto m_out = linear(fc, param(p, h + "mlp.c_proj.weight"), param(p, h + "mlp.c_proj.bias"), N, 4 * C, C);
    for (size_t i = 0; i < x.size(); ++i) x[i] += m_out[i];
  }

  const auto xf = layernorm(x, param(p, "ln_f.weight"), param(p, "ln_f.bias"), N, C, cfg.eps);
  Result r;
  r.logits = linear(xf, wte, {}, N, C, V);  // tied head: logits = ln_f(x)·wteᵀ
  if (targets.empty()) return r;
  double sum = 0;
  for (int n = 0; n < N; ++n) {
    const int32_t tgt = targets[n];
    if (tgt == ignore_index) continue;
    const double* row = &r.logits[size_t(n) * V];
    double mx = row[0];
    for (int j = 1; j < V; ++j) mx = std::max(mx, row[j]);
    double z = 0;
    for (int j = 0; j < V; ++j) z += std::exp(row[j] - mx);
    sum += (mx + std::log(z)) - row[tgt];
    ++r.num_valid;
  }
  r.loss = r.num_valid > 0 ? sum / double(r.num_valid) : 0.0;
  return r;
}

}  // namespace naive
