// The generated dataset of the feature-head tests: label "yes" iff ("light" is in the
// text) XOR (amount > 50), so neither the text nor the number alone says anything about
// the label; the fixture WordPiece vocabulary, and a tiny BERT run config over it.
#pragma once
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace features_test {

inline std::string vocab() { return tessera_test::source_dir() + "/tests/fixtures/tasks/vocab.txt"; }

struct Row {
  std::string text, label;
  double amount;
};

// label "yes" iff ("light" in the text) XOR (amount > 50); the other texts carry "darkness".
inline std::vector<Row> generate(int n, uint32_t seed, double amount_scale = 1.0) {
  std::mt19937 g(seed);
  const char* filler[] = {"the", "earth", "heaven", "waters", "moved", "upon", "face", "deep", "void", "form", "spirit"};
  std::uniform_int_distribution<int> len(3, 6), word(0, 10);
  std::uniform_real_distribution<double> amount(0, 100), coin(0, 1);
  std::vector<Row> rows;
  for (int i = 0; i < n; ++i) {
    std::vector<std::string> w;
    for (int k = len(g); k > 0; --k) w.push_back(filler[word(g)]);
    const bool keyword = coin(g) < 0.5;
    w.insert(w.begin() + std::uniform_int_distribution<int>(0, int(w.size()))(g), keyword ? "light" : "darkness");
    const double a = amount(g);
    std::string text;
    for (const auto& s : w) text += (text.empty() ? "" : " ") + s;
    rows.push_back({text, keyword != (a > 50) ? "yes" : "no", a * amount_scale});
  }
  return rows;
}

inline std::string csv(const std::vector<Row>& rows, bool with_amount = true) {
  std::ostringstream s;
  s.precision(17);  // the amounts as generated (the test recomputes the statistics from them)
  s << "text,label" << (with_amount ? ",amount" : "") << "\n";
  for (const auto& r : rows) {
    s << r.text << "," << r.label;
    if (with_amount) s << "," << r.amount;
    s << "\n";
  }
  return s.str();
}

inline std::string config(const std::string& data, const std::string& run_dir, const std::string& extra_model = "",
                   const std::string& extra_train = "", int steps = 300, int micro_batch = 16) {
  return "[model]\nfamily = \"bert\"\nhead = \"sequence_classification\"\nnum_labels = 2\nn_layer = 2\nn_head = 2\n"
         "n_embd = 16\nn_positions = 12\nvocab_size = 69\nfeature_hidden = \"16\"\n" + extra_model +
         "[data]\npath = \"" + data + "\"\n[train]\nmax_steps = " + std::to_string(steps) +
         "\nmicro_batch_size = " + std::to_string(micro_batch) +
         "\neval_interval = 0\neval_metric = \"accuracy\"\nseed = 1\n" + extra_train +
         "[optim]\nlr = 0.003\nschedule = \"linear\"\nwarmup_steps = 10\n[run]\ndir = \"" + run_dir + "\"\n";
}

}  // namespace features_test
