// A progress bar on stderr: count/total, percent, rate, ETA and an optional status text
// (e.g. the loss). Redraws at most 10 times a second; plain line-per-update when stderr is
// not a terminal, so logs stay readable.
#pragma once
#include <cstdint>
#include <string>

namespace mr {

class Progress {
 public:
  Progress(std::string label, int64_t total, std::string unit = "it");
  ~Progress();
  void update(int64_t done, const std::string& status = "");
  void finish(const std::string& status = "");

 private:
  void draw(bool force, const std::string& status);
  std::string label_, unit_;
  int64_t total_, done_ = 0;
  double t0_, last_ = -1;
  bool tty_, finished_ = false;
};

}  // namespace mr
