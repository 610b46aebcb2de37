// CPU grouped linear (kernels/ops.def glinear_*): one sgemm-backed linear per group, the
// group's rows being contiguous.
#include "kernels/cpu/cpu.h"

namespace mr::cpu {

void glinear_fwd(float* out, const float* inp, const float* w, const float* b, const int32_t* offsets, int N, int G,
                 int IN, int OUT) {
  for (int g = 0; g < G; ++g) {
    const int n0 = offsets[g], n = offsets[g + 1] - n0;
    if (n > 0)
      linear_fwd(out + size_t(n0) * OUT, inp + size_t(n0) * IN, w + size_t(g) * OUT * IN, b ? b + size_t(g) * OUT : nullptr,
                 n, IN, OUT);
  }
  (void)N;
}

void glinear_bwd(float* dinp, float* dw, float* db, const float* dout, const float* inp, const float* w,
                 const int32_t* offsets, int N, int G, int IN, int OUT, GradMode acc_dinp) {
  for (int g = 0; g < G; ++g) {
    const int n0 = offsets[g], n = offsets[g + 1] - n0;
    if (n > 0)
      linear_bwd(dinp ? dinp + size_t(n0) * IN : nullptr, dw ? dw + size_t(g) * OUT * IN : nullptr,
                 db ? db + size_t(g) * OUT : nullptr, dout + size_t(n0) * OUT, inp + size_t(n0) * IN,
                 w + size_t(g) * OUT * IN, n, IN, OUT, acc_dinp);
  }
  (void)N;
}

}  // namespace mr::cpu
