// CPU row L2 normalisation (kernels/ops.def), OpenMP over rows, the arithmetic of the host op
// it replaces (engine/rec/row_ops.cpp): the norm in double, then the forward's factor rounded
// to float and applied in float; the backward in double, rounded once per element.
#include <cmath>

#include "kernels/cpu/cpu.h"

namespace mr::cpu {

void l2_rows_fwd(float* y, const float* x, int64_t N, int64_t C, float s) {
#pragma omp parallel for schedule(static) if (N * C > (1 << 16))
  for (int64_t i = 0; i < N; ++i) {
    const float* xi = x + i * C;
    double n2 = 0;
    for (int64_t c = 0; c < C; ++c) n2 += double(xi[c]) * xi[c];
    const float k = n2 > 0 ? float(double(s) / std::sqrt(n2)) : 0.0f;
    for (int64_t c = 0; c < C; ++c) y[i * C + c] = xi[c] * k;
  }
}

void l2_rows_bwd(float* dx, const float* dy, const float* x, int64_t N, int64_t C, float s, GradMode acc) {
  if (!dx) return;
#pragma omp parallel for schedule(static) if (N * C > (1 << 16))
  for (int64_t i = 0; i < N; ++i) {
    const float* xi = x + i * C;
    const float* gi = dy + i * C;
    float* o = dx + i * C;
    double n2 = 0, dot = 0;
    for (int64_t c = 0; c < C; ++c) {
      n2 += double(xi[c]) * xi[c];
      dot += double(xi[c]) * gi[c];
    }
    const double inv = n2 > 0 ? 1.0 / std::sqrt(n2) : 0.0;
    const double k = double(s) * inv, proj = dot * inv * inv;  // <x_hat, dy> / ||x||
    for (int64_t c = 0; c < C; ++c) {
      const float v = float(k * (double(gi[c]) - double(xi[c]) * proj));
      o[c] = acc ? o[c] + v : v;
    }
  }
}

}  // namespace mr::cpu
