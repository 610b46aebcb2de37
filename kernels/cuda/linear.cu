// Linear layer: out(N, OUT) = inp(N, IN) @ w(OUT, IN)^T + b(OUT).
// Backward: dinp(N, IN) = dout @ w (written or added by acc_dinp); dw(OUT, IN) += dout^T @ inp;
// db(OUT) += column sums of dout.
// The three products are cuBLASLt GEMMs (kernels/cuda/gemm.cuh), the bias folded into the
// forward's epilogue; fp32, bf16 or tf32 compute by the math mode (the table of each mode binds
// it, kernels/cuda/table.cu). db is our own deterministic column sum (colsum.cuh).
#include "kernels/cuda/colsum.cuh"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/gemm.cuh"

namespace mr::cuda {

void linear_fwd(float* out, const float* inp, const float* w, const float* b, int N, int IN, int OUT, Math m) {
  gemm(out, inp, false, w, true, b, N, OUT, IN, false, m);  // inp (N, IN) @ w^T, w stored (OUT, IN)
}

void linear_bwd(float* dinp, float* dw, float* db, const float* dout, const float* inp, const float* w, int N, int IN,
                int OUT, GradMode acc_dinp, Math m) {
  if (dinp) gemm(dinp, dout, false, w, false, nullptr, N, IN, OUT, acc_dinp, m);  // dout (N, OUT) @ w (OUT, IN)
  if (dw && N > 0) gemm(dw, dout, true, inp, false, nullptr, OUT, IN, N, true, m);  // dout^T @ inp
  colsum_acc(db, RowsOf<float>{dout, OUT}, N, OUT);
}

void linear_fwd(float* out, const float* inp, const float* w, const float* b, int N, int IN, int OUT) {
  linear_fwd(out, inp, w, b, N, IN, OUT, Math::fp32);
}
void linear_bwd(float* dinp, float* dw, float* db, const float* dout, const float* inp, const float* w, int N, int IN,
                int OUT, GradMode acc_dinp) {
  linear_bwd(dinp, dw, db, dout, inp, w, N, IN, OUT, acc_dinp, Math::fp32);
}

// bf16 storage: the same three products over bf16 operands, fp32 accumulation; out and dinp
// are rounded to bf16 once, dw accumulates into the fp32 gradient (C and D fp32, beta 1).
void bf16::linear_fwd(bf16_t* out, const bf16_t* inp, const bf16_t* w, const bf16_t* b, int N, int IN, int OUT) {
  gemm(out, inp, false, w, true, b, N, OUT, IN, false);
}

void bf16::linear_bwd(bf16_t* dinp, float* dw, float* db, const bf16_t* dout, const bf16_t* inp, const bf16_t* w,
                     int N, int IN, int OUT, GradMode acc_dinp) {
  if (dinp) gemm(dinp, dout, false, w, false, nullptr, N, IN, OUT, acc_dinp);
  if (dw && N > 0) gemm(dw, dout, true, inp, false, OUT, IN, N, true);
  colsum_acc(db, RowsOf<bf16_t>{dout, OUT}, N, OUT);
}

}  // namespace mr::cuda
