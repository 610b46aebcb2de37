// CPU meta-learning ops over flat buffers (kernels/ops.def): the loops engine/meta ran on the
// host, elementwise with OpenMP, each element's arithmetic exactly as the op list writes it.
#include "kernels/cpu/cpu.h"

namespace mr::cpu {

namespace {
constexpr int64_t kPar = int64_t(1) << 15;  // below this, one thread
}

void acc_f64(double* acc, const float* x, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > kPar)
  for (int64_t j = 0; j < n; ++j) acc[j] += x[j];
}

void acc_diff_f64(double* acc, const float* a, const float* b, float s, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > kPar)
  for (int64_t j = 0; j < n; ++j) acc[j] += (a[j] - b[j]) * s;
}

void acc_prod_f64(double* acc, const float* a, const float* b, float s, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > kPar)
  for (int64_t j = 0; j < n; ++j) acc[j] += s * (a[j] * b[j]);
}

void f64_to_f32(float* y, const double* acc, double s, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > kPar)
  for (int64_t j = 0; j < n; ++j) y[j] = float(acc[j] * s);
}

void metasgd_step(float* w, float* gsum, const float* g, const float* rate, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > kPar)
  for (int64_t j = 0; j < n; ++j) {
    w[j] -= rate[j] * g[j];
    gsum[j] += g[j];
  }
}

void clamp_min(float* x, int64_t n, float lo) {
#pragma omp parallel for simd schedule(static) if (n > kPar)
  for (int64_t j = 0; j < n; ++j) x[j] = x[j] < lo ? lo : x[j];
}

}  // namespace mr::cpu
