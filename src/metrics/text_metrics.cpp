// SQuAD v1.1 EM/F1 (the official evaluate-v1.1.py), sacrebleu BLEU (13a, exp
// smoothing, max order 4) and perplexity.
#include <algorithm>
#include <cmath>
#include <map>
#include <unordered_map>

#include "src/metrics/metrics.hpp"
#include "src/metrics/python_text.hpp"
#include "src/runtime/error.hpp"
#include "src/tokenizer/unicode_util.hpp"

namespace tessera::metrics {

// ============================================================ SQuAD v1.1

namespace {

bool is_ascii_punct(int32_t cp) {  // Python's string.punctuation
  return (cp >= 0x21 && cp <= 0x2F) || (cp >= 0x3A && cp <= 0x40) || (cp >= 0x5B && cp <= 0x60) ||
         (cp >= 0x7B && cp <= 0x7E);
}

bool is_article(const std::vector<int32_t>& cps, size_t b, size_t e) {
  const size_t n = e - b;
  auto eq = [&](const char* w) {
    for (size_t i = 0; i < n; ++i)
      if (cps[b + i] != static_cast<unsigned char>(w[i])) return false;
    return true;
  };
  return (n == 1 && eq("a")) || (n == 2 && eq("an")) || (n == 3 && eq("the"));
}

std::vector<std::string> split_on_space(const std::string& s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t sp = s.find(' ', pos);
    if (sp == std::string::npos) sp = s.size();
    if (sp > pos) out.push_back(s.substr(pos, sp - pos));
    pos = sp + 1;
  }
  return out;
}

}  // namespace

std::string squad_normalize_answer(std::string_view s) {
  // lower()
  std::vector<int32_t> cps = detail::py_lower(detail::decode_checked(s, "SQuAD answer"));
  // remove_punc(): drop string.punctuation
  cps.erase(std::remove_if(cps.begin(), cps.end(), is_ascii_punct), cps.end());
  // remove_articles(): re.sub(r'\b(a|an|the)\b', ' ', text) — whole \w runs only
  std::vector<int32_t> no_articles;
  no_articles.reserve(cps.size());
  for (size_t i = 0; i < cps.size();) {
    if (!detail::py_isword(cps[i])) {
      no_articles.push_back(cps[i++]);
      continue;
    }
    size_t j = i;
    while (j < cps.size() && detail::py_isword(cps[j])) ++j;
    if (is_article(cps, i, j)) no_articles.push_back(' ');
    else no_articles.insert(no_articles.end(), cps.begin() + i, cps.begin() + j);
    i = j;
  }
  // white_space_fix(): ' '.join(text.split())
  std::string out;
  bool pending_space = false;
  for (int32_t cp : no_articles) {
    if (detail::py_isspace(cp)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    uni::append_utf8(out, cp);
  }
  return out;
}

bool squad_exact_match(std::string_view prediction, std::string_view ground_truth) {
  return squad_normalize_answer(prediction) == squad_normalize_answer(ground_truth);
}

double squad_f1(std::string_view prediction, std::string_view ground_truth) {
  const auto pred = split_on_space(squad_normalize_answer(prediction));
  const auto gold = split_on_space(squad_normalize_answer(ground_truth));
  std::map<std::string, int64_t> cp, cg;
  for (const auto& t : pred) ++cp[t];
  for (const auto& t : gold) ++cg[t];
  int64_t same = 0;
  for (const auto& [tok, n] : cp) {
    auto it = cg.find(tok);
    if (it != cg.end()) same += std::min(n, it->second);
  }
  if (same == 0) return 0.0;
  const double precision = 1.0 * static_cast<double>(same) / static_cast<double>(pred.size());
  const double recall = 1.0 * static_cast<double>(same) / static_cast<double>(gold.size());
  return (2 * precision * recall) / (precision + recall);
}

SquadScores squad_v1_evaluate(const std::vector<std::string>& predictions,
                              const std::vector<std::vector<std::string>>& ground_truths) {
  require(predictions.size() == ground_truths.size(),
          "squad_v1_evaluate: " + std::to_string(predictions.size()) + " predictions but " +
              std::to_string(ground_truths.size()) + " questions with ground truths");
  require(!predictions.empty(), "squad_v1_evaluate: no questions");
  int64_t em = 0;
  double f1 = 0.0;
  for (size_t i = 0; i < predictions.size(); ++i) {
    require(!ground_truths[i].empty(),
            "squad_v1_evaluate: question " + std::to_string(i) + " has no ground-truth answers");
    bool best_em = false;
    double best_f1 = 0.0;
    for (size_t g = 0; g < ground_truths[i].size(); ++g) {
      best_em = best_em || squad_exact_match(predictions[i], ground_truths[i][g]);
      const double f = squad_f1(predictions[i], ground_truths[i][g]);
      if (g == 0 || f > best_f1) best_f1 = f;
    }
    em += best_em;
    f1 += best_f1;
  }
  SquadScores s;
  s.total = predictions.size();
  s.exact_match = 100.0 * static_cast<double>(em) / static_cast<double>(s.total);
  s.f1 = 100.0 * f1 / static_cast<double>(s.total);
  return s;
}

// ============================================================ BLEU

namespace {

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  if (s.find(from) == std::string::npos) return;
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  for (;;) {
    size_t hit = s.find(from, pos);
    if (hit == std::string::npos) break;
    out.append(s, pos, hit - pos);
    out.append(to);
    pos = hit + from.size();
  }
  out.append(s, pos, std::string::npos);
  s.swap(out);
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// r'([\{-\~\[-\` -\&\(-\+\:-\@\/])' : { | } ~ [ \ ] ^ _ ` space ! " # $ % & ( ) * + : ; < = > ? @ /
bool in_13a_class(char c) {
  const auto u = static_cast<unsigned char>(c);
  return (u >= 0x7B && u <= 0x7E) || (u >= 0x5B && u <= 0x60) || (u >= 0x20 && u <= 0x26) ||
         (u >= 0x28 && u <= 0x2B) || (u >= 0x3A && u <= 0x40) || u == 0x2F;
}

// The four TokenizerRegexp substitutions, each a left-to-right non-overlapping
// re.sub. They only look at ASCII, so scanning UTF-8 bytes gives the same result
// as Python scanning code points.
std::string regexp_tokenize(const std::string& in) {
  std::string a;
  a.reserve(in.size() * 2);
  for (char c : in) {  // (1) punctuation / symbols -> ' c '
    if (in_13a_class(c)) {
      a.push_back(' ');
      a.push_back(c);
      a.push_back(' ');
    } else {
      a.push_back(c);
    }
  }
  std::string b;  // (2) ([^0-9])([\.,]) -> '\1 \2 '
  b.reserve(a.size() * 2);
  for (size_t i = 0; i < a.size();) {
    if (i + 1 < a.size() && !is_digit(a[i]) && (a[i + 1] == '.' || a[i + 1] == ',')) {
      b.push_back(a[i]);
      b.push_back(' ');
      b.push_back(a[i + 1]);
      b.push_back(' ');
      i += 2;
    } else {
      b.push_back(a[i++]);
    }
  }
  std::string c;  // (3) ([\.,])([^0-9]) -> ' \1 \2'
  c.reserve(b.size() * 2);
  for (size_t i = 0; i < b.size();) {
    if (i + 1 < b.size() && (b[i] == '.' || b[i] == ',') && !is_digit(b[i + 1])) {
      c.push_back(' ');
      c.push_back(b[i]);
      c.push_back(' ');
      c.push_back(b[i + 1]);
      i += 2;
    } else {
      c.push_back(b[i++]);
    }
  }
  std::string d;  // (4) ([0-9])(-) -> '\1 \2 '
  d.reserve(c.size() * 2);
  for (size_t i = 0; i < c.size();) {
    if (i + 1 < c.size() && is_digit(c[i]) && c[i + 1] == '-') {
      d.push_back(c[i]);
      d.push_back(' ');
      d.push_back('-');
      d.push_back(' ');
      i += 2;
    } else {
      d.push_back(c[i++]);
    }
  }
  // ' '.join(line.split())
  std::string out;
  for (const auto& tok : python_split(d)) {
    if (!out.empty()) out.push_back(' ');
    out += tok;
  }
  return out;
}

std::string rstrip_python(std::string_view s) {
  const auto cps = detail::decode_checked(s, "BLEU segment");
  size_t n = cps.size();
  while (n > 0 && detail::py_isspace(cps[n - 1])) --n;
  return detail::encode(std::vector<int32_t>(cps.begin(), cps.begin() + static_cast<std::ptrdiff_t>(n)));
}

constexpr int kMaxOrder = 4;
using NgramCounts = std::unordered_map<std::string, int64_t>;

// sacrebleu extract_all_word_ngrams(line, 1, 4); n-grams keyed by their tokens
// joined with ' ' (tokens never contain a space), one map per order.
std::array<NgramCounts, kMaxOrder> ngrams_of(const std::vector<std::string>& toks) {
  std::array<NgramCounts, kMaxOrder> out;
  for (int n = 1; n <= kMaxOrder; ++n) {
    for (size_t i = 0; i + n <= toks.size(); ++i) {
      std::string key = toks[i];
      for (int j = 1; j < n; ++j) {
        key.push_back(' ');
        key += toks[i + j];
      }
      ++out[n - 1][key];
    }
  }
  return out;
}

std::string preprocess(const std::string& s, const BleuOptions& opt) {
  return opt.lowercase ? tokenize_13a(python_lower(s)) : tokenize_13a(s);
}

double my_log(double x) { return x == 0.0 ? -9999999999.0 : std::log(x); }

}  // namespace

std::string tokenize_13a(std::string_view raw) {
  std::string line = rstrip_python(raw);  // BLEU._preprocess_segment: sent.rstrip()
  replace_all(line, "<skipped>", "");
  replace_all(line, "-\n", "");
  replace_all(line, "\n", " ");
  if (line.find('&') != std::string::npos) {
    replace_all(line, "&quot;", "\"");
    replace_all(line, "&amp;", "&");
    replace_all(line, "&lt;", "<");
    replace_all(line, "&gt;", ">");
  }
  return regexp_tokenize(" " + line + " ");
}

BleuScore corpus_bleu(const std::vector<std::string>& hypotheses,
                      const std::vector<std::vector<std::string>>& references, const BleuOptions& opt) {
  require(!hypotheses.empty(), "corpus_bleu: no hypotheses");
  require(!references.empty(), "corpus_bleu: no reference streams");
  for (size_t k = 0; k < references.size(); ++k)
    require(references[k].size() == hypotheses.size(),
            "corpus_bleu: reference stream " + std::to_string(k) + " has " + std::to_string(references[k].size()) +
                " segments but there are " + std::to_string(hypotheses.size()) + " hypotheses");
  int64_t sys_len = 0, ref_len = 0;
  std::array<int64_t, kMaxOrder> correct{}, total{};
  for (size_t i = 0; i < hypotheses.size(); ++i) {
    // _extract_reference_info: per-n-gram max count over the references
    std::array<NgramCounts, kMaxOrder> ref_ngrams;
    std::vector<int64_t> ref_lens;
    for (const auto& stream : references) {
      const auto toks = python_split(preprocess(stream[i], opt));
      ref_lens.push_back(static_cast<int64_t>(toks.size()));
      auto ng = ngrams_of(toks);
      for (int n = 0; n < kMaxOrder; ++n)
        for (const auto& [key, cnt] : ng[n]) {
          auto& slot = ref_ngrams[n][key];
          slot = std::max(slot, cnt);
        }
    }
    const auto hyp = python_split(preprocess(hypotheses[i], opt));
    const auto hyp_len = static_cast<int64_t>(hyp.size());
    // _get_closest_ref_len: closest length, ties to the shorter
    int64_t closest_diff = -1, closest_len = -1;
    for (int64_t rl : ref_lens) {
      const int64_t diff = std::llabs(hyp_len - rl);
      if (closest_diff == -1 || diff < closest_diff) {
        closest_diff = diff;
        closest_len = rl;
      } else if (diff == closest_diff && rl < closest_len) {
        closest_len = rl;
      }
    }
    const auto hyp_ngrams = ngrams_of(hyp);
    for (int n = 0; n < kMaxOrder; ++n)
      for (const auto& [key, cnt] : hyp_ngrams[n]) {
        total[n] += cnt;
        auto it = ref_ngrams[n].find(key);
        if (it != ref_ngrams[n].end()) correct[n] += std::min(cnt, it->second);
      }
    sys_len += hyp_len;
    ref_len += closest_len;
  }

  // BLEU.compute_bleu(smooth_method='exp')
  BleuScore r;
  r.counts = correct;
  r.totals = total;
  r.sys_len = sys_len;
  r.ref_len = ref_len;
  r.bp = 1.0;
  if (sys_len < ref_len)
    r.bp = sys_len > 0 ? std::exp(1 - static_cast<double>(ref_len) / static_cast<double>(sys_len)) : 0.0;
  if (std::all_of(correct.begin(), correct.end(), [](int64_t c) { return c == 0; })) {
    r.score = 0.0;
    return r;
  }
  double smooth_mteval = 1.0;
  int eff_order = kMaxOrder;
  for (int n = 1; n <= kMaxOrder; ++n) {
    if (total[n - 1] == 0) break;
    if (opt.effective_order) eff_order = n;
    if (correct[n - 1] == 0) {
      smooth_mteval *= 2;
      r.precisions[n - 1] = 100. / (smooth_mteval * static_cast<double>(total[n - 1]));
    } else {
      r.precisions[n - 1] = 100. * static_cast<double>(correct[n - 1]) / static_cast<double>(total[n - 1]);
    }
  }
  double log_sum = 0.0;
  for (int n = 0; n < eff_order; ++n) log_sum += my_log(r.precisions[n]);
  r.score = r.bp * std::exp(log_sum / eff_order);
  return r;
}

BleuScore sentence_bleu(const std::string& hypothesis, const std::vector<std::string>& references,
                        BleuOptions options) {
  require(!references.empty(), "sentence_bleu: no references");
  std::vector<std::vector<std::string>> streams;
  for (const auto& r : references) streams.push_back({r});
  return corpus_bleu({hypothesis}, streams, options);
}

// ============================================================ perplexity

double perplexity(const std::vector<double>& token_nll) {
  require(!token_nll.empty(), "perplexity: no tokens");
  double sum = 0.0;
  for (size_t i = 0; i < token_nll.size(); ++i) {
    require(std::isfinite(token_nll[i]), "perplexity: token " + std::to_string(i) + " has a non-finite NLL");
    sum += token_nll[i];
  }
  return std::exp(sum / static_cast<double>(token_nll.size()));
}

double perplexity_from_sum(double total_nll, int64_t token_count) {
  require(token_count > 0, "perplexity_from_sum: token_count must be positive, got " + std::to_string(token_count));
  require(std::isfinite(total_nll), "perplexity_from_sum: total NLL is not finite");
  return std::exp(total_nll / static_cast<double>(token_count));
}

}  // namespace tessera::metrics
