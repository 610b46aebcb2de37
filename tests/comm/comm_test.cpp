// Communicators (engine/comm). Run plainly these cases check the single-process backend; the
// multi-rank driver (tools/mpi_test.sh) runs this binary again under `mpirun -np 2` and `-np 3`,
// where make_communicator("auto") is MPI. Every expected value is a closed form in the rank r
// and the size S, written out by hand: rank r contributes (r + 1) * a_i + b_i, so the sum is
// a_i * S(S+1)/2 + b_i * S. The values are small integers and quarters, exact in fp32.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <cstdlib>
#include <string>
#include <vector>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>

#include "engine/comm/comm.h"
#include "engine/comm/launch.h"
#include "engine/comm/watchdog.h"

using namespace mr;

namespace {

std::unique_ptr<comm::Communicator> world() { return comm::make_communicator("auto"); }

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

template <class T>
void check_sum(comm::Communicator& c, int64_t n) {
  const int r = c.rank(), S = c.size();
  std::vector<T> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) x[size_t(i)] = T(r + 1) * T(i % 1000) + T(0.25);
  c.allreduce_sum(x.data(), n);
  int64_t bad = 0;
  for (int64_t i = 0; i < n; ++i) bad += x[size_t(i)] != T(i % 1000) * T(S * (S + 1) / 2) + T(0.25) * T(S);
  CHECK(bad == 0);
}

}  // namespace

TEST_CASE("communicator: backend, rank and size") {
  auto c = world();
  CHECK(c->size() >= 1);
  CHECK(c->rank() >= 0);
  CHECK(c->rank() < c->size());
  if (comm::launched_by_mpirun()) {
    // the driver starts this binary under mpirun: auto must pick MPI with the launcher's size
    CHECK(c->name() == "mpi");
    const char* s = std::getenv("OMPI_COMM_WORLD_SIZE");
    if (s) CHECK(c->size() == std::atoi(s));
  } else {
    CHECK(c->name() == "single");
    CHECK(c->size() == 1);
  }
  auto one = comm::make_communicator("single");
  CHECK(one->rank() == 0);
  CHECK(one->size() == 1);
}

TEST_CASE("communicator: all-reduce sum, fp32 and fp64, short, awkward and long buffers") {
  auto c = world();
  for (int64_t n : {1, 7, 33, 1025}) {
    check_sum<float>(*c, n);
    check_sum<double>(*c, n);
  }
  check_sum<float>(*c, int64_t(3) << 20);  // 12 MiB: several MPI segments / pipeline chunks
}

TEST_CASE("communicator: all-reduce average") {
  auto c = world();
  const int r = c->rank(), S = c->size();
  std::vector<float> x(65);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(2 * r) + float(i);  // mean over r of 2r = S - 1
  c->allreduce_avg(x.data(), int64_t(x.size()));
  for (size_t i = 0; i < x.size(); ++i) CHECK(x[i] == doctest::Approx(double(S - 1) + double(i)).epsilon(1e-6));
}

TEST_CASE("communicator: broadcast from the last rank, fp32 and fp64") {
  auto c = world();
  const int root = c->size() - 1;
  std::vector<float> f(1000, NAN);
  std::vector<double> d(17, NAN);
  if (c->rank() == root) {
    for (size_t i = 0; i < f.size(); ++i) f[i] = 0.5f * float(i) + 7.0f;
    for (size_t i = 0; i < d.size(); ++i) d[i] = 1.0 / 3.0 + double(i);
  }
  c->broadcast(f.data(), int64_t(f.size()), root);
  c->broadcast(d.data(), int64_t(d.size()), root);
  int bad = 0;
  for (size_t i = 0; i < f.size(); ++i) bad += f[i] != 0.5f * float(i) + 7.0f;
  for (size_t i = 0; i < d.size(); ++i) bad += d[i] != 1.0 / 3.0 + double(i);
  CHECK(bad == 0);
  CHECK(error_of([&] { c->broadcast(f.data(), 1, c->size()); }) != "no error");  // no such root
}

TEST_CASE("communicator: zero-length collectives and barriers keep the ranks in step") {
  auto c = world();
  c->allreduce_sum(static_cast<float*>(nullptr), 0);
  c->allreduce_sum(static_cast<double*>(nullptr), 0);
  c->broadcast(static_cast<float*>(nullptr), 0, 0);
  for (int k = 0; k < 3; ++k) c->barrier();
  // still in step: a collective after them sums correctly
  double one = 1;
  c->allreduce_sum(&one, 1);
  CHECK(one == double(c->size()));
}

TEST_CASE("communicator: factory errors name the choices") {
  CHECK(error_of([] { comm::make_communicator("gloo"); }).find("auto, single, mpi or nccl") != std::string::npos);
  CHECK(error_of([] { comm::make_communicator("nccl"); }).find("build/metarec-cuda") != std::string::npos);
  if (!comm::have_mpi()) CHECK(error_of([] { comm::make_communicator("mpi"); }).find("without MPI") != std::string::npos);
}

TEST_CASE("fault hook: inert without the variables, throws at the configured rank and step") {
  auto c = world();
  unsetenv("METAREC_FAULT_RANK");
  CHECK_NOTHROW(comm::fault_hook(c->rank(), 2));
  setenv("METAREC_FAULT_RANK", std::to_string(c->rank()).c_str(), 1);
  setenv("METAREC_FAULT_STEP", "2", 1);
  setenv("METAREC_FAULT_MODE", "throw", 1);
  CHECK_NOTHROW(comm::fault_hook(c->rank(), 1));
  CHECK_NOTHROW(comm::fault_hook(c->rank() + 1, 2));
  CHECK(error_of([&] { comm::fault_hook(c->rank(), 2); }).find("injected fault at step 2") != std::string::npos);
  setenv("METAREC_FAULT_MODE", "bogus", 1);
  CHECK(error_of([&] { comm::fault_hook(c->rank(), 2); }).find("throw, exit, kill or hang") != std::string::npos);
  unsetenv("METAREC_FAULT_RANK");
  unsetenv("METAREC_FAULT_STEP");
  unsetenv("METAREC_FAULT_MODE");
}

namespace {

// Runs f in a child process with its stderr in a pipe; returns the exit status (or -1 when it
// ends by a signal or outlives `limit_s`) and the seconds it took, and stores its stderr.
struct Child {
  int status = -1;
  double seconds = 0;
  std::string err;
};
Child run_child(const std::function<void()>& f, double limit_s) {
  int fd[2];
  REQUIRE(::pipe(fd) == 0);
  const auto t0 = std::chrono::steady_clock::now();
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(fd[1], 2);
    ::close(fd[0]);
    try {
      f();
    } catch (...) {
      std::_Exit(99);  // never unwind into doctest inside the child
    }
    std::_Exit(0);
  }
  ::close(fd[1]);
  Child c;
  int st = 0;
  for (;;) {
    const pid_t r = ::waitpid(pid, &st, WNOHANG);
    c.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r == pid) {
      c.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
      break;
    }
    if (c.seconds > limit_s) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &st, 0);
      break;
    }
    ::usleep(10000);
  }
  char buf[512];
  for (ssize_t k; (k = ::read(fd[0], buf, sizeof buf)) > 0;) c.err.append(buf, size_t(k));
  ::close(fd[0]);
  return c;
}

}  // namespace

// The collective watchdog (engine/comm/watchdog.h), in child processes because it ends the
// process. Not under mpirun: a forked MPI process is not something Open MPI supports.
TEST_CASE("comm watchdog: a collective that waits past the limit ends the process, naming the rank and call") {
  if (comm::launched_by_mpirun()) return;
  Child hung = run_child(
      [] {
        comm::Watchdog w(0.3, 7);
        w.arm("MPI_Allreduce", 42);
        ::sleep(30);  // the peers never arrive
      },
      20.0);
  CHECK(hung.status == 4);
  CHECK(hung.seconds < 10.0);
  CHECK(hung.err.find("rank 7: waited 0.3 s in MPI_Allreduce (42 values)") != std::string::npos);
  CHECK(hung.err.find("METAREC_COMM_TIMEOUT") != std::string::npos);
  // collectives that finish in time, many in a row, never trip it
  Child fine = run_child(
      [] {
        comm::Watchdog w(0.5, 1);
        for (int i = 0; i < 20; ++i) {
          comm::Watchdog::Scope s(w, "MPI_Bcast", i);
          ::usleep(50000);  // 50 ms each: 1 s in all, twice the limit
        }
      },
      20.0);
  CHECK(fine.status == 0);
  CHECK(fine.err.empty());
  // paused (a wait on one rank's solo work), it does not fire; it cannot be paused while armed
  Child paused = run_child(
      [] {
        comm::Watchdog w(0.2, 1);
        w.pause(true);
        w.arm("MPI_Barrier", 0);
        ::usleep(600000);
        w.disarm();
        w.pause(false);
        w.arm("MPI_Barrier", 0);
        bool refused = false;
        try {
          w.pause(true);
        } catch (const Error&) {
          refused = true;
        }
        w.disarm();
        std::_Exit(refused ? 0 : 5);
      },
      20.0);
  CHECK(paused.status == 0);
  // a limit of 0 is no limit
  Child off = run_child(
      [] {
        comm::Watchdog w(0.0, 1);
        w.arm("MPI_Barrier", 0);
        ::usleep(300000);
      },
      20.0);
  CHECK(off.status == 0);
}

TEST_CASE("comm watchdog: METAREC_COMM_TIMEOUT is read and checked") {
  const char* old = std::getenv("METAREC_COMM_TIMEOUT");
  const std::string saved = old ? old : "";
  ::unsetenv("METAREC_COMM_TIMEOUT");
  CHECK(comm::comm_timeout_from_env() == comm::kDefaultCommTimeout);
  ::setenv("METAREC_COMM_TIMEOUT", "12.5", 1);
  CHECK(comm::comm_timeout_from_env() == 12.5);
  ::setenv("METAREC_COMM_TIMEOUT", "0", 1);
  CHECK(comm::comm_timeout_from_env() == 0.0);
  ::setenv("METAREC_COMM_TIMEOUT", "1e9", 1);
  CHECK(comm::comm_timeout_from_env() == 1e9);
  // beyond ~9e9 s the steady clock overflows (the watchdog would fire at once): refused
  for (const char* bad : {"-3", "ten", "5s", "nan", "1e10", "inf", "1e-9"}) {
    ::setenv("METAREC_COMM_TIMEOUT", bad, 1);
    CHECK(error_of([] { comm::comm_timeout_from_env(); }).find("METAREC_COMM_TIMEOUT must be") != std::string::npos);
  }
  if (old) ::setenv("METAREC_COMM_TIMEOUT", saved.c_str(), 1);
  else ::unsetenv("METAREC_COMM_TIMEOUT");
}

TEST_CASE("local rank: a --gpus worker's METAREC_LAUNCH_RANK wins over an inherited SLURM_LOCALID / OMPI rank") {
  // the launcher's workers inherit its environment: inside a Slurm step every one of them would
  // otherwise read SLURM_LOCALID=0 and take GPU 0
  const char* old = std::getenv("METAREC_LAUNCH_RANK");
  const std::string saved = old ? old : "";
  ::setenv("METAREC_LAUNCH_RANK", "3", 1);
  const char* slurm = std::getenv("SLURM_LOCALID");
  const std::string saved_slurm = slurm ? slurm : "";
  ::setenv("SLURM_LOCALID", "0", 1);
  CHECK(mr::comm::local_rank() == 3);
  ::setenv("METAREC_LAUNCH_RANK", "x", 1);
  CHECK_THROWS_AS(mr::comm::local_rank(), mr::Error);
  if (old) ::setenv("METAREC_LAUNCH_RANK", saved.c_str(), 1); else ::unsetenv("METAREC_LAUNCH_RANK");
  if (slurm) ::setenv("SLURM_LOCALID", saved_slurm.c_str(), 1); else ::unsetenv("SLURM_LOCALID");
}

TEST_CASE("launch ids travel as hex: round trip, wrong length and bad digits refused") {
  unsigned char id[128], back[128];
  for (int i = 0; i < 128; ++i) id[i] = static_cast<unsigned char>(i * 37 + 11);
  const std::string h = mr::comm::to_hex(id, sizeof id);
  CHECK(h.size() == 256);
  CHECK(h.substr(0, 4) == "0b30");  // 11 = 0x0b, 48 = 0x30: hand-computed
  REQUIRE(mr::comm::from_hex(h, back, sizeof back));
  CHECK(std::equal(id, id + 128, back));
  CHECK_FALSE(mr::comm::from_hex(h.substr(2), back, sizeof back));
  CHECK_FALSE(mr::comm::from_hex(std::string(256, 'g'), back, sizeof back));
}
