// `tessera prepare --task` options: --test-input (a test split under the training label
// map), --skip-bad-rows (malformed rows skipped, counted, reported and stored per
// split), encoding split across MPI ranks (the same arrays on 1, 2 and 3 ranks), and
// --tokenizer with GPT-2's byte-level BPE (ids checked against BpeTokenizer itself; a
// tiny GPT-2 classifier trains on the dataset and predicts).
#include "io/task_dataset.hpp"  // first: see the kIgnoreIndex note there
#include <gtest/gtest.h>
#include <mpi.h>
#include <algorithm>
#include <sstream>

#include "io/task_readers.hpp"
#include "src/tokenizer/bpe_tokenizer.hpp"
#include "test_support.hpp"
#include "tokenizer/tokenizer_test_util.hpp"

using namespace tessera_test;
namespace fs = std::filesystem;

namespace {

std::string fixture(const std::string& name) { return source_dir() + "/tests/fixtures/tasks/" + name; }
std::string vocab() { return " --vocab " + fixture("vocab.txt"); }

bool contains(const std::string& s, const std::string& what) { return s.find(what) != std::string::npos; }

// Every array and attribute of two task datasets, split by split.
void expect_same_dataset(const std::string& a, const std::string& b) {
  tessera::TaskDataset da(a, MPI_COMM_SELF), db(b, MPI_COMM_SELF);
  const auto &ia = da.info(), &ib = db.info();
  EXPECT_EQ(ia.task, ib.task);
  EXPECT_EQ(ia.tokenizer, ib.tokenizer);
  EXPECT_EQ(ia.vocab_size, ib.vocab_size);
  EXPECT_EQ(ia.pad_id, ib.pad_id);
  EXPECT_EQ(ia.label_names, ib.label_names);
  EXPECT_EQ(ia.tokenizer_files, ib.tokenizer_files);
  EXPECT_EQ(ia.splits, ib.splits);
  EXPECT_EQ(ia.skipped_rows, ib.skipped_rows);
  for (const auto& s : ia.splits) {
    const auto fa = da.read_split(s), fb = db.read_split(s);
    EXPECT_GT(fa.size(), 0) << s;
    EXPECT_EQ(fa.input_ids, fb.input_ids) << s;
    EXPECT_EQ(fa.attention_mask, fb.attention_mask) << s;
    EXPECT_EQ(fa.token_type_ids, fb.token_type_ids) << s;
    EXPECT_EQ(fa.labels, fb.labels) << s;
    EXPECT_EQ(fa.start_positions, fb.start_positions) << s;
    EXPECT_EQ(fa.end_positions, fb.end_positions) << s;
    EXPECT_EQ(fa.example_index, fb.example_index) << s;
    EXPECT_EQ(fa.offsets, fb.offsets) << s;
    ASSERT_EQ(da.has_examples(s), db.has_examples(s)) << s;
    if (da.has_examples(s)) {
      const auto ea = da.read_examples(s), eb = db.read_examples(s);
      EXPECT_EQ(ea.ids, eb.ids);
      EXPECT_EQ(ea.contexts, eb.contexts);
      EXPECT_EQ(ea.answers, eb.answers);
    }
  }
}

std::vector<int32_t> row(const std::vector<int32_t>& v, int64_t r, int64_t L) {
  return std::vector<int32_t>(v.begin() + r * L, v.begin() + (r + 1) * L);
}

// ids right-padded with pad to L.
std::vector<int32_t> padded(std::vector<int32_t> ids, int32_t pad, size_t L) {
  ids.resize(L, pad);
  return ids;
}

std::vector<int32_t> cat(std::vector<int32_t> a, const std::vector<int32_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

TEST(PrepareTaskOptions, TestSplitUsesTheTrainingLabelMap) {
  const auto dir = fresh_dir("prepare_opt_test_split");
  write_file(dir / "train.csv", "text,label\nin the beginning,good\nand the earth,bad\nlet there be light,good\n");
  write_file(dir / "test.csv", "text,label\nand there was light,good\nthe earth was void,bad\n");
  const std::string out = (dir / "o.h5").string();
  auto r = run_tessera("prepare --task classification --input " + (dir / "train.csv").string() + " --test-input " +
                       (dir / "test.csv").string() + vocab() + " --max-len 12 --output " + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  tessera::TaskDataset d(out, MPI_COMM_SELF);
  EXPECT_EQ(d.info().splits, (std::vector<std::string>{"train", "test"}));
  EXPECT_EQ(d.info().label_names, (std::vector<std::string>{"bad", "good"}));
  const auto f = d.read_split("test");
  EXPECT_EQ(f.labels, (std::vector<int32_t>{1, 0}));  // from the training map, not rebuilt from the test file
  EXPECT_TRUE(contains(r.output, "test=2 rows")) << r.output;

  // A test label the training data lacks: file:line.
  write_file(dir / "test_bad.csv", "text,label\nand there was light,good\nthe earth was void,neutral\n");
  r = run_tessera("prepare --task classification --input " + (dir / "train.csv").string() + " --test-input " +
                  (dir / "test_bad.csv").string() + vocab() + " --output " + (dir / "o2.h5").string());
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "test_bad.csv:3")) << r.output;
  EXPECT_TRUE(contains(r.output, "'neutral'")) << r.output;

  // NER and QA take a test file too.
  for (const auto& [task, input] : {std::pair<std::string, std::string>{"ner", "ner.conll"}, {"qa", "squad.json"}}) {
    const std::string o = (dir / (task + ".h5")).string();
    r = run_tessera("prepare --task " + task + " --input " + fixture(input) + " --test-input " + fixture(input) +
                    vocab() + " --max-len 48 --doc-stride 16 --output " + o);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    tessera::TaskDataset t(o, MPI_COMM_SELF);
    ASSERT_TRUE(t.has_split("test"));
    EXPECT_EQ(t.read_split("test").input_ids, t.read_split("train").input_ids);
    if (task == "qa") EXPECT_TRUE(t.has_examples("test"));
  }

  // --test-input is a task option.
  r = run_tessera("prepare --input " + (dir / "train.csv").string() + " --test-input x --output " +
                  (dir / "t.h5").string());
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "--task")) << r.output;
}

TEST(PrepareTaskOptions, SkipBadRowsCountsReportsAndStores) {
  const auto dir = fresh_dir("prepare_opt_skip");
  const auto train = dir / "train.csv", val = dir / "val.csv", test = dir / "test.jsonl";
  write_file(train,
             "text,label\n"
             "in the beginning,good\n"
             "and the earth,bad,extra\n"  // line 3: three fields
             "\"\",good\n"                // line 4: empty text
             "let there be light,good\n"
             "the earth was void,bad\n");
  write_file(val, "text,label\nand there was light,good\ndarkness,neutral\n");  // line 3: not in the map
  write_file(test, "{\"text\": \"light\", \"label\": \"good\"}\n{\"text\": \"void\"}\n{\"label\": \"bad\"}\n");
  const std::string args = "prepare --task classification --input " + train.string() + " --validation-input " +
                           val.string() + " --test-input " + test.string() + vocab() + " --max-len 12";

  // Default: the first malformed row is an error naming file:line.
  auto r = run_tessera(args + " --output " + (dir / "strict.h5").string());
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, train.string() + ":3")) << r.output;
  EXPECT_TRUE(contains(r.output, "expected 2 fields, found 3")) << r.output;

  // --skip-bad-rows: skipped, counted per split, the first reported.
  const std::string out = (dir / "o.h5").string();
  r = run_tessera(args + " --skip-bad-rows --output " + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "train: skipped 2 rows (first: " + train.string() + ":3: expected 2 fields, found 3)"))
      << r.output;
  EXPECT_TRUE(contains(r.output, "validation: skipped 1 rows (first: " + val.string() + ":3: label 'neutral'"))
      << r.output;
  EXPECT_TRUE(contains(r.output, "test: skipped 2 rows (first: " + test.string() + ":2: missing key 'label')"))
      << r.output;
  tessera::TaskDataset d(out, MPI_COMM_SELF);
  EXPECT_EQ(d.info().skipped_rows, (std::map<std::string, int64_t>{{"test", 2}, {"train", 2}, {"validation", 1}}));
  EXPECT_EQ(d.num_rows("train"), 3);
  EXPECT_EQ(d.num_rows("validation"), 1);
  EXPECT_EQ(d.num_rows("test"), 1);
  EXPECT_EQ(d.read_split("train").labels, (std::vector<int32_t>{1, 1, 0}));

  // A file whose every row is bad is still an error; so is an empty file.
  write_file(dir / "allbad.csv", "text,label\n,good\nx,y,z\n");
  r = run_tessera("prepare --task classification --input " + train.string() + " --validation-input " +
                  (dir / "allbad.csv").string() + vocab() + " --skip-bad-rows --output " + (dir / "a.h5").string());
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "allbad.csv: every row is malformed (2 skipped; first: ")) << r.output;
  write_file(dir / "empty.csv", "");
  r = run_tessera("prepare --task classification --input " + train.string() + " --test-input " +
                  (dir / "empty.csv").string() + vocab() + " --skip-bad-rows --output " + (dir / "e.h5").string());
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "empty.csv: file is empty")) << r.output;

  // CoNLL (a sentence with a bad line) and SQuAD (an answer off its context).
  write_file(dir / "train.conll", "Moses B-PER\nwent O\n\nDavid NNP B-PER\n\nAaron B-PER\n");
  r = run_tessera("prepare --task ner --input " + (dir / "train.conll").string() + vocab() +
                  " --skip-bad-rows --output " + (dir / "n.h5").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "train: skipped 1 rows (first: " + (dir / "train.conll").string() +
                                     ":4: expected 2 columns, found 3)"))
      << r.output;
  EXPECT_EQ(tessera::TaskDataset((dir / "n.h5").string(), MPI_COMM_SELF).num_rows("train"), 2);
  write_file(dir / "squad.json",
             "{\"data\":[{\"paragraphs\":[{\"context\":\"Moses went to Egypt.\",\"qas\":["
             "{\"id\":\"a\",\"question\":\"Who?\",\"answers\":[{\"text\":\"Moses\",\"answer_start\":0}]},"
             "{\"id\":\"b\",\"question\":\"Where?\",\"answers\":[{\"text\":\"Egypt\",\"answer_start\":3}]}]}]}]}");
  r = run_tessera("prepare --task qa --input " + (dir / "squad.json").string() + vocab() +
                  " --max-len 32 --doc-stride 8 --skip-bad-rows --output " + (dir / "q.h5").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "train: skipped 1 rows (first: " + (dir / "squad.json").string() +
                                     ": question 'b': answer 'Egypt' does not match"))
      << r.output;
  tessera::TaskDataset q((dir / "q.h5").string(), MPI_COMM_SELF);
  EXPECT_EQ(q.read_examples("train").ids, (std::vector<std::string>{"a"}));
}

TEST(PrepareTaskOptions, RanksSplitTheEncodingSameArrays) {
  const auto dir = fresh_dir("prepare_opt_ranks");
  struct Case {
    std::string task, input, extra;
    std::vector<int> ranks;
  };
  const std::string gpt2 = tok_test::asset("gpt2");
  ASSERT_FALSE(gpt2.empty());
  for (const Case& c : {Case{"classification", "classify.csv", vocab() + " --max-len 16", {2, 3}},
                        Case{"ner", "ner.conll", vocab() + " --max-len 32 --label-alignment all-subwords", {2}},
                        Case{"qa", "squad.json", vocab() + " --max-len 32 --doc-stride 8", {2, 3}},
                        Case{"qa", "squad.json", " --tokenizer " + gpt2 + " --max-len 40 --doc-stride 8", {2}}}) {
    const std::string args = "prepare --task " + c.task + " --input " + fixture(c.input) + " --validation-input " +
                             fixture(c.input) + " --test-input " + fixture(c.input) + c.extra;
    const std::string one = (dir / (c.task + "_1.h5")).string();
    auto r = run_tessera(args + " --output " + one);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    for (int np : c.ranks) {
      const std::string many = (dir / (c.task + "_" + std::to_string(np) + ".h5")).string();
      auto m = run_mpi(np, args + " --output " + many);
      ASSERT_EQ(m.exit_code, 0) << m.output;
      SCOPED_TRACE(c.task + " on " + std::to_string(np) + " ranks" + c.extra);
      expect_same_dataset(one, many);
    }
  }
  // An encoding error on one rank (QA: max_len leaves no room for the context) fails every rank cleanly.
  auto m = run_mpi(2, "prepare --task qa --input " + fixture("squad.json") + vocab() +
                          " --max-len 16 --doc-stride 12 --output " + (dir / "bad.h5").string());
  EXPECT_NE(m.exit_code, 0) << m.output;
  EXPECT_TRUE(contains(m.output, "doc_stride")) << m.output;
}

TEST(PrepareTaskOptions, Gpt2BpeEncodings) {
  const std::string gpt2 = tok_test::asset("gpt2");
  ASSERT_FALSE(gpt2.empty());
  const auto bpe = tessera::BpeTokenizer::from_vocab_merges(gpt2 + "/vocab.json", gpt2 + "/merges.txt");
  const int32_t eos = 50256;
  auto enc = [&](const std::string& s) { return bpe.encode(s); };
  const auto dir = fresh_dir("prepare_opt_gpt2");
  const int64_t L = 24;

  // Classification: the text, right-padded with eos; no [CLS]/[SEP]; type ids 0.
  const std::string out = (dir / "c.h5").string();
  auto r = run_tessera("prepare --task classification --input " + fixture("classify.csv") + " --tokenizer " + gpt2 +
                       " --max-len " + std::to_string(L) + " --output " + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  tessera::TaskDataset d(out, MPI_COMM_SELF);
  EXPECT_EQ(d.info().tokenizer, "bpe-vocab-merges");
  EXPECT_EQ(d.info().vocab_size, 50257);
  EXPECT_EQ(d.info().pad_id, eos);
  EXPECT_EQ(d.info().tokenizer_files,
            (std::vector<std::string>{fs::absolute(gpt2 + "/vocab.json").lexically_normal().string(),
                                      fs::absolute(gpt2 + "/merges.txt").lexically_normal().string()}));
  const auto data = tessera::read_classification(fixture("classify.csv"));
  const auto f = d.read_split("train");
  ASSERT_EQ(f.size(), int64_t(data.examples.size()));
  for (int64_t i = 0; i < f.size(); ++i) {
    auto ids = enc(data.examples[size_t(i)].text);
    if (int64_t(ids.size()) > L) ids.resize(size_t(L));
    const size_t n = ids.size();
    EXPECT_EQ(row(f.input_ids, i, L), padded(ids, eos, size_t(L))) << i;
    auto mask = row(f.attention_mask, i, L);
    EXPECT_EQ(std::count(mask.begin(), mask.end(), 1), int64_t(n)) << i;
    EXPECT_EQ(mask[n - 1], 1);
    auto types = row(f.token_type_ids, i, L);
    EXPECT_EQ(std::count(types.begin(), types.end(), 0), L) << i;
    EXPECT_EQ(f.labels[size_t(i)], data.examples[size_t(i)].label);
  }

  // Pairs: a eos b.
  const std::string pair_out = (dir / "p.h5").string();
  write_file(dir / "pair.jsonl", "{\"q\": \"Who created the heaven?\", \"s\": \"God created it.\", \"label\": 1}\n"
                                 "{\"q\": \"Who went?\", \"s\": \"Moses.\", \"label\": 0}\n");
  tessera::ClassificationReadOptions ro;
  ro.text_column = "q";
  ro.text_pair_column = "s";
  auto pairs = tessera::read_classification((dir / "pair.jsonl").string(), ro);
  tessera::TaskTokenizer tt = tessera::open_task_tokenizer(gpt2);
  auto pf = tessera::encode_classification(pairs.examples, tt, L);
  EXPECT_EQ(row(pf.input_ids, 0, L),
            padded(cat(cat(enc("Who created the heaven?"), {eos}), enc("God created it.")), eos, size_t(L)));
  EXPECT_EQ(std::count(pf.token_type_ids.begin(), pf.token_type_ids.end(), 0), 2 * L);

  // NER: words joined by spaces, BPE's leading space on every word after the first; the
  // first sub-word of each word carries its tag.
  const std::string ner_out = (dir / "n.h5").string();
  r = run_tessera("prepare --task ner --input " + fixture("ner.conll") + " --tokenizer " + gpt2 +
                  " --max-len 32 --output " + ner_out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto conll = tessera::read_conll(fixture("ner.conll"));
  const auto nf = tessera::TaskDataset(ner_out, MPI_COMM_SELF).read_split("train");
  for (size_t s = 0; s < 2; ++s) {
    std::vector<int32_t> ids, labels;
    std::string joined;
    for (size_t w = 0; w < conll.examples[s].words.size(); ++w) {
      const auto pieces = enc((w ? " " : "") + conll.examples[s].words[w]);
      joined += (w ? " " : "") + conll.examples[s].words[w];
      for (size_t p = 0; p < pieces.size(); ++p) {
        ids.push_back(pieces[p]);
        labels.push_back(p == 0 ? conll.examples[s].tags[w] : tessera::kIgnoreIndex);
      }
    }
    EXPECT_EQ(ids, enc(joined)) << "the words' pieces are the joined sentence's";
    ASSERT_LE(ids.size(), 32u);
    labels.resize(32, tessera::kIgnoreIndex);
    EXPECT_EQ(row(nf.input_ids, int64_t(s), 32), padded(ids, eos, 32));
    EXPECT_EQ(row(nf.labels, int64_t(s), 32), labels);
  }

  // QA: question eos context-window; the answer's tokens spell the answer.
  const std::string qa_out = (dir / "q.h5").string();
  r = run_tessera("prepare --task qa --input " + fixture("squad.json") + " --tokenizer " + gpt2 +
                  " --max-len 64 --doc-stride 16 --output " + qa_out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  tessera::TaskDataset qd(qa_out, MPI_COMM_SELF);
  const auto qf = qd.read_split("train");
  const auto squad = tessera::read_squad(fixture("squad.json"));
  const auto q0 = enc(squad.examples[0].question), c0 = enc(squad.examples[0].context);
  ASSERT_LE(q0.size() + 1 + c0.size(), 64u);
  EXPECT_EQ(row(qf.input_ids, 0, 64), padded(cat(cat(q0, {eos}), c0), eos, 64));
  int checked = 0;
  for (int64_t i = 0; i < qf.size(); ++i) {
    const int32_t s = qf.start_positions[size_t(i)], e = qf.end_positions[size_t(i)];
    if (s == 0 && e == 0) continue;
    const auto ids = row(qf.input_ids, i, 64);
    const auto& ex = squad.examples[size_t(qf.example_index[size_t(i)])];
    std::string span = bpe.decode(std::vector<int32_t>(ids.begin() + s, ids.begin() + e + 1));
    EXPECT_NE(span.find(ex.answers[0].text), std::string::npos) << span << " vs " << ex.answers[0].text;
    ++checked;
  }
  EXPECT_GE(checked, int(squad.examples.size()));
}

TEST(PrepareTaskOptions, Gpt2BpeClassifierTrainsAndPredicts) {
  const std::string gpt2 = tok_test::asset("gpt2");
  ASSERT_FALSE(gpt2.empty());
  const auto dir = fresh_dir("prepare_opt_gpt2_train");
  const std::string data = (dir / "c.h5").string();
  auto r = run_tessera("prepare --task classification --input " + fixture("classify.csv") + " --validation-input " +
                       fixture("classify.csv") + " --tokenizer " + gpt2 + " --max-len 16 --output " + data);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string config = (dir / "run.toml").string();
  write_file(config, "[model]\nfamily = \"gpt2\"\nhead = \"sequence_classification\"\nnum_labels = 3\nn_layer = 1\n"
                     "n_head = 2\nn_embd = 16\nn_positions = 16\nvocab_size = 50257\n"
                     "[data]\npath = \"" + data + "\"\n"
                     "[train]\nmax_steps = 3\nmicro_batch_size = 2\nseed = 5\n"
                     "[optim]\nlr = 1e-3\n"
                     "[run]\ndir = \"" + (dir / "run").string() + "\"\n");
  r = run_tessera("train " + config);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ASSERT_FALSE(tessera::TaskDataset(data, MPI_COMM_SELF).info().label_names.empty());

  write_file(dir / "in.jsonl", "{\"text\": \"And God said, Let there be light\"}\n{\"text\": \"Moses went to Egypt\"}\n");
  const auto pred = dir / "out.jsonl";
  r = run_tessera("predict " + config + " --input " + (dir / "in.jsonl").string() + " --output " + pred.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::istringstream lines(read_file(pred));
  int n = 0;
  for (std::string l; std::getline(lines, l); ++n) {
    auto j = nlohmann::json::parse(l);
    EXPECT_TRUE(j.contains("label")) << l;
    EXPECT_EQ(j["probabilities"].size(), 3u) << l;
  }
  EXPECT_EQ(n, 2);

  // A dataset prepared with GPT-2's BPE refuses another tokenizer at predict time.
  r = run_tessera("predict " + config + " --input " + (dir / "in.jsonl").string() + " --output " + pred.string() +
                  " --vocab " + fixture("vocab.txt"));
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "bpe-vocab-merges")) << r.output;
}
