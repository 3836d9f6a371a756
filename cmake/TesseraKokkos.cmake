# Find Kokkos: a proper install (Kokkos_ROOT: any Kokkos >= 3.4 with Serial/OpenMP/CUDA, e.g. the
# one scripts/build_kokkos.sh builds into .cache/kokkos) first,
# then Debian's libtrilinos-kokkos-dev (3.4, Serial), whose KokkosConfig.cmake
# exports a non-existent include dir (/usr/lib/include). We build our own
# imported target `tessera::kokkos` either way.
add_library(tessera_kokkos INTERFACE)
add_library(tessera::kokkos ALIAS tessera_kokkos)

set(_tessera_kokkos_found FALSE)
if(DEFINED Kokkos_ROOT OR DEFINED ENV{Kokkos_ROOT})
  find_package(Kokkos CONFIG QUIET)
  if(Kokkos_FOUND AND Kokkos_VERSION VERSION_LESS 3.4)
    message(FATAL_ERROR "Kokkos_ROOT: Kokkos ${Kokkos_VERSION} found, Tessera needs >= 3.4")
  endif()
  if(Kokkos_FOUND)
    target_link_libraries(tessera_kokkos INTERFACE Kokkos::kokkos)
    set(_tessera_kokkos_found TRUE)
    set(TESSERA_KOKKOS_FLAVOUR "site Kokkos ${Kokkos_VERSION} (${Kokkos_DEVICES})")
  endif()
endif()

if(NOT _tessera_kokkos_found)
  find_path(TESSERA_KOKKOS_INCLUDE_DIR Kokkos_Core.hpp
            PATHS /usr/include/trilinos /usr/local/include/trilinos NO_DEFAULT_PATH)
  find_library(TESSERA_KOKKOS_CORE_LIB NAMES trilinos_kokkoscore kokkoscore)
  if(NOT TESSERA_KOKKOS_INCLUDE_DIR OR NOT TESSERA_KOKKOS_CORE_LIB)
    message(FATAL_ERROR "Kokkos not found: set Kokkos_ROOT to a Kokkos 4.x install, "
                        "or install Debian's libtrilinos-kokkos-dev (scripts/install.sh does).")
  endif()
  target_include_directories(tessera_kokkos SYSTEM INTERFACE ${TESSERA_KOKKOS_INCLUDE_DIR})
  target_link_libraries(tessera_kokkos INTERFACE ${TESSERA_KOKKOS_CORE_LIB} ${CMAKE_DL_LIBS})
  set(TESSERA_KOKKOS_FLAVOUR "Debian trilinos Kokkos (Serial) at ${TESSERA_KOKKOS_INCLUDE_DIR}")
endif()
message(STATUS "Tessera: Kokkos = ${TESSERA_KOKKOS_FLAVOUR}")
