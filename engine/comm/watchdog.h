// A watchdog for blocking collectives: a rank that waits longer than the limit in one
// collective ends its process (exit status 4) with a message naming the rank, the call and
// the wait, and mpirun then ends every other rank, the hung one included. Without it, a rank
// that hangs without failing (a deadlock, an endless loop) would keep the whole job waiting.
// The watchdog thread makes no MPI calls (MPI is initialised MPI_THREAD_FUNNELED).
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

namespace mr::comm {

// The limit from METAREC_COMM_TIMEOUT (seconds; 0 = no limit), else kDefaultCommTimeout.
// A value that is not a non-negative number throws an Error that names the variable.
constexpr double kDefaultCommTimeout = 3600.0;
constexpr double kMinCommTimeout = 1e-3, kMaxCommTimeout = 1e9;  // the clock's range is ~9e9 s
double comm_timeout_from_env();

class Watchdog {
 public:
  // seconds <= 0: disabled (no thread); otherwise clamped to [kMinCommTimeout, kMaxCommTimeout].
  Watchdog(double seconds, int rank);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  double limit() const { return limit_; }
  // Brackets one collective: `what` (a string literal) and n values, for the message.
  void arm(const char* what, int64_t n);
  void disarm();
  // While paused, collectives are not watched: waits on one rank's long solo work (rank 0
  // embedding the catalogue, evaluating) are not hangs.
  void pause(bool on);

  // arm() on construction, disarm() on destruction.
  struct Scope {
    Watchdog& w;
    Scope(Watchdog& wd, const char* what, int64_t n) : w(wd) { w.arm(what, n); }
    ~Scope() { w.disarm(); }
  };

 private:
  void loop();
  double limit_;
  int rank_;
  std::mutex m_;
  std::condition_variable cv_;
  std::thread th_;
  bool stop_ = false, armed_ = false, paused_ = false;
  uint64_t seq_ = 0;  // collectives armed so far
  const char* what_ = "";
  int64_t n_ = 0;
  std::chrono::steady_clock::time_point since_;
};

}  // namespace mr::comm
