// Row L2 normalisation (kernels/ops.def): one block of kRowBlock threads per row (grid-stride
// over the rows), the row's sums in double through block_sum, whose order is fixed by the block
// size: deterministic run to run. The arithmetic after the sums is the CPU's (kernels/cpu/l2.cpp):
// forward factor float(s / ||x||) applied in float, backward in double rounded once; only the
// order of the double sums differs from the CPU (results within an fp32 rounding of it).
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace mr::cuda {

namespace {

__global__ void l2_rows_fwd_k(float* y, const float* x, int64_t N, int64_t C, float s) {
  __shared__ double red[32];
  for (int64_t i = blockIdx.x; i < N; i += gridDim.x) {
    const float* xi = x + i * C;
    double n2 = 0;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) n2 += double(xi[c]) * double(xi[c]);
    n2 = block_sum(n2, red);
    const float k = n2 > 0 ? float(double(s) / sqrt(n2)) : 0.0f;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) y[i * C + c] = xi[c] * k;
  }
}

__global__ void l2_rows_bwd_k(float* dx, const float* dy, const float* x, int64_t N, int64_t C, float s, bool acc) {
  __shared__ double red[32];
  for (int64_t i = blockIdx.x; i < N; i += gridDim.x) {
    const float* xi = x + i * C;
    const float* gi = dy + i * C;
    double n2 = 0, dot = 0;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
      n2 += double(xi[c]) * double(xi[c]);
      dot += double(xi[c]) * double(gi[c]);
    }
    n2 = block_sum(n2, red);
    dot = block_sum(dot, red);
    const double inv = n2 > 0 ? 1.0 / sqrt(n2) : 0.0;
    const double k = double(s) * inv, proj = dot * inv * inv;  // <x_hat, dy> / ||x||
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
      const float v = float(k * (double(gi[c]) - double(xi[c]) * proj));
      dx[i * C + c] = acc ? dx[i * C + c] + v : v;
    }
  }
}

int row_blocks(int64_t N) { return int(N < 65535 ? N : 65535); }

}  // namespace

void l2_rows_fwd(float* y, const float* x, int64_t N, int64_t C, float s) {
  if (N * C == 0) return;
  LAUNCH(l2_rows_fwd_k, row_blocks(N), kRowBlock, 0, 0)(y, x, N, C, s);
  check_launch("l2_rows_fwd_k");
}

void l2_rows_bwd(float* dx, const float* dy, const float* x, int64_t N, int64_t C, float s, GradMode acc) {
  if (N * C == 0 || !dx) return;
  LAUNCH(l2_rows_bwd_k, row_blocks(N), kRowBlock, 0, 0)(dx, dy, x, N, C, s, acc);
  check_launch("l2_rows_bwd_k");
}

}  // namespace mr::cuda
