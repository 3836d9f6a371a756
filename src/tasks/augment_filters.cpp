#include "src/tasks/augment_filters.hpp"
#include <set>
#include <unordered_set>
#include "src/runtime/error.hpp"
#include "src/tasks/near_duplicate.hpp"

namespace tessera::tasks {

std::string FilterCounts::summary() const {
  return std::to_string(candidates) + " candidates, removed: exact-dup " + std::to_string(exact_dup) + ", near-dup " +
         std::to_string(near_dup) + ", length " + std::to_string(length) + ", classifier " + std::to_string(classifier) +
         "; surplus " + std::to_string(surplus) + "; kept " + std::to_string(kept);
}

std::vector<Candidate> filter_candidates(const std::vector<std::string>& training_texts,
                                         const std::vector<Candidate>& candidates, const std::vector<int64_t>& quota,
                                         const AugmentFilterOptions& opt, const ClassProbability& classifier,
                                         FilterCounts& counts) {
  require(opt.ngram >= 1, "augment: --ngram must be >= 1");
  require(opt.min_words >= 0 && opt.max_words >= 0, "augment: word bounds must be >= 0");
  counts = FilterCounts{};
  counts.candidates = int64_t(candidates.size());
  std::unordered_set<std::string> seen;
  std::vector<std::set<std::string>> grams;
  for (const std::string& t : training_texts) {
    seen.insert(normalize_text(t));
    if (opt.near_dup <= 1) grams.push_back(word_ngrams(t, opt.ngram));
  }
  // Exact, length and near-duplicate filters, in candidate order.
  std::vector<Candidate> pass;
  for (const Candidate& c : candidates) {
    const std::string norm = normalize_text(c.text);
    if (!norm.empty() && seen.count(norm)) {
      ++counts.exact_dup;
      continue;
    }
    const int64_t words = int64_t(split_words(norm).size());
    if (words == 0 || (opt.min_words > 0 && words < opt.min_words) || (opt.max_words > 0 && words > opt.max_words)) {
      ++counts.length;
      continue;
    }
    if (opt.near_dup <= 1) {
      const std::set<std::string> g = word_ngrams(c.text, opt.ngram);
      bool near = false;
      for (const auto& h : grams)
        if (jaccard(g, h) >= opt.near_dup) {
          near = true;
          break;
        }
      if (near) {
        ++counts.near_dup;
        continue;
      }
      grams.push_back(g);
    }
    seen.insert(norm);
    pass.push_back(c);
  }
  // Classifier filter on the survivors.
  std::vector<char> ok(pass.size(), 1);
  if (classifier && !pass.empty()) {
    std::vector<std::string> texts;
    std::vector<int32_t> labels;
    for (const Candidate& c : pass) texts.push_back(c.text), labels.push_back(c.label);
    const std::vector<double> p = classifier(texts, labels);
    require(p.size() == pass.size(), "augment: the classifier returned " + std::to_string(p.size()) +
                                         " probabilities for " + std::to_string(pass.size()) + " candidates");
    for (size_t i = 0; i < pass.size(); ++i)
      if (!(p[i] >= opt.min_confidence)) ok[i] = 0, ++counts.classifier;
  }
  std::vector<int64_t> left = quota;
  std::vector<Candidate> kept;
  for (size_t i = 0; i < pass.size(); ++i) {
    if (!ok[i]) continue;
    const int32_t y = pass[i].label;
    if (y >= 0 && size_t(y) < left.size() && left[size_t(y)] >= 0) {
      if (left[size_t(y)] == 0) {
        ++counts.surplus;
        continue;
      }
      --left[size_t(y)];
    }
    kept.push_back(pass[i]);
  }
  counts.kept = int64_t(kept.size());
  return kept;
}

}  // namespace tessera::tasks
