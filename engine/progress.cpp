#include "engine/progress.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>

namespace mr {

static double now_s() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

static std::string hms(double s) {
  if (!(s >= 0) || s > 1e7) return "--:--";
  const long t = long(s + 0.5);
  char b[32];
  if (t >= 3600) std::snprintf(b, sizeof b, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
  else std::snprintf(b, sizeof b, "%02ld:%02ld", t / 60, t % 60);
  return b;
}

Progress::Progress(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total), t0_(now_s()), tty_(isatty(2)) {}

Progress::~Progress() {
  if (!finished_) finish();
}

void Progress::update(int64_t done, const std::string& status) {
  done_ = done;
  draw(false, status);
}

void Progress::finish(const std::string& status) {
  if (!tty_ || !status.empty() || done_ < total_) draw(true, status);  // else the 100% line is up
  else if (last_ < 0) draw(true, status);
  if (tty_) std::fputc('\n', stderr);
  finished_ = true;
}

void Progress::draw(bool force, const std::string& status) {
  const double t = now_s();
  if (!force && last_ >= 0 && t - last_ < (tty_ ? 0.1 : 5.0) && done_ < total_) return;
  last_ = t;
  const double el = t - t0_, rate = el > 0 ? double(done_) / el : 0.0;
  const double frac = total_ > 0 ? double(done_) / double(total_) : 0.0;
  const double eta = rate > 0 ? double(total_ - done_) / rate : -1;
  char bar[31];
  const int fill = int(frac * 30);
  for (int i = 0; i < 30; ++i) bar[i] = i < fill ? '#' : (i == fill ? '>' : '.');
  bar[30] = 0;
  std::fprintf(stderr, "%s%s [%s] %lld/%lld %3.0f%% %.1f %s/s %s<%s %s%s", tty_ ? "\r" : "", label_.c_str(), bar,
               (long long)done_, (long long)total_, 100 * frac, rate, unit_.c_str(), hms(el).c_str(), hms(eta).c_str(),
               status.c_str(), tty_ ? "\x1b[K" : "\n");
  std::fflush(stderr);
}

}  // namespace mr
