// Entity-level precision / recall / F1 for IOB2 (BIO) tags, reproducing seqeval
// 1.2.2: get_entities() (default, conlleval-like) and seqeval.scheme.IOB2 with
// mode="strict", then classification_report(output_dict=True).
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <tuple>

#include "src/metrics/metrics.hpp"
#include "src/metrics/python_text.hpp"
#include "src/runtime/error.hpp"

namespace tessera::metrics {
namespace {

struct Tag {
  char prefix;       // 'B', 'I' or 'O'
  std::string type;  // entity type as the mode parses it
};

// Validates one tag and splits it as seqeval does in `mode`.
Tag parse_tag(const std::string& tag, EntityMode mode, size_t sentence, size_t position) {
  auto where = [&] {
    return " (sentence " + std::to_string(sentence) + ", position " + std::to_string(position) + ")";
  };
  if (tag.empty()) throw Error("entity tags: empty tag" + where());
  const char p = tag[0];
  if (p == 'O') {
    require(tag.size() == 1, "entity tags: tag '" + tag + "' has a type after 'O'" + where() +
                                 "; expected O, B-<type> or I-<type>");
    return {'O', "_"};
  }
  if ((p != 'B' && p != 'I') || (tag.size() > 1 && tag[1] != '-'))
    throw Error("entity tags: unknown tag prefix in '" + tag + "'" + where() +
                "; expected O, B-<type> or I-<type> (IOB2 / BIO)");
  std::string type;
  if (mode == EntityMode::Default) {
    // chunk[1:].split('-', maxsplit=1)[-1] or '_'
    type = tag.size() > 2 ? tag.substr(2) : std::string();
  } else {
    // token[1:].strip('-') or '_'
    size_t b = tag.find_first_not_of('-', 1);
    if (b != std::string::npos) {
      size_t e = tag.find_last_not_of('-');
      type = tag.substr(b, e - b + 1);
    }
  }
  if (type.empty()) type = "_";
  return {p, type};
}

// seqeval.metrics.sequence_labeling.end_of_chunk / start_of_chunk.
bool end_of_chunk(char prev_tag, char tag, const std::string& prev_type, const std::string& type) {
  bool end = false;
  if (prev_tag == 'E' || prev_tag == 'S') end = true;
  if (prev_tag == 'B' && (tag == 'B' || tag == 'S' || tag == 'O')) end = true;
  if (prev_tag == 'I' && (tag == 'B' || tag == 'S' || tag == 'O')) end = true;
  if (prev_tag != 'O' && prev_tag != '.' && prev_type != type) end = true;
  return end;
}

bool start_of_chunk(char prev_tag, char tag, const std::string& prev_type, const std::string& type) {
  bool start = false;
  if (tag == 'B' || tag == 'S') start = true;
  if ((prev_tag == 'E' || prev_tag == 'S' || prev_tag == 'O') && (tag == 'E' || tag == 'I')) start = true;
  if (tag != 'O' && tag != '.' && prev_type != type) start = true;
  return start;
}

void entities_default(const std::vector<Tag>& tags, size_t sentence, std::vector<Entity>& out) {
  char prev_tag = 'O';
  std::string prev_type;
  size_t begin = 0;
  const Tag outside{'O', "_"};
  for (size_t i = 0; i <= tags.size(); ++i) {  // seq + ['O']
    const Tag& t = i < tags.size() ? tags[i] : outside;
    if (end_of_chunk(prev_tag, t.prefix, prev_type, t.type)) out.push_back({sentence, begin, i, prev_type});
    if (start_of_chunk(prev_tag, t.prefix, prev_type, t.type)) begin = i;
    prev_tag = t.prefix;
    prev_type = t.type;
  }
}

// seqeval.scheme.Tokens(..., IOB2).entities: B-X followed by the longest run of
// I-X; the end check after it always holds for IOB2, and I-X not after B-X/I-X
// never starts an entity.
void entities_strict_iob2(const std::vector<Tag>& tags, size_t sentence, std::vector<Entity>& out) {
  size_t i = 0;
  while (i < tags.size()) {
    if (tags[i].prefix != 'B') {
      ++i;
      continue;
    }
    size_t end = i + 1;
    while (end < tags.size() && tags[end].prefix == 'I' && tags[end].type == tags[i].type) ++end;
    out.push_back({sentence, i, end, tags[i].type});
    i = end;
  }
}

std::vector<Entity> extract(const std::vector<std::vector<std::string>>& sentences, EntityMode mode) {
  std::vector<Entity> out;
  for (size_t s = 0; s < sentences.size(); ++s) {
    std::vector<Tag> tags;
    tags.reserve(sentences[s].size());
    for (size_t i = 0; i < sentences[s].size(); ++i) tags.push_back(parse_tag(sentences[s][i], mode, s, i));
    if (mode == EntityMode::Default) entities_default(tags, s, out);
    else entities_strict_iob2(tags, s, out);
  }
  return out;
}

// seqeval.metrics.v1._precision_recall_fscore_support (beta=1, zero_division="warn").
PrfScores seqeval_prf(int64_t tp, int64_t pred, int64_t truth) {
  PrfScores s;
  s.precision = pred == 0 ? 0.0 : static_cast<double>(tp) / static_cast<double>(pred);
  s.recall = truth == 0 ? 0.0 : static_cast<double>(tp) / static_cast<double>(truth);
  double denom = 1.0 * s.precision + s.recall;
  if (denom == 0.0) denom = 1.0;
  s.f1 = 2.0 * s.precision * s.recall / denom;
  s.support = truth;
  return s;
}

}  // namespace

std::vector<Entity> extract_entities(const std::vector<std::vector<std::string>>& sentences, EntityMode mode) {
  return extract(sentences, mode);
}

EntityReport entity_classification_report(const std::vector<std::vector<std::string>>& y_true,
                                          const std::vector<std::vector<std::string>>& y_pred, EntityMode mode) {
  require(y_true.size() == y_pred.size(), "entity_classification_report: y_true has " +
                                              std::to_string(y_true.size()) + " sentences but y_pred has " +
                                              std::to_string(y_pred.size()));
  for (size_t s = 0; s < y_true.size(); ++s)
    require(y_true[s].size() == y_pred[s].size(),
            "entity_classification_report: sentence " + std::to_string(s) + " has " +
                std::to_string(y_true[s].size()) + " gold tags but " + std::to_string(y_pred[s].size()) +
                " predicted tags");
  using Span = std::tuple<size_t, size_t, size_t>;
  std::map<std::string, std::set<Span>> gold, pred;
  for (const auto& e : extract(y_true, mode)) gold[e.type].insert({e.sentence, e.start, e.end});
  for (const auto& e : extract(y_pred, mode)) pred[e.type].insert({e.sentence, e.start, e.end});
  std::set<std::string> types;
  for (const auto& [t, _] : gold) types.insert(t);
  for (const auto& [t, _] : pred) types.insert(t);

  EntityReport rep;
  const size_t k = types.size();
  std::vector<double> P, R, F, W;
  int64_t stp = 0, spred = 0, strue = 0;
  for (const auto& type : types) {
    const auto& g = gold[type];
    const auto& p = pred[type];
    int64_t tp = 0;
    for (const auto& span : p) tp += g.count(span);
    auto sc = seqeval_prf(tp, static_cast<int64_t>(p.size()), static_cast<int64_t>(g.size()));
    rep.per_type.push_back({type, sc});
    stp += tp;
    spred += static_cast<int64_t>(p.size());
    strue += static_cast<int64_t>(g.size());
    P.push_back(sc.precision);
    R.push_back(sc.recall);
    F.push_back(sc.f1);
    W.push_back(static_cast<double>(g.size()));
  }
  rep.micro = seqeval_prf(stp, spred, strue);
  if (k == 0) {
    const double nan = std::numeric_limits<double>::quiet_NaN();  // np.average([]) in seqeval
    rep.macro = {nan, nan, nan, 0};
  } else {
    const double n = static_cast<double>(k);
    rep.macro = {detail::numpy_sum(P) / n, detail::numpy_sum(R) / n, detail::numpy_sum(F) / n, strue};
  }
  if (strue == 0) {
    rep.weighted = {0.0, 0.0, 0.0, 0};  // seqeval: zero_division value when no gold entities
  } else {
    const double wsum = detail::numpy_sum(W);
    auto wavg = [&](const std::vector<double>& v) {
      std::vector<double> prod(k);
      for (size_t i = 0; i < k; ++i) prod[i] = v[i] * W[i];
      return detail::numpy_sum(prod) / wsum;
    };
    rep.weighted = {wavg(P), wavg(R), wavg(F), strue};
  }
  return rep;
}

}  // namespace tessera::metrics
