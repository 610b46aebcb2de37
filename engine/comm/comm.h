// Communicators: the collectives multi-process training needs, over one flat buffer.
//   single  one process: rank 0 of 1, every collective a no-op (always available)
//   mpi     MPI_COMM_WORLD (Open MPI), host buffers; built when mpicxx exists (HAVE_MPI)
//   nccl    one process per GPU, device buffers (host buffers are staged through the device),
//           ncclUniqueId bootstrapped over MPI; linked into build/metarec-cuda (and, over an
//           MPI stand-in for NCCL, build/metarec-emu), not into the CPU binary
//           (engine/comm/comm_nccl.h); what `metarec train --set train.device=cuda` uses under
//           mpirun
// All collectives are in place and blocking. Every rank must call them in the same order with
// the same n (and root). Errors throw mr::Error naming the rank, the call and the library's
// message; abort() takes the whole job down (MPI_Abort) so no peer is left waiting. A rank
// that waits longer than METAREC_COMM_TIMEOUT seconds (default 3600) in one MPI collective
// ends the job too (engine/comm/watchdog.h).
// This header stays free of fmt so that nvcc can compile comm_nccl.cu against it.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "base/error.h"

namespace mr::comm {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual std::string name() const = 0;  // "single", "mpi", "nccl"
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // x[i] = sum over ranks of x[i], on every rank
  virtual void allreduce_sum(float* x, int64_t n) = 0;
  virtual void allreduce_sum(double* x, int64_t n) = 0;
  // x[i] = mean over ranks of x[i]: the sum, then a multiplication by 1/size on every rank
  virtual void allreduce_avg(float* x, int64_t n);
  // every rank receives root's x
  virtual void broadcast(float* x, int64_t n, int root) = 0;
  virtual void broadcast(double* x, int64_t n, int root) = 0;
  virtual void barrier() = 0;
  // Turns the collective watchdog (mpi; watchdog.h) off while on, for collectives that wait
  // on one rank's long solo work. The other backends have none: a no-op.
  virtual void pause_watchdog(bool on) { (void)on; }
  // Prints "rank R: msg" on stderr and ends every process of the job with `code`.
  [[noreturn]] virtual void abort(const std::string& msg, int code = 1) = 0;
};

// Scoped pause_watchdog(true).
struct UnwatchedWait {
  Communicator& c;
  explicit UnwatchedWait(Communicator& cm) : c(cm) { c.pause_watchdog(true); }
  ~UnwatchedWait() { c.pause_watchdog(false); }
  UnwatchedWait(const UnwatchedWait&) = delete;
  UnwatchedWait& operator=(const UnwatchedWait&) = delete;
};

// "single" | "mpi" | "nccl" | "auto" (mpi when this process was started by mpirun, else
// single). "nccl" selects GPU `gpu` for this process (-1: its local rank's) and needs a binary
// that links the NCCL communicator (it registers itself: register_nccl). Unknown names, and
// backends this build lacks, throw an Error that says so.
std::unique_ptr<Communicator> make_communicator(const std::string& kind, int gpu = -1);
using NcclFactory = std::unique_ptr<Communicator> (*)(int gpu);
void register_nccl(NcclFactory f);
bool have_nccl();
// This process's rank among the ranks on its node, from the launcher's environment
// (METAREC_LAUNCH_RANK of `train --gpus`, OMPI_COMM_WORLD_LOCAL_RANK, SLURM_LOCALID, LOCAL_RANK,
// MPI_LOCALRANKID); -1 when none says.
int local_rank();
// Whether the environment says an MPI launcher started this process (Open MPI, PMIx, PMI).
bool launched_by_mpirun();
// Whether this build has the MPI backend.
bool have_mpi();

// Test hook for fault handling (tests/comm, tools/mpi_test.sh): when METAREC_FAULT_RANK equals
// `rank` and METAREC_FAULT_STEP equals `step`, fail as METAREC_FAULT_MODE says: "throw" (an
// Error, the default), "exit" (exit status 3 without finalising MPI), "kill" (SIGKILL) or
// "hang" (stay alive and never reach the next collective: the peers' watchdog, watchdog.h,
// must end the job). Does nothing when the variables are unset.
void fault_hook(int rank, int64_t step);

}  // namespace mr::comm
