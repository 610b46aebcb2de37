// CPU pooling over the sequence: masked mean and CLS.
#include <algorithm>
#include <cstring>

#include "kernels/cpu/cpu.h"

namespace mr::cpu {

static float count_of(const int32_t* mask, int b, int T) {
  float cnt = 0;
  for (int t = 0; t < T; ++t) cnt += mask ? float(mask[b * T + t]) : 1.0f;
  return std::max(cnt, 1e-9f);
}

void mean_pool_fwd(float* out, const float* h, const int32_t* mask, int B, int T, int C) {
#pragma omp parallel for schedule(static)
  for (int b = 0; b < B; ++b) {
    float* o = out + size_t(b) * C;
    std::fill(o, o + C, 0.0f);
    for (int t = 0; t < T; ++t) {
      const float w = mask ? float(mask[b * T + t]) : 1.0f;
      if (w == 0.0f) continue;
      const float* x = h + (size_t(b) * T + t) * C;
      for (int c = 0; c < C; ++c) o[c] += w * x[c];
    }
    const float inv = 1.0f / count_of(mask, b, T);
    for (int c = 0; c < C; ++c) o[c] *= inv;
  }
}

void mean_pool_bwd(float* dh, const float* dout, const int32_t* mask, int B, int T, int C, GradMode acc) {
#pragma omp parallel for schedule(static)
  for (int b = 0; b < B; ++b) {
    const float inv = 1.0f / count_of(mask, b, T);
    for (int t = 0; t < T; ++t) {
      const float w = (mask ? float(mask[b * T + t]) : 1.0f) * inv;
      const float* g = dout + size_t(b) * C;
      float* d = dh + (size_t(b) * T + t) * C;
      for (int c = 0; c < C; ++c) d[c] = acc ? d[c] + w * g[c] : w * g[c];
    }
  }
}

void cls_pool_fwd(float* out, const float* h, int B, int T, int C) {
  for (int b = 0; b < B; ++b) std::memcpy(out + size_t(b) * C, h + size_t(b) * T * C, sizeof(float) * C);
}

void cls_pool_bwd(float* dh, const float* dout, int B, int T, int C, GradMode acc) {
  for (int b = 0; b < B; ++b) {
    float* d = dh + size_t(b) * T * C;
    const float* g = dout + size_t(b) * C;
    if (acc) {
      for (int c = 0; c < C; ++c) d[c] += g[c];
    } else {
      std::memcpy(d, g, sizeof(float) * C);
      std::memset(d + C, 0, sizeof(float) * size_t(T - 1) * C);
    }
  }
}

}  // namespace mr::cpu
