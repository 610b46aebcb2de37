// CPU row ops (kernels/ops.def): gather, and the scatter-add backward. The backward adds in the
// order of m for every element (columns split across threads), as the CUDA kernel does.
#include <cstring>

#include "kernels/cpu/cpu.h"

namespace mr::cpu {

void gather_rows_fwd(float* out, const float* x, const int32_t* idx, int64_t M, int64_t C) {
#pragma omp parallel for schedule(static) if (M * C > (1 << 16))
  for (int64_t m = 0; m < M; ++m) {
    if (idx[m] < 0) std::memset(out + m * C, 0, sizeof(float) * size_t(C));
    else std::memcpy(out + m * C, x + int64_t(idx[m]) * C, sizeof(float) * size_t(C));
  }
}

void gather_rows_bwd(float* dx, const float* dout, const int32_t* idx, int64_t M, int64_t C) {
  constexpr int64_t kCols = 64;  // columns per task: threads never write the same element
#pragma omp parallel for schedule(static) if (M * C > (1 << 16))
  for (int64_t c0 = 0; c0 < C; c0 += kCols) {
    const int64_t c1 = c0 + kCols < C ? c0 + kCols : C;
    for (int64_t m = 0; m < M; ++m) {
      if (idx[m] < 0) continue;
      float* d = dx + int64_t(idx[m]) * C;
      const float* s = dout + m * C;
      for (int64_t c = c0; c < c1; ++c) d[c] += s[c];
    }
  }
}

}  // namespace mr::cpu
