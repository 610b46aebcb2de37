// CPU embedding. Backward: each thread owns a slice of the channels, so the scatter-add into
// the tables needs no atomics and is deterministic.
#include <omp.h>

#include <algorithm>

#include "kernels/cpu/cpu.h"

namespace mr::cpu {

void embedding_fwd(float* out, const int32_t* ids, const int32_t* types, const float* wte, const float* wpe,
                   const float* wtt, int B, int T, int C) {
#pragma omp parallel for schedule(static)
  for (int row = 0; row < B * T; ++row) {
    const int t = row % T, ty = types ? types[row] : 0;
    const float* a = wte + size_t(ids[row]) * C;
    const float* p = wpe + size_t(t) * C;
    const float* y = wtt + size_t(ty) * C;
    float* o = out + size_t(row) * C;
#pragma omp simd
    for (int c = 0; c < C; ++c) o[c] = (a[c] + p[c]) + y[c];
  }
}

void embedding_bwd(float* dwte, float* dwpe, float* dwtt, const float* dout, const int32_t* ids, const int32_t* types,
                   int B, int T, int C) {
#pragma omp parallel
  {
    const int nt = omp_get_num_threads(), tid = omp_get_thread_num();
    const int chunk = (C + nt - 1) / nt, c0 = std::min(C, tid * chunk), c1 = std::min(C, c0 + chunk);
    for (int row = 0; row < B * T; ++row) {
      const float* g = dout + size_t(row) * C;
      const int t = row % T, ty = types ? types[row] : 0;
      if (dwte) {
        float* d = dwte + size_t(ids[row]) * C;
        for (int c = c0; c < c1; ++c) d[c] += g[c];
      }
      if (dwpe) {
        float* d = dwpe + size_t(t) * C;
        for (int c = c0; c < c1; ++c) d[c] += g[c];
      }
      if (dwtt) {
        float* d = dwtt + size_t(ty) * C;
        for (int c = c0; c < c1; ++c) d[c] += g[c];
      }
    }
  }
}

}  // namespace mr::cpu
