// Bad HDF5 inputs must give a tessera::Error naming the file (and the object),
// never a crash or a hang.
#include <gtest/gtest.h>
#include <mpi.h>

#include <filesystem>
#include <sstream>

#include "io/checkpoint.hpp"
#include "io/hdf5_file.hpp"
#include "io/inspect.hpp"
#include "io/token_dataset.hpp"
#include "src/runtime/error.hpp"
#include "test_support.hpp"

using namespace tessera;
namespace fs = std::filesystem;

namespace {

// Runs fn, expects a tessera::Error whose message contains every needle.
template <class Fn>
void expect_error(Fn&& fn, const std::vector<std::string>& needles) {
  try {
    fn();
    ADD_FAILURE() << "expected tessera::Error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const auto& n : needles) EXPECT_NE(msg.find(n), std::string::npos) << "'" << n << "' not in: " << msg;
  }
}

ParameterSet<float> model(int64_t ln_size) {
  ParameterSet<float> p;
  p.add("wte.weight", {6, 4}, true);
  p.add("h.0.ln_1.weight", {ln_size}, false);
  p.allocate();
  return p;
}

std::string write_ckpt(const fs::path& dir, int64_t ln_size) {
  ParameterSet<float> p = model(ln_size);
  std::vector<float> v(p.numel(), 0.5f);
  TrainingState st;
  st.step = 5;
  st.tokens_seen = 320;
  return write_checkpoint<float>(dir.string(), p.infos(), {{"params", v.data()}}, st, 0, MPI_COMM_WORLD);
}

std::string write_tokens(const fs::path& dir) {
  const std::string path = (dir / "tokens.h5").string();
  write_token_dataset(path, {"byte-v1", 257, 256, {}}, {{"train", {72, 105, 256}}}, {{"train", {0, 3}}},
                      MPI_COMM_WORLD);
  return path;
}

}  // namespace

TEST(Hdf5BadInput, MissingFile) {
  auto dir = tessera_test::fresh_dir("bad_missing");
  const std::string p = (dir / "absent.h5").string();
  expect_error([&] { TokenDataset d(p, MPI_COMM_WORLD); }, {p, "no such file"});
  expect_error([&] { read_checkpoint_state(p, MPI_COMM_WORLD); }, {p, "no such file"});
  std::ostringstream out;
  expect_error([&] { inspect_file(p, out); }, {p, "no such file"});
}

TEST(Hdf5BadInput, TextFileIsNotHdf5) {
  auto dir = tessera_test::fresh_dir("bad_text");
  const std::string p = (dir / "notes.h5").string();
  tessera_test::write_file(p, "this is plain text, not HDF5\n");
  expect_error([&] { TokenDataset d(p, MPI_COMM_WORLD); }, {p, "not an HDF5 file"});
  expect_error([&] { read_checkpoint_state(p, MPI_COMM_WORLD); }, {p, "not an HDF5 file"});
  tessera_test::write_file(p, "");
  expect_error([&] { TokenDataset d(p, MPI_COMM_WORLD); }, {p, "not an HDF5 file"});
}

TEST(Hdf5BadInput, TruncatedHdf5) {
  auto dir = tessera_test::fresh_dir("bad_truncated");
  const std::string good = write_ckpt(dir / "ok", 8);
  const std::string data = tessera_test::read_file(good);
  const std::string p = (dir / "half.h5").string();
  tessera_test::write_file(p, data.substr(0, data.size() / 2));
  ParameterSet<float> m = model(8);
  std::vector<float> buf(m.numel());
  expect_error([&] { read_checkpoint<float>(p, m.infos(), {{"params", buf.data()}}, MPI_COMM_WORLD); }, {p});
  expect_error([&] { read_checkpoint_state(p, MPI_COMM_WORLD); }, {p});

  const std::string tok = write_tokens(dir);
  const std::string tdata = tessera_test::read_file(tok);
  const std::string tp = (dir / "half_tokens.h5").string();
  tessera_test::write_file(tp, tdata.substr(0, tdata.size() / 2));
  expect_error([&] { TokenDataset d(tp, MPI_COMM_WORLD); }, {tp});
}

TEST(Hdf5BadInput, CheckpointWrongShape) {
  auto dir = tessera_test::fresh_dir("bad_shape");
  const std::string p = write_ckpt(dir, 32);
  ParameterSet<float> m = model(64);
  std::vector<float> buf(m.numel());
  expect_error([&] { read_checkpoint<float>(p, m.infos(), {{"params", buf.data()}}, MPI_COMM_WORLD); },
               {p, "/params/h.0.ln_1.weight has shape [32] but the model expects [64]"});
}

TEST(Hdf5BadInput, CheckpointMissingTensor) {
  auto dir = tessera_test::fresh_dir("bad_missing_tensor");
  const std::string p = write_ckpt(dir, 8);
  ParameterSet<float> m = model(8);
  std::vector<float> buf(m.numel()), opt(m.numel());
  // The file has no optimizer state at all.
  expect_error(
      [&] {
        read_checkpoint<float>(p, m.infos(), {{"params", buf.data()}, {"optimizer/exp_avg", opt.data()}},
                               MPI_COMM_WORLD);
      },
      {p, "/optimizer/exp_avg/wte.weight", "missing"});
  // The model has a tensor the file lacks.
  ParameterSet<float> bigger;
  bigger.add("wte.weight", {6, 4}, true);
  bigger.add("h.0.ln_1.weight", {8}, false);
  bigger.add("lm_head.weight", {6, 4}, true);
  bigger.allocate();
  std::vector<float> b2(bigger.numel());
  expect_error([&] { read_checkpoint<float>(p, bigger.infos(), {{"params", b2.data()}}, MPI_COMM_WORLD); },
               {p, "/params/lm_head.weight"});
}

TEST(Hdf5BadInput, TokenDatasetIsNotACheckpoint) {
  auto dir = tessera_test::fresh_dir("bad_kind");
  const std::string tok = write_tokens(dir);
  expect_error([&] { read_checkpoint_state(tok, MPI_COMM_WORLD); }, {tok, "format"});
  const std::string ck = write_ckpt(dir / "ck", 8);
  expect_error([&] { TokenDataset d(ck, MPI_COMM_WORLD); }, {ck, "format"});
}

TEST(Hdf5BadInput, TokenIdOutOfVocab) {
  auto dir = tessera_test::fresh_dir("bad_token_id");
  const std::string p = (dir / "bad_ids.h5").string();
  {
    // Hand-built file (write_token_dataset refuses bad ids): vocab 257, id 300 at position 2.
    h5::File f = h5::File::create(p, MPI_COMM_WORLD);
    f.write_attr_string("/", "format", "tessera-tokens");
    f.write_attr_i64("/", "format_version", 1);
    f.write_attr_string("/", "tokenizer", "byte-v1");
    f.write_attr_i64("/", "vocab_size", 257);
    f.write_attr_i64("/", "eot_id", 256);
    f.create_group("/train");
    std::vector<int32_t> ids = {1, 2, 300, 256};
    std::vector<int64_t> off = {0, 4};
    h5::Handle t = f.create_dataset("/train/tokens", H5T_STD_I32LE, {4});
    h5::write_box(f, t, "/train/tokens", H5T_NATIVE_INT32, {0}, {4}, ids.data(), true, true);
    h5::Handle o = f.create_dataset("/train/doc_offsets", H5T_STD_I64LE, {2});
    h5::write_box(f, o, "/train/doc_offsets", H5T_NATIVE_INT64, {0}, {2}, off.data(), true, true);
  }
  TokenDataset d(p, MPI_COMM_WORLD);
  std::vector<int32_t> buf(4);
  d.read_tokens("train", 0, 2, buf.data());  // the good window reads fine
  expect_error([&] { d.read_tokens("train", 0, 4, buf.data()); }, {p, "train", "300", "position 2"});
}

TEST(Hdf5BadInput, MissingSplit) {
  auto dir = tessera_test::fresh_dir("bad_split");
  const std::string p = write_tokens(dir);
  TokenDataset d(p, MPI_COMM_WORLD);
  std::vector<int32_t> buf(4);
  expect_error([&] { d.read_tokens("validation", 0, 1, buf.data()); }, {p, "validation", "no such split"});
  expect_error([&] { d.num_tokens("test"); }, {p, "test"});
  expect_error([&] { d.read_tokens("train", 2, 5, buf.data()); }, {p, "/train/tokens", "outside"});
}

TEST(Hdf5BadInput, MissingAttributeOrGroup) {
  auto dir = tessera_test::fresh_dir("bad_layout");
  const std::string p = (dir / "layout.h5").string();
  {
    h5::File f = h5::File::create(p, MPI_COMM_WORLD);
    f.write_attr_string("/", "format", "tessera-tokens");
    f.write_attr_i64("/", "format_version", 1);
    f.write_attr_string("/", "tokenizer", "byte-v1");
    // no vocab_size
  }
  expect_error([&] { TokenDataset d(p, MPI_COMM_WORLD); }, {p, "vocab_size"});
  {
    h5::File f = h5::File::create(p, MPI_COMM_WORLD);
    f.write_attr_string("/", "format", "tessera-tokens");
    f.write_attr_i64("/", "format_version", 1);
    f.write_attr_string("/", "tokenizer", "byte-v1");
    f.write_attr_i64("/", "vocab_size", 257);
    f.write_attr_i64("/", "eot_id", 256);
    f.create_group("/train");  // no tokens dataset
  }
  expect_error([&] { TokenDataset d(p, MPI_COMM_WORLD); }, {p, "/train", "tokens"});
}

TEST(Hdf5BadInput, InspectDescribesFiles) {
  auto dir = tessera_test::fresh_dir("inspect_files");
  std::ostringstream a, b;
  EXPECT_EQ(inspect_file(write_tokens(dir), a), 0);
  EXPECT_NE(a.str().find("byte-v1"), std::string::npos) << a.str();
  EXPECT_NE(a.str().find("train: 3 tokens, 1 documents"), std::string::npos) << a.str();
  EXPECT_EQ(inspect_file(write_ckpt(dir / "ck", 8), b), 0);
  EXPECT_NE(b.str().find("/params/wte.weight  [6, 4]  float32"), std::string::npos) << b.str();
  EXPECT_NE(b.str().find("parameters (/params): 32"), std::string::npos) << b.str();
}
