#include "engine/comm/comm.h"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <unistd.h>

#include "base/check.h"
#include "engine/comm/comm_mpi.h"

namespace mr::comm {

void Communicator::allreduce_avg(float* x, int64_t n) {
  allreduce_sum(x, n);
  const float inv = 1.0f / float(size());
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

namespace {

class SingleComm final : public Communicator {
 public:
  std::string name() const override { return "single"; }
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void allreduce_sum(float*, int64_t) override {}
  void allreduce_sum(double*, int64_t) override {}
  void broadcast(float*, int64_t, int root) override { check_root(root); }
  void broadcast(double*, int64_t, int root) override { check_root(root); }
  void barrier() override {}
  [[noreturn]] void abort(const std::string& msg, int code) override {
    std::fprintf(stderr, "rank 0: %s\n", msg.c_str());
    std::fflush(stderr);
    std::_Exit(code);
  }

 private:
  static void check_root(int root) { MR_CHECK(root == 0, "broadcast root {} on a single-process communicator", root); }
};

const char* env(const char* k) {
  const char* v = std::getenv(k);
  return v && *v ? v : nullptr;
}

}  // namespace

bool launched_by_mpirun() {
  return env("OMPI_COMM_WORLD_SIZE") || env("PMIX_RANK") || env("PMI_RANK") || env("PMI_SIZE");
}

namespace {
NcclFactory g_nccl = nullptr;
}  // namespace

void register_nccl(NcclFactory f) { g_nccl = f; }
bool have_nccl() { return g_nccl != nullptr; }

int local_rank() {
  // the --gpus launcher's worker rank first: inside a Slurm step or an MPI job's environment the
  // workers inherit SLURM_LOCALID / OMPI_* of the launcher, which would give them all one GPU
  for (const char* k : {"METAREC_LAUNCH_RANK", "OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID", "LOCAL_RANK", "MPI_LOCALRANKID"})
    if (const char* v = env(k)) {
      char* end = nullptr;
      const long r = std::strtol(v, &end, 10);
      if (end && *end == 0 && r >= 0 && r < (1 << 20)) return int(r);
      throw Error(fmt::format("{}={}: not a local rank", k, v));
    }
  return -1;
}

std::unique_ptr<Communicator> make_communicator(const std::string& kind, int gpu) {
  if (kind == "single") return std::make_unique<SingleComm>();
  if (kind == "auto") return launched_by_mpirun() && have_mpi() ? make_mpi_communicator() : std::make_unique<SingleComm>();
  if (kind == "mpi") {
    if (!have_mpi())
      throw Error("--comm mpi: this metarec was built without MPI (install libopenmpi-dev and openmpi-bin, "
                  "then rebuild: the Makefile enables MPI when mpicxx exists)");
    return make_mpi_communicator();
  }
  if (kind == "nccl") {
    if (!g_nccl)
      throw Error("--comm nccl: this binary has no NCCL communicator; build/metarec-cuda has it (and "
                  "build/metarec-emu, over MPI, for tests)");
    return g_nccl(gpu);
  }
  throw Error(fmt::format("unknown communicator '{}': expected auto, single, mpi or nccl", kind));
}

void fault_hook(int rank, int64_t step) {
  const char *r = env("METAREC_FAULT_RANK"), *s = env("METAREC_FAULT_STEP");
  if (!r || !s || std::atoi(r) != rank || std::atoll(s) != step) return;
  const std::string mode = env("METAREC_FAULT_MODE") ? env("METAREC_FAULT_MODE") : "throw";
  if (mode == "throw") throw Error(fmt::format("injected fault at step {} (METAREC_FAULT_MODE=throw)", step));
  if (mode != "exit" && mode != "kill" && mode != "hang")
    throw Error(fmt::format("METAREC_FAULT_MODE must be throw, exit, kill or hang, got '{}'", mode));
  std::fprintf(stderr, "rank %d: injected fault at step %lld (METAREC_FAULT_MODE=%s)\n", rank, (long long)step,
               mode.c_str());
  std::fflush(stderr);
  if (mode == "exit") std::_Exit(3);
  if (mode == "hang")
    for (;;) ::pause();  // alive, never reaching the next collective (until mpirun ends it)
  ::kill(::getpid(), SIGKILL);
  ::pause();
}

}  // namespace mr::comm
