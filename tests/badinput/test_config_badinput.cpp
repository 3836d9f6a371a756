// Bad run configs: every rejection is a tessera::Error whose message names the
// file (origin) and the dotted key, so a user can find the mistake.
#include <gtest/gtest.h>
#include <string>
#include "src/config/run_config.hpp"
#include "src/runtime/error.hpp"
#include "test_support.hpp"

using namespace tessera;

namespace {

const char* kOrigin = "bad.toml";
const std::string kData = "[data]\npath = \"data/kjv.h5\"\n";

// Parses `text` expecting a tessera::Error; returns its message.
std::string parse_error(const std::string& text) {
  try {
    parse_run_config(text, kOrigin);
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected tessera::Error, got another exception: " << e.what();
    return "";
  }
  ADD_FAILURE() << "expected tessera::Error for config:\n" << text;
  return "";
}

#define EXPECT_HAS(msg, part) EXPECT_NE((msg).find(part), std::string::npos) << "message: " << (msg)

}  // namespace

TEST(ConfigBadInput, ValidBaselineParses) {
  // Sanity: the fragments used below are fine on their own.
  EXPECT_NO_THROW(parse_run_config(kData, kOrigin));
}

TEST(ConfigBadInput, UnknownKeyWithSuggestion) {
  const std::string msg = parse_error(kData + "[train]\nmicro_bach_size = 4\n");
  EXPECT_HAS(msg, kOrigin);
  EXPECT_HAS(msg, "unknown key 'train.micro_bach_size'");
  EXPECT_HAS(msg, "did you mean 'train.micro_batch_size'?");
  EXPECT_HAS(msg, "line 4");
}

TEST(ConfigBadInput, KeyInWrongSectionSuggestsTheRightOne) {
  const std::string msg = parse_error(kData + "[train]\nlr = 1e-3\n");
  EXPECT_HAS(msg, "unknown key 'train.lr'");
  EXPECT_HAS(msg, "did you mean 'optim.lr'?");
}

TEST(ConfigBadInput, UnknownModelKey) {
  const std::string msg = parse_error(kData + "[model]\nn_embed = 64\n");
  EXPECT_HAS(msg, "unknown key 'model.n_embed'");
  EXPECT_HAS(msg, "did you mean 'model.n_embd'?");
}

TEST(ConfigBadInput, UnknownSection) {
  const std::string msg = parse_error(kData + "[trian]\nmax_steps = 4\n");
  EXPECT_HAS(msg, kOrigin);
  EXPECT_HAS(msg, "unknown section '[trian]'");
  EXPECT_HAS(msg, "did you mean '[train]'?");
}

TEST(ConfigBadInput, TopLevelKey) {
  const std::string msg = parse_error("seed = 3\n" + kData);
  EXPECT_HAS(msg, "unknown key 'seed'");
  EXPECT_HAS(msg, "train.seed");
}

TEST(ConfigBadInput, SectionThatIsNotATable) {
  const std::string msg = parse_error("train = 3\n" + kData);
  EXPECT_HAS(msg, "'train' must be a table");
}

TEST(ConfigBadInput, NestedTableIsUnknownKey) {
  const std::string msg = parse_error(kData + "[train.extra]\nx = 1\n");
  EXPECT_HAS(msg, "unknown key 'train.extra'");
}

TEST(ConfigBadInput, StringForInt) {
  const std::string msg = parse_error(kData + "[train]\nmicro_batch_size = \"8\"\n");
  EXPECT_HAS(msg, kOrigin);
  EXPECT_HAS(msg, "train.micro_batch_size");
  EXPECT_HAS(msg, "must be an integer");
  EXPECT_HAS(msg, "found string \"8\"");
}

TEST(ConfigBadInput, FloatForInt) {
  const std::string msg = parse_error(kData + "[model]\nn_layer = 2.5\n");
  EXPECT_HAS(msg, "model.n_layer");
  EXPECT_HAS(msg, "must be an integer");
  EXPECT_HAS(msg, "found float 2.5");
}

TEST(ConfigBadInput, IntForString) {
  const std::string msg = parse_error(kData + "[optim]\nschedule = 3\n");
  EXPECT_HAS(msg, "optim.schedule");
  EXPECT_HAS(msg, "must be a string");
  EXPECT_HAS(msg, "found integer 3");
}

TEST(ConfigBadInput, StringForFloatAndIntForBool) {
  std::string msg = parse_error(kData + "[optim]\nlr = \"3e-4\"\n");
  EXPECT_HAS(msg, "optim.lr");
  EXPECT_HAS(msg, "found string");
  msg = parse_error("[data]\npath = \"x.h5\"\nshuffle = 1\n");
  EXPECT_HAS(msg, "data.shuffle");
  EXPECT_HAS(msg, "must be a boolean");
}

TEST(ConfigBadInput, IntegerTooLargeForInt) {
  const std::string msg = parse_error(kData + "[train]\nmicro_batch_size = 10000000000\n");
  EXPECT_HAS(msg, "train.micro_batch_size");
  EXPECT_HAS(msg, "out of range");
}

TEST(ConfigBadInput, OutOfRangeValues) {
  struct Case {
    std::string toml, key, range;
  };
  const Case cases[] = {
      {"[model]\nn_head = 5\n", "model.n_embd", "multiple of model.n_head"},
      {"[model]\nn_layer = 0\n", "model.n_layer", ">= 1"},
      {"[model]\nn_embd = -8\n", "model.n_embd", ">= 1"},
      {"[model]\nattn_pdrop = 1.0\n", "model.attn_pdrop", "[0, 1)"},
      {"[model]\nembd_pdrop = -0.1\n", "model.embd_pdrop", "[0, 1)"},
      {"[model]\nfamily = \"t5\"\n", "model.family", "\"gpt2\", \"bert\", \"roberta\", \"llama\""},
      {"[model]\nhead = \"masked_lm\"\n", "model.head", "\"causal_lm\""},
      {"[model]\nfamily = \"bert\"\nhead = \"causal_lm\"\n", "model.head", "encoder"},
      {"[model]\nhead = \"sequence_classification\"\nnum_labels = 1\n", "model.num_labels", ">= 2"},
      {"[model]\nn_head = 4\nn_kv_head = 3\n", "model.n_kv_head", "divisor"},
      {"[train]\nresample = \"smote\"\n", "train.resample", "\"oversample\""},
      {"[train]\neval_metric = \"auc\"\n", "train.eval_metric", "\"accuracy\""},
      {"[train]\nlabel_smoothing = 1.5\n", "train.label_smoothing", "[0, 1)"},
      {"[optim]\nl1 = -1\n", "optim.l1", ">= 0"},
      {"[model]\npreset = \"gpt2-huge\"\n", "model.preset", "gpt2-small"},
      {"seq_len = 128\n[model]\nn_positions = 64\n", "data.seq_len", "<= model.n_positions"},
      {"[optim]\nlr = 0\n", "optim.lr", "> 0"},
      {"[optim]\nlr = -1e-3\n", "optim.lr", "> 0"},
      {"[optim]\nschedule = \"cosin\"\n", "optim.schedule", "\"cosine\""},
      {"[optim]\nbeta1 = 1.0\n", "optim.beta1", "[0, 1)"},
      {"[optim]\nbeta2 = -0.5\n", "optim.beta2", "[0, 1)"},
      {"[optim]\nwarmup_steps = -1\n", "optim.warmup_steps", ">= 0"},
      {"[optim]\nlr = inf\n", "optim.lr", "finite"},
      {"[train]\ndevice = \"gpu\"\n", "train.device", "\"cuda\""},
      {"[train]\ngrad_accum_steps = 0\n", "train.grad_accum_steps", ">= 1"},
      {"[train]\nmicro_batch_size = 0\n", "train.micro_batch_size", ">= 1"},
      {"[train]\nmax_steps = -5\n", "train.max_steps", ">= 0"},
      {"[train]\nmax_steps = 0\n", "train.max_steps", "train.epochs"},
      {"[train]\nseed = -1\n", "train.seed", ">= 0"},
      {"[checkpoint]\nkeep_last = -1\n", "checkpoint.keep_last", ">= 0"},
      {"[generate]\ntemperature = 0\n", "generate.temperature", "> 0"},
      {"[generate]\ntop_k = -3\n", "generate.top_k", ">= 0"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.toml);
    const std::string msg = parse_error(kData + c.toml);
    EXPECT_HAS(msg, kOrigin);
    EXPECT_HAS(msg, c.key);
    EXPECT_HAS(msg, c.range);
  }
}

TEST(ConfigBadInput, SeqLenLongerThanContext) {
  const std::string msg = parse_error("[model]\npreset = \"gpt2-tiny\"\n[data]\npath = \"d.h5\"\nseq_len = 256\n");
  EXPECT_HAS(msg, "data.seq_len = 256");
  EXPECT_HAS(msg, "model.n_positions = 128");
  EXPECT_HAS(msg, "line 5");
}

TEST(ConfigBadInput, MissingDataPath) {
  std::string msg = parse_error("[train]\nmax_steps = 10\n");
  EXPECT_HAS(msg, kOrigin);
  EXPECT_HAS(msg, "data.path");
  EXPECT_HAS(msg, "missing");
  msg = parse_error("[data]\npath = \"\"\n");
  EXPECT_HAS(msg, "data.path");
}

TEST(ConfigBadInput, SyntaxError) {
  const std::string msg = parse_error(kData + "[train]\nmax_steps = = 3\n");
  EXPECT_HAS(msg, kOrigin);
  EXPECT_HAS(msg, "syntax error");
  EXPECT_HAS(msg, "4");  // toml11's location: line 4
}

TEST(ConfigBadInput, DuplicateKey) {
  const std::string msg = parse_error(kData + "[train]\nmax_steps = 3\nmax_steps = 4\n");
  EXPECT_HAS(msg, kOrigin);
}

TEST(ConfigBadInput, MissingFile) {
  const auto dir = tessera_test::fresh_dir("config_badinput_missing");
  const std::string path = (dir / "nope.toml").string();
  try {
    load_run_config(path);
    FAIL() << "expected tessera::Error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_HAS(msg, "nope.toml");
    EXPECT_HAS(msg, "not found");
  }
}

TEST(ConfigBadInput, LoadNamesTheFileInKeyErrors) {
  const auto dir = tessera_test::fresh_dir("config_badinput_load");
  const auto path = dir / "typo.toml";
  tessera_test::write_file(path, kData + "[optim]\nwarmup = 10\n");
  try {
    load_run_config(path.string());
    FAIL() << "expected tessera::Error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_HAS(msg, "typo.toml");
    EXPECT_HAS(msg, "optim.warmup");
  }
}
