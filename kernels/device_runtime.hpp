// Which compute device a run uses. The CUDA glue is optional at build time; at
// run time "auto" falls back to the host (said once), "cuda" without a device
// is an error.
#pragma once
#include <cstddef>
#include <string>

namespace tessera {

struct DeviceProbe {
  bool built_with_cuda = false;  // CUDA glue compiled and linked in
  int device_count = 0;          // CUDA devices visible at run time
  std::string device_name;       // name of device 0, if any
  std::string detail;            // why no device (driver message), if none
};

DeviceProbe probe_devices();

enum class Backend { Host, Cuda };

// requested: "auto" | "host" | "cuda". Throws tessera::Error for "cuda" without a device.
Backend select_backend(const std::string& requested, bool announce);

// Raw device memory glue (only meaningful with the CUDA glue; throws otherwise).
void* device_alloc(std::size_t bytes);
void device_free(void* p);
void copy_host_to_device(void* dst, const void* src, std::size_t bytes);
void copy_device_to_host(void* dst, const void* src, std::size_t bytes);

}  // namespace tessera
