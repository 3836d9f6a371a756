#include "kernels/device_runtime.hpp"
#include <iostream>
#include <type_traits>
#include <Kokkos_Core.hpp>
#include "src/runtime/error.hpp"

#ifdef TESSERA_HAVE_CUDA
namespace tessera::cuda_glue {
int device_count(std::string& detail, std::string& name);
void* alloc(std::size_t bytes);
void release(void* p);
void h2d(void* dst, const void* src, std::size_t n);
void d2h(void* dst, const void* src, std::size_t n);
}  // namespace tessera::cuda_glue
#endif

namespace tessera {

DeviceProbe probe_devices() {
  DeviceProbe p;
#ifdef TESSERA_HAVE_CUDA
  p.built_with_cuda = true;
  p.device_count = cuda_glue::device_count(p.detail, p.device_name);
#else
  p.detail = "built without the CUDA glue";
#endif
  return p;
}

Backend select_backend(const std::string& requested, bool announce) {
  constexpr bool device_kokkos = !std::is_same_v<Kokkos::DefaultExecutionSpace::memory_space, Kokkos::HostSpace>;
  if (requested == "host") {
    // A CUDA Kokkos build keeps every View in device memory: it cannot run the kernels on the host.
    if (device_kokkos)
      throw Error("device = \"host\": this build's Kokkos runs its kernels on " +
                  std::string(Kokkos::DefaultExecutionSpace::name()) +
                  "; use device = \"auto\" or \"cuda\", or the host build (build/)");
    return Backend::Host;
  }
  if (requested != "auto" && requested != "cuda")
    throw Error("device: unknown value '" + requested + "' (expected auto, host or cuda)");
  DeviceProbe p = probe_devices();
  if (p.device_count > 0) {
    // Kernels run where Kokkos' default execution space is; host-only Kokkos cannot use the GPU.
    if (device_kokkos) return Backend::Cuda;
    if (requested == "cuda")
      throw Error("device = \"cuda\": a CUDA device (" + p.device_name +
                  ") is present but this Kokkos has no CUDA backend; rebuild with Kokkos_ROOT pointing at a CUDA Kokkos");
    if (announce) std::cout << "tessera: CUDA device " << p.device_name << " found, but Kokkos is host-only: running on the host\n";
    return Backend::Host;
  }
  if (requested == "cuda" || device_kokkos)
    throw Error("device = \"" + requested + "\" but no CUDA device is available (" + p.detail + ")" +
                (device_kokkos ? std::string(" and this build's Kokkos runs its kernels only on CUDA") : std::string()));
  if (announce) std::cout << "tessera: no CUDA device (" << p.detail << "): running on the host\n";
  return Backend::Host;
}

#ifdef TESSERA_HAVE_CUDA
void* device_alloc(std::size_t bytes) { return cuda_glue::alloc(bytes); }
void device_free(void* p) { cuda_glue::release(p); }
void copy_host_to_device(void* d, const void* s, std::size_t n) { cuda_glue::h2d(d, s, n); }
void copy_device_to_host(void* d, const void* s, std::size_t n) { cuda_glue::d2h(d, s, n); }
#else
[[noreturn]] static void no_cuda() { throw Error("device memory requested but Tessera was built without the CUDA glue"); }
void* device_alloc(std::size_t) { no_cuda(); }
void device_free(void*) { no_cuda(); }
void copy_host_to_device(void*, const void*, std::size_t) { no_cuda(); }
void copy_device_to_host(void*, const void*, std::size_t) { no_cuda(); }
#endif

}  // namespace tessera
