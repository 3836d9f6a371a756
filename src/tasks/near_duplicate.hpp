// Duplicate detection for synthetic training text (tessera augment's filters).
//   normalize_text: lower-case ASCII letters, every run of non-alphanumeric bytes
//                   (ASCII punctuation, whitespace) becomes one space, trimmed;
//                   bytes >= 0x80 (UTF-8) are kept as they are.
//   word_ngrams:    the set of word n-grams of the normalised text (words joined by
//                   one space); a text with fewer than n words gives its whole word
//                   sequence as one n-gram (so short texts still compare).
//   jaccard:        |A ∩ B| / |A ∪ B| (two empty sets: 1).
// Exact duplicates: equal normalize_text. Near duplicates: jaccard of the word
// n-gram sets ≥ a threshold.
#pragma once
#include <set>
#include <string>
#include <vector>

namespace tessera::tasks {

std::string normalize_text(const std::string& text);
std::vector<std::string> split_words(const std::string& text);  // at ASCII whitespace
std::set<std::string> word_ngrams(const std::string& text, int n);
double jaccard(const std::set<std::string>& a, const std::set<std::string>& b);

}  // namespace tessera::tasks
