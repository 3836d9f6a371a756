# Sourced by the scripts: lets Open MPI run as root, oversubscribe 2 cores, and
# launch locally without ssh (see docs/running.md).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMPI_MCA_plm=isolated
# libgomp (oneDNN's bf16 GEMM) workers sleep when idle instead of spinning against OpenBLAS's
# threads; kernels/gemm_bf16.hpp gives oneDNN one thread while this is unset.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
