// The CUDA variant (build-cuda/: Tessera's kernels through Kokkos' CUDA backend and nvcc, cuBLAS GEMMs,
// cudart device memory) was compiled and linked. No GPU is needed: the checks read the linked binary.
//   - tessera_kernel_dump links libcudart and libcublas;
//   - it carries device code (an ELF .nv_fatbin section);
//   - every kernel declared in kernels/*.hpp has a CUDA launch stub (nm: __device_stub… tessera::<kernel>,
//     or, for kernels whose lambdas sit in a file-local helper such as rope_rotate, a stub from that
//     kernel's source file), i.e. its Kokkos lambdas were compiled as device kernels.
// scripts/install.sh builds the variant when nvcc is found (scripts/build_kokkos.sh cuda); without a CUDA
// toolkit at configure time the tests skip, saying so.
#include <gtest/gtest.h>

#include <filesystem>

#include "kernels-openmp/kernel_dump_file.hpp"
#include "test_support.hpp"

using namespace tessera_test;

namespace {
std::string cuda_dump_exe() {
  const std::string exe = TESSERA_CUDA_KERNEL_DUMP_EXE;
  if (!std::filesystem::exists(exe))
    throw std::runtime_error("CUDA variant not built: " + exe +
                             " is missing (scripts/install.sh builds it when nvcc is found; README 'Kokkos backends')");
  return exe;
}
void require_toolkit() {
  if (!TESSERA_CUDA_TOOLKIT_FOUND) GTEST_SKIP() << "no CUDA toolkit found at configure time: CUDA variant not built";
}
}  // namespace

TEST(CudaBuild, LinksCudartAndCublas) {
  require_toolkit();
  const CommandResult r = run_command("ldd " + cuda_dump_exe());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("libcudart.so"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("libcublas.so"), std::string::npos) << r.output;
}

TEST(CudaBuild, CarriesDeviceCode) {
  require_toolkit();
  const CommandResult r = run_command("readelf -S -W " + cuda_dump_exe());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find(".nv_fatbin"), std::string::npos) << "no device code section in " << cuda_dump_exe();
}

TEST(CudaBuild, EveryKernelHasADeviceLaunch) {
  require_toolkit();
  const CommandResult r = run_command("nm -C " + cuda_dump_exe() + " | grep __device_stub");
  ASSERT_EQ(r.exit_code, 0) << "no CUDA launch stubs in " << cuda_dump_exe();
  const auto kernels = declared_kernel_headers(source_dir());
  ASSERT_GT(kernels.size(), 40u);
  for (const auto& [k, header] : kernels) {
    const bool own = r.output.find("tessera::" + k + "<") != std::string::npos;
    const bool helper = r.output.find("_" + header + "_cpp_") != std::string::npos;  // anonymous-namespace helper
    EXPECT_TRUE(own || helper) << "kernel " << k << " (kernels/" << header << ".cpp) has no CUDA device launch";
  }
}
