// Integrated gradients (Sundararajan et al. 2017) on the embedding output x0 of a
// sequence classifier: attr_t = Σ_c (x_tc − x'_tc) · ∫₀¹ ∂F/∂x0_tc (x' + α(x − x')) dα,
// F = log p(class) (question answering: log p(s) + log p(e) of the span), x' the embedding output of the baseline row (every feature
// removed: its tokens replaced by the mask token). The integral is a quadrature of
// `steps` points: Gauss–Legendre on [0,1] or the Riemann midpoint rule. Gradients come
// from the model's backward pass (Transformer::set_embedding_override). Completeness:
// Σ attr = F(x) − F(x') up to the quadrature error, reported as the gap.
// Feature head (text_model.hpp's columns): the dense features are interpolated on the same
// path from their baseline (standardised 0, missing indicators off) to the input's, and
// a numeric or text-derived column's attribution is Σ over its dense slots of
// (d − d') · ∫ ∂F/∂d; categorical columns stay at the input's categories on the whole
// path (baseline included: they are excluded from IG, column_attr NaN), so completeness
// reads Σ words + Σ dense columns = F(x) − F(x').
// Interpolation points run in batches over the ranks (coalition.hpp's gather_batches).
#pragma once
#include <string>
#include <vector>

#include "src/explain/text_model.hpp"

namespace tessera::explain {

enum class Quadrature { GaussLegendre, Riemann };
Quadrature parse_quadrature(const std::string& s);
// Nodes and weights on [0,1].
void quadrature_rule(Quadrature q, int steps, std::vector<double>& nodes, std::vector<double>& weights);

struct IgResult {
  std::vector<double> token_attr;    // per token of x.ids
  std::vector<double> feature_attr;  // per feature (sum over its tokens)
  std::vector<double> column_attr;   // feature head: per column of x.columns (categorical: NaN, excluded)
  double f_input = 0, f_baseline = 0;
  double gap() const;           // Σ attr − (F(x) − F(x'))
  double relative_gap() const;  // |gap| / |F(x) − F(x')|
};

IgResult integrated_gradients(TextModel& tm, const TextInstance& x, int label, int steps, Quadrature q);
// Any served target: sequence classification (F = log p(t.label)) or question answering
// (F = log p(start = t.qa_start) + log p(end = t.qa_end), text_model.hpp's value).
IgResult integrated_gradients(TextModel& tm, const TextInstance& x, const TextTarget& t, int steps, Quadrature q);

}  // namespace tessera::explain
