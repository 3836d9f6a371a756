#include "src/explain/calibration.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "src/explain/png_plot.hpp"
#include "src/runtime/error.hpp"

namespace tessera::explain {

std::vector<double> default_coverage_levels() {
  std::vector<double> q;
  for (int i = 1; i <= 10; ++i) q.push_back(i / 10.0);
  return q;
}

CalibrationMetrics calibration_metrics(const std::vector<double>& probs, int64_t K, const std::vector<int>& labels,
                                       int bins, const std::vector<double>& coverage_levels) {
  require(K >= 1, "calibration: K must be >= 1");
  require(bins >= 1, "calibration: --bins must be >= 1 (got " + std::to_string(bins) + ")");
  const int64_t n = int64_t(labels.size());
  require(n >= 1, "calibration: no samples");
  require(int64_t(probs.size()) == n * K, "calibration: " + std::to_string(probs.size()) +
                                              " probabilities for " + std::to_string(n) + " samples of " +
                                              std::to_string(K) + " classes");
  CalibrationMetrics m;
  m.n = n;
  m.K = K;
  std::vector<double> conf(static_cast<size_t>(n));
  std::vector<uint8_t> correct(static_cast<size_t>(n));
  std::vector<double> bin_conf(size_t(bins), 0.0), bin_acc(size_t(bins), 0.0);
  std::vector<int64_t> bin_n(size_t(bins), 0);
  double brier = 0, nll = 0, acc = 0, mc = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double* p = probs.data() + i * K;
    const int y = labels[size_t(i)];
    require(y >= 0 && y < K, "calibration: sample " + std::to_string(i) + " has label " + std::to_string(y) +
                                 ", outside [0, " + std::to_string(K) + ")");
    double sum = 0;
    int64_t arg = 0;
    for (int64_t k = 0; k < K; ++k) {
      require(p[k] >= 0 && std::isfinite(p[k]), "calibration: sample " + std::to_string(i) +
                                                    " has a negative or non-finite probability");
      sum += p[k];
      if (p[k] > p[arg]) arg = k;
      const double d = p[k] - (k == y ? 1.0 : 0.0);
      brier += d * d;
    }
    require(std::fabs(sum - 1.0) <= 1e-6, "calibration: sample " + std::to_string(i) +
                                              "'s probabilities sum to " + std::to_string(sum));
    nll -= std::log(std::max(p[y], 1e-300));
    conf[size_t(i)] = p[arg];
    correct[size_t(i)] = arg == y;
    acc += correct[size_t(i)];
    mc += p[arg];
    const int b = std::clamp(int(std::ceil(p[arg] * bins)) - 1, 0, bins - 1);
    bin_n[size_t(b)] += 1;
    bin_conf[size_t(b)] += p[arg];
    bin_acc[size_t(b)] += correct[size_t(i)];
  }
  m.accuracy = acc / double(n);
  m.mean_confidence = mc / double(n);
  m.brier = brier / double(n);
  m.nll = nll / double(n);
  for (int b = 0; b < bins; ++b) {
    ReliabilityBin rb;
    rb.lo = double(b) / bins;
    rb.hi = double(b + 1) / bins;
    rb.count = bin_n[size_t(b)];
    if (rb.count > 0) {
      rb.confidence = bin_conf[size_t(b)] / double(rb.count);
      rb.accuracy = bin_acc[size_t(b)] / double(rb.count);
      const double gap = std::fabs(rb.accuracy - rb.confidence);
      m.ece += double(rb.count) / double(n) * gap;
      m.mce = std::max(m.mce, gap);
    }
    m.bins.push_back(rb);
  }
  // Selective prediction: most confident first (stable: ties keep input order).
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t(0));
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return conf[size_t(a)] > conf[size_t(b)]; });
  std::vector<double> top_acc(static_cast<size_t>(n));
  double hits = 0, auc = 0;
  for (int64_t k = 0; k < n; ++k) {
    hits += correct[size_t(order[size_t(k)])];
    top_acc[size_t(k)] = hits / double(k + 1);
    auc += top_acc[size_t(k)];
  }
  m.coverage_auc = auc / double(n);
  for (double q : coverage_levels) {
    require(q > 0 && q <= 1, "calibration: coverage level " + std::to_string(q) + " outside (0, 1]");
    CoveragePoint c;
    c.coverage = q;
    c.kept = std::clamp<int64_t>(int64_t(std::ceil(q * double(n) - 1e-9)), 1, n);
    c.accuracy = top_acc[size_t(c.kept - 1)];
    c.threshold = conf[size_t(order[size_t(c.kept - 1)])];
    m.coverage.push_back(c);
  }
  return m;
}

std::vector<double> softmax_rows(const std::vector<float>& logits, int64_t K, double temperature) {
  require(temperature > 0 && std::isfinite(temperature), "calibration: temperature must be > 0");
  const int64_t n = int64_t(logits.size()) / K;
  std::vector<double> p(size_t(n * K));
  for (int64_t i = 0; i < n; ++i) {
    const float* z = logits.data() + i * K;
    double mx = -INFINITY;
    for (int64_t k = 0; k < K; ++k) mx = std::max(mx, double(z[k]) / temperature);
    double s = 0;
    for (int64_t k = 0; k < K; ++k) s += p[size_t(i * K + k)] = std::exp(double(z[k]) / temperature - mx);
    for (int64_t k = 0; k < K; ++k) p[size_t(i * K + k)] /= s;
  }
  return p;
}

double temperature_nll(const std::vector<float>& logits, int64_t K, const std::vector<int>& labels, double temperature) {
  const int64_t n = int64_t(labels.size());
  require(n >= 1 && int64_t(logits.size()) == n * K, "calibration: logits and labels disagree in size");
  double nll = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float* z = logits.data() + i * K;
    double mx = -INFINITY;
    for (int64_t k = 0; k < K; ++k) mx = std::max(mx, double(z[k]) / temperature);
    double s = 0;
    for (int64_t k = 0; k < K; ++k) s += std::exp(double(z[k]) / temperature - mx);
    nll += mx + std::log(s) - double(z[labels[size_t(i)]]) / temperature;
  }
  return nll / double(n);
}

double fit_temperature(const std::vector<float>& logits, int64_t K, const std::vector<int>& labels) {
  auto f = [&](double u) { return temperature_nll(logits, K, labels, std::exp(u)); };
  const double g = (std::sqrt(5.0) - 1) / 2;
  double a = std::log(0.01), b = std::log(100.0);
  double c = b - g * (b - a), d = a + g * (b - a);
  double fc = f(c), fd = f(d);
  while (b - a > 1e-10) {
    if (fc <= fd) {
      b = d, d = c, fd = fc;
      c = b - g * (b - a), fc = f(c);
    } else {
      a = c, c = d, fc = fd;
      d = a + g * (b - a), fd = f(d);
    }
  }
  return std::exp((a + b) / 2);
}

PredictiveUncertainty predictive_uncertainty(const std::vector<std::vector<double>>& samples) {
  require(!samples.empty(), "uncertainty: no samples");
  const size_t K = samples[0].size();
  PredictiveUncertainty u;
  u.mean.assign(K, 0.0);
  auto entropy = [](const std::vector<double>& p) {
    double h = 0;
    for (double v : p)
      if (v > 0) h -= v * std::log(v);
    return h;
  };
  for (const auto& s : samples) {
    require(s.size() == K, "uncertainty: samples of different sizes");
    for (size_t k = 0; k < K; ++k) u.mean[k] += s[k];
    u.expected_entropy += entropy(s);
  }
  for (double& v : u.mean) v /= double(samples.size());
  u.expected_entropy /= double(samples.size());
  u.entropy = entropy(u.mean);
  u.mutual_information = std::max(0.0, u.entropy - u.expected_entropy);
  return u;
}

std::string reliability_png(const CalibrationMetrics& m, int width, int height) {
  std::vector<uint8_t> rgb(size_t(width) * size_t(height) * 3, 255);
  const int pad = 24, W = width - 2 * pad, H = height - 2 * pad;
  auto put = [&](int x, int y, uint8_t r, uint8_t g, uint8_t b) {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    uint8_t* p = &rgb[(size_t(y) * size_t(width) + size_t(x)) * 3];
    p[0] = r, p[1] = g, p[2] = b;
  };
  auto px = [&](double v) { return pad + int(std::lround(v * W)); };
  auto py = [&](double v) { return pad + H - int(std::lround(v * H)); };
  auto rect = [&](double x0, double x1, double y0, double y1, uint8_t r, uint8_t g, uint8_t b) {
    const int a = px(x0), c = std::max(px(x1) - 1, a), top = py(std::max(y0, y1)), bot = py(std::min(y0, y1));
    for (int y = top; y <= bot; ++y)
      for (int x = a; x <= c; ++x) put(x, y, r, g, b);
  };
  // grid at 0.25 steps
  for (int i = 0; i <= 4; ++i)
    for (int t = 0; t <= W; ++t) put(pad + t, py(i / 4.0), 225, 225, 225), put(px(i / 4.0), pad + H - t * H / W, 225, 225, 225);
  for (const ReliabilityBin& b : m.bins) {
    const double inset = (b.hi - b.lo) * 0.06;
    if (b.count == 0) {
      rect(b.lo + inset, b.hi - inset, 0, 0.01, 180, 180, 180);
      continue;
    }
    rect(b.lo + inset, b.hi - inset, 0, b.accuracy, 60, 110, 200);
    if (std::fabs(b.confidence - b.accuracy) > 1e-12)
      rect(b.lo + inset, b.hi - inset, b.accuracy, b.confidence, 220, 70, 60);
  }
  // axes and diagonal
  for (int t = 0; t <= W; ++t) put(pad + t, py(0), 0, 0, 0);
  for (int t = 0; t <= H; ++t) put(px(0), pad + t, 0, 0, 0);
  for (int t = 0; t <= 4 * W; ++t) {
    const double v = t / (4.0 * W);
    put(px(v), py(v), 40, 40, 40);
  }
  return png_rgb(rgb, width, height);
}

std::string coverage_png(const std::vector<double>& probs, int64_t K, const std::vector<int>& labels, int width,
                         int height) {
  const CalibrationMetrics m = calibration_metrics(probs, K, labels, 1, {});
  const int64_t n = m.n;
  std::vector<std::pair<double, int>> c(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const double* p = probs.data() + i * K;
    const int64_t arg = std::max_element(p, p + K) - p;
    c[size_t(i)] = {p[arg], arg == labels[size_t(i)] ? 1 : 0};
  }
  std::stable_sort(c.begin(), c.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  PlotSeries curve, base;
  curve.r = 60, curve.g = 110, curve.b = 200, curve.thickness = 2;
  base.r = base.g = base.b = 150;
  double hits = 0;
  for (int64_t k = 0; k < n; ++k) {
    hits += c[size_t(k)].second;
    curve.x.push_back(double(k + 1) / double(n));
    curve.y.push_back(hits / double(k + 1));
  }
  base.x = {0.0, 1.0};
  base.y = {m.accuracy, m.accuracy};
  return line_plot_png({base, curve}, width, height);
}

}  // namespace tessera::explain
