// Device (Kokkos) dequantisation of ggml blocks, as stored in GGUF tensors, into a
// float View: the same arithmetic as the host io/dequantize.hpp dequantize_ggml
// (F32, F16, BF16, F64, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0; block layouts there). Used to
// expand quantised weights after copying the raw bytes to the device once.
// Host-side checks (type, block multiple, byte count, output size) throw
// tessera::Error prefixed with `what`. Explicitly instantiated for float.
#pragma once
#include <string>

#include "kernels/views.hpp"

namespace tessera {

template <class S>
void dequantize_ggml_device(View1<S> out, ConstView1<uint8_t> raw, uint32_t ggml_type, int64_t n,
                            const std::string& what = "dequantize_ggml_device");

}  // namespace tessera
