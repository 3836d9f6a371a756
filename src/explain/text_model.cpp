#include "src/explain/text_model.hpp"

#include <Kokkos_Core.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "src/runtime/error.hpp"
#include "src/tasks/span_decoding.hpp"
#include "src/tasks/tagging_input.hpp"

namespace tessera::explain {

Granularity parse_granularity(const std::string& s) {
  if (s == "word") return Granularity::Word;
  if (s == "token") return Granularity::Token;
  if (s == "sentence") return Granularity::Sentence;
  throw Error("explain: --granularity must be word, token or sentence (got '" + s + "')");
}

Removal parse_removal(const std::string& s) {
  if (s == "mask") return Removal::Mask;
  if (s == "delete") return Removal::Delete;
  throw Error("explain: --removal must be mask or delete (got '" + s + "')");
}

TextInstance make_text_instance(const std::string& text, const TaskTokenizer& tok, int64_t max_len, Granularity g,
                                const std::string& continuation) {
  TextInstance x;
  x.text = text;
  require(text.find_first_not_of(" \t\r\n") != std::string::npos, "explain: empty text (nothing to explain)");
  if (!continuation.empty()) {
    const Encoding c = tok.encode(" " + continuation);
    x.continuation.assign(c.ids.begin(), c.ids.end());
    require(!x.continuation.empty(), "explain: the continuation encodes to no tokens");
    require(int64_t(x.continuation.size()) < max_len, "explain: the continuation alone has " +
                                                          std::to_string(x.continuation.size()) +
                                                          " tokens, not below max_len " + std::to_string(max_len));
  }
  const int64_t room = max_len - int64_t(x.continuation.size());
  const tasks::TaggingInput enc = tasks::encode_words_for_tagging(text, tok, room);
  x.truncated = enc.words_kept < enc.words;
  x.ids = enc.input_ids;
  // Features: sub-word tokens, words (a word start opens one), or sentences (a word
  // start after a word ending in . ! ? opens one); a feature's text is its byte range.
  std::vector<std::pair<size_t, size_t>> span;
  for (size_t t = 0; t < enc.tokens.size(); ++t) {
    const auto& tk = enc.tokens[t];
    x.special.push_back(tk.role == tasks::TokenRole::Special ? 1 : 0);
    if (tk.role == tasks::TokenRole::Special) continue;
    const bool start = tk.role == tasks::TokenRole::WordStart;
    bool open = span.empty() || g == Granularity::Token || (start && g == Granularity::Word);
    if (start && g == Granularity::Sentence && !span.empty()) {
      const char c = text[span.back().second - 1];
      open = c == '.' || c == '!' || c == '?';
    }
    if (open) {
      span.emplace_back(tk.begin, tk.end);
      x.feature_tokens.push_back({});
    }
    span.back().second = std::max(span.back().second, tk.end);
    x.feature_tokens.back().push_back(int(t));
  }
  for (const auto& [b0, b1] : span) x.features.push_back(text.substr(b0, b1 - b0));
  return x;
}

void attach_feature_columns(TextInstance& x, const FeatureSchema& s, const float* dense, const int32_t* categorical,
                            const std::vector<std::string>& values, const std::vector<char>& missing) {
  const size_t D = size_t(s.dense_dim()), Mc = size_t(s.categorical_dim()), ncol = s.columns().size();
  require(values.size() == ncol && missing.size() == ncol,
          "explain: the input row has " + std::to_string(values.size()) + " feature values, the schema " +
              std::to_string(ncol) + " columns");
  x.dense.assign(dense, dense + D);
  x.categorical.assign(categorical, categorical + Mc);
  x.columns.clear();
  for (size_t j = 0; j < s.numeric.size(); ++j)
    x.columns.push_back({s.numeric[j].name, "numeric", missing[j] ? "" : values[j], missing[j] != 0,
                         {int(2 * j), int(2 * j + 1)}, -1});
  for (size_t j = 0; j < s.text.size(); ++j) {
    const double raw = double(dense[2 * s.numeric.size() + j]) * s.text[j].std + s.text[j].mean;
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6g", raw);
    x.columns.push_back({"text:" + s.text[j].name, "text", buf, false, {int(2 * s.numeric.size() + j)}, -1});
  }
  for (size_t j = 0; j < s.categorical.size(); ++j) {
    const size_t c = s.numeric.size() + j;
    x.columns.push_back({s.categorical[j].name, "categorical", missing[c] ? "" : values[c], missing[c] != 0, {}, int(j)});
  }
}

FeatureRows TextModel::feature_rows(const TextInstance& x, const std::vector<Mask>& masks) const {
  FeatureRows f;
  const int M = x.M();
  for (const Mask& m : masks) {
    const size_t d0 = f.dense.size(), c0 = f.categorical.size();
    f.dense.insert(f.dense.end(), x.dense.begin(), x.dense.end());
    f.categorical.insert(f.categorical.end(), x.categorical.begin(), x.categorical.end());
    for (size_t j = 0; j < x.columns.size(); ++j) {
      const size_t p = size_t(M) + j;
      if (p >= m.size() || m[p]) continue;
      for (int d : x.columns[j].dense) f.dense[d0 + size_t(d)] = 0.0f;  // the training mean; indicator off
      if (x.columns[j].categorical >= 0) f.categorical[c0 + size_t(x.columns[j].categorical)] = 0;  // unknown bucket
    }
  }
  return f;
}

std::vector<std::vector<int32_t>> TextModel::rows(const TextInstance& x, const std::vector<Mask>& masks,
                                                  Removal r) const {
  std::vector<std::vector<int32_t>> out;
  for (const Mask& m : masks) {
    std::vector<uint8_t> keep(x.ids.size(), 1);
    for (int f = 0; f < x.M(); ++f)
      if (!m[size_t(f)])
        for (int t : x.feature_tokens[size_t(f)]) keep[size_t(t)] = 0;
    std::vector<int32_t> row;
    for (size_t t = 0; t < x.ids.size(); ++t) {
      if (keep[t]) row.push_back(x.ids[t]);
      else if (r == Removal::Mask) row.push_back(mask_id_);
    }
    row.insert(row.end(), x.continuation.begin(), x.continuation.end());
    out.push_back(std::move(row));
  }
  return out;
}

std::vector<float> TextModel::forward_logits(const std::vector<std::vector<int32_t>>& rows, int& T,
                                             const std::vector<int32_t>* types, const FeatureRows* f) {
  const int B = int(rows.size());
  T = 1;
  for (const auto& r : rows) T = std::max(T, int(r.size()));
  std::vector<int32_t> ids(size_t(B) * size_t(T), pad_id_), mask(size_t(B) * size_t(T), 0), seg(size_t(B) * size_t(T), 0);
  for (int b = 0; b < B; ++b)
    for (size_t t = 0; t < rows[size_t(b)].size(); ++t) {
      ids[size_t(b) * size_t(T) + t] = rows[size_t(b)][t];
      mask[size_t(b) * size_t(T) + t] = 1;
      if (types && types->size() == rows[size_t(b)].size()) seg[size_t(b) * size_t(T) + t] = (*types)[t];
    }
  ModelInputs in;
  in.tokens = ids.data();
  in.attention_mask = mask.data();
  in.token_types = seg.data();
  const TransformerConfig& cfg = model_.config();
  if (cfg.feature_head()) {
    require(f != nullptr, "explain: the model reads auxiliary features: every row needs its feature vectors");
    require(f->dense.size() == size_t(B) * size_t(cfg.features.dense_dim) &&
                f->categorical.size() == size_t(B) * size_t(cfg.features.categorical_dim()),
            "explain: the rows' feature vectors do not match the model's feature widths");
    in.dense_features = f->dense.data();
    in.categorical_features = f->categorical.data();
  }
  ForwardOptions fo;
  fo.training = false;
  model_.forward(in, B, T, fo);
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), model_.logits());
  return std::vector<float>(host.data(), host.data() + host.extent(0));
}

std::vector<double> TextModel::class_probabilities(const std::vector<std::vector<int32_t>>& rows,
                                                   const FeatureRows* f) {
  int T = 0;
  const std::vector<float> logits = forward_logits(rows, T, nullptr, f);
  const int64_t K = model_.config().num_labels;
  std::vector<double> p(rows.size() * size_t(K));
  for (size_t b = 0; b < rows.size(); ++b) {
    const float* l = logits.data() + b * size_t(K);
    const double mx = *std::max_element(l, l + K);
    double z = 0;
    for (int64_t k = 0; k < K; ++k) z += std::exp(double(l[k]) - mx);
    for (int64_t k = 0; k < K; ++k) p[b * size_t(K) + size_t(k)] = std::exp(double(l[k]) - mx) / z;
  }
  return p;
}

std::vector<double> TextModel::score_rows(const std::vector<std::vector<int32_t>>& rows, const TextInstance& x,
                                          const TextTarget& t, const FeatureRows* f) {
  std::vector<double> out;
  if (t.head == HeadKind::SequenceClassification) {
    FeatureRows own;
    if (f == nullptr && model_.config().feature_head()) {  // x's own vectors on every row
      own = feature_rows(x, std::vector<Mask>(rows.size(), full_mask(x.players())));
      f = &own;
    }
    const int64_t K = model_.config().num_labels;
    require(t.label >= 0 && t.label < K, "explain: target class " + std::to_string(t.label) + " is outside [0, " +
                                             std::to_string(K) + ")");
    if (t.kind == TargetKind::Logit) {
      int T = 0;
      const std::vector<float> logits = forward_logits(rows, T, nullptr, f);
      for (size_t b = 0; b < rows.size(); ++b) out.push_back(double(logits[b * size_t(K) + size_t(t.label)]));
      return out;
    }
    const std::vector<double> p = class_probabilities(rows, f);
    for (size_t b = 0; b < rows.size(); ++b) {
      const double pb = p[b * size_t(K) + size_t(t.label)];
      out.push_back(t.kind == TargetKind::LogProbability ? std::log(pb) : pb);
    }
    return out;
  }
  if (t.head == HeadKind::TokenClassification) {
    int T = 0;
    const std::vector<float> logits = forward_logits(rows, T);
    const int64_t K = model_.config().num_labels;
    require(!t.span_tokens.empty(), "explain: token classification needs an entity span to explain");
    for (size_t b = 0; b < rows.size(); ++b) {
      double lp = 0;
      for (size_t k = 0; k < t.span_tokens.size(); ++k) {
        const float* l = logits.data() + (b * size_t(T) + size_t(t.span_tokens[k])) * size_t(K);
        const double mx = *std::max_element(l, l + K);
        double z = 0;
        for (int64_t c = 0; c < K; ++c) z += std::exp(double(l[c]) - mx);
        lp += double(l[t.span_tags[k]]) - mx - std::log(z);
      }
      out.push_back(lp / double(t.span_tokens.size()));
    }
    return out;
  }
  if (t.head == HeadKind::QuestionAnswering) {
    int T = 0;
    const std::vector<float> logits = forward_logits(rows, T, &x.types);
    require(t.qa_start >= 0 && t.qa_end >= t.qa_start, "explain: question answering needs a span to explain");
    for (size_t b = 0; b < rows.size(); ++b) {
      const size_t len = rows[b].size();
      require(size_t(t.qa_end) < len, "explain: the answer span lies outside a coalition row (removal must keep positions)");
      const float* l = logits.data() + b * size_t(T) * 2;  // [T, 2]: start, end
      const double zs = double(l[2 * t.qa_start]), ze = double(l[2 * t.qa_end + 1]);
      if (t.kind == TargetKind::Logit) {
        out.push_back(zs + ze);
        continue;
      }
      // log-softmax over the row's positions (the QA head's training loss)
      double ms = -INFINITY, me = -INFINITY;
      for (size_t p = 0; p < len; ++p) ms = std::max(ms, double(l[2 * p])), me = std::max(me, double(l[2 * p + 1]));
      double ss = 0, se = 0;
      for (size_t p = 0; p < len; ++p) ss += std::exp(double(l[2 * p]) - ms), se += std::exp(double(l[2 * p + 1]) - me);
      const double lp = (zs - ms - std::log(ss)) + (ze - me - std::log(se));
      out.push_back(t.kind == TargetKind::Probability ? std::exp(lp) : lp);
    }
    return out;
  }
  require(t.head == HeadKind::CausalLM, std::string("explain: head ") + head_name(t.head) +
                                            " is not served by this value function");
  // log p(continuation | text): Σ over continuation tokens of log softmax at the previous position.
  int T = 0;
  const std::vector<float> logits = forward_logits(rows, T);
  const int64_t V = model_.config().vocab_size;
  const size_t n = x.continuation.size();
  for (size_t b = 0; b < rows.size(); ++b) {
    const size_t len = rows[b].size();
    double lp = 0;
    for (size_t j = 0; j < n; ++j) {
      const size_t pos = len - n + j - 1;
      const float* l = logits.data() + (b * size_t(T) + pos) * size_t(V);
      const double mx = *std::max_element(l, l + V);
      double z = 0;
      for (int64_t v = 0; v < V; ++v) z += std::exp(double(l[v]) - mx);
      lp += double(l[x.continuation[j]]) - mx - std::log(z);
    }
    out.push_back(lp);
  }
  return out;
}

ValueFunction TextModel::value_function(const TextInstance& x, const TextTarget& t, Removal r) {
  require(!(r == Removal::Delete && t.head == HeadKind::TokenClassification),
          "explain: token classification keeps token positions: use --removal mask");
  require(!(r == Removal::Delete && t.head == HeadKind::QuestionAnswering),
          "explain: question_answering keeps token positions so that the answer span stays put: use --removal mask "
          "(--removal delete is not served for question answering)");
  require(!(r == Removal::Delete && t.head == HeadKind::CausalLM && x.ids.empty()), "explain: nothing to delete");
  ValueFunction local = [this, &x, t, r](const std::vector<Mask>& masks) {
    if (x.columns.empty()) return score_rows(rows(x, masks, r), x, t);
    const FeatureRows f = feature_rows(x, masks);
    return score_rows(rows(x, masks, r), x, t, &f);
  };
  return sharded(local, batch_, comm_);
}

}  // namespace tessera::explain

namespace tessera::explain {

std::vector<EntitySpan> entity_spans(const TextInstance& x, const std::vector<float>& logits,
                                     const std::vector<std::string>& labels) {
  const size_t K = labels.size();
  std::vector<EntitySpan> spans;
  bool open = false;
  for (int f = 0; f < x.M(); ++f) {
    const auto& toks = x.feature_tokens[size_t(f)];
    const float* l = logits.data() + size_t(toks.front()) * K;
    const int tag = int(std::max_element(l, l + K) - l);
    const std::string& name = labels[size_t(tag)];
    const bool begin = name.rfind("B-", 0) == 0, inside = name.rfind("I-", 0) == 0;
    const std::string type = begin || inside ? name.substr(2) : "";
    if (inside && open && spans.back().type == type) {
      spans.back().text += " " + x.features[size_t(f)];
    } else if (begin || inside) {
      spans.push_back({type, x.features[size_t(f)], {}, {}});
      open = true;
    } else {
      open = false;
      continue;
    }
    for (int t : toks) {
      const float* lt = logits.data() + size_t(t) * K;
      spans.back().tokens.push_back(t);
      spans.back().tags.push_back(int(std::max_element(lt, lt + K) - lt));
    }
  }
  return spans;
}

}  // namespace tessera::explain

namespace tessera::explain {

TextInstance make_qa_instance(const QaExample& q, const TaskTokenizer& tok, const QaEncodeOptions& opt, Granularity g) {
  require(q.context.find_first_not_of(" \t\r\n") != std::string::npos, "explain: empty context (nothing to explain)");
  require(q.question.find_first_not_of(" \t\r\n") != std::string::npos, "explain: empty question");
  QaExample ex = q;
  ex.answers.clear();
  const TaskFeatures f = encode_qa({ex}, tok, opt);
  require(f.size() >= 1, "explain: the question encodes to no window");
  TextInstance x;
  x.text = q.context;
  x.question = q.question;
  x.truncated = f.size() > 1;
  const int64_t L = f.max_len;
  int64_t len = 0;
  while (len < L && f.attention_mask[size_t(len)] != 0) ++len;
  x.ids.assign(f.input_ids.begin(), f.input_ids.begin() + len);
  x.types.assign(f.token_type_ids.begin(), f.token_type_ids.begin() + len);
  x.offsets.assign(f.offsets.begin(), f.offsets.begin() + 2 * len);
  const std::string& c = q.context;
  auto space = [](char ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r'; };
  std::vector<std::pair<size_t, size_t>> span;
  int64_t prev_end = -1;
  for (int64_t t = 0; t < len; ++t) {
    const int64_t b0 = x.offsets[size_t(2 * t)], b1 = x.offsets[size_t(2 * t + 1)];
    const bool context = b0 >= 0 && b1 >= 0;
    x.special.push_back(context ? 0 : 1);
    if (!context) continue;
    const bool word_start = prev_end < 0 || b0 > prev_end || (b0 < b1 && space(c[size_t(b0)]));
    bool open = span.empty() || g == Granularity::Token || (word_start && g == Granularity::Word);
    if (word_start && g == Granularity::Sentence && !span.empty()) {
      const char e = c[span.back().second - 1];
      open = e == '.' || e == '!' || e == '?';
    }
    if (open) {
      span.emplace_back(size_t(b0), size_t(b1));
      x.feature_tokens.push_back({});
    }
    span.back().second = std::max(span.back().second, size_t(b1));
    x.feature_tokens.back().push_back(int(t));
    prev_end = b1;
  }
  require(!span.empty(), "explain: the context has no tokens in the first window (question longer than max_len?)");
  for (auto [b0, b1] : span) {
    while (b0 < b1 && space(c[b0])) ++b0;  // BPE: a token's leading space is not part of the word
    x.features.push_back(c.substr(b0, b1 - b0));
  }
  return x;
}

QaSpan TextModel::predicted_span(const TextInstance& x, int64_t padded_len) {
  // The row padded to padded_len as predict runs it (the padding's logits take part in
  // the n-best start / end choice there, then are skipped as outside the context).
  const int64_t len = int64_t(x.ids.size()), T = std::max(len, padded_len);
  std::vector<int32_t> ids(size_t(T), pad_id_), mask(size_t(T), 0), seg(size_t(T), 0);
  std::vector<int64_t> offsets(size_t(2 * T), -1);
  for (int64_t t = 0; t < len; ++t) {
    ids[size_t(t)] = x.ids[size_t(t)];
    mask[size_t(t)] = 1;
    if (x.types.size() == size_t(len)) seg[size_t(t)] = x.types[size_t(t)];
    offsets[size_t(2 * t)] = x.offsets[size_t(2 * t)];
    offsets[size_t(2 * t + 1)] = x.offsets[size_t(2 * t + 1)];
  }
  ModelInputs in;
  in.tokens = ids.data();
  in.attention_mask = mask.data();
  in.token_types = seg.data();
  ForwardOptions fo;
  fo.training = false;
  model_.forward(in, 1, int(T), fo);
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), model_.logits());
  std::vector<float> start_logits(static_cast<size_t>(T)), end_logits(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) {
    start_logits[size_t(t)] = host(size_t(2 * t));
    end_logits[size_t(t)] = host(size_t(2 * t + 1));
  }
  tasks::QaWindowLogits w{start_logits.data(), end_logits.data(), offsets.data(), T};
  tasks::SpanPrediction p = tasks::decode_span({w}, x.text);
  bool fallback = false;
  if (p.best < 0) {  // predict would answer "": take the best valid span over every position
    tasks::SpanDecodeOptions all;
    all.n_best = int(T);
    p = tasks::decode_span({w}, x.text, all);
    fallback = true;
  }
  require(p.best >= 0, "explain: the model predicts no valid answer span in the context");
  const tasks::SpanCandidate& b = p.n_best[size_t(p.best)];
  QaSpan s;
  s.fallback = fallback;
  s.start_token = int(b.start_token);
  s.end_token = int(b.end_token);
  s.start_logit = b.start_logit;
  s.end_logit = b.end_logit;
  s.byte_start = int64_t(b.byte_start);
  s.byte_end = int64_t(b.byte_end);
  s.char_start = b.char_start;
  s.char_end = b.char_end;
  s.answer = b.text;
  return s;
}

}  // namespace tessera::explain
