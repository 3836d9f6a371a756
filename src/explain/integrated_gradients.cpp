#include "src/explain/integrated_gradients.hpp"

#include <Kokkos_Core.hpp>
#include <cmath>
#include <numeric>

#include "src/runtime/error.hpp"

namespace tessera::explain {

Quadrature parse_quadrature(const std::string& s) {
  if (s == "gauss-legendre") return Quadrature::GaussLegendre;
  if (s == "riemann") return Quadrature::Riemann;
  throw Error("explain: --integration must be gauss-legendre or riemann (got '" + s + "')");
}

void quadrature_rule(Quadrature q, int steps, std::vector<double>& nodes, std::vector<double>& weights) {
  require(steps >= 1, "explain ig: --steps must be >= 1");
  nodes.assign(size_t(steps), 0.0);
  weights.assign(size_t(steps), 0.0);
  if (q == Quadrature::Riemann) {
    for (int k = 0; k < steps; ++k) {
      nodes[size_t(k)] = (k + 0.5) / steps;
      weights[size_t(k)] = 1.0 / steps;
    }
    return;
  }
  // Roots of P_n by Newton from Chebyshev guesses; w = 2 / ((1 − x²) P_n'(x)²), mapped to [0,1].
  const int n = steps;
  for (int i = 0; i < n; ++i) {
    double x = std::cos(M_PI * (i + 0.75) / (n + 0.5)), dp = 1;
    for (int it = 0; it < 100; ++it) {
      double p0 = 1, p1 = x;
      for (int k = 2; k <= n; ++k) {
        const double p2 = ((2.0 * k - 1) * x * p1 - (k - 1.0) * p0) / k;
        p0 = p1;
        p1 = p2;
      }
      if (n == 1) p0 = 1, p1 = x;
      dp = n * (x * p1 - p0) / (x * x - 1);
      const double dx = p1 / dp;
      x -= dx;
      if (std::fabs(dx) < 1e-15) break;
    }
    nodes[size_t(i)] = 0.5 * (1 - x);
    weights[size_t(i)] = 1.0 / ((1 - x * x) * dp * dp);  // (2/((1−x²)P'²)) · ½
  }
}

double IgResult::gap() const {
  double s = std::accumulate(feature_attr.begin(), feature_attr.end(), 0.0);
  for (double c : column_attr)
    if (!std::isnan(c)) s += c;
  return s - (f_input - f_baseline);
}
double IgResult::relative_gap() const {
  const double d = std::fabs(f_input - f_baseline);
  return d > 0 ? std::fabs(gap()) / d : std::fabs(gap());
}

IgResult integrated_gradients(TextModel& tm, const TextInstance& x, int label, int steps, Quadrature q) {
  TextTarget t;
  t.label = label;
  return integrated_gradients(tm, x, t, steps, q);
}

IgResult integrated_gradients(TextModel& tm, const TextInstance& x, const TextTarget& target, int steps, Quadrature q) {
  require(x.M() >= 1, "explain ig: the input has no features (empty text?)");
  Transformer<float>& model = tm.model();
  const HeadKind head = model.config().head;
  require(head == HeadKind::SequenceClassification || head == HeadKind::QuestionAnswering,
          std::string("explain ig: needs a sequence_classification or question_answering head (model.head = ") +
              head_name(head) + "); use --method shap or lime");
  const bool qa = head == HeadKind::QuestionAnswering;
  const int label = target.label;
  const int T = int(x.ids.size()), C = int(model.config().n_embd);
  const auto two = tm.rows(x, {full_mask(x.M()), empty_mask(x.M())}, Removal::Mask);
  TextTarget tt = target;
  tt.head = head;
  tt.kind = TargetKind::LogProbability;
  // Feature head: the dense features of the input and of the baseline (every dense column
  // removed; categorical columns kept at the input's categories).
  const bool features = !x.columns.empty();
  const int64_t D = features ? model.config().features.dense_dim : 0;
  Mask dense_off = full_mask(x.players());
  for (size_t j = 0; j < x.columns.size(); ++j)
    if (x.columns[j].kind != "categorical") dense_off[size_t(x.M()) + j] = 0;
  const FeatureRows fin = tm.feature_rows(x, {full_mask(x.players())}), fb = tm.feature_rows(x, {dense_off});
  // Embedding outputs of the input and of the baseline (one forward each, B = 1).
  auto x0_of = [&](const std::vector<int32_t>& row, const FeatureRows& fr, double& f) {
    f = tm.score_rows({row}, x, tt, features ? &fr : nullptr)[0];
    auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), model.embedding_output());
    return std::vector<double>(h.data(), h.data() + size_t(T) * size_t(C));
  };
  IgResult r;
  const std::vector<double> xin = x0_of(two[0], fin, r.f_input), xb = x0_of(two[1], fb, r.f_baseline);
  const size_t W = size_t(T) * size_t(C) + size_t(D);  // per step: d/dx0, then d/d(dense)
  FeatureRows path;
  std::vector<double> nodes, weights;
  quadrature_rule(q, steps, nodes, weights);
  const int B = tm.batch();
  const int64_t batches = (steps + B - 1) / B;
  std::vector<int32_t> ids, mask, labels, types;
  // Batch g: Σ_k w_k ∂F/∂x0 at α_k for its steps, as T·C doubles.
  const std::vector<double> parts = gather_batches(batches, [&](int64_t g) {
    const int k0 = int(g) * B, n = std::min(B, steps - k0);
    View1<float> over("ig_x0", size_t(n) * size_t(T) * size_t(C));
    auto h = Kokkos::create_mirror_view(over);
    for (int b = 0; b < n; ++b)
      for (size_t i = 0; i < size_t(T) * size_t(C); ++i)
        h(size_t(b) * size_t(T) * size_t(C) + i) = float(xb[i] + nodes[size_t(k0 + b)] * (xin[i] - xb[i]));
    Kokkos::deep_copy(over, h);
    ids.assign(size_t(n) * size_t(T), 0);
    for (int b = 0; b < n; ++b) std::copy(two[0].begin(), two[0].end(), ids.begin() + size_t(b) * size_t(T));
    mask.assign(size_t(n) * size_t(T), 1);
    types.assign(size_t(n) * size_t(T), 0);
    if (x.types.size() == size_t(T))
      for (int b = 0; b < n; ++b) std::copy(x.types.begin(), x.types.end(), types.begin() + size_t(b) * size_t(T));
    labels.clear();
    for (int b = 0; b < n; ++b) {
      if (qa) labels.push_back(target.qa_start), labels.push_back(target.qa_end);
      else labels.push_back(label);
    }
    ModelInputs in;
    in.tokens = ids.data();
    in.attention_mask = mask.data();
    in.token_types = types.data();
    in.labels = labels.data();
    if (features) {  // dense on the path, categorical at the input's
      path.dense.clear();
      path.categorical.clear();
      for (int b = 0; b < n; ++b) {
        const double a = nodes[size_t(k0 + b)];
        for (int64_t d = 0; d < D; ++d)
          path.dense.push_back(float(double(fb.dense[size_t(d)]) + a * double(fin.dense[size_t(d)] - fb.dense[size_t(d)])));
        path.categorical.insert(path.categorical.end(), fin.categorical.begin(), fin.categorical.end());
      }
      in.dense_features = path.dense.data();
      in.categorical_features = path.categorical.data();
    }
    ForwardOptions fo;
    model.set_embedding_override(over);
    model.forward(in, n, T, fo);
    // classification: d(−n · mean CE)/dx0_b = ∂ log p_b(label)/∂x0_b; QA: the loss is
    // ½ (mean CE_start + mean CE_end), so −2n gives ∂ (log p_b(s) + log p_b(e))/∂x0_b.
    model.backward(float(qa ? -2 * n : -n));
    auto gr = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), model.embedding_output_grad());
    const size_t TC = size_t(T) * size_t(C);
    std::vector<double> acc(W, 0.0);
    for (int b = 0; b < n; ++b)
      for (size_t i = 0; i < TC; ++i) acc[i] += weights[size_t(k0 + b)] * double(gr(size_t(b) * TC + i));
    if (features) {  // d/d(dense) = the feature head input's gradient at columns [C, C + D)
      auto gu = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), model.feature_input_grad());
      const size_t U = gu.extent(0) / size_t(n);
      for (int b = 0; b < n; ++b)
        for (int64_t d = 0; d < D; ++d)
          acc[TC + size_t(d)] += weights[size_t(k0 + b)] * double(gu(size_t(b) * U + size_t(C) + size_t(d)));
    }
    return acc;
  }, tm.comm());
  std::vector<double> grad(W, 0.0);
  for (int64_t g = 0; g < batches; ++g)
    for (size_t i = 0; i < grad.size(); ++i) grad[i] += parts[size_t(g) * grad.size() + i];
  r.token_attr.assign(size_t(T), 0.0);
  for (int t = 0; t < T; ++t)
    for (int c = 0; c < C; ++c) {
      const size_t i = size_t(t) * size_t(C) + size_t(c);
      r.token_attr[size_t(t)] += (xin[i] - xb[i]) * grad[i];
    }
  r.feature_attr.assign(size_t(x.M()), 0.0);
  for (int f = 0; f < x.M(); ++f)
    for (int t : x.feature_tokens[size_t(f)]) r.feature_attr[size_t(f)] += r.token_attr[size_t(t)];
  const size_t TC = size_t(T) * size_t(C);
  for (const ColumnPlayer& c : x.columns) {
    if (c.kind == "categorical") {
      r.column_attr.push_back(std::nan(""));
      continue;
    }
    double a = 0;
    for (int d : c.dense) a += double(fin.dense[size_t(d)] - fb.dense[size_t(d)]) * grad[TC + size_t(d)];
    r.column_attr.push_back(a);
  }
  return r;
}

}  // namespace tessera::explain
