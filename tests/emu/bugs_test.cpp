// The emulator exposes kernel bugs: a missing barrier changes the answer under reverse or
// random thread order, and deadlocks, divergent barriers and bad warp masks are reported with
// the kernel name and call site (tests/emu/kernels/bugs.cu). Emulator only: on a GPU these
// kernels are undefined behaviour.
#include <cuda_runtime.h>
#include <doctest/doctest.h>

#include <cmath>

#include "base/check.h"
#include "tests/emu/emu_test_util.h"
#include "tests/emu/kernels/kernels.h"

#ifdef MR_EMU
using namespace emutest;
using mr::emu::Order;

namespace {
// true when out[t] == in[t-1] (and out[0] == 0) for every t
bool neighbour_ok(void (*k)(float*, const float*, int), int n) {
  std::vector<float> in(static_cast<size_t>(n));
  for (int t = 0; t < n; ++t) in[size_t(t)] = float(t + 1);
  Dev<float> x(in), out(static_cast<size_t>(n));
  k(out.p, x.p, n);
  auto o = out.get();
  for (int t = 0; t < n; ++t)
    if (o[size_t(t)] != (t > 0 ? float(t) : 0.0f)) return false;
  return true;
}
}  // namespace

TEST_CASE("emu: a missing __syncthreads changes the answer under reverse and random order") {
  {
    OrderScope s(Order::Forward);
    CHECK(neighbour_ok(neighbour_no_barrier, 64));  // forward order hides this bug
    CHECK(neighbour_ok(neighbour_with_barrier, 64));
  }
  {
    OrderScope s(Order::Reverse);
    CHECK_FALSE(neighbour_ok(neighbour_no_barrier, 64));
    CHECK(neighbour_ok(neighbour_with_barrier, 64));
  }
  for (uint64_t seed : {1, 2, 3}) {
    OrderScope s(Order::Random, seed);
    CHECK_FALSE(neighbour_ok(neighbour_no_barrier, 64));
    CHECK(neighbour_ok(neighbour_with_barrier, 64));
  }
}

TEST_CASE("emu: deadlock is reported with the waiting call sites") {
  CHECK_THROWS_WITH_AS(bug_deadlock(), doctest::Contains("kernel 'deadlock_k'"), mr::Error);
  CHECK_THROWS_WITH_AS(bug_deadlock(), doctest::Contains("deadlock: no thread can make progress"), mr::Error);
  CHECK_THROWS_WITH_AS(bug_deadlock(), doctest::Contains("1 thread(s) (first (0,0,0)) wait at __syncthreads (tests/emu/kernels/bugs.cu:36)"),
                       mr::Error);
  CHECK_THROWS_WITH_AS(bug_deadlock(), doctest::Contains("31 thread(s) (first (1,0,0)) wait at __shfl_sync (tests/emu/kernels/bugs.cu:37)"),
                       mr::Error);
  CHECK_THROWS_WITH_AS(bug_deadlock(), doctest::Contains("waits for lane 0 (thread (0,0,0)), which is at __syncthreads"),
                       mr::Error);
}

TEST_CASE("emu: threads at different __syncthreads calls") {
  for (const NamedOrder& o : kOrders) {
    CAPTURE(o.name);
    OrderScope s(o.order, o.seed);
    CHECK_THROWS_WITH_AS(bug_divergent_barrier(), doctest::Contains("threads at different __syncthreads calls"), mr::Error);
  }
  OrderScope s(Order::Forward);
  CHECK_THROWS_WITH_AS(bug_divergent_barrier(),
                       doctest::Contains("thread (0,0,0) waits at tests/emu/kernels/bugs.cu:44, thread (1,0,0) arrived at "
                                         "tests/emu/kernels/bugs.cu:42"),
                       mr::Error);
}

TEST_CASE("emu: a thread that exits while others reach __syncthreads") {
  for (const NamedOrder& o : kOrders) {
    CAPTURE(o.name);
    OrderScope s(o.order, o.seed);
    // forward: thread 3 exits after 0..2 wait; reverse: 7..4 wait, then 3 exits; either way
    CHECK_THROWS_WITH_AS(bug_exit_before_barrier(), doctest::Contains("__syncthreads"), mr::Error);
    CHECK_THROWS_WITH_AS(bug_exit_before_barrier(), doctest::Contains("exit_before_barrier_k"), mr::Error);
  }
  OrderScope s(Order::Forward);
  CHECK_THROWS_WITH_AS(bug_exit_before_barrier(),
                       doctest::Contains("thread (3,0,0): exited while 3 thread(s) wait at __syncthreads (tests/emu/kernels/bugs.cu:50)"),
                       mr::Error);
}

TEST_CASE("emu: warp masks that name absent or exited lanes, or not the caller") {
  CHECK_THROWS_WITH_AS(bug_absent_lane(),
                       doctest::Contains("__shfl_down_sync (tests/emu/kernels/bugs.cu:54): mask 0xffffffff names lane(s) "
                                         "16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31 of warp 1, which do not exist"),
                       mr::Error);
  {
    OrderScope s(Order::Reverse);  // lane 31 exits before the others arrive
    CHECK_THROWS_WITH_AS(bug_exited_lane(), doctest::Contains("names lane(s) 31 of warp 0, which have already exited"),
                         mr::Error);
  }
  {
    OrderScope s(Order::Forward);  // lanes 0..30 wait, then lane 31 exits
    CHECK_THROWS_WITH_AS(bug_exited_lane(),
                         doctest::Contains("exited (lane 31 of warp 0) while lane 0 waits at __shfl_down_sync"), mr::Error);
  }
  CHECK_THROWS_WITH_AS(bug_mask_without_caller(), doctest::Contains("mask 0xfffffffe does not name the calling lane 0"),
                       mr::Error);
}

TEST_CASE("emu: a shuffle from outside the mask") {
  CHECK_THROWS_WITH_AS(bug_shuffle_outside_mask(),
                       doctest::Contains("shuffle from outside the mask: lane 0 reads lane 16, which mask 0x0000ffff does "
                                         "not name"),
                       mr::Error);
}

TEST_CASE("emu: lanes at different shuffle call sites") {
  CHECK_THROWS_WITH_AS(bug_shuffle_sites(), doctest::Contains("lanes of warp 0 at different __shfl_xor_sync calls"),
                       mr::Error);
}

TEST_CASE("emu: the emulator recovers after a reported bug") {
  CHECK_THROWS_AS(bug_deadlock(), mr::Error);
  OrderScope s(Order::Random, 5);
  CHECK(neighbour_ok(neighbour_with_barrier, 64));
}
#endif
