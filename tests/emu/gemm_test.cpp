// Larger kernels against naive references in double (tests/emu/kernels/gemm.cu): a
// shared-memory tiled GEMM, a block reduction, ldmatrix fragments against tables written
// from the PTX ISA text, mma.m16n8k16 against a naive matrix product, cp.async, and the
// emulator's overhead per __syncthreads and per shuffle.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "tests/emu/emu_test_util.h"
#include "tests/emu/kernels/kernels.h"

using namespace emutest;

namespace {
std::vector<float> lcg_values(size_t n, uint32_t seed) {  // deterministic values in [-1, 1)
  std::vector<float> v(n);
  for (auto& x : v) {
    seed = seed * 1664525u + 1013904223u;
    x = float(seed >> 8) / float(1 << 23) - 1.0f;
  }
  return v;
}
// Exact binary16 / bfloat16 patterns of the multiples of 1/8 in [-1, 1] used below.
uint16_t bf16_of(float f) { return uint16_t(bits(f) >> 16); }  // exact: few significant bits
uint16_t half_of(float f) {
  if (f == 0.0f) return 0;
  uint16_t sign = f < 0 ? 0x8000 : 0;
  float a = std::fabs(f);
  int e = 0;
  float m = std::frexp(a, &e);  // a = m * 2^e, m in [0.5, 1)
  int exp = e - 1 + 15;         // a = (2m) * 2^(e-1)
  int mant = int((2.0f * m - 1.0f) * 1024.0f);
  return uint16_t(sign | (exp << 10) | mant);
}
}  // namespace

TEST_CASE("emu: shared-memory tiled GEMM matches the naive product") {
  const int M = 33, N = 47, K = 29;  // awkward sizes: partial tiles on every side
  auto a = lcg_values(size_t(M * K), 1), b = lcg_values(size_t(K * N), 2);
  for_each_order([&] {
    Dev<float> A(a), B(b), C(size_t(M * N));
    tiled_gemm(C.p, A.p, B.p, M, N, K);
    auto c = C.get();
    for (int i = 0; i < M; ++i)
      for (int j = 0; j < N; ++j) {
        double ref = 0;
        for (int k = 0; k < K; ++k) ref += double(a[size_t(i * K + k)]) * b[size_t(k * N + j)];
        CHECK(std::fabs(c[size_t(i * N + j)] - ref) < 1e-5);
      }
  });
}

TEST_CASE("emu: block reduction with warp shuffles and shared memory") {
  const int n = 1000, nb = 3;
  std::vector<float> in(n);
  for (int i = 0; i < n; ++i) in[size_t(i)] = float(i % 7 - 3) + 0.25f;  // sums stay exact in float
  for_each_order([&] {
    Dev<float> x(in), out(nb);
    block_reduce(out.p, x.p, n, nb);
    auto o = out.get();
    for (int b = 0; b < nb; ++b) {
      double ref = 0;
      for (int i = 0; i < n; ++i)
        if ((i / 128) % nb == b) ref += in[size_t(i)];  // grid-stride loop: 128 threads per block
      CHECK(o[size_t(b)] == float(ref));
    }
  });
}

TEST_CASE("emu: ldmatrix fragments follow the PTX ISA tables") {
  std::vector<uint16_t> m(256);
  for (int i = 0; i < 256; ++i) m[size_t(i)] = uint16_t(i);  // matrix k, row r, col c holds 64k + 8r + c
  Dev<uint16_t> src(m);
  Dev<uint32_t> out(128);
  auto pk = [](int lo, int hi) { return uint32_t(lo) | (uint32_t(hi) << 16); };
  // Hand-written from the PTX ISA ldmatrix figure: without .trans lane l holds row l/4,
  // columns 2(l%4) and 2(l%4)+1; with .trans rows 2(l%4) and 2(l%4)+1 of column l/4.
  ldmatrix_dump(out.p, src.p, 1, 0);
  auto o = out.get();
  CHECK(o[0 * 4] == pk(0, 1));
  CHECK(o[1 * 4] == pk(2, 3));
  CHECK(o[4 * 4] == pk(8, 9));
  CHECK(o[31 * 4] == pk(62, 63));
  ldmatrix_dump(out.p, src.p, 1, 1);
  o = out.get();
  CHECK(o[0 * 4] == pk(0, 8));
  CHECK(o[1 * 4] == pk(16, 24));
  CHECK(o[4 * 4] == pk(1, 9));
  CHECK(o[31 * 4] == pk(55, 63));
  for (int num : {1, 2, 4})
    for (int trans : {0, 1}) {
      CAPTURE(num);
      CAPTURE(trans);
      ldmatrix_dump(out.p, src.p, num, trans);
      o = out.get();
      for (int l = 0; l < 32; ++l)
        for (int k = 0; k < 4; ++k) {
          int r = l / 4, c = 2 * (l % 4);
          uint32_t want = k >= num ? 0u : trans ? pk(64 * k + 8 * c + r, 64 * k + 8 * (c + 1) + r)
                                               : pk(64 * k + 8 * r + c, 64 * k + 8 * r + c + 1);
          CHECK(o[size_t(4 * l + k)] == want);
        }
    }
}

TEST_CASE("emu: mma.m16n8k16 (bf16 and f16, f32 accumulate) matches the naive product") {
  std::vector<float> a(256), b(128), c(128);
  for (int i = 0; i < 16; ++i)
    for (int k = 0; k < 16; ++k) a[size_t(i * 16 + k)] = float((i * 16 + k) * 7 % 17 - 8) * 0.125f;
  for (int k = 0; k < 16; ++k)
    for (int n = 0; n < 8; ++n) b[size_t(k * 8 + n)] = float((k * 8 + n) * 5 % 13 - 6) * 0.125f;
  for (int i = 0; i < 16; ++i)
    for (int n = 0; n < 8; ++n) c[size_t(i * 8 + n)] = float(i - 2 * n) * 0.5f;
  std::vector<double> ref(128);
  for (int i = 0; i < 16; ++i)
    for (int n = 0; n < 8; ++n) {
      double s = c[size_t(i * 8 + n)];
      for (int k = 0; k < 16; ++k) s += double(a[size_t(i * 16 + k)]) * b[size_t(k * 8 + n)];
      ref[size_t(i * 8 + n)] = s;
    }
  for (int bf16 : {1, 0}) {
    CAPTURE(bf16);
    std::vector<uint16_t> ab(256), bb(128);
    for (int i = 0; i < 256; ++i) ab[size_t(i)] = bf16 ? bf16_of(a[size_t(i)]) : half_of(a[size_t(i)]);
    for (int i = 0; i < 128; ++i) bb[size_t(i)] = bf16 ? bf16_of(b[size_t(i)]) : half_of(b[size_t(i)]);
    Dev<uint16_t> A(ab), B(bb);
    Dev<float> C(c), D(128);
    for (int path = 0; path < 2; ++path) {
      CAPTURE(path);  // 0: fragments through ldmatrix; 1: fragments from the PTX tables directly
      if (path == 0) mma_ldmatrix(D.p, A.p, B.p, C.p, bf16);
      else mma_direct(D.p, A.p, B.p, C.p, bf16);
      auto d = D.get();
      for (int i = 0; i < 128; ++i) CHECK(d[size_t(i)] == float(ref[size_t(i)]));  // exact: multiples of 1/64
    }
  }
}

TEST_CASE("emu: cp.async with commit and wait") {
  const int n = 64;
  std::vector<float> in(n);
  for (int i = 0; i < n; ++i) in[size_t(i)] = 0.5f * float(i);
  Dev<float> x(in), out(n);
  for_each_order([&] {
    cp_async_copy(out.p, x.p, n, 1);
    auto o = out.get();
    for (int i = 0; i < n; ++i) CHECK(o[size_t(i)] == in[size_t(i)]);
  });
  Dev<float> z(4);
  for (int src_bytes : {16, 8, 0}) {
    CAPTURE(src_bytes);
    cp_async_zfill(z.p, x.p, src_bytes);
    auto o = z.get();
    for (int i = 0; i < 4; ++i) CHECK(o[size_t(i)] == (4 * i < src_bytes ? in[size_t(i)] : 0.0f));
  }
#ifdef MR_EMU
  {  // copies land at the wait: reading before it sees the NaN poison of shared memory
    OrderScope s(mr::emu::Order::Forward);
    cp_async_copy(out.p, x.p, n, 0);
    auto o = out.get();
    int nan = 0;
    for (float v : o) nan += std::isnan(v);
    CHECK(nan >= n / 2);
    cp_async_copy(out.p, x.p, n, 2);  // wait<1> retires the first group only
    o = out.get();
    for (int i = 0; i < n; ++i) {
      CAPTURE(i);
      if (i < n / 2) CHECK(o[size_t(i)] == in[size_t(i)]);
      else CHECK(std::isnan(o[size_t(i)]));
    }
  }
#endif
}

TEST_CASE("emu: overhead per __syncthreads and per shuffle") {
  const int nt = 256, iters = 100;
  for (int kind : {0, 1}) {
    CAPTURE(kind);
    Dev<float> out(nt);
    double best = 1e30;
    std::vector<float> o;
    for (int rep = 0; rep < 3; ++rep) {  // best of three: the machine is shared
      auto t0 = std::chrono::steady_clock::now();
      overhead(out.p, kind, iters, nt, 1);
      o = out.get();
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    // the same recurrences on the host: kind 0 adds the right neighbour (via shared memory,
    // two barriers per step), kind 1 adds the xor-1 partner (one shuffle per step)
    std::vector<float> v(nt), w(nt);
    for (int t = 0; t < nt; ++t) v[size_t(t)] = float(t);
    for (int i = 0; i < iters; ++i) {
      for (int t = 0; t < nt; ++t) w[size_t(t)] = v[size_t(t)] + v[size_t(kind == 0 ? (t + 1) % nt : t ^ 1)];
      v.swap(w);
    }
    for (int t = 0; t < nt; ++t) CHECK(o[size_t(t)] == v[size_t(t)]);
    double ops = double(iters) * (kind == 0 ? 2 : 1);  // per thread
    std::printf("emu overhead: %s: %.1f ns per thread, %.2f us per %s (%d threads, %g per thread, best of 3)\n",
                kind == 0 ? "__syncthreads" : "__shfl_xor_sync", best / (ops * nt) * 1e9,
                kind == 0 ? best / ops * 1e6 : best / (ops * nt / 32) * 1e6, kind == 0 ? "block barrier" : "warp shuffle",
                nt, ops);
  }
}
