// Malformed task inputs -> tessera::Error naming the file and line (or question id).
#include <gtest/gtest.h>

#include "io/task_dataset.hpp"
#include "io/task_readers.hpp"
#include "src/runtime/error.hpp"
#include "test_support.hpp"

using namespace tessera;

namespace {
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}
std::string put(const std::string& dir, const std::string& name, const std::string& text) {
  auto d = tessera_test::fresh_dir(dir);
  auto p = (d / name).string();
  tessera_test::write_file(p, text);
  return p;
}
}  // namespace

TEST(TaskBadInput, LabelNotInGivenMap) {
  auto p = put("task_bad_label", "bad.csv", "text,label\nIn the beginning,genesis\nLet there be light,psalms\n");
  ClassificationReadOptions o;
  o.label_names = {"exodus", "genesis"};
  auto m = error_of([&] { read_classification(p, o); });
  EXPECT_NE(m.find("bad.csv:3"), std::string::npos) << m;
  EXPECT_NE(m.find("'psalms'"), std::string::npos) << m;
  o.skip_malformed = true;
  auto d = read_classification(p, o);
  EXPECT_EQ(d.examples.size(), 1u);
  EXPECT_EQ(d.skipped, 1);
}

TEST(TaskBadInput, CsvWrongFieldCountAndQuotes) {
  auto p = put("task_bad_csv", "bad.csv", "text,label\n\"a\nb\",x\nc,d,e\nf,g\n");
  auto m = error_of([&] { read_classification(p, {}); });
  EXPECT_NE(m.find("bad.csv:4"), std::string::npos) << m;
  ClassificationReadOptions o;
  o.skip_malformed = true;
  EXPECT_EQ(read_classification(p, o).skipped, 1);
  auto q = put("task_bad_quote", "q.csv", "text,label\n\"unterminated,x\n");
  m = error_of([&] { read_classification(q, {}); });
  EXPECT_NE(m.find("q.csv:2"), std::string::npos) << m;
  auto r = put("task_bad_after_quote", "r.csv", "text,label\n\"a\"b,x\n");
  m = error_of([&] { read_classification(r, {}); });
  EXPECT_NE(m.find("r.csv:2"), std::string::npos) << m;
  auto h = put("task_bad_header", "h.csv", "sentence,label\na,b\n");
  m = error_of([&] { read_classification(h, {}); });
  EXPECT_NE(m.find("'text'"), std::string::npos) << m;
}

TEST(TaskBadInput, JsonlBadLine) {
  auto p = put("task_bad_jsonl", "bad.jsonl", "{\"text\": \"a\", \"label\": \"x\"}\n{\"text\": \"b\"\n");
  auto m = error_of([&] { read_classification(p, {}); });
  EXPECT_NE(m.find("bad.jsonl:2"), std::string::npos) << m;
  auto q = put("task_bad_jsonl2", "nolabel.jsonl", "{\"text\": \"a\", \"label\": \"x\"}\n\n{\"text\": \"b\"}\n");
  m = error_of([&] { read_classification(q, {}); });
  EXPECT_NE(m.find("nolabel.jsonl:3"), std::string::npos) << m;
  EXPECT_NE(m.find("'label'"), std::string::npos) << m;
}

TEST(TaskBadInput, ConllWrongColumnCount) {
  auto p = put("task_bad_conll", "bad.conll", "Moses NNP B-PER\nwent VBD O\n\nDavid B-PER\n");
  auto m = error_of([&] { read_conll(p, {}); });
  EXPECT_NE(m.find("bad.conll:4"), std::string::npos) << m;
  EXPECT_NE(m.find("columns"), std::string::npos) << m;
  ConllReadOptions o;
  o.skip_malformed = true;
  auto d = read_conll(p, o);
  EXPECT_EQ(d.examples.size(), 1u);
  EXPECT_EQ(d.skipped, 1);
  auto q = put("task_bad_conll_tag", "tag.conll", "Moses NNP PER\n");
  m = error_of([&] { read_conll(q, {}); });
  EXPECT_NE(m.find("tag.conll:1"), std::string::npos) << m;
  auto r = put("task_bad_conll_map", "map.conll", "Moses NNP B-PER\nEgypt NNP B-LOC\n");
  ConllReadOptions given;
  given.label_names = {"O", "B-PER", "I-PER"};
  m = error_of([&] { read_conll(r, given); });
  EXPECT_NE(m.find("map.conll:2"), std::string::npos) << m;
  EXPECT_NE(m.find("'B-LOC'"), std::string::npos) << m;
}

TEST(TaskBadInput, SquadSpanMismatchNamesQuestion) {
  const std::string ctx = "Mo\xC3\xAFse led the children of Israel out of \xC3\x89gypte.";
  // answer_start given in bytes (41) instead of code points (40): off by one
  auto p = put("task_bad_squad", "bad_squad.json",
               "{\"data\":[{\"title\":\"x\",\"paragraphs\":[{\"context\":\"" + ctx +
                   "\",\"qas\":[{\"id\":\"q-ok\",\"question\":\"Who?\",\"answers\":[{\"text\":\"Mo\xC3\xAFse\",\"answer_start\":0}]},"
                   "{\"id\":\"q-bad\",\"question\":\"Where?\",\"answers\":[{\"text\":\"\xC3\x89gypte\",\"answer_start\":41}]}]}]}]}");
  auto m = error_of([&] { read_squad(p); });
  EXPECT_NE(m.find("bad_squad.json"), std::string::npos) << m;
  EXPECT_NE(m.find("'q-bad'"), std::string::npos) << m;
  SquadReadOptions o;
  o.skip_malformed = true;
  auto d = read_squad(p, o);
  EXPECT_EQ(d.examples.size(), 1u);
  EXPECT_EQ(d.skipped, 1);
  auto q = put("task_bad_squad_json", "notjson.json", "{\"data\": [");
  m = error_of([&] { read_squad(q); });
  EXPECT_NE(m.find("notjson.json"), std::string::npos) << m;
}

TEST(TaskBadInput, EmptyFiles) {
  for (const char* name : {"empty.csv", "empty.jsonl", "empty.conll", "empty.json"}) {
    auto p = put(std::string("task_empty_") + name, name, "\n  \n");
    std::string m;
    std::string n = name;
    if (n == "empty.conll") m = error_of([&] { read_conll(p, {}); });
    else if (n == "empty.json") m = error_of([&] { read_squad(p); });
    else m = error_of([&] { read_classification(p, {}); });
    EXPECT_NE(m.find(name), std::string::npos) << m;
    EXPECT_NE(m.find("empty"), std::string::npos) << m;
  }
  auto m = error_of([&] { read_conll("/nonexistent/x.conll", {}); });
  EXPECT_NE(m.find("x.conll"), std::string::npos) << m;
}

TEST(TaskBadInput, WriterAndReaderValidate) {
  auto dir = tessera_test::fresh_dir("task_bad_h5");
  TaskDatasetInfo info;
  info.task = "sequence-classification";
  info.tokenizer = "t";
  info.vocab_size = 10;
  info.max_len = 2;
  info.label_names = {"a", "b"};
  TaskFeatures f;
  f.max_len = 2;
  f.input_ids = {1, 12};
  f.attention_mask = {1, 1};
  f.token_type_ids = {0, 0};
  f.labels = {0};
  f.example_index = {0};
  auto path = (dir / "t.h5").string();
  auto m = error_of([&] { write_task_dataset(path, info, {{"train", f}}, MPI_COMM_WORLD); });
  EXPECT_NE(m.find("input_ids"), std::string::npos) << m;
  f.input_ids = {1, 2};
  f.labels = {2};
  m = error_of([&] { write_task_dataset(path, info, {{"train", f}}, MPI_COMM_WORLD); });
  EXPECT_NE(m.find("labels"), std::string::npos) << m;
  info.task = "summarization";
  m = error_of([&] { write_task_dataset(path, info, {{"train", f}}, MPI_COMM_WORLD); });
  EXPECT_NE(m.find("unknown task"), std::string::npos) << m;
  m = error_of([&] { TaskDataset(path + ".missing", MPI_COMM_WORLD); });
  EXPECT_NE(m.find("t.h5.missing"), std::string::npos) << m;
}

TEST(TaskBadInput, EmptyTextIsMalformed) {
  auto p = put("task_bad_empty_text", "e.csv", "text,label\nIn the beginning,genesis\n\"  \",exodus\nLight,genesis\n");
  auto m = error_of([&] { read_classification(p, {}); });
  EXPECT_NE(m.find("e.csv:3: empty text ('text')"), std::string::npos) << m;
  ClassificationReadOptions o;
  o.skip_malformed = true;
  auto d = read_classification(p, o);
  EXPECT_EQ(d.examples.size(), 2u);
  EXPECT_EQ(d.skipped, 1);
  EXPECT_EQ(d.first_skipped, p + ":3: empty text ('text')");
  auto j = put("task_bad_empty_pair", "e.jsonl",
               "{\"a\": \"x\", \"b\": \"y\", \"label\": 1}\n{\"a\": \"x\", \"b\": \"\", \"label\": 1}\n");
  ClassificationReadOptions po;
  po.text_column = "a";
  po.text_pair_column = "b";
  m = error_of([&] { read_classification(j, po); });
  EXPECT_NE(m.find("e.jsonl:2: empty text ('b')"), std::string::npos) << m;
  auto q = put("task_bad_empty_question", "q.json",
               "{\"data\":[{\"paragraphs\":[{\"context\":\"Moses went.\",\"qas\":["
               "{\"id\":\"q1\",\"question\":\"\",\"answers\":[{\"text\":\"Moses\",\"answer_start\":0}]}]}]}]}");
  m = error_of([&] { read_squad(q); });
  EXPECT_NE(m.find("q.json: question 'q1': empty question"), std::string::npos) << m;
}

TEST(TaskBadInput, SkippingKeepsTheFirstReasonAndAllBadIsAnError) {
  auto p = put("task_bad_first", "f.jsonl", "{\"text\": \"a\"}\n{\"text\": \"b\", \"label\": \"x\"}\n[1]\n");
  ClassificationReadOptions o;
  o.skip_malformed = true;
  auto d = read_classification(p, o);
  EXPECT_EQ(d.skipped, 2);
  EXPECT_EQ(d.first_skipped, p + ":1: missing key 'label'");
  auto all = put("task_bad_all", "all.conll", "Moses NNP B-PER\nwent\n\nDavid NNP PER\n");
  ConllReadOptions c;
  c.skip_malformed = true;
  auto m = error_of([&] { read_conll(all, c); });
  EXPECT_NE(m.find("all.conll: every row is malformed (2 skipped; first: " + all + ":2: expected 3 columns, found 1)"),
            std::string::npos)
      << m;
  auto s = put("task_bad_all_squad", "all.json",
               "{\"data\":[{\"paragraphs\":[{\"context\":\"Moses went.\",\"qas\":["
               "{\"id\":\"q1\",\"question\":\"Who?\",\"answers\":[{\"text\":\"Aaron\",\"answer_start\":0}]}]}]}]}");
  SquadReadOptions so;
  so.skip_malformed = true;
  m = error_of([&] { read_squad(s, so); });
  EXPECT_NE(m.find("all.json: every row is malformed (1 skipped; first: " + s + ": question 'q1': answer 'Aaron'"),
            std::string::npos)
      << m;
  auto e = put("task_bad_empty_skip", "empty.tsv", "");
  m = error_of([&] { read_classification(e, o); });
  EXPECT_NE(m.find("empty.tsv: file is empty"), std::string::npos) << m;
}
