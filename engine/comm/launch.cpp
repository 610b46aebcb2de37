// The --gpus launcher (engine/comm/launch.h).
#include "engine/comm/launch.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "base/check.h"

namespace mr::comm {

namespace {
LaunchHooks g_hooks;
volatile sig_atomic_t g_signal = 0;
void on_signal(int s) { g_signal = s; }

int env_int(const char* k, int lo, int hi) {
  const char* v = std::getenv(k);
  MR_CHECK(v && *v, "{} is not set (the --gpus launcher sets it)", k);
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  if (!end || *end || x < lo || x > hi) throw Error(fmt::format("{}={}: expected an integer in [{}, {}]", k, v, lo, hi));
  return int(x);
}
}  // namespace

std::string to_hex(const void* p, size_t n) {
  static const char* d = "0123456789abcdef";
  std::string s(2 * n, '0');
  for (size_t i = 0; i < n; ++i) {
    const unsigned char c = static_cast<const unsigned char*>(p)[i];
    s[2 * i] = d[c >> 4];
    s[2 * i + 1] = d[c & 15];
  }
  return s;
}

bool from_hex(const std::string& h, void* p, size_t n) {
  if (h.size() != 2 * n) return false;
  auto nib = [](char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1; };
  for (size_t i = 0; i < n; ++i) {
    const int a = nib(h[2 * i]), b = nib(h[2 * i + 1]);
    if (a < 0 || b < 0) return false;
    static_cast<unsigned char*>(p)[i] = static_cast<unsigned char>(a * 16 + b);
  }
  return true;
}

LaunchEnv launch_env() {
  LaunchEnv e;
  const char* id = std::getenv("METAREC_LAUNCH_ID");
  if (!id || !*id) return e;
  e.size = env_int("METAREC_LAUNCH_SIZE", 1, 1 << 16);
  e.rank = env_int("METAREC_LAUNCH_RANK", 0, e.size - 1);
  e.id = id;
  return e;
}

void register_nccl_launch(LaunchHooks h) { g_hooks = h; }
bool have_nccl_launch() { return g_hooks.make_id != nullptr; }

int launch_workers(int n, const std::vector<std::string>& args) {
  MR_CHECK(n >= 1 && n <= 1024, "--gpus {}: expected 1..1024 workers", n);
  if (!have_nccl_launch())
    throw Error("--gpus: this binary has no NCCL communicator; use build/metarec-cuda (build/metarec-emu in tests)");
  const std::string id = g_hooks.make_id(n);
  std::fprintf(stderr, "train: --gpus %d: launching %d workers (one per GPU, NCCL without MPI)\n", n, n);
  std::fflush(stderr);
  struct sigaction sa{};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::vector<pid_t> pids(size_t(n), -1);
  const pid_t launcher = ::getpid();
  for (int r = 0; r < n; ++r) {
    const pid_t pid = ::fork();
    if (pid < 0) {
      for (pid_t p : pids)
        if (p > 0) ::kill(p, SIGKILL);
      if (g_hooks.release) g_hooks.release(id);
      throw Error(fmt::format("--gpus: fork failed for worker {}: {}", r, std::strerror(errno)));
    }
    if (pid == 0) {
      // a launcher that dies without forwarding a signal (SIGKILL, the OOM killer) takes its
      // workers along instead of leaving them on the GPUs
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != launcher) std::_Exit(1);  // it died before prctl
      ::setenv("METAREC_LAUNCH_RANK", std::to_string(r).c_str(), 1);
      ::setenv("METAREC_LAUNCH_SIZE", std::to_string(n).c_str(), 1);
      ::setenv("METAREC_LAUNCH_ID", id.c_str(), 1);
      ::setenv("LOCAL_RANK", std::to_string(r).c_str(), 1);
      std::vector<char*> av;
      static char self[] = "/proc/self/exe";
      av.push_back(self);
      for (const auto& a : args) av.push_back(const_cast<char*>(a.c_str()));
      av.push_back(nullptr);
      ::execv(self, av.data());
      std::fprintf(stderr, "train: worker %d: exec failed: %s\n", r, std::strerror(errno));
      std::_Exit(127);
    }
    pids[size_t(r)] = pid;
  }
  int status_out = 0, alive = n;
  std::string first_failure;
  auto end_others = [&](int sig) {
    for (pid_t p : pids)
      if (p > 0) ::kill(p, sig);
  };
  auto deadline = std::chrono::steady_clock::time_point::max();
  while (alive > 0) {
    int st = 0;
    const pid_t pid = ::waitpid(-1, &st, WNOHANG);
    if (pid > 0) {
      int r = 0;
      while (r < n && pids[size_t(r)] != pid) ++r;
      if (r == n) continue;
      pids[size_t(r)] = -1;
      --alive;
      const bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
      if (!ok && first_failure.empty()) {
        first_failure = WIFSIGNALED(st) ? fmt::format("worker {} (GPU rank {}) was killed by signal {}", r, r, WTERMSIG(st))
                                        : fmt::format("worker {} (GPU rank {}) exited with status {}", r, r, WEXITSTATUS(st));
        std::fprintf(stderr, "train: %s: ending the other workers\n", first_failure.c_str());
        std::fflush(stderr);
        status_out = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        end_others(SIGTERM);
        deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      }
      continue;
    }
    if (g_signal && first_failure.empty()) {
      first_failure = fmt::format("the launcher got signal {}", int(g_signal));
      status_out = 128 + int(g_signal);
      end_others(int(g_signal));
      deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    }
    if (std::chrono::steady_clock::now() > deadline) {
      end_others(SIGKILL);
      deadline = std::chrono::steady_clock::time_point::max();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (g_hooks.release) g_hooks.release(id);
  if (!first_failure.empty()) std::fprintf(stderr, "train: --gpus %d failed: %s\n", n, first_failure.c_str());
  return status_out;
}

}  // namespace mr::comm
