// A stand-in for the part of NCCL that engine/comm/comm_nccl.cu calls, for build/metarec-emu:
// under the SIMT emulator every "device" buffer is host memory, so each collective is, with
// the same arguments and semantics as NCCL's (ncclAvg: the sum, then divided by the rank count),
//   - under mpirun (the id "mpi-stand-in"): the MPI collective on MPI_COMM_WORLD, in place;
//   - for `train --gpus N` (the id "shm:NAME", made by emu_launch_id): a POSIX shared-memory
//     segment the launcher created, with a process-shared barrier: each rank copies its chunk
//     into its slot, and every rank sums the slots in rank order (the same bits on every rank).
// It lets `make test` run the multi-GPU training path (mpirun -np 2, or --gpus 2) on machines
// without a GPU or NCCL (issue 21). Header-only; the real NCCL is used by build/metarec-cuda.
#pragma once
#include <fcntl.h>
#include <mpi.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>

#include <cuda_runtime.h>

typedef enum { ncclSuccess = 0, ncclUnhandledCudaError = 1, ncclSystemError = 2, ncclInternalError = 3,
               ncclInvalidArgument = 4, ncclInvalidUsage = 5, ncclRemoteError = 6 } ncclResult_t;
typedef enum { ncclFloat32 = 7, ncclFloat64 = 8 } ncclDataType_t;
typedef enum { ncclSum = 0, ncclAvg = 4 } ncclRedOp_t;
typedef struct { char internal[128]; } ncclUniqueId;
// the shared segment: a barrier for `size` processes, then `size` slots of kShmSlot bytes
struct ncclEmuShm {
  pthread_barrier_t barrier;
  int size;
};
constexpr size_t kShmSlot = size_t(1) << 20;
inline size_t emu_shm_bytes(int size) { return 4096 + size_t(size) * kShmSlot; }
struct ncclEmuComm {
  int rank, size;
  ncclEmuShm* shm = nullptr;  // null: MPI
  char* slot(int r) const { return reinterpret_cast<char*>(shm) + 4096 + size_t(r) * kShmSlot; }
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
// The launcher's id for `train --gpus n`: a fresh shared segment (its name in the id), with a
// process-shared barrier for n ranks. The launcher unlinks it (emu_launch_unlink) when done.
inline ncclResult_t emu_launch_id(ncclUniqueId* id, int n) {
  char name[64];
  std::snprintf(name, sizeof name, "/metarec-nccl-%d-%ld", int(::getpid()), long(::time(nullptr)));
  const int fd = ::shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
  if (fd < 0) return ncclSystemError;
  const size_t bytes = emu_shm_bytes(n);
  if (::ftruncate(fd, off_t(bytes)) != 0) { ::close(fd); ::shm_unlink(name); return ncclSystemError; }
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ::close(fd);
  if (p == MAP_FAILED) { ::shm_unlink(name); return ncclSystemError; }
  auto* h = static_cast<ncclEmuShm*>(p);
  pthread_barrierattr_t a;
  pthread_barrierattr_init(&a);
  pthread_barrierattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
  pthread_barrier_init(&h->barrier, &a, unsigned(n));
  pthread_barrierattr_destroy(&a);
  h->size = n;
  ::munmap(p, bytes);
  std::memset(id, 0, sizeof *id);
  std::snprintf(id->internal, sizeof id->internal, "shm:%s", name);
  return ncclSuccess;
}
inline void emu_launch_unlink(const ncclUniqueId& id) {
  if (std::strncmp(id.internal, "shm:", 4) == 0) ::shm_unlink(id.internal + 4);
}
inline ncclResult_t ncclCommInitRank(ncclComm_t* c, int nranks, ncclUniqueId id, int rank) {
  int size = 0;
  if (std::strncmp(id.internal, "shm:", 4) == 0) {
    const int fd = ::shm_open(id.internal + 4, O_RDWR, 0600);
    if (fd < 0) return ncclSystemError;
    void* p = ::mmap(nullptr, emu_shm_bytes(nranks), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    if (p == MAP_FAILED) return ncclSystemError;
    auto* h = static_cast<ncclEmuShm*>(p);
    if (h->size != nranks || rank < 0 || rank >= nranks) return ncclInvalidArgument;
    *c = new ncclEmuComm{rank, nranks, h};
    return ncclSuccess;
  }
  if (std::memcmp(id.internal, "mpi-stand-in", 12) != 0) return ncclInvalidArgument;
  if (MPI_Comm_size(MPI_COMM_WORLD, &size) != MPI_SUCCESS || size != nranks) return ncclInvalidArgument;
  *c = new ncclEmuComm{rank, nranks};
  return ncclSuccess;
}
inline ncclResult_t ncclCommDestroy(ncclComm_t c) {
  if (c && c->shm) ::munmap(c->shm, emu_shm_bytes(c->size));
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

namespace mr::comm::nccl_emu {
template <class T>
void shm_sum(ncclComm_t c, T* x, size_t n) {  // x = sum over ranks, in rank order, chunk by chunk
  const size_t per = kShmSlot / sizeof(T);
  for (size_t at = 0; at < n; at += per) {
    const size_t m = n - at < per ? n - at : per;
    std::memcpy(c->slot(c->rank), x + at, m * sizeof(T));
    pthread_barrier_wait(&c->shm->barrier);
    for (size_t i = 0; i < m; ++i) {
      T s = reinterpret_cast<const T*>(c->slot(0))[i];
      for (int r = 1; r < c->size; ++r) s += reinterpret_cast<const T*>(c->slot(r))[i];
      x[at + i] = s;
    }
    pthread_barrier_wait(&c->shm->barrier);  // every rank has read the slots before they are reused
  }
}
}  // namespace mr::comm::nccl_emu

inline ncclResult_t ncclAllReduce(const void* send, void* recv, size_t n, ncclDataType_t t, ncclRedOp_t op, ncclComm_t c,
                                  cudaStream_t) {
  using namespace mr::comm::nccl_emu;
  if (send != recv) std::memcpy(recv, send, n * bytes(t));
  if (c->shm) {
    if (t == ncclFloat64) shm_sum(c, static_cast<double*>(recv), n);
    else shm_sum(c, static_cast<float*>(recv), n);
  } else if (MPI_Allreduce(MPI_IN_PLACE, recv, int(n), type(t), MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS) {
    return ncclSystemError;
  }
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
  if (c->shm) {
    char* x = static_cast<char*>(recv);
    const size_t total = n * bytes(t);
    for (size_t at = 0; at < total; at += kShmSlot) {
      const size_t m = total - at < kShmSlot ? total - at : kShmSlot;
      if (c->rank == root) std::memcpy(c->slot(root), x + at, m);
      pthread_barrier_wait(&c->shm->barrier);
      if (c->rank != root) std::memcpy(x + at, c->slot(root), m);
      pthread_barrier_wait(&c->shm->barrier);
    }
    return ncclSuccess;
  }
  return MPI_Bcast(recv, int(n), type(t), root, MPI_COMM_WORLD) == MPI_SUCCESS ? ncclSuccess : ncclSystemError;
}
