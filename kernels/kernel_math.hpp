// Device-callable math for kernel bodies: Kokkos::sqrt etc. (Kokkos >= 3.7) or
// Kokkos::Experimental::sqrt etc. (Debian's 3.4). Overloaded for float and double.
#pragma once
#include <Kokkos_Core.hpp>

namespace tessera::kmath {
#if KOKKOS_VERSION >= 30700
using Kokkos::cos;
using Kokkos::exp;
using Kokkos::fabs;
using Kokkos::log;
using Kokkos::sqrt;
using Kokkos::tanh;
#else
using Kokkos::Experimental::cos;
using Kokkos::Experimental::exp;
using Kokkos::Experimental::fabs;
using Kokkos::Experimental::log;
using Kokkos::Experimental::sqrt;
using Kokkos::Experimental::tanh;
#endif
}  // namespace tessera::kmath
