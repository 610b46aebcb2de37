// metarec comm-bench: times the all-reduce of one flat buffer (what a training step sends),
// e.g. `mpirun -np 2 metarec comm-bench --values 104002 --type f64`. Rank 0 prints the median
// and the best time over the timed repetitions and the resulting bus bandwidth
// (2 (N-1)/N * bytes / time, NCCL's busbw convention; docs/comm.md).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "engine/comm/comm.h"
#include "tools/cli/command.h"

namespace {

template <class T>
std::vector<double> time_allreduce(mr::comm::Communicator& c, int64_t n, int reps, int warmup) {
  std::vector<T> x(static_cast<size_t>(n), T(1));
  std::vector<double> t;
  for (int i = 0; i < warmup + reps; ++i) {
    c.barrier();
    const auto t0 = std::chrono::steady_clock::now();
    c.allreduce_sum(x.data(), n);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double mean = s;  // each repetition: the mean over the ranks of their times
    c.allreduce_sum(&mean, 1);
    if (i >= warmup) t.push_back(mean / c.size());
  }
  std::sort(t.begin(), t.end());
  return t;
}

int run(int argc, char** argv) {
  CLI::App app("time the all-reduce of a flat buffer across the ranks (run under mpirun)", "metarec comm-bench");
  int64_t values = 1 << 20;
  int reps = 50, warmup = 5;
  std::string type = "f64", kind = "auto";
  app.add_option("--values", values, "buffer length (elements)")->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--type", type, "f32 or f64")->capture_default_str()->check(CLI::IsMember({"f32", "f64"}));
  app.add_option("--reps", reps, "timed repetitions")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--warmup", warmup, "untimed repetitions first")->capture_default_str();
  app.add_option("--comm", kind, "auto, single or mpi")->capture_default_str();
  mr::cli::parse(app, argc, argv);
  auto c = mr::comm::make_communicator(kind);
  auto t = type == "f32" ? time_allreduce<float>(*c, values, reps, warmup) : time_allreduce<double>(*c, values, reps, warmup);
  if (c->rank() == 0) {
    const double bytes = double(values) * (type == "f32" ? 4 : 8), med = t[t.size() / 2], N = c->size();
    std::printf("comm-bench: %s, %d ranks, %lld %s values (%.0f bytes): all-reduce median %.1f us, best %.1f us, "
                "busbw %.2f GB/s (median)\n",
                c->name().c_str(), c->size(), (long long)values, type.c_str(), bytes, med * 1e6, t.front() * 1e6,
                N > 1 ? 2 * (N - 1) / N * bytes / med / 1e9 : 0.0);
  }
  return 0;
}

mr::cli::Command reg{"comm-bench", "time the all-reduce of a flat buffer across MPI ranks", run};

}  // namespace
