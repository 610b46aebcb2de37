// Row ops (kernels/ops.def): gather, and the scatter-add backward.
//   gather: one thread per output element (grid-stride).
//   scatter-add: one thread per column, adding the rows in the order of m: no atomics, the same
//   order as the CPU kernel, so the sums are bit-identical to it. Its parallelism is C (the
//   recommender's dims, 32-384); a segmented sum over idx-sorted rows would widen it.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace mr::cuda {

namespace {

__global__ void gather_rows_fwd_k(float* out, const float* x, const int32_t* idx, int64_t M, int64_t C) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < M * C; i += int64_t(gridDim.x) * blockDim.x) {
    const int32_t r = idx[i / C];
    out[i] = r < 0 ? 0.0f : x[int64_t(r) * C + i % C];
  }
}

__global__ void gather_rows_bwd_k(float* dx, const float* dout, const int32_t* idx, int64_t M, int64_t C) {
  for (int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; c < C; c += int64_t(gridDim.x) * blockDim.x)
    for (int64_t m = 0; m < M; ++m) {
      const int32_t r = idx[m];
      if (r >= 0) dx[int64_t(r) * C + c] += dout[m * C + c];
    }
}

}  // namespace

void gather_rows_fwd(float* out, const float* x, const int32_t* idx, int64_t M, int64_t C) {
  if (M * C == 0) return;
  LAUNCH(gather_rows_fwd_k, blocks_for(M * C), kBlock, 0, 0)(out, x, idx, M, C);
  check_launch("gather_rows_fwd_k");
}

void gather_rows_bwd(float* dx, const float* dout, const int32_t* idx, int64_t M, int64_t C) {
  if (M * C == 0 || !dx) return;
  LAUNCH(gather_rows_bwd_k, blocks_for(C), kBlock, 0, 0)(dx, dout, idx, M, C);
  check_launch("gather_rows_bwd_k");
}

}  // namespace mr::cuda
