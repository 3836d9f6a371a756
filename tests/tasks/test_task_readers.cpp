// Task dataset readers (CSV/TSV/JSONL, CoNLL, SQuAD), tokenised task encodings and
// the tessera-task HDF5 round trip, over the small KJV fixtures in tests/fixtures/tasks.
#include <gtest/gtest.h>

#include "io/task_dataset.hpp"
#include "io/task_readers.hpp"
#include "src/runtime/error.hpp"
#include "src/tokenizer/wordpiece_tokenizer.hpp"
#include "test_support.hpp"

using namespace tessera;

namespace {
std::string fx(const std::string& name) { return tessera_test::source_dir() + "/tests/fixtures/tasks/" + name; }
const WordPieceTokenizer& wp() {
  static WordPieceTokenizer t = WordPieceTokenizer::from_vocab_txt(fx("vocab.txt"));
  return t;
}
int32_t id(const std::string& t) {
  int32_t i = wp().token_to_id(t);
  EXPECT_GE(i, 0) << t;
  return i;
}
std::vector<int32_t> ids(std::initializer_list<const char*> toks) {
  std::vector<int32_t> v;
  for (const char* t : toks) v.push_back(id(t));
  return v;
}
std::vector<int32_t> row(const std::vector<int32_t>& v, int64_t r, int64_t L) {
  return std::vector<int32_t>(v.begin() + r * L, v.begin() + (r + 1) * L);
}
}  // namespace

TEST(TaskReaders, CsvRfc4180Quoting) {
  auto d = read_classification(fx("classify.csv"), {});
  ASSERT_EQ(d.examples.size(), 5u);
  EXPECT_EQ(d.label_names, (std::vector<std::string>{"creation", "exodus", "kings"}));
  EXPECT_EQ(d.examples[0].text, "In the beginning God created the heaven and the earth.");
  EXPECT_EQ(d.examples[1].text, "And God said, \"Let there be light\": and there was light.");
  EXPECT_EQ(d.examples[2].text, "Moses and Aaron went\nunto Pharaoh");
  EXPECT_EQ(d.examples[2].label, 1);
  EXPECT_EQ(d.examples[3].text, "David was king of Israel");
  EXPECT_EQ(d.examples[3].label, 2);
  EXPECT_EQ(d.examples[3].source, fx("classify.csv") + ":6");
  EXPECT_EQ(d.examples[4].source, fx("classify.csv") + ":8");
  EXPECT_EQ(d.examples[4].text, "And God called the light Day, and the darkness he called Night.");
}

TEST(TaskReaders, TsvAndGivenLabelMap) {
  ClassificationReadOptions o;
  o.text_column = "sentence";
  o.label_names = {"exodus", "genesis"};
  auto d = read_classification(fx("classify.tsv"), o);
  ASSERT_EQ(d.examples.size(), 2u);
  EXPECT_EQ(d.examples[1].text, "Jacob went to Bethel\tand dwelt there");
  EXPECT_EQ(d.examples[1].label, 1);
  EXPECT_EQ(d.label_names, o.label_names);
}

TEST(TaskReaders, JsonlPairIntegerLabelsSortNumerically) {
  ClassificationReadOptions o;
  o.text_column = "question";
  o.text_pair_column = "sentence";
  auto d = read_classification(fx("classify_pair.jsonl"), o);
  ASSERT_EQ(d.examples.size(), 4u);
  EXPECT_EQ(d.label_names, (std::vector<std::string>{"0", "1", "10"}));
  EXPECT_EQ(d.examples[3].label, 2);
  EXPECT_EQ(d.examples[3].text_pair, "Jacob went to Bethel.");
  EXPECT_EQ(d.examples[2].source, fx("classify_pair.jsonl") + ":4");
}

TEST(TaskReaders, CsvParserEdgeCases) {
  auto r = parse_delimited("a,\"b,\"\"c\"\"\",\n\"x\ny\",z,\r\n", ',', "f.csv");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].fields, (std::vector<std::string>{"a", "b,\"c\"", ""}));
  EXPECT_EQ(r[1].line, 2);
  EXPECT_EQ(r[1].fields, (std::vector<std::string>{"x\ny", "z", ""}));
}

TEST(TaskReaders, Conll) {
  auto d = read_conll(fx("ner.conll"), {});
  ASSERT_EQ(d.examples.size(), 6u);
  EXPECT_EQ(d.label_names, (std::vector<std::string>{"O", "B-LOC", "B-PER"}));
  EXPECT_EQ(d.examples[0].words, (std::vector<std::string>{"Moses", "and", "Aaron", "went", "unto", "Pharaoh", "."}));
  EXPECT_EQ(d.examples[0].tags, (std::vector<int32_t>{2, 0, 2, 0, 0, 2, 0}));
  EXPECT_EQ(d.examples[0].source, fx("ner.conll") + ":3");
  ConllReadOptions o;
  o.tag_column = 1;  // POS column as the tag -> not BIO
  EXPECT_THROW(read_conll(fx("ner.conll"), o), Error);
}

TEST(TaskReaders, SquadCodePointOffsets) {
  auto d = read_squad(fx("squad.json"));
  ASSERT_EQ(d.examples.size(), 5u);
  EXPECT_EQ(d.examples[0].id, "gen-1");
  EXPECT_EQ(d.examples[0].answers[0].byte_start, 17u);
  const auto& e = d.examples[3];
  EXPECT_EQ(e.id, "exo-1");
  EXPECT_EQ(e.answers[0].answer_start, 40);
  EXPECT_EQ(e.answers[0].byte_start, 41u);  // "ï" is two bytes
  EXPECT_EQ(e.context.substr(e.answers[0].byte_start, e.answers[0].text.size()), "\xC3\x89gypte");
  EXPECT_EQ(utf8_codepoint_to_byte("a\xC3\xA9" "b", 2), 3);
  EXPECT_EQ(utf8_codepoint_to_byte("a\xC3\xA9" "b", 3), 4);
  EXPECT_EQ(utf8_codepoint_to_byte("ab", 3), -1);
}

TEST(TaskEncode, ClassificationWordPiece) {
  auto d = read_classification(fx("classify.csv"), {});
  auto tok = task_tokenizer(wp());
  auto f = encode_classification(d.examples, tok, 10);
  ASSERT_EQ(f.size(), 5);
  auto want = ids({"[CLS]", "david", "was", "king", "of", "israel", "[SEP]", "[PAD]", "[PAD]", "[PAD]"});
  EXPECT_EQ(row(f.input_ids, 3, 10), want);
  EXPECT_EQ(row(f.attention_mask, 3, 10), (std::vector<int32_t>{1, 1, 1, 1, 1, 1, 1, 0, 0, 0}));
  EXPECT_EQ(f.labels, (std::vector<int32_t>{0, 0, 1, 2, 0}));
  // truncated: [CLS] + 8 tokens + [SEP]
  EXPECT_EQ(row(f.input_ids, 0, 10), ids({"[CLS]", "in", "the", "beginning", "god", "created", "the", "heaven", "and", "[SEP]"}));

  // pair, longest-first truncation (ties cut the second segment)
  ClassificationExample p{"who was king", "david was king of israel", 0, "x"};
  auto g = encode_classification({p}, tok, 9);
  EXPECT_EQ(row(g.input_ids, 0, 9), ids({"[CLS]", "who", "was", "king", "[SEP]", "david", "was", "king", "[SEP]"}));
  EXPECT_EQ(row(g.token_type_ids, 0, 9), (std::vector<int32_t>{0, 0, 0, 0, 0, 1, 1, 1, 1}));
  auto h = encode_classification({p}, tok, 8);
  EXPECT_EQ(row(h.input_ids, 0, 8), ids({"[CLS]", "who", "was", "king", "[SEP]", "david", "was", "[SEP]"}));
}

TEST(TaskEncode, TokenClassificationAlignment) {
  auto d = read_conll(fx("ner.conll"), {});
  std::vector<std::string> labels = {"O", "B-LOC", "B-PER", "I-LOC", "I-PER"};
  ConllReadOptions o;
  o.label_names = labels;
  d = read_conll(fx("ner.conll"), o);
  auto tok = task_tokenizer(wp());
  const int64_t L = 12;
  auto f = encode_token_classification({d.examples[0]}, labels, tok, L, "first-subword");
  EXPECT_EQ(row(f.input_ids, 0, L), ids({"[CLS]", "moses", "and", "aaron", "went", "unto", "pha", "##ra", "##oh", ".",
                                         "[SEP]", "[PAD]"}));
  const int32_t I = kIgnoreIndex;
  EXPECT_EQ(f.labels, (std::vector<int32_t>{I, 2, 0, 2, 0, 0, 2, I, I, 0, I, I}));
  auto g = encode_token_classification({d.examples[0]}, labels, tok, L, "all-subwords");
  EXPECT_EQ(g.labels, (std::vector<int32_t>{I, 2, 0, 2, 0, 0, 2, 4, 4, 0, I, I}));
  // truncation keeps [CLS] ... [SEP]
  auto h = encode_token_classification({d.examples[0]}, labels, tok, 6, "first-subword");
  EXPECT_EQ(row(h.input_ids, 0, 6), ids({"[CLS]", "moses", "and", "aaron", "went", "[SEP]"}));
  EXPECT_THROW(encode_token_classification({d.examples[0]}, labels, tok, 6, "middle"), Error);
}

TEST(TaskEncode, QaWindowsAndAnswerSpans) {
  auto d = read_squad(fx("squad.json"));
  auto tok = task_tokenizer(wp());
  QaEncodeOptions o;
  o.max_len = 16;
  o.doc_stride = 2;
  auto f = encode_qa({d.examples[0]}, tok, o);
  // question: 8 tokens -> 5 context tokens per window, step 3 over 31 context tokens
  ASSERT_EQ(f.size(), 10);
  EXPECT_EQ(f.start_positions, (std::vector<int32_t>{13, 10, 0, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(f.end_positions, (std::vector<int32_t>{13, 10, 0, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(f.input_ids[13], id("god"));
  EXPECT_EQ(f.token_type_ids[10], 1);
  EXPECT_EQ(f.token_type_ids[9], 0);
  EXPECT_EQ(f.input_ids[9], id("[SEP]"));

  // Every window holding an answer decodes (through its offsets) back to the answer text.
  o.max_len = 24;
  o.doc_stride = 4;
  auto g = encode_qa(d.examples, tok, o);
  std::vector<int> found(d.examples.size(), 0);
  for (int64_t r = 0; r < g.size(); ++r) {
    const auto& ex = d.examples[static_cast<size_t>(g.example_index[static_cast<size_t>(r)])];
    int32_t s = g.start_positions[static_cast<size_t>(r)], e = g.end_positions[static_cast<size_t>(r)];
    if (s == 0) {
      EXPECT_EQ(e, 0);
      continue;
    }
    int64_t b = g.offsets[static_cast<size_t>((r * o.max_len + s) * 2)];
    int64_t en = g.offsets[static_cast<size_t>((r * o.max_len + e) * 2 + 1)];
    ASSERT_GE(b, 0);
    EXPECT_EQ(ex.context.substr(static_cast<size_t>(b), static_cast<size_t>(en - b)), ex.answers[0].text) << ex.id;
    found[static_cast<size_t>(g.example_index[static_cast<size_t>(r)])]++;
  }
  for (size_t i = 0; i < found.size(); ++i) EXPECT_GE(found[i], 1) << d.examples[i].id;
}

TEST(TaskDataset, HdfRoundTripAllTasks) {
  auto dir = tessera_test::fresh_dir("task_dataset_roundtrip");
  auto tok = task_tokenizer(wp());
  struct Case {
    std::string task;
    TaskFeatures f;
    std::vector<std::string> labels;
  };
  auto cls = read_classification(fx("classify.csv"), {});
  auto ner = read_conll(fx("ner.conll"), {});
  auto qa = read_squad(fx("squad.json"));
  QaEncodeOptions qo;
  qo.max_len = 24;
  qo.doc_stride = 4;
  std::vector<Case> cases = {
      {"sequence-classification", encode_classification(cls.examples, tok, 16), cls.label_names},
      {"token-classification", encode_token_classification(ner.examples, ner.label_names, tok, 16), ner.label_names},
      {"question-answering", encode_qa(qa.examples, tok, qo), {}}};
  for (const auto& c : cases) {
    TaskDatasetInfo info;
    info.task = c.task;
    info.tokenizer = "wordpiece(test vocab)";
    info.vocab_size = wp().vocab_size();
    info.pad_id = tok.pad_id;
    info.max_len = c.f.max_len;
    info.label_names = c.labels;
    std::string path = (dir / (c.task + ".h5")).string();
    TaskFeatures val = c.f;  // same rows as a second split
    write_task_dataset(path, info, {{"train", c.f}, {"validation", val}}, MPI_COMM_WORLD);
    TaskDataset ds(path, MPI_COMM_WORLD);
    EXPECT_EQ(ds.info().task, c.task);
    EXPECT_EQ(ds.info().label_names, c.labels);
    EXPECT_EQ(ds.info().splits, (std::vector<std::string>{"train", "validation"}));
    EXPECT_EQ(ds.num_rows("train"), c.f.size());
    auto r = ds.read_split("train");
    EXPECT_EQ(r.input_ids, c.f.input_ids);
    EXPECT_EQ(r.attention_mask, c.f.attention_mask);
    EXPECT_EQ(r.token_type_ids, c.f.token_type_ids);
    EXPECT_EQ(r.labels, c.f.labels);
    EXPECT_EQ(r.start_positions, c.f.start_positions);
    EXPECT_EQ(r.end_positions, c.f.end_positions);
    EXPECT_EQ(r.example_index, c.f.example_index);
    EXPECT_EQ(r.offsets, c.f.offsets);
    EXPECT_THROW(ds.num_rows("test"), Error);
  }
}
