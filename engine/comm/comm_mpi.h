// The MPI backend of engine/comm/comm.h (comm_mpi.cpp). Without MPI (HAVE_MPI=0 in the
// Makefile) comm_mpi.cpp compiles to a stub whose factory throws.
#pragma once
#include <memory>

#include "engine/comm/comm.h"

namespace mr::comm {

// MPI_COMM_WORLD; initialises MPI on first use (MPI_THREAD_FUNNELED, errors returned, not
// fatal) and finalises it at process exit.
std::unique_ptr<Communicator> make_mpi_communicator();

}  // namespace mr::comm
