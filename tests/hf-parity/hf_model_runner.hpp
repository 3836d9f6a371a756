// Runs imported Hugging Face models through Tessera's Transformer for the parity
// tests: load an ImportedModel's full tensors into a one-rank model, read the
// fixture inputs (int32) and outputs (float32) from reference safetensors, and
// compare with a stated tolerance.
#pragma once
#include <gtest/gtest.h>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>
#include "io/hf_checkpoint.hpp"
#include "io/safetensors.hpp"
#include "src/model/transformer.hpp"

namespace hf_test {

inline void load_imported(tessera::Transformer<float>& model, const tessera::ImportedModel& m) {
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), model.params().values());
  for (const tessera::ParamInfo& info : model.params().infos()) {
    const auto it = m.tensors.find(info.name);
    ASSERT_NE(it, m.tensors.end()) << "imported model lacks " << info.name;
    ASSERT_EQ(it->second.shape, info.full_shape) << info.name;
    ASSERT_EQ(info.local_shape, info.full_shape) << "one-rank model expected";
    std::memcpy(host.data() + info.offset, it->second.data.data(), info.numel * sizeof(float));
  }
  Kokkos::deep_copy(model.params().values(), host);
}

inline std::vector<int32_t> read_i32(const tessera::SafetensorsFile& f, const std::string& name) {
  const std::vector<uint8_t> raw = f.read_raw(name);
  std::vector<int32_t> v(raw.size() / 4);
  std::memcpy(v.data(), raw.data(), raw.size());
  return v;
}

inline std::vector<float> host_vector(const tessera::View1<float>& v) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v);
  return std::vector<float>(h.data(), h.data() + h.extent(0));
}

struct Diff {
  double max_abs = 0, max_ref = 0;
};

// max |a − r| over the elements where keep(i) (all when keep is empty).
inline Diff compare(const std::vector<float>& a, const std::vector<float>& r, const std::vector<bool>& keep = {}) {
  EXPECT_EQ(a.size(), r.size());
  Diff d;
  for (size_t i = 0; i < std::min(a.size(), r.size()); ++i) {
    if (!keep.empty() && !keep[i]) continue;
    d.max_abs = std::max(d.max_abs, double(std::abs(a[i] - r[i])));
    d.max_ref = std::max(d.max_ref, double(std::abs(r[i])));
  }
  return d;
}

}  // namespace hf_test
