#include "engine/profile.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace mr::prof {

namespace {
struct Stat {
  double ms = 0;
  long calls = 0;
};
bool g_on = [] {
  const char* e = std::getenv("METAREC_PROFILE");
  return e && std::strcmp(e, "0") != 0;
}();
std::map<std::pair<std::string, int>, Stat> g_stats;
std::mutex g_mu;
}  // namespace

bool enabled() { return g_on; }
void set_enabled(bool on) { g_on = on; }

void reset() {
  std::lock_guard<std::mutex> lk(g_mu);
  g_stats.clear();
}

double now_ms() {
  using namespace std::chrono;
  return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

void add(const char* name, Phase ph, double ms) {
  std::lock_guard<std::mutex> lk(g_mu);
  Stat& s = g_stats[{name, int(ph)}];
  s.ms += ms;
  s.calls += 1;
}

void report(FILE* f, int steps, double step_ms) {
  std::vector<std::pair<std::pair<std::string, int>, Stat>> v(g_stats.begin(), g_stats.end());
  std::sort(v.begin(), v.end(), [](auto& a, auto& b) { return a.second.ms > b.second.ms; });
  static const char* ph[] = {"forward", "backward", "other"};
  double total = 0;
  for (auto& e : v) total += e.second.ms;
  std::fprintf(f, "| op | phase | calls/step | ms/step | share of step |\n|---|---|---:|---:|---:|\n");
  for (auto& [k, s] : v)
    std::fprintf(f, "| %s | %s | %.0f | %.2f | %.1f%% |\n", k.first.c_str(), ph[k.second], double(s.calls) / steps,
                 s.ms / steps, 100.0 * s.ms / steps / step_ms);
  std::fprintf(f, "| (all ops) | | | %.2f | %.1f%% |\n", total / steps, 100.0 * total / steps / step_ms);
}

}  // namespace mr::prof
