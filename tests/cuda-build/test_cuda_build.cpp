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
#include <string>
#include <vector>

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

// The engine against the CUDA Kokkos (scripts/build_cuda_engine.sh, $BUILD_DIR-cuda-full): CI compiles the
// objects of the device training step (model forward/backward/init, trainer, gradient sync, ZeRO-1, the
// process grid and its NCCL / host-staged communicators, the device bf16 GEMM) with nvcc; each carries
// device code. Where the full engine was built (build_cuda_engine.sh full, gpu_check.sh stage 2), tessera
// and bench_train_step also link cudart, cuBLAS and NCCL and carry device code.
TEST(CudaBuild, EngineTrainingStepObjectsCarryDeviceCode) {
  require_toolkit();
  const std::string dir = std::string(TESSERA_CUDA_ENGINE_BUILD_DIR) + "/CMakeFiles/tessera_core.dir/";
  std::vector<std::string> objects = {"kernels/gemm_device_bf16.cpp.o", "src/model/transformer.cpp.o",
                                      "src/model/transformer_forward.cpp.o", "src/model/transformer_backward.cpp.o",
                                      "src/train/trainer.cpp.o", "src/train/gradient_sync.cpp.o",
                                      "src/train/zero_adamw.cpp.o", "src/parallel/process_grid.cpp.o",
                                      "src/parallel/host_staged_communicator.cpp.o"};
#ifdef TESSERA_HAVE_NCCL
  objects.push_back("src/parallel/nccl_communicator.cpp.o");
#endif
  for (const std::string& o : objects) {
    ASSERT_TRUE(std::filesystem::exists(dir + o))
        << dir + o << " is missing: the CUDA engine objects were not built (scripts/install.sh runs "
        << "scripts/build_cuda_engine.sh subset when nvcc is found)";
    const CommandResult r = run_command("readelf -S -W " + dir + o);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find(".nv_fatbin"), std::string::npos) << "no device code in " << o;
  }
}

TEST(CudaBuild, FullEngineLinksCudaLibraries) {
  require_toolkit();
  for (const std::string exe : {std::string(TESSERA_CUDA_ENGINE_BUILD_DIR) + "/tessera",
                                std::string(TESSERA_CUDA_ENGINE_BUILD_DIR) + "/bench/bench_train_step"}) {
    if (!std::filesystem::exists(exe))
      GTEST_SKIP() << exe << " not built (CI compiles the engine subset only; scripts/build_cuda_engine.sh full)";
    const CommandResult l = run_command("ldd " + exe);
    ASSERT_EQ(l.exit_code, 0) << l.output;
    for (const char* lib : {"libcudart.so", "libcublas.so"}) EXPECT_NE(l.output.find(lib), std::string::npos) << exe;
#ifdef TESSERA_HAVE_NCCL
    EXPECT_NE(l.output.find("libnccl.so"), std::string::npos) << exe;
#endif
    const CommandResult r = run_command("readelf -S -W " + exe);
    EXPECT_NE(r.output.find(".nv_fatbin"), std::string::npos) << "no device code in " << exe;
  }
}
