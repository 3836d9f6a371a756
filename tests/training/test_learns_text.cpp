// The engine learns real text: a small GPT-2 trained through the CLI on bundled
// KJV books reaches a validation loss well below the unigram entropy of the
// training bytes (what a model that ignores context can achieve at best).
#include <gtest/gtest.h>
#include <mpi.h>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include "cli_fixture.hpp"
#include "io/token_dataset.hpp"

using namespace tessera_test;
namespace fs = std::filesystem;

// H = -Σ p log p over token frequencies of a split, in nats.
static double unigram_entropy(const tessera::TokenDataset& d, const std::string& split) {
  const int64_t n = d.num_tokens(split);
  std::vector<int32_t> tok(n);
  d.read_tokens(split, 0, n, tok.data());
  std::vector<double> count(d.info().vocab_size, 0.0);
  for (int32_t t : tok) count[t] += 1;
  double h = 0;
  for (double c : count)
    if (c > 0) h -= c / n * std::log(c / n);
  return h;
}

TEST(LearnsText, ValidationLossFallsWellBelowUnigramEntropy) {
  fs::path dir = fresh_dir("learns_text");
  const std::string data = (dir / "kjv.h5").string();
  auto prep = run_tessera("prepare --input " + source_dir() + "/data/kjv/01_genesis.txt " + source_dir() +
                          "/data/kjv/40_matthew.txt --output " + data + " --validation-fraction 0.1");
  ASSERT_EQ(prep.exit_code, 0) << prep.output;
  double h_unigram = 0;
  {
    tessera::TokenDataset d(data, MPI_COMM_SELF);
    h_unigram = unigram_entropy(d, "train");
  }
  write_file(dir / "c.toml",
             tiny_config(data, (dir / "run").string(),
                         {{"model.n_layer", "2"}, {"model.n_head", "4"}, {"model.n_embd", "64"},
                          {"model.n_positions", "64"}, {"model.embd_pdrop", "0.0"}, {"model.attn_pdrop", "0.0"},
                          {"model.resid_pdrop", "0.0"}, {"data.seq_len", "64"}, {"train.max_steps", "250"},
                          {"train.micro_batch_size", "16"}, {"train.grad_accum_steps", "1"},
                          {"train.eval_interval", "0"}, {"train.eval_batches", "16"}, {"optim.lr", "3e-3"},
                          {"optim.warmup_steps", "20"}, {"checkpoint.interval", "0"}}));
  auto r = run_tessera("train " + (dir / "c.toml").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;

  double val = NAN, first_train = NAN;
  std::ifstream f(dir / "run/metrics.jsonl");
  std::string line;
  while (std::getline(f, line)) {
    auto j = nlohmann::json::parse(line);
    if (j["kind"] == "eval") val = j["loss"].get<double>();
    if (j["kind"] == "train" && std::isnan(first_train)) first_train = j["loss"].get<double>();
  }
  std::printf("unigram entropy %.4f nats, first train loss %.4f, final validation loss %.4f\n", h_unigram,
              first_train, val);
  ASSERT_TRUE(std::isfinite(val)) << r.output;
  EXPECT_GT(first_train, h_unigram);      // starts above: a random model is worse than unigram
  EXPECT_LT(val, h_unigram - 0.5) << r.output;  // ends well below: it uses context
}
