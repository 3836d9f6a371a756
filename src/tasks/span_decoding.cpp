#include "src/tasks/span_decoding.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "src/runtime/error.hpp"
#include "src/tasks/softmax.hpp"
#include "src/tasks/utf8_offsets.hpp"

namespace tessera::tasks {
namespace {

// Indices of the n largest values, largest first, lower index first on ties.
std::vector<int64_t> top_n(const float* v, int64_t len, int n) {
  std::vector<int64_t> idx(static_cast<size_t>(len));
  std::iota(idx.begin(), idx.end(), 0);
  const auto k = static_cast<size_t>(std::min<int64_t>(n, len));
  std::partial_sort(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(k), idx.end(),
                    [&](int64_t a, int64_t b) { return v[a] > v[b] || (v[a] == v[b] && a < b); });
  idx.resize(k);
  return idx;
}

void check_window(const QaWindowLogits& w, size_t wi, size_t context_bytes) {
  const std::string at = "span decoding: window " + std::to_string(wi);
  require(w.length >= 0, at + ": negative length");
  if (w.length == 0) return;
  require(w.start_logits && w.end_logits && w.offsets, at + ": missing logits or offsets");
  for (int64_t i = 0; i < w.length; ++i) {
    require(std::isfinite(w.start_logits[i]) && std::isfinite(w.end_logits[i]),
            at + ": token " + std::to_string(i) + " has a non-finite start or end logit");
    const int64_t b = w.offsets[2 * i], e = w.offsets[2 * i + 1];
    if (b < 0 || e < 0) continue;
    require(b <= e && static_cast<size_t>(e) <= context_bytes,
            at + ": token " + std::to_string(i) + " offsets [" + std::to_string(b) + ", " + std::to_string(e) +
                ") outside the context (" + std::to_string(context_bytes) + " bytes)");
  }
}

bool better(const SpanCandidate& a, const SpanCandidate& b) {
  if (a.score != b.score) return a.score > b.score;
  if (a.no_answer != b.no_answer) return b.no_answer;  // the null answer after equal spans (HF appends it)
  if (a.window != b.window) return a.window < b.window;
  if (a.start_token != b.start_token) return a.start_token < b.start_token;
  return a.end_token < b.end_token;
}

}  // namespace

SpanPrediction decode_span(const std::vector<QaWindowLogits>& windows, std::string_view context,
                           const SpanDecodeOptions& opt) {
  require(opt.n_best >= 1, "span decoding: n_best must be >= 1, got " + std::to_string(opt.n_best));
  require(opt.max_answer_length >= 1,
          "span decoding: max_answer_length must be >= 1, got " + std::to_string(opt.max_answer_length));
  std::vector<SpanCandidate> cands;
  SpanCandidate null;
  bool have_null = false;
  for (size_t wi = 0; wi < windows.size(); ++wi) {
    const QaWindowLogits& w = windows[wi];
    check_window(w, wi, context.size());
    if (w.length == 0) continue;
    const double null_score = double(w.start_logits[0]) + double(w.end_logits[0]);
    if (opt.allow_no_answer && (!have_null || null_score < null.score)) {
      null = SpanCandidate{};
      null.no_answer = true;
      null.start_logit = w.start_logits[0];
      null.end_logit = w.end_logits[0];
      null.score = null_score;
      have_null = true;
    }
    const auto starts = top_n(w.start_logits, w.length, opt.n_best);
    const auto ends = top_n(w.end_logits, w.length, opt.n_best);
    for (int64_t s : starts)
      for (int64_t e : ends) {
        if (w.offsets[2 * s] < 0 || w.offsets[2 * s + 1] < 0 || w.offsets[2 * e] < 0 || w.offsets[2 * e + 1] < 0)
          continue;  // outside the context (question, specials, padding)
        if (e < s || e - s + 1 > opt.max_answer_length) continue;
        const int64_t b = w.offsets[2 * s], en = w.offsets[2 * e + 1];
        if (b > en) continue;
        SpanCandidate c;
        c.byte_start = static_cast<size_t>(b);
        c.byte_end = static_cast<size_t>(en);
        c.start_logit = w.start_logits[s];
        c.end_logit = w.end_logits[e];
        c.score = c.start_logit + c.end_logit;
        c.window = static_cast<int64_t>(wi);
        c.start_token = s;
        c.end_token = e;
        cands.push_back(c);
      }
  }
  if (have_null) cands.push_back(null);
  std::sort(cands.begin(), cands.end(), better);
  if (cands.size() > static_cast<size_t>(opt.n_best)) cands.resize(static_cast<size_t>(opt.n_best));
  if (have_null && std::none_of(cands.begin(), cands.end(), [](const SpanCandidate& c) { return c.no_answer; }))
    cands.push_back(null);

  SpanPrediction p;
  std::vector<double> scores;
  for (auto& c : cands) {
    c.text = std::string(context.substr(c.byte_start, c.byte_end - c.byte_start));
    c.char_start = utf8_byte_to_codepoint(context, c.byte_start);
    c.char_end = utf8_byte_to_codepoint(context, c.byte_end);
    scores.push_back(c.score);
  }
  if (!cands.empty()) {
    const auto probs = softmax(scores.data(), static_cast<int64_t>(scores.size()), "span decoding: n-best scores");
    for (size_t i = 0; i < cands.size(); ++i) cands[i].probability = probs[i];
  }
  p.n_best = std::move(cands);
  int64_t best_span = -1;
  for (size_t i = 0; i < p.n_best.size() && best_span < 0; ++i)
    if (!p.n_best[i].no_answer) best_span = static_cast<int64_t>(i);
  p.best = best_span;
  if (have_null) {
    int64_t null_index = 0;
    while (!p.n_best[static_cast<size_t>(null_index)].no_answer) ++null_index;
    if (best_span < 0) {
      p.best = null_index;
    } else {
      const auto& b = p.n_best[static_cast<size_t>(best_span)];
      p.null_score_diff = null.score - b.start_logit - b.end_logit;
      if (p.null_score_diff > opt.null_score_diff_threshold) p.best = null_index;
    }
  }
  if (p.best >= 0) p.answer = p.n_best[static_cast<size_t>(p.best)].text;
  return p;
}

std::vector<SpanPrediction> decode_qa_features(const TaskFeatures& f, const float* start_logits,
                                               const float* end_logits, const std::vector<std::string>& contexts,
                                               const SpanDecodeOptions& opt) {
  const int64_t n = f.size(), L = f.max_len;
  require(static_cast<int64_t>(f.offsets.size()) == n * L * 2,
          "span decoding: features have " + std::to_string(f.offsets.size()) + " offsets, expected " +
              std::to_string(n * L * 2) + " (rows x max_len x 2)");
  require(static_cast<int64_t>(f.example_index.size()) == n,
          "span decoding: features have " + std::to_string(f.example_index.size()) + " example indices for " +
              std::to_string(n) + " rows");
  std::vector<std::vector<QaWindowLogits>> windows(contexts.size());
  for (int64_t r = 0; r < n; ++r) {
    const int64_t e = f.example_index[static_cast<size_t>(r)];
    require(e >= 0 && static_cast<size_t>(e) < contexts.size(),
            "span decoding: row " + std::to_string(r) + " belongs to example " + std::to_string(e) + " but there are " +
                std::to_string(contexts.size()) + " contexts");
    windows[static_cast<size_t>(e)].push_back({start_logits + r * L, end_logits + r * L, f.offsets.data() + r * L * 2, L});
  }
  std::vector<SpanPrediction> out;
  for (size_t e = 0; e < contexts.size(); ++e) out.push_back(decode_span(windows[e], contexts[e], opt));
  return out;
}

nlohmann::json span_json(const SpanPrediction& p) {
  nlohmann::json nb = nlohmann::json::array();
  for (const auto& c : p.n_best)
    nb.push_back({{"text", c.text},
                  {"start", c.no_answer ? -1 : c.char_start},
                  {"end", c.no_answer ? -1 : c.char_end},
                  {"probability", c.probability},
                  {"start_logit", c.start_logit},
                  {"end_logit", c.end_logit}});
  const SpanCandidate* b = p.best >= 0 ? &p.n_best[static_cast<size_t>(p.best)] : nullptr;
  const bool span = b && !b->no_answer;
  return {{"answer", p.answer},
          {"start", span ? b->char_start : -1},
          {"end", span ? b->char_end : -1},
          {"score", b ? b->probability : 0.0},
          {"n_best", nb}};
}

}  // namespace tessera::tasks
