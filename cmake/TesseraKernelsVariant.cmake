# TESSERA_KERNELS_ONLY=ON: the Kokkos kernels (kernels/*.cpp, their host number formats io/dequantize.cpp,
# the GEMM dispatch) as one library, and tessera_kernel_dump, which runs each of them on fixed inputs.
# Built against a Kokkos with the OpenMP backend (build-openmp/, ctest label kernels-openmp) or with the
# CUDA backend through nvcc_wrapper (build-cuda/, label cuda-build; compile and link only, no GPU needed).
# No MPI, HDF5 or CLI dependencies: a variant costs the kernels' compile time only.
set(BLA_VENDOR OpenBLAS)
find_package(BLAS REQUIRED)
find_path(TESSERA_CBLAS_INCLUDE cblas.h PATHS /usr/include/x86_64-linux-gnu/openblas-pthread /usr/include/openblas /usr/include)

file(GLOB TESSERA_KERNEL_SOURCES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/kernels/*.cpp)
add_library(tessera_kernels STATIC ${TESSERA_KERNEL_SOURCES} ${PROJECT_SOURCE_DIR}/io/dequantize.cpp)
target_include_directories(tessera_kernels PUBLIC ${PROJECT_SOURCE_DIR} ${TESSERA_CBLAS_INCLUDE})
target_link_libraries(tessera_kernels PUBLIC tessera::kokkos ${BLAS_LIBRARIES})

set(_variant "host")
if(Kokkos_DEVICES MATCHES "CUDA")
  find_package(CUDAToolkit REQUIRED)
  target_sources(tessera_kernels PRIVATE ${PROJECT_SOURCE_DIR}/kernels/cuda/gemm_cublas.cpp
                                         ${PROJECT_SOURCE_DIR}/kernels/cuda/device_memory_cuda.cpp)
  target_compile_definitions(tessera_kernels PUBLIC TESSERA_HAVE_CUDA=1)
  target_link_libraries(tessera_kernels PUBLIC CUDA::cudart CUDA::cublas)
  set(_variant "CUDA ${CUDAToolkit_VERSION}")
endif()

add_executable(tessera_kernel_dump ${PROJECT_SOURCE_DIR}/tests/kernels-openmp/kernel_dump.cpp)
target_link_libraries(tessera_kernel_dump PRIVATE tessera_kernels)
message(STATUS "Tessera: kernels-only variant (${_variant}) with ${TESSERA_KOKKOS_FLAVOUR}")
