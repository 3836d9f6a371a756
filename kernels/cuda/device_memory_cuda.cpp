// Device memory and device discovery through the CUDA runtime.
#include <cuda_runtime.h>
#include <string>
#include "src/runtime/error.hpp"

namespace tessera::cuda_glue {

static void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw Error(std::string(what) + ": " + cudaGetErrorString(e));
}

int device_count(std::string& detail, std::string& name) {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    detail = cudaGetErrorString(e);
    return 0;
  }
  if (n > 0) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess) name = prop.name;
  }
  return n;
}
void* alloc(std::size_t bytes) {
  void* p = nullptr;
  check(cudaMalloc(&p, bytes), "cudaMalloc");
  return p;
}
void release(void* p) { check(cudaFree(p), "cudaFree"); }
void h2d(void* dst, const void* src, std::size_t n) { check(cudaMemcpy(dst, src, n, cudaMemcpyHostToDevice), "cudaMemcpy H2D"); }
void d2h(void* dst, const void* src, std::size_t n) { check(cudaMemcpy(dst, src, n, cudaMemcpyDeviceToHost), "cudaMemcpy D2H"); }
void synchronize() { check(cudaDeviceSynchronize(), "cudaDeviceSynchronize"); }

}  // namespace tessera::cuda_glue
