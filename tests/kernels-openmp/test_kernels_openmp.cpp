// The Kokkos kernels under the OpenMP backend give the Serial build's results (race-free, thread-count
// independent). tessera_kernel_dump runs every kernel of kernels/ on fixed inputs; it is built twice: in
// this (Serial) build and in the OpenMP variant build-openmp/ (scripts/install.sh builds both). The test
// runs the OpenMP one with 1, 2 and 4 threads (OMP_NUM_THREADS) and compares:
//   - threads vs threads: records whose operation order is fixed ("exact") must be bitwise equal for any
//     thread count; parallel reductions (sum order depends on the thread split) within kReductionTol;
//   - OpenMP vs Serial build: every record within kCrossBuildTol. The two builds compile the same source
//     with and without -fopenmp, and GCC's FMA contraction (-march=native) may differ between the two
//     inlining contexts: measured, 6 elements of layernorm_backward.dweight differ in the last bits (7e-6
//     relative) with 1 OpenMP thread as with 2, everything else is bitwise. On an AMD EPYC (Zen 3, AVX2) one
//     element near 0 of that sum differed by 1.7e-4 of its own value, so the check is against the record's
//     scale (max |Δ| / max |value|), as for the GEMMs. The bitwise count is printed.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "kernels-openmp/kernel_dump_file.hpp"
#include "test_support.hpp"

using namespace tessera_test;
namespace fs = std::filesystem;

namespace {

constexpr double kReductionTol = 2e-5;   // float reductions, relative
constexpr double kCrossBuildTol = 2e-5;  // FMA contraction between the two builds, relative to the record's scale

const KernelDump& dump(const std::string& which) {
  static std::map<std::string, KernelDump> cache;
  auto it = cache.find(which);
  if (it != cache.end()) return it->second;
  // One directory per test process: ctest -j runs this file's tests side by side.
  const fs::path dir = fs::path(TESSERA_TEST_TMP) / ("kernels_openmp." + std::to_string(getpid()));
  fs::create_directories(dir);
  const std::string file = (dir / (which + ".bin")).string();
  std::string cmd;
  // One BLAS thread everywhere: the comparison is about the Kokkos backend, not OpenBLAS' threading.
  if (which == "serial") {
    cmd = std::string("OPENBLAS_NUM_THREADS=1 ") + TESSERA_KERNEL_DUMP_EXE + " " + file;
  } else {
    if (!fs::exists(TESSERA_OPENMP_KERNEL_DUMP_EXE))
      throw std::runtime_error(std::string("OpenMP variant not built: ") + TESSERA_OPENMP_KERNEL_DUMP_EXE +
                               " is missing (scripts/install.sh builds it; see README 'Kokkos backends')");
    cmd = "OMP_NUM_THREADS=" + which + " OMP_PROC_BIND=false OPENBLAS_NUM_THREADS=1 " +
          TESSERA_OPENMP_KERNEL_DUMP_EXE + " " + file;
  }
  const CommandResult r = run_command(cmd);
  if (r.exit_code != 0) throw std::runtime_error(cmd + " failed (" + std::to_string(r.exit_code) + "): " + r.output);
  cache[which] = read_kernel_dump(file);
  fs::remove(file);
  std::error_code ec;
  fs::remove(dir, ec);  // once empty
  return cache[which];
}

void expect_thread_independent(const KernelDump& a, const KernelDump& b) {
  ASSERT_EQ(a.records.size(), b.records.size());
  for (const auto& [name, ra] : a.records) {
    const auto it = b.records.find(name);
    ASSERT_NE(it, b.records.end()) << name;
    const DumpRecord& rb = it->second;
    ASSERT_EQ(ra.values.size(), rb.values.size()) << name;
    if (ra.exact)
      EXPECT_EQ(bit_differences(ra.values, rb.values), 0u)
          << name << " (fixed-order kernel) differs between " << a.backend << " and " << b.backend
          << " threads: max rel " << max_rel_diff(ra.values, rb.values);
    else
      EXPECT_LE(max_rel_diff(ra.values, rb.values), kReductionTol) << name << ": " << a.backend << " vs " << b.backend;
  }
}

}  // namespace

TEST(KernelsOpenMP, VariantRunsOnOpenMPThreads) {
  EXPECT_EQ(dump("1").backend, "OpenMP 1");
  EXPECT_EQ(dump("2").backend, "OpenMP 2");
  EXPECT_EQ(dump("4").backend, "OpenMP 4");
  EXPECT_EQ(dump("serial").backend, "Serial 1");
}

TEST(KernelsOpenMP, EveryKernelHasARecord) {
  const std::set<std::string> kernels = declared_kernels(source_dir());
  ASSERT_GT(kernels.size(), 40u) << "kernel declarations not found in kernels/*.hpp";
  for (const std::string& k : kernels) {
    bool found = false;
    for (const auto& [name, r] : dump("serial").records)
      if (name == k || name.rfind(k + ".", 0) == 0) found = true;
    EXPECT_TRUE(found) << "kernel " << k << " (kernels/*.hpp) has no record in tests/kernels-openmp/kernel_dump.cpp";
  }
}

TEST(KernelsOpenMP, TwoThreadsGiveOneThreadsBits) { expect_thread_independent(dump("2"), dump("1")); }

TEST(KernelsOpenMP, FourThreadsGiveOneThreadsBits) { expect_thread_independent(dump("4"), dump("1")); }

TEST(KernelsOpenMP, OpenMPEqualsSerialBuild) {
  const KernelDump& omp = dump("2");
  const KernelDump& ser = dump("serial");
  ASSERT_EQ(omp.records.size(), ser.records.size());
  size_t bitwise = 0;
  for (const auto& [name, rs] : ser.records) {
    const auto it = omp.records.find(name);
    ASSERT_NE(it, omp.records.end()) << name;
    ASSERT_EQ(it->second.values.size(), rs.values.size()) << name;
    const double d = max_scaled_diff(it->second.values, rs.values);
    EXPECT_LE(d, kCrossBuildTol) << name << ": OpenMP 2 threads vs Serial (max |Δ| / max |value|; per element "
                                 << max_rel_diff(it->second.values, rs.values) << ")";
    if (bit_differences(it->second.values, rs.values) == 0) ++bitwise;
  }
  std::printf("kernels-openmp: %zu of %zu records bitwise equal to the Serial build\n", bitwise, ser.records.size());
  // Contraction differences are rare: most kernels must match bit for bit.
  EXPECT_GE(bitwise * 10, ser.records.size() * 9);
}
