// Shared machinery of the op regression table (ggml test-backend-ops style): random inputs,
// guarded output buffers (sentinels catch out-of-bounds writes), error norms where a NaN
// always fails, and central finite differences in double.
#pragma once
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace mr::test {

constexpr int kGuard = 16;
constexpr float kSentinel = -7.125e30f;

// A float vector with kGuard sentinel elements on both sides of the payload.
struct Guarded {
  std::vector<float> buf;
  explicit Guarded(size_t n = 0) : buf(n + 2 * kGuard, kSentinel) {}
  float* data() { return buf.data() + kGuard; }
  const float* data() const { return buf.data() + kGuard; }
  size_t size() const { return buf.size() - 2 * kGuard; }
  float& operator[](size_t i) { return data()[i]; }
  float operator[](size_t i) const { return data()[i]; }
  bool guards_intact() const {
    for (int i = 0; i < kGuard; ++i)
      if (buf[i] != kSentinel || buf[buf.size() - 1 - i] != kSentinel) return false;
    return true;
  }
};

inline std::vector<double> randn(size_t n, std::mt19937_64& rng, double scale = 1.0) {
  std::normal_distribution<double> d(0.0, scale);
  std::vector<double> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

inline Guarded to_guarded(const std::vector<double>& v) {
  Guarded g(v.size());
  for (size_t i = 0; i < v.size(); ++i) g[i] = float(v[i]);
  return g;
}

// ||a - b|| / max(||b||, tiny); +inf if anything is NaN or the sizes differ.
template <class A, class B>
double rel_l2(const A& a, const B& b, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; ++i) {
    const double x = double(a[i]), y = double(b[i]);
    if (std::isnan(x) || std::isnan(y)) return INFINITY;
    num += (x - y) * (x - y);
    den += y * y;
  }
  return std::sqrt(num) / std::max(std::sqrt(den), 1e-30);
}

}  // namespace mr::test
