// Helpers for the emulator tests: device buffers through the CUDA runtime API (host memory
// under the emulator, real device memory on a GPU) and a scoped thread order.
#pragma once
#include <cuda_runtime.h>
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <vector>

namespace emutest {

template <class T>
struct Dev {
  T* p = nullptr;
  size_t n = 0;
  explicit Dev(size_t count) : n(count) { REQUIRE(cudaMalloc(&p, n * sizeof(T)) == cudaSuccess); }
  explicit Dev(const std::vector<T>& h) : Dev(h.size()) {
    REQUIRE(cudaMemcpy(p, h.data(), n * sizeof(T), cudaMemcpyHostToDevice) == cudaSuccess);
  }
  Dev(const Dev&) = delete;
  Dev& operator=(const Dev&) = delete;
  ~Dev() { cudaFree(p); }
  std::vector<T> get() const {
    std::vector<T> h(n);
    REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
    REQUIRE(cudaMemcpy(h.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost) == cudaSuccess);
    return h;
  }
};

inline uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

#ifdef MR_EMU
// Sets the emulator's thread order (and worker count) for one scope.
struct OrderScope {
  mr::emu::Config saved;
  explicit OrderScope(mr::emu::Order o, uint64_t seed = 1, int workers = 1) : saved(mr::emu::config()) {
    mr::emu::config().order = o;
    mr::emu::config().seed = seed;
    mr::emu::config().workers = workers;
  }
  ~OrderScope() { mr::emu::config() = saved; }
};
struct NamedOrder {
  const char* name;
  mr::emu::Order order;
  uint64_t seed;
};
inline const NamedOrder kOrders[] = {
    {"forward", mr::emu::Order::Forward, 1}, {"reverse", mr::emu::Order::Reverse, 1}, {"random:7", mr::emu::Order::Random, 7}};
// Runs f under every thread order (once natively on a GPU).
template <class F>
void for_each_order(F&& f) {
  for (const NamedOrder& o : kOrders) {
    CAPTURE(o.name);
    OrderScope scope(o.order, o.seed);
    f();
  }
}
#else
template <class F>
void for_each_order(F&& f) {
  f();
}
#endif

}  // namespace emutest
