# Release flags: -O3, -march=native unless TESSERA_NATIVE=OFF (a portable x86-64 build for clusters whose
# login nodes differ from their compute nodes), and a guard against a compiler miscompile:
# GCC 12.2's SLP vectoriser, tuned for AVX-512 CPUs, turns constant vector initialisers such as
# {1,1,1,1,0,0,0,0} into a broadcast of the first element (cmake/probes/slp_constant_vector.cpp).
# The probe is compiled and run with the chosen flags; where it fails, -fno-tree-slp-vectorize is added
# (loop vectorisation stays on) and configure says so. docs/architecture.md "Compiler flags".
option(TESSERA_NATIVE "Compile for the build host's CPU (-march=native)" ON)
set(_tessera_release "-O3")
if(TESSERA_NATIVE)
  string(APPEND _tessera_release " -march=native")
endif()
if(NOT CMAKE_CROSSCOMPILING)
  separate_arguments(_tessera_release_list UNIX_COMMAND "${_tessera_release}")
  unset(_tessera_probe_run CACHE)  # re-probe on every configure: the flags may have changed
  unset(_tessera_probe_run2 CACHE)
  try_run(_tessera_probe_run _tessera_probe_compiled ${CMAKE_BINARY_DIR}/probe_slp
          ${CMAKE_CURRENT_LIST_DIR}/probes/slp_constant_vector.cpp
          COMPILE_DEFINITIONS ${_tessera_release_list}
          COMPILE_OUTPUT_VARIABLE _tessera_probe_log RUN_OUTPUT_VARIABLE _tessera_probe_out)
  if(NOT _tessera_probe_compiled)
    message(FATAL_ERROR "the compiler cannot build cmake/probes/slp_constant_vector.cpp with '${_tessera_release}':\n${_tessera_probe_log}")
  endif()
  if(NOT _tessera_probe_run EQUAL 0)
    string(STRIP "${_tessera_probe_out}" _tessera_probe_out)
    message(STATUS "Tessera: ${CMAKE_CXX_COMPILER_ID} ${CMAKE_CXX_COMPILER_VERSION} miscompiles constant vector "
                   "initialisers with '${_tessera_release}' (SLP vectoriser; the probe printed '${_tessera_probe_out}'); adding -fno-tree-slp-vectorize")
    string(APPEND _tessera_release " -fno-tree-slp-vectorize")
    separate_arguments(_tessera_release_list UNIX_COMMAND "${_tessera_release}")
    try_run(_tessera_probe_run2 _tessera_probe_compiled2 ${CMAKE_BINARY_DIR}/probe_slp2
            ${CMAKE_CURRENT_LIST_DIR}/probes/slp_constant_vector.cpp
            COMPILE_DEFINITIONS ${_tessera_release_list})
    if(NOT _tessera_probe_run2 EQUAL 0)
      message(FATAL_ERROR "the compiler still miscompiles cmake/probes/slp_constant_vector.cpp with "
                          "'${_tessera_release}'; configure with -DTESSERA_NATIVE=OFF")
    endif()
  endif()
endif()
set(CMAKE_CXX_FLAGS_RELEASE "${_tessera_release} -DNDEBUG")
set(TESSERA_RELEASE_FLAGS "${_tessera_release}" CACHE INTERNAL "the Release flags chosen by TesseraCompilerFlags")
