#include "engine/comm/watchdog.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "base/check.h"

namespace mr::comm {

double comm_timeout_from_env() {
  const char* v = std::getenv("METAREC_COMM_TIMEOUT");
  if (!v || !*v) return kDefaultCommTimeout;
  char* end = nullptr;
  const double s = std::strtod(v, &end);
  MR_CHECK(end && *end == '\0' && std::isfinite(s) && (s == 0 || (s >= kMinCommTimeout && s <= kMaxCommTimeout)),
           "METAREC_COMM_TIMEOUT must be 0 (no limit) or a number of seconds in [{}, {}], got '{}'",
           kMinCommTimeout, kMaxCommTimeout, v);
  return s;
}

Watchdog::Watchdog(double seconds, int rank)
    : limit_(seconds > 0 ? std::min(std::max(seconds, kMinCommTimeout), kMaxCommTimeout) : 0), rank_(rank) {
  if (limit_ > 0) th_ = std::thread([this] { loop(); });
}

Watchdog::~Watchdog() {
  if (!th_.joinable()) return;
  {
    std::lock_guard<std::mutex> lk(m_);
    stop_ = true;
  }
  cv_.notify_all();
  th_.join();
}

void Watchdog::arm(const char* what, int64_t n) {
  if (limit_ <= 0 || paused_) return;
  {
    std::lock_guard<std::mutex> lk(m_);
    armed_ = true;
    ++seq_;
    what_ = what;
    n_ = n;
    since_ = std::chrono::steady_clock::now();
  }
  cv_.notify_all();
}

void Watchdog::disarm() {
  if (limit_ <= 0 || paused_) return;
  {
    std::lock_guard<std::mutex> lk(m_);
    armed_ = false;
  }
  cv_.notify_all();
}

void Watchdog::pause(bool on) {
  std::lock_guard<std::mutex> lk(m_);
  MR_CHECK(!armed_, "the watchdog cannot be paused inside a collective");
  paused_ = on;
}

void Watchdog::loop() {
  std::unique_lock<std::mutex> lk(m_);
  while (!stop_) {
    if (!armed_) {
      cv_.wait(lk, [&] { return stop_ || armed_; });
      continue;
    }
    const uint64_t seq = seq_;
    const auto deadline = since_ + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                       std::chrono::duration<double>(limit_));
    if (cv_.wait_until(lk, deadline, [&] { return stop_ || !armed_ || seq_ != seq; })) continue;
    std::fprintf(stderr,
                 "rank %d: waited %g s in %s (%lld values) for the other ranks: one of them is hung. "
                 "Ending the job (the limit is METAREC_COMM_TIMEOUT=%g s; 0 turns it off)\n",
                 rank_, limit_, what_, (long long)n_, limit_);
    std::fflush(stderr);
    std::_Exit(4);
  }
}

}  // namespace mr::comm
