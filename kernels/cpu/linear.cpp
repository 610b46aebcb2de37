// CPU linear layer on OpenBLAS: out = inp @ w^T + b with w (OUT, IN) row-major, so every
// product is one sgemm with no transposed copies.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "kernels/cpu/cpu.h"

namespace mr::cpu {

void linear_fwd(float* out, const float* inp, const float* w, const float* b, int N, int IN, int OUT) {
  if (b) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; ++n) std::memcpy(out + size_t(n) * OUT, b, sizeof(float) * OUT);
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OUT, IN, 1.0f, inp, IN, w, IN, b ? 1.0f : 0.0f, out, OUT);
}

// db[o] += sum_n dout[n, o]: each thread owns a slice of the columns.
void colsum_acc(float* db, const float* dout, int N, int C) {
#pragma omp parallel
  {
    const int nt = omp_get_num_threads(), tid = omp_get_thread_num();
    const int chunk = (C + nt - 1) / nt, c0 = std::min(C, tid * chunk), c1 = std::min(C, c0 + chunk);
    for (int n = 0; n < N; ++n) {
      const float* g = dout + size_t(n) * C;
#pragma omp simd
      for (int c = c0; c < c1; ++c) db[c] += g[c];
    }
  }
}

void linear_bwd(float* dinp, float* dw, float* db, const float* dout, const float* inp, const float* w, int N, int IN,
                int OUT, GradMode acc_dinp) {
  if (dinp)  // (N, OUT) @ (OUT, IN)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, IN, OUT, 1.0f, dout, OUT, w, IN, acc_dinp ? 1.0f : 0.0f,
                dinp, IN);
  if (dw)  // (OUT, N) @ (N, IN), accumulated
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OUT, IN, N, 1.0f, dout, OUT, inp, IN, 1.0f, dw, IN);
  if (db) colsum_acc(db, dout, N, OUT);
}

}  // namespace mr::cpu
