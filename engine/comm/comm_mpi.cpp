#include "engine/comm/comm_mpi.h"

#include "base/check.h"
#include "engine/comm/watchdog.h"

#ifdef MR_HAVE_MPI
// the C API only (Open MPI and MPICH would otherwise pull in the deprecated C++ bindings)
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

// MPI_CHECK(call): the call's error string, the rank and the call in an mr::Error.
#define MPI_CHECK(call)                                                       \
  do {                                                                        \
    const int mr_rc_ = (call);                                                \
    if (mr_rc_ != MPI_SUCCESS) ::mr::comm::mpi_fail(__FILE__, __LINE__, #call, mr_rc_); \
  } while (0)

namespace mr::comm {

namespace {

int world_rank() {
  int r = -1, on = 0;
  MPI_Initialized(&on);
  if (on) MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

}  // namespace

[[noreturn]] void mpi_fail(const char* file, int line, const char* call, int rc) {
  char msg[MPI_MAX_ERROR_STRING] = {};
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  throw_error(file, line, fmt::format("rank {}: {} failed", world_rank(), call).c_str(), msg);
}

namespace {

// MPI_Init once per process, MPI_Finalize at exit (a function-local static's destructor).
struct World {
  World() {
    int on = 0;
    MPI_CHECK(MPI_Initialized(&on));
    if (!on) {
      int provided = 0;
      MPI_CHECK(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided));
      owner = true;
    }
    MPI_CHECK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
    MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank));
    MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &size));
  }
  ~World() {
    int fin = 0;
    MPI_Finalized(&fin);
    if (owner && !fin) MPI_Finalize();
  }
  bool owner = false;
  int rank = 0, size = 1;
};

World& world() {
  static World w;
  return w;
}

// MPI counts are int: long buffers go in chunks.
constexpr int64_t kChunk = int64_t(1) << 30;

template <class T>
MPI_Datatype mpi_type();
template <>
MPI_Datatype mpi_type<float>() { return MPI_FLOAT; }
template <>
MPI_Datatype mpi_type<double>() { return MPI_DOUBLE; }

class MpiComm final : public Communicator {
 public:
  MpiComm() : w_(world()), wd_(comm_timeout_from_env(), w_.rank) {}
  std::string name() const override { return "mpi"; }
  int rank() const override { return w_.rank; }
  int size() const override { return w_.size; }
  void allreduce_sum(float* x, int64_t n) override { allreduce(x, n); }
  void allreduce_sum(double* x, int64_t n) override { allreduce(x, n); }
  void broadcast(float* x, int64_t n, int root) override { bcast(x, n, root); }
  void broadcast(double* x, int64_t n, int root) override { bcast(x, n, root); }
  void pause_watchdog(bool on) override { wd_.pause(on); }
  void barrier() override {
    Watchdog::Scope guard(wd_, "MPI_Barrier", 0);
    MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD));
  }
  [[noreturn]] void abort(const std::string& msg, int code) override {
    std::fprintf(stderr, "rank %d: %s\n", w_.rank, msg.c_str());
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);  // MPI_Abort does not return; in case it does
  }

 private:
  template <class T>
  void allreduce(T* x, int64_t n) {
    MR_CHECK(n >= 0, "rank {}: allreduce of {} elements", w_.rank, n);
    Watchdog::Scope guard(wd_, "MPI_Allreduce", n);
    for (int64_t i = 0; i < n; i += kChunk)
      MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, x + i, int(std::min(kChunk, n - i)), mpi_type<T>(), MPI_SUM, MPI_COMM_WORLD));
  }
  template <class T>
  void bcast(T* x, int64_t n, int root) {
    MR_CHECK(n >= 0 && root >= 0 && root < w_.size, "rank {}: broadcast of {} elements from root {} of {}", w_.rank, n,
             root, w_.size);
    Watchdog::Scope guard(wd_, "MPI_Bcast", n);
    for (int64_t i = 0; i < n; i += kChunk)
      MPI_CHECK(MPI_Bcast(x + i, int(std::min(kChunk, n - i)), mpi_type<T>(), root, MPI_COMM_WORLD));
  }
  World& w_;
  Watchdog wd_;  // a rank that waits too long in a collective ends the job
};

}  // namespace

bool have_mpi() { return true; }
std::unique_ptr<Communicator> make_mpi_communicator() { return std::make_unique<MpiComm>(); }

}  // namespace mr::comm

#else  // built without MPI

namespace mr::comm {

bool have_mpi() { return false; }
std::unique_ptr<Communicator> make_mpi_communicator() {
  throw Error("this metarec was built without MPI (HAVE_MPI=0: mpicxx was not found at build time)");
}

}  // namespace mr::comm

#endif
