// A minimal wall-clock profiler for whole ops: off by default (one branch per op), turned on
// by `metarec bench --profile` or METAREC_PROFILE=1. Ops on the CPU are synchronous, so the
// time between entering and leaving an op is that op's time.
#pragma once
#include <cstdio>

namespace mr::prof {

enum Phase { kForward = 0, kBackward = 1, kOther = 2 };

bool enabled();
void set_enabled(bool on);
void reset();
void add(const char* name, Phase ph, double ms);
// Table sorted by time: op, phase, calls, total ms, ms per step, share of `step_ms * steps`.
void report(FILE* f, int steps, double step_ms);

double now_ms();

struct Scope {
  const char* name;
  Phase ph;
  double t0;
  Scope(const char* n, Phase p) : name(n), ph(p), t0(enabled() ? now_ms() : -1.0) {}
  ~Scope() {
    if (t0 >= 0) add(name, ph, now_ms() - t0);
  }
};

}  // namespace mr::prof

#define MR_PROF_CAT2(a, b) a##b
#define MR_PROF_CAT(a, b) MR_PROF_CAT2(a, b)
#define MR_PROFILE(name, phase) ::mr::prof::Scope MR_PROF_CAT(mr_prof_scope_, __LINE__)(name, phase)
