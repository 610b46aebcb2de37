// NCCL communicator (comm_nccl.h). Host code only; nvcc compiles it with the CUDA sources.
#include "engine/comm/comm_nccl.h"

#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <cuda_runtime.h>
#include <mpi.h>
#include <nccl.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "engine/comm/comm_mpi.h"

namespace mr::comm {

namespace {

[[noreturn]] void fail(const char* file, int line, int rank, const char* call, const std::string& msg) {
  throw_error(file, line, ("rank " + std::to_string(rank) + ": " + call + " failed").c_str(), msg);
}

#define NCCL_CHECK(call)                                                                               \
  do {                                                                                                 \
    const ncclResult_t mr_r_ = (call);                                                                 \
    if (mr_r_ != ncclSuccess)                                                                          \
      fail(__FILE__, __LINE__, rank_, #call, std::string(ncclGetErrorString(mr_r_)) + ": " + ncclGetLastError(nullptr)); \
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
  explicit NcclComm(int device) : mpi_(make_mpi_communicator()), rank_(mpi_->rank()), size_(mpi_->size()) {
    if (device < 0) {  // this rank's index among the ranks on its node
      MPI_Comm node;
      int local = 0, gpus = 0;
      MPI_CHECK_R(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node));
      MPI_CHECK_R(MPI_Comm_rank(node, &local));
      MPI_CHECK_R(MPI_Comm_free(&node));
      CUDA_CHECK_R(cudaGetDeviceCount(&gpus));
      if (gpus < 1) fail(__FILE__, __LINE__, rank_, "cudaGetDeviceCount", "no CUDA device");
      device = local % gpus;
    }
    device_ = device;
    CUDA_CHECK_R(cudaSetDevice(device_));
    ncclUniqueId id;
    if (rank_ == 0) NCCL_CHECK(ncclGetUniqueId(&id));
    MPI_CHECK_R(MPI_Bcast(&id, int(sizeof id), MPI_BYTE, 0, MPI_COMM_WORLD));
    CUDA_CHECK_R(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    NCCL_CHECK(ncclCommInitRank(&comm_, size_, id, rank_));
  }
  ~NcclComm() override {
    if (comm_) ncclCommDestroy(comm_);
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
    CUDA_CHECK_R(cudaStreamSynchronize(stream_));
    mpi_->barrier();
  }
  [[noreturn]] void abort(const std::string& msg, int code) override {
    if (comm_) ncclCommAbort(comm_);  // unblocks kernels waiting on dead peers
    comm_ = nullptr;
    mpi_->abort(msg, code);
    std::_Exit(code);  // not reached
  }

 private:
  void check_n(int64_t n, int root) {
    if (n < 0 || root < 0 || root >= size_)
      fail(__FILE__, __LINE__, rank_, "collective", std::to_string(n) + " elements, root " + std::to_string(root));
  }
  void reduce(void* x, int64_t n, ncclDataType_t t, ncclRedOp_t op) {
    check_n(n, 0);
    if (n == 0) return;
    NCCL_CHECK(ncclAllReduce(x, x, size_t(n), t, op, comm_, stream_));
    CUDA_CHECK_R(cudaStreamSynchronize(stream_));
  }
  void bcast(void* x, int64_t n, ncclDataType_t t, int root) {
    check_n(n, root);
    if (n == 0) return;
    NCCL_CHECK(ncclBroadcast(x, x, size_t(n), t, root, comm_, stream_));
    CUDA_CHECK_R(cudaStreamSynchronize(stream_));
  }

  std::unique_ptr<Communicator> mpi_;  // keeps MPI initialised; barrier and abort
  int rank_, size_, device_ = 0;
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
};

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(int device) { return std::make_unique<NcclComm>(device); }

}  // namespace mr::comm
