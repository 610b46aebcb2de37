// The bf16-storage op harness (tests/cuda/bf16_ops_test.cpp, full_shapes_test.cpp): runs one op
// call on kernels/ref (fp32, host) and on KernelTableBf16 (device), with every buffer stored on
// the device as bf16 or fp32 as the table says, sentinels around both kinds, inputs rounded to
// bf16 first (so the reference sees what the device stores). Each buffer has a tolerance
// (relative L2 error; < 0: must stay untouched).
#pragma once
#include <cmath>
#include <cstring>

#include "tests/cuda/cuda_harness.h"

namespace mr::cudatest {


constexpr double k32 = 1e-5;  // fp32 outputs
constexpr double k16 = 1e-2;  // bf16 outputs
constexpr uint16_t kSentinel16 = 0x7f7e;  // a bf16 NaN-free pattern no kernel writes by chance

inline uint16_t to_bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  if (std::isnan(x)) return 0x7fc0;
  return uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}
inline float from_bits(uint16_t h) {
  const uint32_t u = uint32_t(h) << 16;
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}

// One buffer of a bf16 case: initial contents (empty = null), whether the device stores it as
// bf16, and its tolerance (< 0: must stay untouched).
struct Buf {
  std::vector<float> v;
  bool bf16;
  double tol;
};

struct Case16 {
  std::string name;
  std::vector<Buf> f;
  std::vector<std::vector<int32_t>> i;
  std::function<void(const KernelTable&, std::vector<float*>&, std::vector<const int32_t*>&)> ref;
  std::function<void(const KernelTableBf16&, std::vector<void*>&, std::vector<const int32_t*>&)> dev;
};

inline Outs run16(Case16 c) {
  INFO("case ", c.name);
  REQUIRE_MESSAGE(device_usable(), "no usable CUDA device");
  for (auto& b : c.f)
    if (b.bf16) b.v = round_bf16(b.v);
  Outs r;
  // reference, fp32 on the host
  std::vector<std::vector<float>> fv;
  for (auto& b : c.f) fv.push_back(b.v);
  r.ref = run_reference(fv, c.i, c.ref);

  // device: bf16 or fp32 buffers, kGuard sentinel elements on both sides
  std::vector<void*> base, dp;
  for (auto& b : c.f) {
    const size_t n = b.v.size() + 2 * kGuard, es = b.bf16 ? 2 : 4;
    std::vector<unsigned char> h(n * es);
    for (size_t k = 0; k < n; ++k) {
      const bool guard = k < size_t(kGuard) || k >= n - kGuard;
      const float x = guard ? kSentinel : b.v[k - kGuard];
      if (b.bf16) {
        const uint16_t u = guard ? kSentinel16 : to_bits(x);
        std::memcpy(h.data() + k * 2, &u, 2);
      } else {
        std::memcpy(h.data() + k * 4, &x, 4);
      }
    }
    void* d = nullptr;
    REQUIRE(cudaMalloc(&d, h.size()) == cudaSuccess);
    REQUIRE(cudaMemcpy(d, h.data(), h.size(), cudaMemcpyHostToDevice) == cudaSuccess);
    base.push_back(d);
    dp.push_back(b.v.empty() ? nullptr : static_cast<unsigned char*>(d) + kGuard * es);
  }
  DeviceInts di(c.i);
  REQUIRE(kCudaKernels.bf16 != nullptr);
  c.dev(*kCudaKernels.bf16, dp, di.ptrs);
  REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
  REQUIRE(cudaGetLastError() == cudaSuccess);
  for (size_t k = 0; k < c.f.size(); ++k) {
    const Buf& b = c.f[k];
    const size_t n = b.v.size() + 2 * kGuard, es = b.bf16 ? 2 : 4;
    std::vector<unsigned char> h(n * es);
    REQUIRE(cudaMemcpy(h.data(), base[k], h.size(), cudaMemcpyDeviceToHost) == cudaSuccess);
    cudaFree(base[k]);
    std::vector<float> all(n);
    bool guards = true;
    for (size_t e = 0; e < n; ++e) {
      const bool guard = e < size_t(kGuard) || e >= n - kGuard;
      if (b.bf16) {
        uint16_t u;
        std::memcpy(&u, h.data() + e * 2, 2);
        all[e] = from_bits(u);
        if (guard) guards = guards && u == kSentinel16;
      } else {
        std::memcpy(&all[e], h.data() + e * 4, 4);
        if (guard) guards = guards && all[e] == kSentinel;
      }
    }
    INFO("buffer #", k, " sentinels");
    CHECK(guards);
    r.dev.emplace_back(all.begin() + kGuard, all.end() - kGuard);
    const auto& dv = r.dev.back();
    if (b.tol < 0) {
      INFO("buffer #", k, " must stay untouched");
      CHECK(dv == b.v);
    } else {
      const double e = test::rel_l2(dv.data(), r.ref[k].data(), dv.size());
      INFO("buffer #", k, (b.bf16 ? " (bf16)" : " (fp32)"), " rel L2 error cuda vs ref = ", e, " (tol ", b.tol, ")");
      CHECK(e <= b.tol);
    }
  }
  return r;
}

template <class T = bf16_t>
T* B16(std::vector<void*>& p, size_t k) {
  return static_cast<T*>(p[k]);
}
inline float* F(std::vector<void*>& p, size_t k) { return static_cast<float*>(p[k]); }

inline const std::vector<float> kNull;


}  // namespace mr::cudatest
