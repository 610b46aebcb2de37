// The NCCL backend of engine/comm/comm.h: one process per GPU, collectives on device buffers.
// Built by `make cuda` (engine/comm.mk: nvcc, sm_80/sm_90, -Werror) when nccl.h and MPI exist;
// link $(BUILD)/cuda/engine/comm/comm_nccl.o with -lnccl -lcudart and MPI. Not linked into the
// CPU metarec binary, whose training runs on host buffers (docs/comm.md).
#pragma once
#include <memory>

#include "engine/comm/comm.h"

namespace mr::comm {

// Bootstraps over MPI (initialising it when needed): rank 0 creates the ncclUniqueId and
// broadcasts it; each rank selects `device` (-1: its rank among the ranks on the same node,
// modulo the node's GPU count) and joins the clique. Started by `train --gpus N`
// (engine/comm/launch.h) it needs no MPI: rank, size and the id come from the environment.
// Collectives take device pointers (host buffers are staged through the device); each runs on
// the compute stream (the legacy default stream, where the CUDA backend launches every kernel)
// and returns when it has completed, watched by the METAREC_COMM_TIMEOUT watchdog. barrier() is
// MPI's (launch mode: a one-value all-reduce).
std::unique_ptr<Communicator> make_nccl_communicator(int device = -1);

}  // namespace mr::comm
