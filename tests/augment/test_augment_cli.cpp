// `tessera augment` end to end with tiny models: LM generation from a random-init tiny
// GPT-2 (byte tokenizer) is deterministic for a seed and the same on 1 and 2 ranks;
// perturbation output has the provenance columns and prepares; the classifier filter
// drops exactly the candidates a crafted classifier checkpoint gives < threshold
// (checked against `tessera predict`); training with train.smote_ratio runs on 1 rank
// and on a dp=2 grid; bad input (a generator without a causal-LM head, a missing label
// column, an unknown class) fails with a clear message.
#include "io/task_dataset.hpp"  // first: see the kIgnoreIndex note there
#include <gtest/gtest.h>
#include <mpi.h>
#include <Kokkos_Core.hpp>
#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>
#include <sstream>
#include <nlohmann/json.hpp>
#include "cli_fixture.hpp"
#include "initial_checkpoint.hpp"
#include "io/task_readers.hpp"
#include "test_support.hpp"

using namespace tessera_test;

namespace {

std::string fixture(const std::string& name) { return source_dir() + "/tests/fixtures/tasks/" + name; }

// 24 rows: 20 "pos", 4 "neg".
std::string write_train_csv(const std::filesystem::path& dir) {
  std::string t = "text,label\n";
  const char* pos[] = {"the earth was good",   "and god saw the light",  "light upon the earth",  "the heaven and the earth",
                       "god said let there be", "and there was light",    "the beginning was good", "god created the heaven",
                       "the light was good",    "and the earth was light", "god saw the heaven",     "let there be the earth",
                       "the good light",        "the heaven was good",    "god and the light",      "in the beginning god",
                       "the earth and light",   "there was the heaven",   "god was good",           "the beginning and the end"};
  const char* neg[] = {"darkness was upon the face of the deep", "and the darkness he called night",
                       "without form and void", "the deep was dark and void"};
  for (const char* s : pos) t += std::string(s) + ",pos\n";
  for (const char* s : neg) t += "\"" + std::string(s) + "\",neg\n";
  const auto p = dir / "train.csv";
  write_file(p, t);
  return p.string();
}

// A tiny random-init causal LM over bytes (context 512) as <dir>/gen/checkpoints/step_00000001.h5.
std::string tiny_generator(const std::filesystem::path& dir) {
  const auto cfg = dir / "gen.toml";
  write_file(cfg, "[model]\nn_layer = 2\nn_head = 2\nn_embd = 32\nn_positions = 512\nvocab_size = 257\n"
                  "[data]\npath = \"unused.h5\"\nseq_len = 32\n[train]\nmicro_batch_size = 1\n[run]\ndir = \"" +
                      (dir / "gen").string() + "\"\n");
  write_initial_checkpoint(cfg.string(), dir / "gen", 3, "gpt2");
  return (dir / "gen" / "checkpoints" / "step_00000001.h5").string();
}

// A crafted 2-class BERT classifier (random init) over the fixture WordPiece vocabulary.
struct Classifier {
  std::string config, dataset;
};
Classifier tiny_classifier(const std::filesystem::path& dir, const std::string& train_csv) {
  Classifier c;
  c.dataset = (dir / "cls.h5").string();
  auto r = run_tessera("prepare --task classification --input " + train_csv + " --vocab " + fixture("vocab.txt") +
                       " --max-len 16 --output " + c.dataset);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  c.config = (dir / "cls.toml").string();
  write_file(c.config, "[model]\nfamily = \"bert\"\nhead = \"sequence_classification\"\nnum_labels = 2\nn_layer = 2\n"
                       "n_head = 2\nn_embd = 16\nn_positions = 16\nvocab_size = 69\n[data]\npath = \"" +
                           c.dataset + "\"\n[train]\nmicro_batch_size = 4\n[run]\ndir = \"" +
                           (dir / "cls").string() + "\"\n");
  write_initial_checkpoint(c.config, dir / "cls", 11);
  return c;
}

std::vector<std::string> csv_column(const std::string& path, const std::string& col) {
  tessera::ClassificationReadOptions ro;
  ro.label_column = col;
  std::vector<std::string> out;
  const auto d = tessera::read_classification(path, ro);
  for (const auto& e : d.examples) out.push_back(d.label_names[size_t(e.label)]);
  return out;
}

}  // namespace

TEST(AugmentCli, GenerationIsSeededSameOnTwoRanksAndFiltersAreLogged) {
  const auto dir = fresh_dir("augment_generate");
  const std::string train = write_train_csv(dir);
  const std::string gen = tiny_generator(dir);
  const std::string args = "augment --input " + train + " --method generate --generator " + gen +
                           " --tokenizer byte --count 6 --shots 2 --max-new-tokens 12 --temperature 1.0 --top-k 0 "
                           "--stop . --seed 5 --near-dup 0.9 --min-words 1";
  auto a = run_tessera(args + " --output " + (dir / "a.csv").string() + " --log " + (dir / "a.log").string());
  ASSERT_EQ(a.exit_code, 0) << a.output;
  auto b = run_tessera(args + " --output " + (dir / "b.csv").string());
  ASSERT_EQ(b.exit_code, 0) << b.output;
  const std::string text_a = read_file(dir / "a.csv");
  EXPECT_EQ(text_a, read_file(dir / "b.csv"));
  auto m = run_mpi(2, args + " --output " + (dir / "m.csv").string());
  ASSERT_EQ(m.exit_code, 0) << m.output;
  EXPECT_EQ(text_a, read_file(dir / "m.csv")) << "2 ranks differ from 1";
  auto other = run_tessera(args.substr(0, args.find("--seed")) + "--seed 6 --near-dup 0.9 --min-words 1 --output " +
                           (dir / "c.csv").string());
  ASSERT_EQ(other.exit_code, 0) << other.output;
  EXPECT_NE(text_a, read_file(dir / "c.csv")) << "another seed, the same candidates";

  // 6 × 1.5 = 9 candidates of class neg; the log counts every filter.
  const std::string log = read_file(dir / "a.log");
  EXPECT_NE(log.find("9 candidates, removed: exact-dup "), std::string::npos) << log;
  EXPECT_NE(log.find("neg=4 (+6)"), std::string::npos) << log;
  EXPECT_NE(a.output.find("9 candidates"), std::string::npos) << a.output;
  // provenance column: 24 original rows (ids 0..23), then generated ones citing 2 neg examples (ids 20..23)
  const auto prov = csv_column((dir / "a.csv").string(), "provenance");
  ASSERT_GE(prov.size(), 24u);
  for (size_t i = 0; i < 24; ++i) EXPECT_EQ(prov[i], "original");
  for (size_t i = 24; i < prov.size(); ++i) EXPECT_EQ(prov[i], "generated");
  std::istringstream lines(text_a);
  std::string line;
  std::getline(lines, line);
  EXPECT_EQ(line, "text,label,provenance,source_ids");
  int row = 0;
  while (std::getline(lines, line)) {
    if (++row <= 24) continue;
    const std::string ids = line.substr(line.rfind(',') + 1);
    std::stringstream ss(ids);
    int n = 0;
    for (std::string id; std::getline(ss, id, ';'); ++n) {
      EXPECT_GE(std::stoi(id), 20) << line;
      EXPECT_LE(std::stoi(id), 23) << line;
    }
    EXPECT_EQ(n, 2) << line;
    EXPECT_NE(line.find(",neg,generated,"), std::string::npos) << line;
  }
  // ready for prepare
  auto p = run_tessera("prepare --task classification --input " + (dir / "a.csv").string() + " --vocab " +
                       fixture("vocab.txt") + " --max-len 16 --output " + (dir / "a.h5").string());
  EXPECT_EQ(p.exit_code, 0) << p.output;
}

TEST(AugmentCli, PerturbationProvenanceAndDeterminism) {
  const auto dir = fresh_dir("augment_perturb");
  const std::string train = write_train_csv(dir);
  const std::string args = "augment --input " + train + " --method perturb --target-ratio 0.5 --seed 2 --swaps 1 "
                           "--delete-prob 0.2";
  auto a = run_tessera(args + " --output " + (dir / "a.csv").string() + " --log " + (dir / "a.log").string());
  ASSERT_EQ(a.exit_code, 0) << a.output;
  auto b = run_tessera(args + " --output " + (dir / "b.csv").string());
  ASSERT_EQ(b.exit_code, 0) << b.output;
  EXPECT_EQ(read_file(dir / "a.csv"), read_file(dir / "b.csv"));
  // 0.5 × 20 − 4 = 6 perturbed negatives asked; exact copies of a source are removed
  const std::string log = read_file(dir / "a.log");
  EXPECT_NE(log.find("6 candidates, removed: exact-dup "), std::string::npos) << log;
  const auto prov = csv_column((dir / "a.csv").string(), "provenance");
  const auto labels = csv_column((dir / "a.csv").string(), "label");
  ASSERT_GT(prov.size(), 24u);
  for (size_t i = 24; i < prov.size(); ++i) {
    EXPECT_EQ(prov[i], "perturbed");
    EXPECT_EQ(labels[i], "neg");
  }
}

TEST(AugmentCli, ClassifierFilterDropsLowConfidenceCandidates) {
  const auto dir = fresh_dir("augment_classifier");
  const std::string train = write_train_csv(dir);
  const Classifier cls = tiny_classifier(dir, train);
  // Unfiltered perturbations first; then the classifier's p(neg) of each, from predict.
  const std::string base = "augment --input " + train + " --method perturb --count 12 --seed 3 --delete-prob 0.3 ";
  auto all = run_tessera(base + "--output " + (dir / "all.csv").string());
  ASSERT_EQ(all.exit_code, 0) << all.output;
  // the candidates that passed the other filters, in order
  tessera::ClassificationReadOptions ro;
  const auto d = tessera::read_classification((dir / "all.csv").string(), ro);
  std::string jsonl;
  std::vector<std::string> cand;
  for (size_t i = 24; i < d.examples.size(); ++i) {
    cand.push_back(d.examples[i].text);
    jsonl += nlohmann::json({{"text", d.examples[i].text}}).dump() + "\n";
  }
  ASSERT_GE(cand.size(), 6u);
  write_file(dir / "cand.jsonl", jsonl);
  auto pr = run_tessera("predict " + cls.config + " --input " + (dir / "cand.jsonl").string() + " --output " +
                        (dir / "pred.jsonl").string());
  ASSERT_EQ(pr.exit_code, 0) << pr.output;
  std::vector<double> p_neg;
  std::istringstream in(read_file(dir / "pred.jsonl"));
  for (std::string l; std::getline(in, l);) p_neg.push_back(nlohmann::json::parse(l)["probabilities"]["neg"].get<double>());
  ASSERT_EQ(p_neg.size(), cand.size());
  std::vector<double> sorted = p_neg;
  std::sort(sorted.begin(), sorted.end());
  const double thr = 0.5 * (sorted[sorted.size() / 2 - 1] + sorted[sorted.size() / 2]);  // between two values
  ASSERT_LT(sorted[sorted.size() / 2 - 1], sorted[sorted.size() / 2]) << "crafted classifier gives ties";
  auto f = run_tessera(base + "--classifier " + cls.config + " --min-confidence " + std::to_string(thr) +
                       " --output " + (dir / "f.csv").string() + " --log " + (dir / "f.log").string());
  ASSERT_EQ(f.exit_code, 0) << f.output;
  std::vector<std::string> want;
  for (size_t i = 0; i < cand.size(); ++i)
    if (p_neg[i] >= thr) want.push_back(cand[i]);
  const auto e = tessera::read_classification((dir / "f.csv").string(), ro);
  std::vector<std::string> got;
  for (size_t i = 24; i < e.examples.size(); ++i) got.push_back(e.examples[i].text);
  EXPECT_EQ(got, want);
  const size_t dropped = cand.size() - want.size();
  EXPECT_GT(dropped, 0u);
  EXPECT_NE(read_file(dir / "f.log").find("classifier " + std::to_string(dropped) + ";"), std::string::npos)
      << read_file(dir / "f.log");
}

TEST(AugmentCli, BadInputFailsClearly) {
  const auto dir = fresh_dir("augment_badinput");
  const std::string train = write_train_csv(dir);
  const Classifier cls = tiny_classifier(dir, train);
  const std::string bert = (dir / "cls" / "checkpoints" / "step_00000001.h5").string();
  auto r = run_tessera("augment --input " + train + " --output " + (dir / "o.csv").string() + " --generator " + bert +
                       " --tokenizer byte");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("causal_lm head"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(bert), std::string::npos) << r.output;
  write_file(dir / "nolabel.csv", "text,category\nhello there,a\nbye now,b\n");
  r = run_tessera("augment --method perturb --input " + (dir / "nolabel.csv").string() + " --output " +
                  (dir / "o.csv").string());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("label"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("nolabel.csv"), std::string::npos) << r.output;
  r = run_tessera("augment --method perturb --classes maybe --input " + train + " --output " + (dir / "o.csv").string());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("label 'maybe'"), std::string::npos) << r.output;
  r = run_tessera("augment --method generate --input " + train + " --output " + (dir / "o.csv").string());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("--generator"), std::string::npos) << r.output;
}

TEST(AugmentCli, TrainingWithSmoteRunsOnOneRankAndOnADpGrid) {
  const auto dir = fresh_dir("augment_smote_train");
  const std::string train = write_train_csv(dir);
  const Classifier cls = tiny_classifier(dir, train);
  for (int np : {1, 2}) {
    const auto cfg = dir / ("smote" + std::to_string(np) + ".toml");
    write_file(cfg, "[model]\nfamily = \"bert\"\nhead = \"sequence_classification\"\nnum_labels = 2\nn_layer = 2\n"
                    "n_head = 2\nn_embd = 16\nn_positions = 16\nvocab_size = 69\n[data]\npath = \"" +
                        cls.dataset + "\"\n[train]\nmicro_batch_size = " + std::to_string(8 / np) +
                        "\nmax_steps = 6\nsmote_ratio = 2.5\nsmote_k = 3\nseed = 4\n[parallel]\ndp = " +
                        std::to_string(np) + "\n[run]\ndir = \"" + (dir / ("run" + std::to_string(np))).string() +
                        "\"\n");
    auto r = np == 1 ? run_tessera("train " + cfg.string()) : run_mpi(2, "train " + cfg.string());
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("SMOTE on pooled head inputs: 2.5 synthetic rows per minority row, k 3, minority class ids [0]"),
              std::string::npos)
        << r.output;
    EXPECT_NE(r.output.find("done: 6 steps"), std::string::npos) << r.output;
  }
  // SMOTE on a dataset without a minority class / on a non-classification model
  write_file(dir / "even.csv", "text,label\na b,x\nc d,y\ne f,x\ng h,y\n");
  auto p = run_tessera("prepare --task classification --input " + (dir / "even.csv").string() + " --vocab " +
                       fixture("vocab.txt") + " --max-len 16 --output " + (dir / "even.h5").string());
  ASSERT_EQ(p.exit_code, 0) << p.output;
  write_file(dir / "even.toml", "[model]\nfamily = \"bert\"\nhead = \"sequence_classification\"\nnum_labels = 2\n"
                                "n_layer = 1\nn_head = 2\nn_embd = 16\nn_positions = 16\nvocab_size = 69\n[data]\npath = \"" +
                                    (dir / "even.h5").string() +
                                    "\"\n[train]\nmicro_batch_size = 2\nmax_steps = 1\nsmote_ratio = 1\n[run]\ndir = \"" +
                                    (dir / "even").string() + "\"\n");
  auto e = run_tessera("train " + (dir / "even.toml").string());
  EXPECT_NE(e.exit_code, 0);
  EXPECT_NE(e.output.find("no minority class"), std::string::npos) << e.output;
}

// The bundled SmolLM2-135M-Instruct as the generator (the slow one: import + 3 candidates).
TEST(AugmentCli, SmolLM2GeneratesEnglishMinoritySentences) {
  const std::string gguf = source_dir() + "/.cache/assets/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
  ASSERT_TRUE(std::filesystem::exists(gguf)) << "SmolLM2 asset missing: " << gguf << " not found; run scripts/fetch_assets.sh";
  const auto dir = fresh_dir("augment_smollm2");
  const std::string train = write_train_csv(dir);
  const std::string h5 = (dir / "smollm2.h5").string();
  auto im = run_tessera("import --from " + gguf + " --out " + h5);
  ASSERT_EQ(im.exit_code, 0) << im.output;
  auto r = run_tessera("augment --input " + train + " --output " + (dir / "o.csv").string() + " --generator " + h5 +
                       " --tokenizer " + gguf + " --count 2 --shots 3 --max-new-tokens 24 --seed 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("3 candidates, removed:"), std::string::npos) << r.output;
  tessera::ClassificationReadOptions ro;
  const auto d = tessera::read_classification((dir / "o.csv").string(), ro);
  ASSERT_GE(d.examples.size(), 25u) << r.output;
  for (size_t i = 24; i < d.examples.size(); ++i) {
    const std::string& t = d.examples[i].text;
    int letters = 0, spaces = 0;
    for (char c : t) letters += std::isalpha(static_cast<unsigned char>(c)) != 0, spaces += c == ' ';
    EXPECT_GE(spaces, 2) << t;  // at least three words
    EXPECT_GT(letters, int(t.size()) / 2) << t;
  }
}

// The classifier filter with a feature head: generated text has no user columns, so a
// schema of text-derived features only (prepare --text-features) is computed from each
// candidate (the same vectors predict computes from the text); numeric or categorical
// columns are refused before any candidate is made, naming the columns.
namespace {
std::string feature_classifier(const std::filesystem::path& dir, const std::string& name, const std::string& train_csv,
                               const std::string& features) {
  const std::string data = (dir / (name + ".h5")).string(), cfg = (dir / (name + ".toml")).string();
  auto r = run_tessera("prepare --task classification --input " + train_csv + " --vocab " + fixture("vocab.txt") +
                       " --max-len 16 " + features + " --output " + data);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  write_file(cfg, "[model]\nfamily = \"bert\"\nhead = \"sequence_classification\"\nnum_labels = 2\nn_layer = 2\n"
                  "n_head = 2\nn_embd = 16\nn_positions = 16\nvocab_size = 69\nfeature_hidden = \"8\"\n"
                  "initializer_range = 0.5\n[data]\npath = \"" + data + "\"\n[train]\nmicro_batch_size = 4\n"
                  "max_steps = 3\neval_interval = 0\n[run]\ndir = \"" + (dir / name).string() + "\"\n");
  r = run_tessera("train " + cfg);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return cfg;
}
}  // namespace

TEST(AugmentCli, ClassifierFilterComputesTextDerivedFeatures) {
  const auto dir = fresh_dir("augment_classifier_features");
  const std::string train = write_train_csv(dir);
  const std::string cls = feature_classifier(dir, "cls", train, "--text-features words,tokens,upper_ratio");
  const std::string base = "augment --input " + train + " --method perturb --count 12 --seed 3 --delete-prob 0.3 ";
  auto all = run_tessera(base + "--output " + (dir / "all.csv").string());
  ASSERT_EQ(all.exit_code, 0) << all.output;
  tessera::ClassificationReadOptions ro;
  const auto d = tessera::read_classification((dir / "all.csv").string(), ro);
  std::string jsonl;
  std::vector<std::string> cand;
  for (size_t i = 24; i < d.examples.size(); ++i) {
    cand.push_back(d.examples[i].text);
    jsonl += nlohmann::json({{"text", d.examples[i].text}}).dump() + "\n";
  }
  ASSERT_GE(cand.size(), 6u);
  write_file(dir / "cand.jsonl", jsonl);
  auto pr = run_tessera("predict " + cls + " --input " + (dir / "cand.jsonl").string() + " --output " +
                        (dir / "pred.jsonl").string());
  ASSERT_EQ(pr.exit_code, 0) << pr.output;
  std::vector<double> p_neg;
  std::istringstream in(read_file(dir / "pred.jsonl"));
  for (std::string l; std::getline(in, l);) p_neg.push_back(nlohmann::json::parse(l)["probabilities"]["neg"].get<double>());
  ASSERT_EQ(p_neg.size(), cand.size());
  std::vector<double> sorted = p_neg;
  std::sort(sorted.begin(), sorted.end());
  const double thr = 0.5 * (sorted[sorted.size() / 2 - 1] + sorted[sorted.size() / 2]);
  ASSERT_LT(sorted[sorted.size() / 2 - 1], sorted[sorted.size() / 2]) << "the classifier gives ties";
  auto f = run_tessera(base + "--classifier " + cls + " --min-confidence " + std::to_string(thr) + " --output " +
                       (dir / "f.csv").string());
  ASSERT_EQ(f.exit_code, 0) << f.output;
  std::vector<std::string> want, got;
  for (size_t i = 0; i < cand.size(); ++i)
    if (p_neg[i] >= thr) want.push_back(cand[i]);
  const auto e = tessera::read_classification((dir / "f.csv").string(), ro);
  for (size_t i = 24; i < e.examples.size(); ++i) got.push_back(e.examples[i].text);
  EXPECT_EQ(got, want);
  EXPECT_LT(got.size(), cand.size());
}

TEST(AugmentCli, ClassifierFilterRefusesUserFeatureColumns) {
  const auto dir = fresh_dir("augment_classifier_columns");
  const std::string train = write_train_csv(dir);
  // The same rows with a numeric and a categorical column.
  std::istringstream in(read_file(train));
  std::string line, with = "";
  std::getline(in, line);
  with = line + ",amount,city\n";
  for (int i = 0; std::getline(in, line); ++i) with += line + "," + std::to_string(i * 7 % 13) + "," + (i % 2 ? "oslo" : "rome") + "\n";
  write_file(dir / "cols.csv", with);
  const std::string cls = feature_classifier(dir, "cls", (dir / "cols.csv").string(),
                                             "--numeric-features amount --categorical-features city --text-features words");
  const auto out = dir / "o.csv";
  auto r = run_tessera("augment --input " + train + " --method perturb --count 4 --seed 3 --classifier " + cls +
                       " --output " + out.string());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("'amount', 'city'"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("generated text cannot have"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(cls), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(out));
}
