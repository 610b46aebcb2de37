// The one-call CUDA harness, for the CUDA special cases of the op table's runner
// (tests/cuda/ops_table_test.cpp: misaligned pointers, the GEMM plan cache, reduced-precision
// linear on un-rounded inputs, the optimizers): runs one op call on kernels/ref (host) and on
// the CUDA backend (device: the SIMT emulator here, a GPU natively) with identical inputs, then
// checks
//   * every buffer the op may write against the reference (relative L2 error <= tol; a NaN
//     anywhere is +inf and always fails);
//   * every buffer it must not write is bit-identical to its initial contents;
//   * sentinels (kGuard floats of kSentinel) on both sides of every device buffer are intact.
// The op table itself runs on tests/ops/runner.h.
#pragma once
#include <cuda_runtime.h>
#include <doctest/doctest.h>

#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "kernels/cuda/cuda_ops.h"
#include "kernels/ref/ref.h"
#include "tests/core/op_harness.h"

namespace mr::cudatest {

using test::kGuard;
using test::kSentinel;

// x rounded to bf16 (nearest even), kept as float: the bf16 attention's operands are then
// exact, and the double reference sees the very values the tensor cores multiply.
inline std::vector<float> round_bf16(std::vector<float> x) {
  for (auto& v : x) {
    uint32_t u;
    std::memcpy(&u, &v, 4);
    u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
    std::memcpy(&v, &u, 4);
  }
  return x;
}

// The table the device side of a case runs: the fp32-storage table of a math mode
// (cuda::kernels). MathScope picks the table of another mode for one scope.
inline const KernelTable* g_device_table = &kCudaKernels;
struct MathScope {
  const KernelTable* old = g_device_table;
  explicit MathScope(cuda::Math m) { g_device_table = &cuda::kernels(m); }
  ~MathScope() { g_device_table = old; }
};

struct Case {
  std::string name;
  std::vector<std::vector<float>> f;          // float buffers with initial contents; empty = null
  std::vector<std::vector<int32_t>> i;        // int buffers; empty = null
  std::vector<double> tol;                    // per float buffer: < 0 = must stay untouched
  std::function<void(const KernelTable&, std::vector<float*>&, std::vector<const int32_t*>&)> call;
};

// Result of the reference run, for tests that need more (e.g. the dropout mask).
struct Outs {
  std::vector<std::vector<float>> ref, dev;
};

// A usable CUDA device (always under the emulator; natively, a GPU with a driver).
inline bool device_usable() {
  static const bool ok = [] {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
      cudaGetLastError();
      return false;
    }
    return n > 0;
  }();
  return ok;
}

// Device copies of int buffers (an empty one stays null), freed with the object.
struct DeviceInts {
  std::vector<const int32_t*> ptrs;
  explicit DeviceInts(const std::vector<std::vector<int32_t>>& host) {
    for (auto& v : host) {
      int32_t* d = nullptr;
      if (!v.empty()) {
        REQUIRE(cudaMalloc(&d, v.size() * sizeof(int32_t)) == cudaSuccess);
        REQUIRE(cudaMemcpy(d, v.data(), v.size() * sizeof(int32_t), cudaMemcpyHostToDevice) == cudaSuccess);
      }
      ptrs.push_back(d);
    }
  }
  ~DeviceInts() {
    for (const int32_t* d : ptrs)
      if (d) cudaFree(const_cast<int32_t*>(d));
  }
  DeviceInts(const DeviceInts&) = delete;
  DeviceInts& operator=(const DeviceInts&) = delete;
};

// One call of kernels/ref on host copies of the float buffers f (sentinel-guarded; an empty
// buffer is a null pointer) and the int buffers i; returns the float buffers afterwards.
template <class Call>
std::vector<std::vector<float>> run_reference(const std::vector<std::vector<float>>& f,
                                              const std::vector<std::vector<int32_t>>& i, const Call& call) {
  std::vector<test::Guarded> hf;
  std::vector<float*> hp;
  for (auto& v : f) {
    hf.emplace_back(v.size());
    if (!v.empty()) std::memcpy(hf.back().data(), v.data(), v.size() * sizeof(float));  // null buffers stay empty
  }
  for (auto& g : hf) hp.push_back(g.size() ? g.data() : nullptr);
  std::vector<const int32_t*> hi;
  for (auto& v : i) hi.push_back(v.empty() ? nullptr : v.data());
  call(kRefKernels, hp, hi);
  std::vector<std::vector<float>> out;
  for (auto& g : hf) out.emplace_back(g.data(), g.data() + g.size());
  return out;
}

inline Outs run_case(const Case& c) {
  INFO("case ", c.name);
  REQUIRE_MESSAGE(device_usable(), "no usable CUDA device (the native suite needs a GPU; make test-kernels runs the emulated one)");
  REQUIRE(c.tol.size() == c.f.size());
  Outs r;
  r.ref = run_reference(c.f, c.i, c.call);

  // CUDA, on the device, every buffer with sentinels on both sides
  std::vector<float*> dbase, dp;
  for (auto& v : c.f) {
    std::vector<float> h(v.size() + 2 * kGuard, kSentinel);
    if (!v.empty()) std::memcpy(h.data() + kGuard, v.data(), v.size() * sizeof(float));
    float* d = nullptr;
    REQUIRE(cudaMalloc(&d, h.size() * sizeof(float)) == cudaSuccess);
    REQUIRE(cudaMemcpy(d, h.data(), h.size() * sizeof(float), cudaMemcpyHostToDevice) == cudaSuccess);
    dbase.push_back(d);
    dp.push_back(v.empty() ? nullptr : d + kGuard);
  }
  DeviceInts di(c.i);
  c.call(*g_device_table, dp, di.ptrs);
  REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
  REQUIRE(cudaGetLastError() == cudaSuccess);
  for (size_t k = 0; k < c.f.size(); ++k) {
    std::vector<float> h(c.f[k].size() + 2 * kGuard);
    REQUIRE(cudaMemcpy(h.data(), dbase[k], h.size() * sizeof(float), cudaMemcpyDeviceToHost) == cudaSuccess);
    cudaFree(dbase[k]);
    bool guards = true;
    for (int g = 0; g < kGuard; ++g) guards = guards && h[g] == kSentinel && h[h.size() - 1 - g] == kSentinel;
    INFO("buffer #", k, " sentinels");
    CHECK(guards);
    r.dev.emplace_back(h.begin() + kGuard, h.end() - kGuard);
    const auto& dv = r.dev.back();
    if (c.tol[k] < 0) {
      INFO("buffer #", k, " must stay untouched");
      CHECK((dv.empty() || std::memcmp(dv.data(), c.f[k].data(), dv.size() * sizeof(float)) == 0));
    } else {
      const double e = test::rel_l2(dv.data(), r.ref[k].data(), dv.size());
      INFO("buffer #", k, " rel L2 error cuda vs ref = ", e, " (tol ", c.tol[k], ")");
      CHECK(e <= c.tol[k]);
    }
  }
  return r;
}

inline std::vector<float> randnf(size_t n, std::mt19937_64& rng, double scale = 1.0) {
  std::normal_distribution<double> d(0.0, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = float(d(rng));
  return v;
}

inline std::vector<float> filled(size_t n, float v) { return std::vector<float>(n, v); }

}  // namespace mr::cudatest
