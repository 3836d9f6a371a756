// tessera::make_host_staged_communicator: a Communicator for buffers in the kernels' memory
// space (tessera::MemSpace) that runs every operation on a host-memory communicator (MPI)
// through host copies: device → host before the operation, host → device after it.
// It is what ProcessGrid::dp_device() and friends hand out when the kernels run on a device
// but the build has no NCCL (or a host MPI must be used for device buffers). With host
// memory the copies are plain memcpys and the results equal the wrapped communicator's.
//
// Semantics are Communicator's (communicator.hpp), in-place forms included. The async ops
// complete before they return (the returned PendingOp is already done): staging is a
// fallback, not an overlap path. Traffic is counted here (same rules) and in the wrapped one.
#pragma once
#include <memory>
#include "src/parallel/communicator.hpp"

namespace tessera {

// `host` must outlive the returned communicator.
std::unique_ptr<Communicator> make_host_staged_communicator(Communicator& host);

}  // namespace tessera
