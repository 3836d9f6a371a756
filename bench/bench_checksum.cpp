// Read/write cost of the Fletcher-32 checksums (issue #10) on a GPT-2 124M-sized
// tensor set: every tensor of GPT-2 small (wte, wpe, 12 blocks, ln_f; 124.4 M
// float32 values = 475 MiB) written and read back (a) through Tessera's
// h5::File::create_dataset — chunked + Fletcher-32, the checkpoint path — and
// (b) with the same chunk shapes and no filter. Files go to DIR (default
// /tmp/tessera-bench-checksum); each variant runs REPEATS times (default 3),
// alternating, with the page cache dropped before reads when possible (root).
//   bench_checksum [DIR] [REPEATS]
#include <mpi.h>
#include <hdf5.h>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>
#include "io/hdf5_file.hpp"

namespace {

struct Tensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<hsize_t> chunk = {};  // Tessera's chunk shape for it (filled in main)
};

std::vector<Tensor> gpt2_small() {
  const int64_t C = 768, V = 50257, P = 1024;
  std::vector<Tensor> t = {{"wte", {V, C}}, {"wpe", {P, C}}};
  for (int l = 0; l < 12; ++l) {
    const std::string h = "h." + std::to_string(l) + ".";
    for (const char* n : {"ln_1.weight", "ln_1.bias", "ln_2.weight", "ln_2.bias", "attn.c_proj.bias", "mlp.c_proj.bias"})
      t.push_back({h + n, {C}});
    t.push_back({h + "attn.c_attn.weight", {C, 3 * C}});
    t.push_back({h + "attn.c_attn.bias", {3 * C}});
    t.push_back({h + "attn.c_proj.weight", {C, C}});
    t.push_back({h + "mlp.c_fc.weight", {C, 4 * C}});
    t.push_back({h + "mlp.c_fc.bias", {4 * C}});
    t.push_back({h + "mlp.c_proj.weight", {4 * C, C}});
  }
  t.push_back({"ln_f.weight", {C}});
  t.push_back({"ln_f.bias", {C}});
  return t;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void drop_caches() {
  std::ofstream f("/proc/sys/vm/drop_caches");
  if (f) f << "3\n";
}

// Writes every tensor; checksummed = Tessera's create_dataset, else the same chunks unfiltered.
double write_file(const std::string& path, const std::vector<Tensor>& ts, const std::vector<float>& data, bool checksummed) {
  const auto t0 = std::chrono::steady_clock::now();
  tessera::h5::File f = tessera::h5::File::create(path, MPI_COMM_NULL);
  for (const Tensor& t : ts) {
    hid_t d;
    tessera::h5::Handle owned;
    if (checksummed) {
      owned = f.create_dataset(t.name, H5T_NATIVE_FLOAT, t.shape);
      d = owned.id();
    } else {
      std::vector<hsize_t> dims(t.shape.begin(), t.shape.end());
      const std::vector<hsize_t>& c = t.chunk;  // the checksummed dataset's chunk shape
      hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
      H5Pset_chunk(dcpl, int(c.size()), c.data());
      hid_t space = H5Screate_simple(int(dims.size()), dims.data(), nullptr);
      d = H5Dcreate2(f.id(), t.name.c_str(), H5T_NATIVE_FLOAT, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
      owned = tessera::h5::Handle(d, H5Dclose);
      H5Sclose(space);
      H5Pclose(dcpl);
    }
    H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data());
  }
  f.flush();
  f.close();
  return seconds_since(t0);
}

double read_file(const std::string& path, const std::vector<Tensor>& ts, std::vector<float>& buf) {
  const auto t0 = std::chrono::steady_clock::now();
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  for (const Tensor& t : ts) {
    hid_t d = H5Dopen2(f, t.name.c_str(), H5P_DEFAULT);
    if (H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0)
      std::fprintf(stderr, "read of %s failed\n", t.name.c_str());
    H5Dclose(d);
  }
  H5Fclose(f);
  return seconds_since(t0);
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  const std::string dir = argc > 1 ? argv[1] : "/tmp/tessera-bench-checksum";
  const int repeats = argc > 2 ? std::max(1, std::atoi(argv[2])) : 3;
  std::filesystem::create_directories(dir);
  std::vector<Tensor> ts = gpt2_small();
  {  // Tessera's chunk shapes (probe datasets, outside the timings)
    tessera::h5::File probe = tessera::h5::File::create(dir + "/chunks.h5", MPI_COMM_NULL);
    for (Tensor& t : ts) {
      tessera::h5::Handle d = probe.create_dataset(t.name, H5T_NATIVE_FLOAT, t.shape);
      hid_t pl = H5Dget_create_plist(d.id());
      t.chunk.resize(t.shape.size());
      H5Pget_chunk(pl, int(t.chunk.size()), t.chunk.data());
      H5Pclose(pl);
    }
  }
  std::filesystem::remove(dir + "/chunks.h5");
  int64_t total = 0, largest = 0;
  for (const Tensor& t : ts) {
    int64_t n = 1;
    for (int64_t d : t.shape) n *= d;
    total += n;
    largest = std::max(largest, n);
  }
  std::vector<float> data(static_cast<size_t>(largest)), buf(static_cast<size_t>(largest));
  for (size_t i = 0; i < data.size(); ++i) data[i] = float((i * 2654435761u) % 1000003) * 1e-6f;
  std::printf("GPT-2 124M tensor set: %zu tensors, %lld floats (%.1f MiB) per file, %d repeats\n", ts.size(),
              (long long)total, double(total) * 4 / 1048576.0, repeats);
  double w[2] = {1e30, 1e30}, r[2] = {1e30, 1e30}, rc[2] = {1e30, 1e30};
  for (int k = 0; k < repeats; ++k) {
    for (int v = 0; v < 2; ++v) {
      const std::string path = dir + (v ? "/fletcher32.h5" : "/plain.h5");
      w[v] = std::min(w[v], write_file(path, ts, data, v == 1));
      drop_caches();
      r[v] = std::min(r[v], read_file(path, ts, buf));      // cold (if caches could be dropped)
      rc[v] = std::min(rc[v], read_file(path, ts, buf));    // page cache warm: the CPU cost alone
    }
  }
  std::printf("%-12s %10s %12s %12s\n", "variant", "write s", "read s", "read(warm) s");
  std::printf("%-12s %10.3f %12.3f %12.3f\n", "plain", w[0], r[0], rc[0]);
  std::printf("%-12s %10.3f %12.3f %12.3f\n", "fletcher32", w[1], r[1], rc[1]);
  std::printf("ratio        %10.3f %12.3f %12.3f\n", w[1] / w[0], r[1] / r[0], rc[1] / rc[0]);
  for (const char* f : {"/plain.h5", "/fletcher32.h5"}) std::filesystem::remove(dir + f);
  MPI_Finalize();
  return 0;
}
