// A stand-in for the part of NCCL that engine/comm/comm_nccl.cu calls, over MPI, for
// build/metarec-emu: under the SIMT emulator every "device" buffer is host memory, so each
// collective is the MPI collective on MPI_COMM_WORLD (in place), with the same arguments and
// semantics as NCCL's (ncclAvg: the sum, then divided by the rank count). It lets `make test`
// run the multi-GPU training path (mpirun -np 2 build/metarec-emu train --set train.device=cuda)
// on machines without a GPU or NCCL (issue 21). Header-only; the real NCCL is used by
// build/metarec-cuda.
#pragma once
#include <mpi.h>

#include <cstddef>
#include <cstring>

#include <cuda_runtime.h>

typedef enum { ncclSuccess = 0, ncclUnhandledCudaError = 1, ncclSystemError = 2, ncclInternalError = 3,
               ncclInvalidArgument = 4, ncclInvalidUsage = 5, ncclRemoteError = 6 } ncclResult_t;
typedef enum { ncclFloat32 = 7, ncclFloat64 = 8 } ncclDataType_t;
typedef enum { ncclSum = 0, ncclAvg = 4 } ncclRedOp_t;
typedef struct { char internal[128]; } ncclUniqueId;
struct ncclEmuComm {
  int rank, size;
};
typedef ncclEmuComm* ncclComm_t;

inline const char* ncclGetErrorString(ncclResult_t r) {
  return r == ncclSuccess ? "no error" : r == ncclInvalidArgument ? "invalid argument" : "MPI error (NCCL stand-in)";
}
inline const char* ncclGetLastError(ncclComm_t) { return "(the emulated build's NCCL stand-in over MPI)"; }
inline ncclResult_t ncclGetUniqueId(ncclUniqueId* id) {
  std::memset(id, 0, sizeof *id);
  std::memcpy(id->internal, "mpi-stand-in", 12);
  return ncclSuccess;
}
inline ncclResult_t ncclCommInitRank(ncclComm_t* c, int nranks, ncclUniqueId id, int rank) {
  int size = 0;
  if (std::memcmp(id.internal, "mpi-stand-in", 12) != 0) return ncclInvalidArgument;
  if (MPI_Comm_size(MPI_COMM_WORLD, &size) != MPI_SUCCESS || size != nranks) return ncclInvalidArgument;
  *c = new ncclEmuComm{rank, nranks};
  return ncclSuccess;
}
inline ncclResult_t ncclCommDestroy(ncclComm_t c) {
  delete c;
  return ncclSuccess;
}
inline ncclResult_t ncclCommAbort(ncclComm_t c) { return ncclCommDestroy(c); }
// The stand-in's collectives are synchronous MPI calls: nothing is ever pending with an error.
inline ncclResult_t ncclCommGetAsyncError(ncclComm_t, ncclResult_t* async) {
  *async = ncclSuccess;
  return ncclSuccess;
}

namespace mr::comm::nccl_emu {
inline MPI_Datatype type(ncclDataType_t t) { return t == ncclFloat64 ? MPI_DOUBLE : MPI_FLOAT; }
inline size_t bytes(ncclDataType_t t) { return t == ncclFloat64 ? 8 : 4; }
}  // namespace mr::comm::nccl_emu

inline ncclResult_t ncclAllReduce(const void* send, void* recv, size_t n, ncclDataType_t t, ncclRedOp_t op, ncclComm_t c,
                                  cudaStream_t) {
  using namespace mr::comm::nccl_emu;
  if (send != recv) std::memcpy(recv, send, n * bytes(t));
  if (MPI_Allreduce(MPI_IN_PLACE, recv, int(n), type(t), MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS) return ncclSystemError;
  if (op == ncclAvg) {
    for (size_t i = 0; i < n; ++i) {
      if (t == ncclFloat64) static_cast<double*>(recv)[i] /= c->size;
      else static_cast<float*>(recv)[i] /= float(c->size);
    }
  }
  return ncclSuccess;
}
inline ncclResult_t ncclBroadcast(const void* send, void* recv, size_t n, ncclDataType_t t, int root, ncclComm_t c,
                                  cudaStream_t) {
  using namespace mr::comm::nccl_emu;
  if (c->rank == root && send != recv) std::memcpy(recv, send, n * bytes(t));
  return MPI_Bcast(recv, int(n), type(t), root, MPI_COMM_WORLD) == MPI_SUCCESS ? ncclSuccess : ncclSystemError;
}
