// CPU fused bias + activation (GELU erf form, tanh), forward and backward in one pass each.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/cpu.h"

namespace mr::cpu {

static constexpr float kInvSqrt2 = 0.70710678118654752f;
static constexpr float kInvSqrt2Pi = 0.39894228040143268f;

void bias_act_fwd(float* out, const float* x, const float* b, int N, int C, Act act) {
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; ++n) {
    const float* xr = x + size_t(n) * C;
    float* o = out + size_t(n) * C;
    switch (act) {
      case Act::None:
        for (int c = 0; c < C; ++c) o[c] = xr[c] + (b ? b[c] : 0.f);
        break;
      case Act::Gelu:
#pragma omp simd
        for (int c = 0; c < C; ++c) {
          const float z = xr[c] + (b ? b[c] : 0.f);
          o[c] = 0.5f * z * (1.0f + std::erf(z * kInvSqrt2));
        }
        break;
      case Act::Tanh:
        for (int c = 0; c < C; ++c) o[c] = std::tanh(xr[c] + (b ? b[c] : 0.f));
        break;
    }
  }
}

void bias_act_bwd(float* dx, float* db, const float* dout, const float* x, const float* b, int N, int C, Act act,
                  GradMode acc_dx) {
  const int nt = omp_get_max_threads();
  std::vector<float> part(db ? size_t(nt) * C : 0, 0.0f);  // per-thread bias-gradient partial sums
#pragma omp parallel
  {
    float* pd = db ? part.data() + size_t(omp_get_thread_num()) * C : nullptr;
#pragma omp for schedule(static)
    for (int n = 0; n < N; ++n) {
      const float* xr = x + size_t(n) * C;
      const float* g = dout + size_t(n) * C;
      float* d = dx ? dx + size_t(n) * C : nullptr;
#pragma omp simd
      for (int c = 0; c < C; ++c) {
        const float z = xr[c] + (b ? b[c] : 0.f);
        float df = 1.0f;
        if (act == Act::Gelu) df = 0.5f * (1.0f + std::erf(z * kInvSqrt2)) + z * kInvSqrt2Pi * std::exp(-0.5f * z * z);
        else if (act == Act::Tanh) {
          const float t = std::tanh(z);
          df = 1.0f - t * t;
        }
        const float gz = g[c] * df;
        if (d) d[c] = acc_dx ? d[c] + gz : gz;
        if (pd) pd[c] += gz;
      }
    }
  }
  if (db)
    for (int t = 0; t < nt; ++t)
      for (int c = 0; c < C; ++c) db[c] += part[size_t(t) * C + c];
}

}  // namespace mr::cpu
