#include <gtest/gtest.h>
#include <algorithm>
#include <filesystem>
#include <mpi.h>

#include "io/text_dataset_builder.hpp"
#include "io/token_dataset.hpp"
#include "src/runtime/error.hpp"
#include "src/tokenizer/byte_tokenizer.hpp"
#include "test_support.hpp"

using namespace tessera;

TEST(TokenDataset, WriteReadEquality) {
  auto dir = tessera_test::fresh_dir("tokds_roundtrip");
  const std::string path = (dir / "d.h5").string();
  TokenDatasetInfo info{"test-tok", 1000, 999, {}};
  std::vector<int32_t> train(5000);
  for (size_t i = 0; i < train.size(); ++i) train[i] = static_cast<int32_t>((i * 7919) % 1000);
  std::vector<int32_t> val = {1, 2, 999, 3, 999};
  write_token_dataset(path, info, {{"train", train}, {"validation", val}},
                      {{"train", {0, 100, 4000, 5000}}, {"validation", {0, 3, 5}}}, MPI_COMM_WORLD);
  TokenDataset d(path, MPI_COMM_WORLD);
  EXPECT_EQ(d.info().tokenizer, "test-tok");
  EXPECT_EQ(d.info().vocab_size, 1000);
  EXPECT_EQ(d.info().eot_id, 999);
  EXPECT_EQ(d.info().splits, (std::vector<std::string>{"train", "validation"}));
  EXPECT_TRUE(d.has_split("train"));
  EXPECT_FALSE(d.has_split("test"));
  EXPECT_EQ(d.num_tokens("train"), 5000);
  EXPECT_EQ(d.num_documents("train"), 3);
  EXPECT_EQ(d.num_documents("validation"), 2);
  EXPECT_EQ(d.doc_offsets("train"), (std::vector<int64_t>{0, 100, 4000, 5000}));
  std::vector<int32_t> all(5000);
  d.read_tokens("train", 0, 5000, all.data());
  EXPECT_EQ(all, train);
  std::vector<int32_t> win(17);
  d.read_tokens("train", 1234, 17, win.data());
  for (int i = 0; i < 17; ++i) EXPECT_EQ(win[i], train[1234 + i]);
  std::vector<int32_t> v(5);
  d.read_tokens("validation", 0, 5, v.data());
  EXPECT_EQ(v, val);
  d.read_tokens("train", 5000, 0, nullptr);  // empty read at the end is fine
  EXPECT_THROW(d.read_tokens("train", 4990, 11, all.data()), Error);
  EXPECT_THROW(d.read_tokens("train", -1, 2, all.data()), Error);
}

TEST(TokenDataset, WriteRejectsBadIdsAndOffsets) {
  auto dir = tessera_test::fresh_dir("tokds_write_bad");
  TokenDatasetInfo info{"t", 10, 9, {}};
  EXPECT_THROW(write_token_dataset((dir / "a.h5").string(), info, {{"train", {1, 10}}}, {{"train", {0, 2}}},
                                   MPI_COMM_WORLD),
               Error);
  EXPECT_THROW(write_token_dataset((dir / "b.h5").string(), info, {{"train", {1, 2}}}, {{"train", {0, 3}}},
                                   MPI_COMM_WORLD),
               Error);
}

TEST(PrepareText, SplitsDocumentsAndPlacesEot) {
  auto dir = tessera_test::fresh_dir("prepare_text");
  std::string a, b;
  for (int i = 0; i < 30; ++i) a += "Document number " + std::to_string(i) + " line one.\nline two é\n\n\n";
  for (int i = 30; i < 40; ++i) b += "Doc " + std::to_string(i) + "\r\n\r\n";
  tessera_test::write_file(dir / "a.txt", a);
  tessera_test::write_file(dir / "b.txt", b);
  PrepareTextOptions o;
  o.inputs = {(dir / "a.txt").string(), (dir / "b.txt").string()};
  o.output = (dir / "out.h5").string();
  o.validation_fraction = 0.1;
  o.test_fraction = 0.05;
  prepare_text_dataset(o, MPI_COMM_WORLD);

  TokenDataset d(o.output, MPI_COMM_WORLD);
  EXPECT_EQ(d.info().tokenizer, "byte-v1");
  EXPECT_EQ(d.info().vocab_size, 257);
  EXPECT_EQ(d.info().eot_id, 256);
  ASSERT_EQ(d.info().splits, (std::vector<std::string>{"train", "validation", "test"}));
  EXPECT_EQ(d.num_documents("validation"), 4);
  EXPECT_EQ(d.num_documents("test"), 2);
  EXPECT_EQ(d.num_documents("train"), 34);
  ByteTokenizer tok;
  int64_t total_docs = 0;
  for (const auto& s : d.info().splits) {
    const int64_t n = d.num_tokens(s);
    ASSERT_GT(n, 0);
    std::vector<int32_t> ids(static_cast<size_t>(n));
    d.read_tokens(s, 0, n, ids.data());
    const auto& off = d.doc_offsets(s);
    int64_t eots = 0;
    for (int32_t id : ids) eots += id == ByteTokenizer::kEot;
    EXPECT_EQ(eots, d.num_documents(s));  // exactly one EOT per document ...
    for (size_t k = 1; k < off.size(); ++k) {
      EXPECT_EQ(ids[static_cast<size_t>(off[k] - 1)], ByteTokenizer::kEot);  // ... at its end
      std::vector<int32_t> doc(ids.begin() + off[k - 1], ids.begin() + off[k] - 1);
      std::string text = tok.decode(doc);
      EXPECT_TRUE(text.rfind("Doc", 0) == 0) << text;
      EXPECT_EQ(text.find('\r'), std::string::npos);
    }
    total_docs += d.num_documents(s);
  }
  EXPECT_EQ(total_docs, 40);
  // first train document is the first document of a.txt, byte for byte
  std::vector<int32_t> first(static_cast<size_t>(d.doc_offsets("train")[1]));
  d.read_tokens("train", 0, static_cast<int64_t>(first.size()), first.data());
  EXPECT_EQ(tok.decode(first), "Document number 0 line one.\nline two é<|endoftext|>");
}

TEST(PrepareText, Separators) {
  auto dir = tessera_test::fresh_dir("prepare_separators");
  tessera_test::write_file(dir / "x.txt", "a\nb\n\nc\n");
  tessera_test::write_file(dir / "y.txt", "\n\nd\n");
  std::vector<std::string> in = {(dir / "x.txt").string(), (dir / "y.txt").string()};
  EXPECT_EQ(split_documents(in, "blank-lines"), (std::vector<std::string>{"a\nb", "c", "d"}));
  EXPECT_EQ(split_documents(in, "line"), (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_EQ(split_documents(in, "file"), (std::vector<std::string>{"a\nb\n\nc", "d"}));
  EXPECT_THROW(split_documents(in, "words"), Error);
  auto s = assign_splits(100, 0.05, 0.0);
  EXPECT_EQ(std::count(s.begin(), s.end(), 1), 5);
  EXPECT_EQ(std::count(s.begin(), s.end(), 2), 0);
  EXPECT_EQ(s, assign_splits(100, 0.05, 0.0));  // deterministic
  EXPECT_THROW(assign_splits(1, 0.05, 0.0), Error);
}

TEST(PrepareText, MissingAndEmptyInputs) {
  auto dir = tessera_test::fresh_dir("prepare_bad");
  PrepareTextOptions o;
  o.output = (dir / "o.h5").string();
  o.inputs = {(dir / "nope.txt").string()};
  try {
    prepare_text_dataset(o, MPI_COMM_WORLD);
    FAIL() << "expected Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nope.txt"), std::string::npos) << e.what();
  }
  tessera_test::write_file(dir / "empty.txt", "\n \n\n");
  o.inputs = {(dir / "empty.txt").string()};
  try {
    prepare_text_dataset(o, MPI_COMM_WORLD);
    FAIL() << "expected Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("empty.txt"), std::string::npos) << e.what();
  }
}

TEST(PrepareText, BundledKjv) {
  namespace fs = std::filesystem;
  const fs::path kjv = fs::path(tessera_test::source_dir()) / "data" / "kjv";
  if (!fs::is_directory(kjv)) GTEST_SKIP() << "data/kjv not present";
  PrepareTextOptions o;
  for (const auto& e : fs::directory_iterator(kjv))
    if (e.path().extension() == ".txt") o.inputs.push_back(e.path().string());
  std::sort(o.inputs.begin(), o.inputs.end());
  ASSERT_EQ(o.inputs.size(), 12u);
  auto dir = tessera_test::fresh_dir("prepare_kjv");
  o.output = (dir / "kjv.h5").string();
  prepare_text_dataset(o, MPI_COMM_WORLD);
  TokenDataset d(o.output, MPI_COMM_WORLD);
  EXPECT_EQ(d.num_documents("train") + d.num_documents("validation"), 325);  // one document per chapter
  EXPECT_EQ(d.num_documents("validation"), 16);                             // round(325 * 0.05)
  EXPECT_GT(d.num_tokens("train"), 1000000);
  std::vector<int32_t> head(55);
  d.read_tokens("train", 0, 55, head.data());
  EXPECT_EQ(ByteTokenizer().decode(head), "In the beginning God created the heaven and the earth.\n");
}
