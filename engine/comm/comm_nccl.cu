// NCCL communicator (comm_nccl.h). Host code only; nvcc compiles it with the CUDA sources.
#include "engine/comm/comm_nccl.h"

#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <cuda_runtime.h>
#include <mpi.h>
#include <nccl.h>

#include <dlfcn.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "engine/comm/comm_mpi.h"
#include "engine/comm/launch.h"
#include "engine/comm/watchdog.h"

namespace mr::comm {

namespace {

// The NCCL functions this file calls. build/metarec-cuda loads libnccl.so.2 when the first NCCL
// communicator is made (dlopen), so that the binary starts, and trains on one GPU, on machines
// without NCCL (its 218 MB do not travel to a lent GPU machine either); the emulated build
// takes the stand-in's functions (engine/comm/nccl_emu/nccl.h).
struct NcclApi {
  ncclResult_t (*GetUniqueId)(ncclUniqueId*);
  ncclResult_t (*CommInitRank)(ncclComm_t*, int, ncclUniqueId, int);
  ncclResult_t (*CommDestroy)(ncclComm_t);
  ncclResult_t (*CommAbort)(ncclComm_t);
  ncclResult_t (*AllReduce)(const void*, void*, size_t, ncclDataType_t, ncclRedOp_t, ncclComm_t, cudaStream_t);
  ncclResult_t (*Broadcast)(const void*, void*, size_t, ncclDataType_t, int, ncclComm_t, cudaStream_t);
  const char* (*GetErrorString)(ncclResult_t);
  const char* (*GetLastError)(ncclComm_t);
  ncclResult_t (*CommGetAsyncError)(ncclComm_t, ncclResult_t*);
};

#ifdef MR_EMU
const NcclApi& nccl() {
  static const NcclApi api{ncclGetUniqueId, ncclCommInitRank, ncclCommDestroy, ncclCommAbort,
                           ncclAllReduce,   ncclBroadcast,    ncclGetErrorString, ncclGetLastError,
                           ncclCommGetAsyncError};
  return api;
}
#else
const NcclApi& nccl() {
  static const NcclApi api = [] {
    void* h = dlopen("libnccl.so.2", RTLD_NOW | RTLD_GLOBAL);
    if (!h)
      throw Error(std::string("multi-GPU training needs NCCL: cannot load libnccl.so.2 (") + dlerror() +
                  "); install NCCL (Debian/Ubuntu: libnccl2 from NVIDIA's repository) or put it on LD_LIBRARY_PATH");
    auto sym = [h](const char* name) {
      void* f = dlsym(h, name);
      if (!f) throw Error(std::string("libnccl.so.2 has no ") + name + ": NCCL too old (2.13 or newer needed)");
      return f;
    };
    NcclApi a;
    a.GetUniqueId = reinterpret_cast<decltype(a.GetUniqueId)>(sym("ncclGetUniqueId"));
    a.CommInitRank = reinterpret_cast<decltype(a.CommInitRank)>(sym("ncclCommInitRank"));
    a.CommDestroy = reinterpret_cast<decltype(a.CommDestroy)>(sym("ncclCommDestroy"));
    a.CommAbort = reinterpret_cast<decltype(a.CommAbort)>(sym("ncclCommAbort"));
    a.AllReduce = reinterpret_cast<decltype(a.AllReduce)>(sym("ncclAllReduce"));
    a.Broadcast = reinterpret_cast<decltype(a.Broadcast)>(sym("ncclBroadcast"));
    a.GetErrorString = reinterpret_cast<decltype(a.GetErrorString)>(sym("ncclGetErrorString"));
    a.GetLastError = reinterpret_cast<decltype(a.GetLastError)>(sym("ncclGetLastError"));
    a.CommGetAsyncError = reinterpret_cast<decltype(a.CommGetAsyncError)>(sym("ncclCommGetAsyncError"));
    return a;
  }();
  return api;
}
#endif

[[noreturn]] void fail(const char* file, int line, int rank, const char* call, const std::string& msg) {
  throw_error(file, line, ("rank " + std::to_string(rank) + ": " + call + " failed").c_str(), msg);
}

#define NCCL_CHECK(call)                                                                               \
  do {                                                                                                 \
    const ncclResult_t mr_r_ = (call);                                                                 \
    if (mr_r_ != ncclSuccess)                                                                          \
      fail(__FILE__, __LINE__, rank_, #call, std::string(nccl().GetErrorString(mr_r_)) + ": " + nccl().GetLastError(nullptr)); \
  } while (0)
#define CUDA_CHECK_R(call)                                                                             \
  do {                                                                                                 \
    const cudaError_t mr_e_ = (call);                                                                  \
    if (mr_e_ != cudaSuccess) fail(__FILE__, __LINE__, rank_, #call, cudaGetErrorString(mr_e_));       \
  } while (0)
#define MPI_CHECK_R(call)                                                                              \
  do {                                                                                                 \
    const int mr_m_ = (call);                                                                          \
    if (mr_m_ != MPI_SUCCESS) fail(__FILE__, __LINE__, rank_, #call, "MPI error " + std::to_string(mr_m_)); \
  } while (0)

class NcclComm final : public Communicator {
 public:
  // Under mpirun: MPI bootstraps (rank 0's id broadcast) and provides barrier and abort. Started
  // by the --gpus launcher (launch.h): rank, size and the id come from the environment, no MPI.
  NcclComm(int device, const LaunchEnv& le)
      : mpi_(le.rank < 0 ? make_mpi_communicator() : nullptr),
        rank_(le.rank < 0 ? mpi_->rank() : le.rank),
        size_(le.rank < 0 ? mpi_->size() : le.size),
        wd_(comm_timeout_from_env(), rank_) {
    // a rank that cannot join must not leave the others waiting in the bootstrap: end the job
    try {
      join(device, le);
    } catch (const std::exception& e) {
      abort(std::string("metarec: ") + e.what(), 1);
    }
  }

 private:
  void join(int device, const LaunchEnv& le) {
    int gpus = 0;
    CUDA_CHECK_R(cudaGetDeviceCount(&gpus));
    if (gpus < 1) fail(__FILE__, __LINE__, rank_, "cudaGetDeviceCount", "no CUDA device");
    if (device < 0 && !mpi_) device = rank_;  // the launcher's workers are all on this node
    if (device < 0) {  // this rank's index among the ranks on its node
      MPI_Comm node;
      int local = 0;
      MPI_CHECK_R(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node));
      MPI_CHECK_R(MPI_Comm_rank(node, &local));
      MPI_CHECK_R(MPI_Comm_free(&node));
      device = local;
    }
    if (device >= gpus)
      fail(__FILE__, __LINE__, rank_, "cudaSetDevice",
           "GPU " + std::to_string(device) + " wanted but " + std::to_string(gpus) +
               " visible: more ranks on this node than GPUs (one process per GPU; check -np or --gpus, train.gpus "
               "and CUDA_VISIBLE_DEVICES)");
    device_ = device;
    CUDA_CHECK_R(cudaSetDevice(device_));
    ncclUniqueId id;
    if (mpi_) {
      if (rank_ == 0) NCCL_CHECK(nccl().GetUniqueId(&id));
      MPI_CHECK_R(MPI_Bcast(&id, int(sizeof id), MPI_BYTE, 0, MPI_COMM_WORLD));
    } else if (!from_hex(le.id, &id, sizeof id)) {
      fail(__FILE__, __LINE__, rank_, "METAREC_LAUNCH_ID", "not the hex of an NCCL unique id");
    }
    // the collectives go on the compute stream (the legacy default stream, where every kernel of
    // the CUDA backend is launched): they start after the kernels that wrote their buffers
    stream_ = nullptr;
    NCCL_CHECK(nccl().CommInitRank(&comm_, size_, id, rank_));
  }

 public:
  ~NcclComm() override {
    if (token_) cudaFree(token_);
    if (comm_) nccl().CommDestroy(comm_);
    if (stream_) cudaStreamDestroy(stream_);
  }
  NcclComm(const NcclComm&) = delete;
  NcclComm& operator=(const NcclComm&) = delete;

  std::string name() const override { return "nccl"; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void allreduce_sum(float* x, int64_t n) override { reduce(x, n, ncclFloat32, ncclSum); }
  void allreduce_sum(double* x, int64_t n) override { reduce(x, n, ncclFloat64, ncclSum); }
  void allreduce_avg(float* x, int64_t n) override { reduce(x, n, ncclFloat32, ncclAvg); }
  void broadcast(float* x, int64_t n, int root) override { bcast(x, n, ncclFloat32, root); }
  void broadcast(double* x, int64_t n, int root) override { bcast(x, n, ncclFloat64, root); }
  void barrier() override {
    {
      Watchdog::Scope guard(wd_, "the stream before a barrier", 0);
      wait("barrier");
    }
    if (mpi_) {
      mpi_->barrier();  // watched by the MPI communicator's own watchdog
      return;
    }
    if (!token_) CUDA_CHECK_R(cudaMalloc(&token_, sizeof(float)));  // launch mode: an all-reduce of one value
    reduce(token_, 1, ncclFloat32, ncclSum);
  }
  void pause_watchdog(bool on) override {
    wd_.pause(on);
    if (mpi_) mpi_->pause_watchdog(on);
  }
  [[noreturn]] void abort(const std::string& msg, int code) override {
    if (comm_) nccl().CommAbort(comm_);  // unblocks kernels waiting on dead peers
    comm_ = nullptr;
    if (mpi_) mpi_->abort(msg, code);
    std::fprintf(stderr, "rank %d: %s\n", rank_, msg.c_str());  // launch mode: the launcher ends the others
    std::fflush(stderr);
    std::_Exit(code);
  }

 private:
  void check_n(int64_t n, int root) {
    if (n < 0 || root < 0 || root >= size_)
      fail(__FILE__, __LINE__, rank_, "collective", std::to_string(n) + " elements, root " + std::to_string(root));
  }
  void reduce(void* x, int64_t n, ncclDataType_t t, ncclRedOp_t op) {
    check_n(n, 0);
    if (n == 0) return;
    Staged b(*this, x, n, t);
    Watchdog::Scope guard(wd_, "ncclAllReduce", n);  // a peer that never comes ends the job
    NCCL_CHECK(nccl().AllReduce(b.p, b.p, size_t(n), t, op, comm_, stream_));
    wait("ncclAllReduce");
    b.back();
  }
  void bcast(void* x, int64_t n, ncclDataType_t t, int root) {
    check_n(n, root);
    if (n == 0) return;
    Staged b(*this, x, n, t);
    Watchdog::Scope guard(wd_, "ncclBroadcast", n);
    NCCL_CHECK(nccl().Broadcast(b.p, b.p, size_t(n), t, root, comm_, stream_));
    wait("ncclBroadcast");
    b.back();
  }
  // Waits for the stream, polling NCCL's asynchronous error state: a peer that died or a
  // network failure shows up there (ncclRemoteError, ncclSystemError) while the collective's
  // kernel would otherwise spin forever; then the communicator is aborted (freeing the GPU)
  // and the error names this rank and the call. A peer that hangs without an error is the
  // watchdog's (wd_, armed by the caller: it ends this process after METAREC_COMM_TIMEOUT).
  void wait(const char* call) {
    for (int spins = 0;; spins += spins <= 1000) {  // saturates: a wait may last days (no watchdog)
      const cudaError_t e = cudaStreamQuery(stream_);
      if (e == cudaSuccess) return;
      if (e != cudaErrorNotReady) CUDA_CHECK_R(e);
      ncclResult_t async = ncclSuccess;
      NCCL_CHECK(nccl().CommGetAsyncError(comm_, &async));
      if (async != ncclSuccess) {
        const std::string msg = std::string(call) + ": NCCL reports '" + nccl().GetErrorString(async) +
                                "' (a peer died, or the network failed); communicator aborted";
        nccl().CommAbort(comm_);
        comm_ = nullptr;
        fail(__FILE__, __LINE__, rank_, call, msg);
      }
      if (spins > 1000) std::this_thread::sleep_for(std::chrono::microseconds(100));  // long waits: do not burn a core
    }
  }

  // A host buffer goes through device memory (NCCL reads and writes device memory only): p is
  // x itself when x is device memory (or under the emulator, where all memory is the host's).
  struct Staged {
    NcclComm& c;
    void* x;
    void* p;
    size_t bytes = 0;
    Staged(NcclComm& comm, void* host_or_dev, int64_t n, ncclDataType_t t) : c(comm), x(host_or_dev), p(host_or_dev) {
#ifndef MR_EMU
      cudaPointerAttributes a{};
      const cudaError_t e = cudaPointerGetAttributes(&a, x);
      if (e != cudaSuccess) cudaGetLastError();
      if (e == cudaSuccess && (a.type == cudaMemoryTypeDevice || a.type == cudaMemoryTypeManaged)) return;
      bytes = size_t(n) * (t == ncclFloat64 ? 8 : 4);
      const int rank_ = c.rank_;
      CUDA_CHECK_R(cudaMalloc(&p, bytes));
      CUDA_CHECK_R(cudaMemcpy(p, x, bytes, cudaMemcpyHostToDevice));
#else
      (void)n;
      (void)t;
#endif
    }
    void back() {  // the result into the host buffer
      if (!bytes) return;
      const int rank_ = c.rank_;
      CUDA_CHECK_R(cudaMemcpy(x, p, bytes, cudaMemcpyDeviceToHost));
    }
    ~Staged() {
      if (bytes) cudaFree(p);
    }
    Staged(const Staged&) = delete;
    Staged& operator=(const Staged&) = delete;
  };

  std::unique_ptr<Communicator> mpi_;  // keeps MPI initialised; barrier and abort (null in launch mode)
  float* token_ = nullptr;             // launch mode: the barrier's one-value all-reduce
  int rank_, size_, device_ = 0;
  Watchdog wd_;  // a collective that waits longer than METAREC_COMM_TIMEOUT ends the process
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;  // the compute stream (0)
};

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(int device) {
  return std::make_unique<NcclComm>(device, launch_env());
}

namespace {
// the --gpus launcher's id for n workers, and its release
std::string launch_id(int n) {
  ncclUniqueId id;
#ifdef MR_EMU
  if (emu_launch_id(&id, n) != ncclSuccess) throw Error("--gpus: cannot create the NCCL stand-in's shared memory segment");
#else
  (void)n;
  const ncclResult_t r = nccl().GetUniqueId(&id);
  if (r != ncclSuccess) throw Error(std::string("--gpus: ncclGetUniqueId failed: ") + nccl().GetErrorString(r));
#endif
  return to_hex(&id, sizeof id);
}
void launch_release(const std::string& hex) {
#ifdef MR_EMU
  ncclUniqueId id;
  if (from_hex(hex, &id, sizeof id)) emu_launch_unlink(id);
#else
  (void)hex;
#endif
}
// linked as an object into build/metarec-cuda and build/metarec-emu: make_communicator("nccl") finds it
const bool registered = (register_nccl(make_nccl_communicator), register_nccl_launch({launch_id, launch_release}), true);
}  // namespace

}  // namespace mr::comm
