// The filters of tessera augment, applied to candidate texts in candidate order; a
// candidate is removed by the first filter it fails, and counted there:
//   exact-dup  normalize_text equal to a training text or an earlier kept candidate;
//   length     no word at all, fewer than min_words or more than max_words words
//              (0 = no bound; words of the normalised text);
//   near-dup   Jaccard of word n-grams (n = ngram) ≥ near_dup with a training text or
//              an earlier candidate that passed the duplicate filters (near_dup > 1 = off);
//   classifier the probability that a classifier gives the candidate's intended class
//              is below min_confidence (run on the candidates that passed the others;
//              no classifier = off).
// Candidates that pass are kept until a class has `quota` kept candidates (quota < 0:
// no limit); the rest are dropped as surplus (not a filter, counted apart).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace tessera::tasks {

struct AugmentFilterOptions {
  int min_words = 0, max_words = 0;
  double near_dup = 0.8;
  int ngram = 2;
  double min_confidence = 0.5;
};

struct Candidate {
  std::string text;
  int32_t label = 0;
  std::string provenance;  // generated | perturbed
  std::string sources;     // source example ids, ';'-separated
};

struct FilterCounts {
  int64_t candidates = 0, exact_dup = 0, near_dup = 0, length = 0, classifier = 0, surplus = 0, kept = 0;
  std::string summary() const;  // "N candidates, removed: exact-dup a, near-dup b, length c, classifier d; ..."
};

// probabilities(texts, labels) → p(label | text) per text (empty function = no classifier filter).
using ClassProbability = std::function<std::vector<double>(const std::vector<std::string>&, const std::vector<int32_t>&)>;

// quota[c]: how many candidates of class c to keep at most (-1 = all).
std::vector<Candidate> filter_candidates(const std::vector<std::string>& training_texts,
                                         const std::vector<Candidate>& candidates, const std::vector<int64_t>& quota,
                                         const AugmentFilterOptions& opt, const ClassProbability& classifier,
                                         FilterCounts& counts);

}  // namespace tessera::tasks
