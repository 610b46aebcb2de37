// CPU layernorm with fused residual add. Statistics per row in two passes (mean, then the
// centred variance) with double accumulators: no one-pass E[x^2]-E[x]^2 cancellation.
#include <omp.h>

#include <cmath>
#include <vector>

#include "kernels/cpu/cpu.h"

namespace mr::cpu {

void layernorm_fwd(float* y, float* s, float* mean, float* rstd, const float* a, const float* r, const float* gamma,
                   const float* beta, int N, int C, float eps) {
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; ++n) {
    const size_t o = size_t(n) * C;
    const float* x = a + o;
    if (r) {
      float* sr = s + o;
#pragma omp simd
      for (int c = 0; c < C; ++c) sr[c] = a[o + c] + r[o + c];
      x = sr;
    }
    double m = 0;
#pragma omp simd reduction(+ : m)
    for (int c = 0; c < C; ++c) m += x[c];
    m /= C;
    double var = 0;
#pragma omp simd reduction(+ : var)
    for (int c = 0; c < C; ++c) var += (x[c] - m) * (x[c] - m);
    var /= C;
    const float mf = float(m), rs = float(1.0 / std::sqrt(var + double(eps)));
    float* yr = y + o;
#pragma omp simd
    for (int c = 0; c < C; ++c) yr[c] = (x[c] - mf) * rs * gamma[c] + beta[c];
    mean[n] = mf;
    rstd[n] = rs;
  }
}

void layernorm_bwd(float* da, float* dr, float* dgamma, float* dbeta, const float* dy, const float* s,
                   const float* mean, const float* rstd, const float* gamma, int N, int C, GradMode acc_da, GradMode acc_dr) {
  const int nt = omp_get_max_threads();
  const bool params = dgamma || dbeta;
  std::vector<float> part(params ? size_t(nt) * 2 * C : 0, 0.0f);  // per-thread dgamma | dbeta partials
#pragma omp parallel
  {
    float* pg = params ? part.data() + size_t(omp_get_thread_num()) * 2 * C : nullptr;
    float* pb = params ? pg + C : nullptr;
#pragma omp for schedule(static)
    for (int n = 0; n < N; ++n) {
      const size_t o = size_t(n) * C;
      const float m = mean[n], rs = rstd[n];
      const float* x = s + o;
      const float* g = dy + o;
      float sum_g = 0, sum_gx = 0;
#pragma omp simd reduction(+ : sum_g, sum_gx)
      for (int c = 0; c < C; ++c) {
        const float xh = (x[c] - m) * rs, gg = g[c] * gamma[c];
        sum_g += gg;
        sum_gx += gg * xh;
      }
      const float mg = sum_g / C, mgx = sum_gx / C;
#pragma omp simd
      for (int c = 0; c < C; ++c) {
        const float xh = (x[c] - m) * rs;
        const float ds = rs * (g[c] * gamma[c] - mg - xh * mgx);
        if (da) da[o + c] = acc_da ? da[o + c] + ds : ds;
        if (dr) dr[o + c] = acc_dr ? dr[o + c] + ds : ds;
        if (pg) {
          pg[c] += g[c] * xh;
          pb[c] += g[c];
        }
      }
    }
  }
  if (params)
    for (int t = 0; t < nt; ++t)
      for (int c = 0; c < C; ++c) {
        if (dgamma) dgamma[c] += part[size_t(t) * 2 * C + c];
        if (dbeta) dbeta[c] += part[size_t(t) * 2 * C + C + c];
      }
}

}  // namespace mr::cpu
