// On a machine with a CUDA GPU (scripts/gpu_check.sh): every kernel of the CUDA variant
// (build-cuda/tessera_kernel_dump, Kokkos CUDA backend, cuBLAS GEMMs) gives the host Serial build's results.
// GPUs differ from the host in summation order (parallel reductions, cuBLAS blocking) and in the last bits of
// libm-style functions (erf, pow, sin/cos), so the comparison is within kGpuTol relative (floor 1e-3), not
// bitwise. Skips where no GPU device node exists (/dev/nvidia0) or the CUDA variant was not built.
#include <gtest/gtest.h>

#include <filesystem>

#include "kernels-openmp/kernel_dump_file.hpp"
#include "test_support.hpp"

using namespace tessera_test;
namespace fs = std::filesystem;

constexpr double kGpuTol = 1e-4;

TEST(GpuKernels, CudaVariantEqualsHostSerial) {
  if (!fs::exists("/dev/nvidia0")) GTEST_SKIP() << "no GPU on this machine (/dev/nvidia0 missing)";
  if (!fs::exists(TESSERA_CUDA_KERNEL_DUMP_EXE)) GTEST_SKIP() << TESSERA_CUDA_KERNEL_DUMP_EXE << " not built";
  const fs::path dir = fs::path(TESSERA_TEST_TMP) / ("gpu_kernels." + std::to_string(getpid()));
  fs::create_directories(dir);
  const std::string host = (dir / "serial.bin").string(), gpu = (dir / "cuda.bin").string();
  CommandResult r = run_command(std::string("OPENBLAS_NUM_THREADS=1 ") + TESSERA_KERNEL_DUMP_EXE + " " + host);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_command(std::string(TESSERA_CUDA_KERNEL_DUMP_EXE) + " " + gpu);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const KernelDump h = read_kernel_dump(host), g = read_kernel_dump(gpu);
  EXPECT_EQ(g.backend.rfind("Cuda", 0), 0u) << g.backend;
  ASSERT_EQ(h.records.size(), g.records.size());
  size_t bitwise = 0;
  for (const auto& [name, rh] : h.records) {
    const auto it = g.records.find(name);
    ASSERT_NE(it, g.records.end()) << name;
    ASSERT_EQ(it->second.values.size(), rh.values.size()) << name;
    EXPECT_LE(max_rel_diff(it->second.values, rh.values, 1e-3), kGpuTol) << name << ": CUDA vs host Serial";
    bitwise += bit_differences(it->second.values, rh.values) == 0;
  }
  std::printf("gpu: %zu of %zu kernel records bitwise equal to the host Serial build\n", bitwise, h.records.size());
}
