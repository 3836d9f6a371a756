// Every byte flip inside tensor or token data is detected (Fletcher-32 per chunk),
// with the file, tensor/split and chunk named, on the ordinary read path and by
// `inspect --verify`; no flip crashes or hangs. Offsets: first, last and evenly
// spaced bytes of every chunk of every dataset (chunk addresses from HDF5).
#include <gtest/gtest.h>
#include <hdf5.h>

#include <fstream>
#include <functional>

#include "io/checkpoint.hpp"
#include "io/checkpoint_verify.hpp"
#include "io/hdf5_file.hpp"
#include "io/token_dataset.hpp"
#include "src/runtime/error.hpp"
#include "test_support.hpp"

using namespace tessera;
namespace fs = std::filesystem;

namespace {

struct DataChunk {
  std::string dataset;
  haddr_t addr;
  hsize_t size;
};

// Every chunk of every array dataset of path, with its file address and stored size.
std::vector<DataChunk> data_chunks(const std::string& path) {
  h5::File f = h5::File::open_read(path, MPI_COMM_NULL);
  std::vector<DataChunk> out;
  std::function<void(const std::string&)> walk = [&](const std::string& group) {
    for (const std::string& name : f.list(group)) {
      const std::string obj = (group == "/" ? "" : group) + "/" + name;
      if (f.is_group(obj)) {
        walk(obj);
      } else if (!f.dataset_shape(obj).empty()) {
        h5::Handle d = f.open_dataset(obj);
        EXPECT_TRUE(h5::has_checksum(d)) << obj;
        h5::Handle space(H5Dget_space(d), H5Sclose);
        hsize_t n = 0;
        EXPECT_GE(H5Dget_num_chunks(d, space, &n), 0);
        for (hsize_t i = 0; i < n; ++i) {
          unsigned mask = 0;
          haddr_t addr = 0;
          hsize_t size = 0;
          EXPECT_GE(H5Dget_chunk_info(d, space, i, nullptr, &mask, &addr, &size), 0);
          out.push_back({obj, addr, size});
        }
      }
    }
  };
  walk("/");
  return out;
}

void flip_byte(const std::string& path, uint64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0xFF);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&c, 1);
}

// Flips one byte at a time at sampled offsets of every chunk; read(path) must throw
// an Error naming the dataset and the chunk, and verify_file_data must report it.
void expect_every_flip_detected(const std::string& path, const std::function<void()>& read, int per_chunk) {
  ASSERT_NO_THROW(read());  // the clean file reads
  ASSERT_TRUE(verify_file_data(path).problems.empty());
  const std::vector<DataChunk> chunks = data_chunks(path);
  ASSERT_FALSE(chunks.empty());
  int flips = 0;
  for (const DataChunk& c : chunks) {
    for (int k = 0; k < per_chunk; ++k) {
      const uint64_t off = c.addr + (c.size - 1) * uint64_t(k) / uint64_t(per_chunk - 1);
      flip_byte(path, off);
      std::string msg;
      try {
        read();
      } catch (const Error& e) {
        msg = e.what();
      }
      EXPECT_NE(msg.find(path), std::string::npos) << "flip at " << off << " in " << c.dataset << ": " << msg;
      EXPECT_NE(msg.find(c.dataset + ": "), std::string::npos) << "flip at " << off << ": " << msg;
      EXPECT_NE(msg.find("chunk "), std::string::npos) << msg;
      EXPECT_NE(msg.find("checksum"), std::string::npos) << msg;
      const FileVerification v = verify_file_data(path);
      ASSERT_EQ(v.problems.size(), 1u) << "flip at " << off << " in " << c.dataset;
      EXPECT_NE(v.problems[0].find(c.dataset + ": chunk "), std::string::npos) << v.problems[0];
      flip_byte(path, off);  // restore
      ++flips;
    }
  }
  ASSERT_NO_THROW(read());
  EXPECT_GE(flips, per_chunk * static_cast<int>(chunks.size()));
}

}  // namespace

TEST(ByteFlip, EveryFlipInCheckpointTensorsIsDetectedNamingTensorAndChunk) {
  const fs::path dir = tessera_test::fresh_dir("integrity_flip_ckpt");
  // A tensor of two chunks (1100 x 1024 floats, chunks of 1024 rows), a matrix, a vector.
  std::vector<ParamInfo> infos = {{"wte.weight", {1100, 1024}, {1100, 1024}, {0, 0}},
                                  {"h.0.attn.c_attn.weight", {24, 72}, {24, 72}, {0, 0}},
                                  {"ln_f.bias", {24}, {24}, {0}}};
  size_t off = 0;
  for (auto& i : infos) {
    i.offset = off;
    i.numel = size_t(product(i.full_shape));
    off += i.numel;
  }
  std::vector<float> p(off), m(off), v(off);
  for (size_t i = 0; i < off; ++i) {
    p[i] = 0.01f * float(i % 977) - 3.0f;
    m[i] = 1e-3f * float(i % 13);
    v[i] = 1e-6f * float(i % 7);
  }
  TrainingState st;
  st.step = 4;
  st.tokens_seen = 512;
  const std::string path = write_checkpoint<float>(
      dir.string(), infos, {{"params", p.data()}, {"optimizer/exp_avg", m.data()}, {"optimizer/exp_avg_sq", v.data()}},
      st, 0, MPI_COMM_NULL);
  std::vector<float> p2(off), m2(off), v2(off);
  auto read = [&] {
    read_checkpoint<float>(path, infos,
                           {{"params", p2.data()}, {"optimizer/exp_avg", m2.data()}, {"optimizer/exp_avg_sq", v2.data()}},
                           MPI_COMM_NULL);
  };
  EXPECT_EQ(data_chunks(path).size(), 4u * 3u);  // wte in 2 chunks + 2 tensors, in 3 groups
  expect_every_flip_detected(path, read, 4);
  read();
  EXPECT_EQ(p2, p);
  EXPECT_EQ(v2, v);
}

TEST(ByteFlip, EveryFlipInDatasetTokensIsDetectedNamingSplitAndChunk) {
  const fs::path dir = tessera_test::fresh_dir("integrity_flip_tokens");
  const std::string path = (dir / "tokens.h5").string();
  std::map<std::string, std::vector<int32_t>> tokens;
  std::map<std::string, std::vector<int64_t>> offsets;
  for (auto [name, n] : {std::pair<std::string, int>{"train", 5000}, {"validation", 700}}) {
    auto& t = tokens[name];
    for (int i = 0; i < n; ++i) t.push_back((i * 37 + int(name.size())) % 257);
    offsets[name] = {0, n / 2, n};
  }
  write_token_dataset(path, {"byte", 257, 256, {}}, tokens, offsets, MPI_COMM_NULL);
  auto read = [&] {
    TokenDataset d(path, MPI_COMM_NULL);
    for (const auto& s : d.info().splits) {
      std::vector<int32_t> buf(size_t(d.num_tokens(s)));
      d.read_tokens(s, 0, d.num_tokens(s), buf.data());
      if (buf != tokens.at(s)) throw Error(path + ": /" + s + ": tokens differ, undetected");
    }
  };
  expect_every_flip_detected(path, read, 12);
}
