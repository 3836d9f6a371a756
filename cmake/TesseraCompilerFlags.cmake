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

# Sets ${ok} to TRUE when the probe, compiled with ${flags}, prints the right vector; ${output} gets what it printed.
function(tessera_probe_slp flags ok output)
  separate_arguments(flag_list UNIX_COMMAND "${flags}")
  unset(_tessera_probe_run CACHE)  # re-probe on every configure: the flags may have changed
  try_run(_tessera_probe_run compiled ${CMAKE_BINARY_DIR}/probe_slp
          ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/probes/slp_constant_vector.cpp
          COMPILE_DEFINITIONS ${flag_list}
          COMPILE_OUTPUT_VARIABLE log RUN_OUTPUT_VARIABLE out)
  if(NOT compiled)
    message(FATAL_ERROR "the compiler cannot build cmake/probes/slp_constant_vector.cpp with '${flags}':\n${log}")
  endif()
  string(STRIP "${out}" out)
  set(${output} "${out}" PARENT_SCOPE)
  if(_tessera_probe_run EQUAL 0)
    set(${ok} TRUE PARENT_SCOPE)
  else()
    set(${ok} FALSE PARENT_SCOPE)
  endif()
endfunction()

if(NOT CMAKE_CROSSCOMPILING)
  tessera_probe_slp("${_tessera_release}" _tessera_ok _tessera_out)
  if(NOT _tessera_ok)
    message(STATUS "Tessera: ${CMAKE_CXX_COMPILER_ID} ${CMAKE_CXX_COMPILER_VERSION} miscompiles constant vector "
                   "initialisers with '${_tessera_release}' (SLP vectoriser; the probe printed '${_tessera_out}'); "
                   "adding -fno-tree-slp-vectorize")
    string(APPEND _tessera_release " -fno-tree-slp-vectorize")
    tessera_probe_slp("${_tessera_release}" _tessera_ok _tessera_out)
    if(NOT _tessera_ok)
      message(FATAL_ERROR "the compiler still miscompiles cmake/probes/slp_constant_vector.cpp with "
                          "'${_tessera_release}' (it printed '${_tessera_out}'); configure with -DTESSERA_NATIVE=OFF")
    endif()
  endif()
endif()
set(CMAKE_CXX_FLAGS_RELEASE "${_tessera_release} -DNDEBUG")
