// Kokkos View aliases shared by every kernel. Tensors are flat 1-D Views in the
// default execution space's memory space; shapes travel as explicit dims.
#pragma once
#include <Kokkos_Core.hpp>
#include <cstdint>

namespace tessera {

using ExecSpace = Kokkos::DefaultExecutionSpace;
using MemSpace = ExecSpace::memory_space;
using HostSpace = Kokkos::HostSpace;

template <class T> using View1 = Kokkos::View<T*, MemSpace>;
template <class T> using ConstView1 = Kokkos::View<const T*, MemSpace>;
template <class T> using HostView1 = Kokkos::View<T*, HostSpace>;

using RangePolicy = Kokkos::RangePolicy<ExecSpace>;

// Sub-range [offset, offset+count) of a flat view.
template <class V>
inline auto slice(const V& v, size_t offset, size_t count) {
  return Kokkos::subview(v, std::make_pair(offset, offset + count));
}

}  // namespace tessera
