#include "kernels/cpu_features.hpp"
#include <cstdlib>
#include <cstring>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace tessera {

bool cpu_has_avx512_bf16() {
  const char* assume_no = std::getenv("TESSERA_ASSUME_NO_BF16");
  if (assume_no && *assume_no && std::strcmp(assume_no, "0") != 0) return false;
#if defined(__x86_64__) || defined(__i386__)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid_max(0, nullptr) < 7) return false;
  __cpuid_count(7, 1, eax, ebx, ecx, edx);
  return (eax >> 5) & 1u;
#else
  return false;
#endif
}

}  // namespace tessera
