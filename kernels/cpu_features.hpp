// CPU instruction-set features the host kernels can use, read with cpuid.
#pragma once

namespace tessera {

// AVX512-BF16 (cpuid leaf 7, subleaf 1, EAX bit 5: VDPBF16PS, VCVTNE2PS2BF16).
// TESSERA_ASSUME_NO_BF16=1 in the environment reports false, to simulate a CPU without it.
bool cpu_has_avx512_bf16();

}  // namespace tessera
