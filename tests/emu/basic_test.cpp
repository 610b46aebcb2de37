// Emulator features one at a time, on small kernels against hand-computed results
// (tests/emu/kernels/basic.cu). Correct kernels must give the same answer in every thread order.
#include <doctest/doctest.h>

#include <climits>
#include <cmath>
#include <string>

#include "base/check.h"

#include "tests/emu/emu_test_util.h"
#include "tests/emu/kernels/kernels.h"

using namespace emutest;

TEST_CASE("emu: built-in variables over a 3-D grid of 3-D blocks") {
  for_each_order([] {
    dim3 grid(2, 3, 1), block(4, 2, 2);
    Dev<int> out(6 * 16 * 12);
    builtins(out.p, grid, block);
    auto o = out.get();
    for (int bz = 0; bz < 1; ++bz)
      for (int by = 0; by < 3; ++by)
        for (int bx = 0; bx < 2; ++bx)
          for (int tz = 0; tz < 2; ++tz)
            for (int ty = 0; ty < 2; ++ty)
              for (int tx = 0; tx < 4; ++tx) {
                int b = bx + 2 * (by + 3 * bz), t = tx + 4 * (ty + 2 * tz);
                const int* r = &o[size_t(12 * (b * 16 + t))];
                int want[12] = {tx, ty, tz, bx, by, bz, 4, 2, 2, 20301, 32, t};
                for (int i = 0; i < 12; ++i) CHECK(r[i] == want[i]);
              }
  });
}

TEST_CASE("emu: __syncthreads_count / _and / _or") {
  for_each_order([] {
    const int n = 40;
    std::vector<int> pred(n), ones(n, 1);
    for (int t = 0; t < n; ++t) pred[size_t(t)] = t % 3 == 0 ? 5 : 0;  // any non-zero counts as true
    Dev<int> p(pred), q(ones), out(3 * n);
    sync_votes(out.p, p.p, n);
    auto o = out.get();
    for (int t = 0; t < n; ++t) {
      CHECK(o[size_t(3 * t)] == 14);  // t = 0, 3, ..., 39
      CHECK(o[size_t(3 * t + 1)] == 0);
      CHECK(o[size_t(3 * t + 2)] == 1);
    }
    sync_votes(out.p, q.p, n);
    o = out.get();
    for (int t = 0; t < n; ++t) CHECK((o[size_t(3 * t)] == 40 && o[size_t(3 * t + 1)] == 1 && o[size_t(3 * t + 2)] == 1));
  });
}

TEST_CASE("emu: shuffles follow the CUDA rules for idx, up, down, xor and sub-warp widths") {
  struct Case {
    int kind, arg, width;
    int (*src)(int l);  // source lane inside the warp, from the CUDA programming guide
  };
  const Case cases[] = {
      {0, 5, 32, [](int) { return 5; }},
      {0, 37, 32, [](int) { return 5; }},                  // srcLane modulo width
      {0, 3, 8, [](int l) { return l / 8 * 8 + 3; }},      // inside each group of 8
      {1, 3, 32, [](int l) { return l >= 3 ? l - 3 : l; }},
      {1, 2, 8, [](int l) { return l % 8 >= 2 ? l - 2 : l; }},
      {2, 4, 32, [](int l) { return l + 4 < 32 ? l + 4 : l; }},
      {2, 1, 16, [](int l) { return l % 16 + 1 < 16 ? l + 1 : l; }},
      {3, 1, 32, [](int l) { return l ^ 1; }},
      {3, 16, 32, [](int l) { return l ^ 16; }},
      {3, 4, 8, [](int l) { return l ^ 4; }},
      {3, 8, 8, [](int l) { return (l ^ 8) < l ? (l ^ 8) : l; }},  // later groups: own value
  };
  for_each_order([&] {
    for (const Case& c : cases) {
      CAPTURE(c.kind);
      CAPTURE(c.arg);
      CAPTURE(c.width);
      Dev<int> out(64);
      shuffles(out.p, c.kind, c.arg, c.width, 64);
      auto o = out.get();
      for (int t = 0; t < 64; ++t) CHECK(o[size_t(t)] == 1000 * (t / 32) + c.src(t % 32));
    }
  });
}

TEST_CASE("emu: shuffles move double, float, half, bf16 and 64-bit integers") {
  Dev<double> d(32);
  Dev<float> f(32);
  Dev<uint16_t> h(32), b(32);
  Dev<long long> l(32);
  shuffle_types(d.p, f.p, h.p, b.p, l.p);
  auto od = d.get();
  auto of = f.get();
  auto oh = h.get();
  auto ob = b.get();
  auto ol = l.get();
  for (int i = 0; i < 32; ++i) {
    int s = i ^ 1;
    CHECK(od[size_t(i)] == 0.5 + s);
    CHECK(of[size_t(i)] == 0.25f + float(s));
    // an integer k < 2048 as binary16: exponent e = floor(log2 k), bits (e+15)<<10 | (k - 2^e) << (10-e)
    uint16_t hs = 0;
    if (s > 0) {
      int e = 0;
      while ((2 << e) <= s) ++e;
      hs = uint16_t(((e + 15) << 10) | ((s - (1 << e)) << (10 - e)));
    }
    CHECK(oh[size_t(i)] == hs);
    CHECK(ob[size_t(i)] == uint16_t(bits(float(-s)) >> 16));  // small integers are exact in bf16
    CHECK(ol[size_t(i)] == (long long)s << 40);
  }
}

TEST_CASE("emu: __ballot_sync, __any_sync, __all_sync") {
  for_each_order([] {
    std::vector<int> pred(64);
    for (int t = 0; t < 32; ++t) pred[size_t(t)] = t % 5 == 0;
    for (int t = 32; t < 64; ++t) pred[size_t(t)] = 3;
    Dev<int> p(pred);
    Dev<unsigned> out(3 * 64);
    ballots(out.p, p.p, 64);
    auto o = out.get();
    for (int t = 0; t < 64; ++t) {
      bool w0 = t < 32;
      CHECK(o[size_t(3 * t)] == (w0 ? 0x42108421u : 0xffffffffu));  // lanes 0, 5, ..., 30
      CHECK(o[size_t(3 * t + 1)] == 1u);
      CHECK(o[size_t(3 * t + 2)] == (w0 ? 0u : 1u));
    }
  });
}

TEST_CASE("emu: atomics on int, unsigned and float, on one and on several OS threads") {
  for (int workers : {1, 3}) {
    CAPTURE(workers);
#ifdef MR_EMU
    OrderScope scope(mr::emu::Order::Random, 11, workers);
#endif
    Dev<int> ints(std::vector<int>{0, INT_MIN, INT_MAX, -1, 0, 100});
    Dev<unsigned> uints(std::vector<unsigned>{0, 0, UINT_MAX});
    Dev<float> floats(std::vector<float>{0.0f, 0.0f});
    atomics(ints.p, uints.p, floats.p, 3, 50);  // gid = 0..149
    auto i = ints.get();
    auto u = uints.get();
    auto f = floats.get();
    CHECK(i[0] == 150);
    CHECK(i[1] == 149);
    CHECK(i[2] == -149);
    CHECK((i[3] >= 0 && i[3] < 150));
    CHECK(i[4] == 7);
    CHECK(i[5] == 100 - 2 * 150);
    CHECK(u[0] == 149u * 150u / 2u);
    CHECK(u[1] == 447u);
    CHECK(u[2] == 5u);
    CHECK(f[0] == 75.0f);  // 150 * 0.5, exact in any order
    CHECK(f[1] == 2.5f);
  }
}

TEST_CASE("emu: static __shared__ is per block, also with several OS threads") {
  for (int workers : {1, 2}) {
    CAPTURE(workers);
#ifdef MR_EMU
    OrderScope scope(mr::emu::Order::Reverse, 1, workers);
#endif
    Dev<int> out(4 * 64);
    static_shared(out.p, 4, 64);
    auto o = out.get();
    for (int b = 0; b < 4; ++b)
      for (int t = 0; t < 64; ++t) CHECK(o[size_t(b * 64 + t)] == b * 1000 + 64);
  }
}

#ifdef MR_EMU
TEST_CASE("emu: dynamic shared memory starts as NaN") {
  Dev<float> out(16);
  dynamic_shared_first_read(out.p, 16, 16 * sizeof(float));
  for (float v : out.get()) {
    CHECK(std::isnan(v));
    CHECK(bits(v) == 0xffffffffu);
  }
}
#endif

TEST_CASE("emu: __ldg and the fast-math intrinsics") {
  std::vector<float> in = {0.5f, 1.0f, 2.0f, 3.0f};
  Dev<float> x(in), out(6 * in.size());
  fast_math(out.p, x.p, int(in.size()));
  auto o = out.get();
  for (size_t i = 0; i < in.size(); ++i) {
    double v = in[i];
    CHECK(o[6 * i + 0] == doctest::Approx(std::exp(v)).epsilon(2e-6));  // GPU: 2 + 1.16|x| ulp
    CHECK(o[6 * i + 1] == doctest::Approx(std::log(v)).epsilon(1e-6));
    CHECK(o[6 * i + 2] == doctest::Approx(1.0 / v).epsilon(1e-6));
    CHECK(o[6 * i + 3] == doctest::Approx(1.0 / std::sqrt(v)).epsilon(1e-6));
    CHECK(o[6 * i + 4] == (v <= 1.0 ? 0.0f : v >= 2.0 ? 1.0f : float(v - 1.0)));
    CHECK(std::fabs(o[6 * i + 5] - std::sin(v)) < 1e-6);  // GPU: 2^-21.41 absolute on [-pi, pi]
  }
}

TEST_CASE("emu: half and bf16 in kernels") {
  // 1, -2, 65504 (largest half), 2^-24 (smallest subnormal); bf16 1, -3, 10, 2^-133
  Dev<uint16_t> h(std::vector<uint16_t>{0x3c00, 0xc000, 0x7bff, 0x0001});
  Dev<uint16_t> b(std::vector<uint16_t>{0x3f80, 0xc040, 0x4120, 0x0001});
  Dev<float> out(16);
  halves(out.p, h.p, b.p, 4);
  auto o = out.get();
  CHECK(o[0] == 1.0f);
  CHECK(o[1] == 1.0f);
  CHECK(o[2] == 1.0f);
  CHECK(o[3] == 2.0f);
  CHECK(o[4] == -2.0f);
  CHECK(o[5] == -3.0f);
  CHECK(o[6] == 4.0f);
  CHECK(o[7] == -2.0f);
  CHECK(o[8] == 65504.0f);
  CHECK(o[9] == 10.0f);
  CHECK(std::isinf(o[10]));  // 65504^2 overflows half
  CHECK(o[11] == 11.0f);
  CHECK(o[12] == std::ldexp(1.0f, -24));
  CHECK(o[13] == std::ldexp(1.0f, -133));
  CHECK(o[14] == 0.0f);  // 2^-48 underflows half
  CHECK(o[15] == 1.0f);  // 1 + 2^-133 rounds to 1 in bf16
}

TEST_CASE("emu: __syncwarp over two half-warp masks") {
  for_each_order([] {
    Dev<int> out(32);
    syncwarp_partial(out.p);
    auto o = out.get();
    for (int l = 0; l < 32; ++l) CHECK(o[size_t(l)] == (l ^ 1) * (l ^ 1));
  });
}

TEST_CASE("emu: launch configuration errors go to cudaGetLastError as on the GPU") {
  CHECK(launch_config(64, 0) == cudaSuccess);
  CHECK(launch_config(2048, 0) == cudaErrorInvalidConfiguration);
  CHECK(cudaGetLastError() == cudaSuccess);  // reading it cleared it
  CHECK(launch_config(64, 64 << 10) != cudaSuccess);  // over the 48 KiB default dynamic shared memory
}

TEST_CASE("emu: cudaFuncSetAttribute opts in to more dynamic shared memory") {
  Dev<float> out(64);
  CHECK(launch_big_smem(out.p, 100 << 10) == cudaSuccess);
  auto o = out.get();
  for (int t = 0; t < 64; ++t) CHECK(o[size_t(t)] == float((t + 1) % 64));
}

TEST_CASE("emu: streams, async copies, memset and events") {
  cudaStream_t s;
  cudaEvent_t a, b;
  REQUIRE(cudaStreamCreate(&s) == cudaSuccess);
  REQUIRE(cudaEventCreate(&a) == cudaSuccess);
  REQUIRE(cudaEventCreate(&b) == cudaSuccess);
  std::vector<int> h(100, 7), back(100, 0);
  Dev<int> d(100);
  CHECK(cudaEventRecord(a, s) == cudaSuccess);
  CHECK(cudaMemsetAsync(d.p, 0, 100 * sizeof(int), s) == cudaSuccess);
  CHECK(cudaMemcpyAsync(d.p, h.data(), 50 * sizeof(int), cudaMemcpyHostToDevice, s) == cudaSuccess);
  CHECK(cudaMemcpyAsync(back.data(), d.p, 100 * sizeof(int), cudaMemcpyDeviceToHost, s) == cudaSuccess);
  CHECK(cudaEventRecord(b, s) == cudaSuccess);
  CHECK(cudaStreamSynchronize(s) == cudaSuccess);
  for (int i = 0; i < 100; ++i) CHECK(back[size_t(i)] == (i < 50 ? 7 : 0));
  float ms = -1;
  CHECK(cudaEventElapsedTime(&ms, a, b) == cudaSuccess);
  CHECK(ms >= 0.0f);
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  cudaStreamDestroy(s);
}

#ifdef MR_EMU
TEST_CASE("emu: freshly allocated device memory is NaN; bad frees are errors") {
  Dev<float> d(8);
  for (float v : d.get()) CHECK(bits(v) == 0xffffffffu);
  int x = 0;
  CHECK(cudaFree(&x) == cudaErrorInvalidDevicePointer);
  CHECK(cudaGetLastError() == cudaErrorInvalidDevicePointer);
  CHECK(cudaGetLastError() == cudaSuccess);
  CHECK(std::string(cudaGetErrorString(cudaErrorInvalidConfiguration)) == "invalid configuration argument");
}

TEST_CASE("emu: __trap and misaligned ldmatrix / cp.async are reported") {
  CHECK_THROWS_WITH_AS(trap(), doctest::Contains("kernel 'trap_k'"), mr::Error);
  CHECK_THROWS_WITH_AS(trap(), doctest::Contains("thread (2,0,0): __trap() called"), mr::Error);
  CHECK_THROWS_WITH_AS(ldmatrix_misaligned(), doctest::Contains("is not 16-byte aligned"), mr::Error);
  CHECK_THROWS_WITH_AS(cp_async_misaligned(), doctest::Contains("are not 16-byte aligned"), mr::Error);
}
#endif
