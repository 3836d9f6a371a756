#include "src/train/mixed_precision.hpp"
#include <iostream>
#include <type_traits>
#include <Kokkos_Core.hpp>
#include "kernels/cpu_features.hpp"
#include "src/runtime/error.hpp"

namespace tessera {

GemmPrecision apply_train_precision(const std::string& precision, const std::string& fallback, bool announce) {
  GemmPrecision p = GemmPrecision::FP32;
  if (precision == "bf16") {
    if (!std::is_same_v<Kokkos::DefaultExecutionSpace::memory_space, Kokkos::HostSpace>)
      throw Error("train.precision = \"bf16\" runs on the host only (this build's kernels run on the device)");
    if (cpu_has_avx512_bf16()) {
      p = GemmPrecision::BF16;
      if (announce)
        std::cout << "tessera: train.precision = bf16: linear/LM-head GEMMs on bf16 operands, fp32 accumulation ("
                  << bf16_gemm_description() << ")\n";
    } else if (fallback == "fp32") {
      if (announce)
        std::cout << "tessera: train.precision = bf16 but the CPU lacks avx512_bf16: train.bf16_fallback = fp32, "
                     "running fp32\n";
    } else {
      throw Error(
          "train.precision = \"bf16\" needs the CPU feature avx512_bf16 (cpuid leaf 7 subleaf 1 EAX bit 5), which this "
          "CPU lacks; set train.bf16_fallback = \"fp32\" to run fp32 instead");
    }
  } else if (precision != "fp32") {
    throw Error("train.precision: unknown value '" + precision + "' (expected fp32 or bf16)");
  }
  set_model_gemm_precision(p);
  return p;
}

}  // namespace tessera
