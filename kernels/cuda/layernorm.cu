// LayerNorm with a fused residual add: s = a + r (r null: s not written, a normalised);
// y = (s - mean) * rstd * gamma + beta; mean and rstd (N) saved. fp32 statistics in two
// passes over a row held in shared memory (mean, then the centred variance; biased, as torch).
// One block of 128 threads per row.
// Backward: ds = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy * gamma; da and dr both
// receive ds (each written or added by its flag). dgamma += sum_n dy * xhat and
// dbeta += sum_n dy are column sums (colsum.cuh: deterministic, no atomics).
#include "kernels/cuda/colsum.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace mr::cuda {

namespace {

__global__ void layernorm_fwd_k(float* y, float* s, float* mean, float* rstd, const float* a, const float* r,
                                const float* gamma, const float* beta, int C, float eps) {
  DYNAMIC_SMEM(float, xs);  // (C)
  __shared__ float red[32];
  const int64_t o = int64_t(blockIdx.x) * C;
  float part = 0.0f;
  for (int c = threadIdx.x; c < C; c += blockDim.x) {
    const float v = r ? a[o + c] + r[o + c] : a[o + c];
    if (r) s[o + c] = v;
    xs[c] = v;
    part += v;
  }
  const float m = block_sum(part, red) / float(C);
  float pv = 0.0f;
  for (int c = threadIdx.x; c < C; c += blockDim.x) {
    const float d = xs[c] - m;
    pv += d * d;
  }
  const float var = block_sum(pv, red) / float(C);
  const float rs = rsqrtf(var + eps);
  for (int c = threadIdx.x; c < C; c += blockDim.x) y[o + c] = (xs[c] - m) * rs * gamma[c] + beta[c];
  if (threadIdx.x == 0) {
    mean[blockIdx.x] = m;
    rstd[blockIdx.x] = rs;
  }
}

__global__ void layernorm_bwd_k(float* da, float* dr, const float* dy, const float* s, const float* mean,
                                const float* rstd, const float* gamma, int C, bool acc_da, bool acc_dr) {
  __shared__ float red[32];
  const int64_t o = int64_t(blockIdx.x) * C;
  const float m = mean[blockIdx.x], rs = rstd[blockIdx.x];
  float pg = 0.0f, pgx = 0.0f;
  for (int c = threadIdx.x; c < C; c += blockDim.x) {
    const float xh = (s[o + c] - m) * rs, g = dy[o + c] * gamma[c];
    pg += g;
    pgx += g * xh;
  }
  const float mg = block_sum(pg, red) / float(C);
  const float mgx = block_sum(pgx, red) / float(C);
  for (int c = threadIdx.x; c < C; c += blockDim.x) {
    const float xh = (s[o + c] - m) * rs, g = dy[o + c] * gamma[c];
    const float ds = rs * (g - mg - xh * mgx);
    if (da) da[o + c] = acc_da ? da[o + c] + ds : ds;
    if (dr) dr[o + c] = acc_dr ? dr[o + c] + ds : ds;
  }
}

// The column-sum terms of dgamma and dbeta.
struct GammaGrad {
  const float *dy, *s, *mean, *rstd;
  int C;
  __device__ __forceinline__ float operator()(int n, int c) const {
    const int64_t i = int64_t(n) * C + c;
    return dy[i] * ((s[i] - mean[n]) * rstd[n]);
  }
};

}  // namespace

void layernorm_fwd(float* y, float* s, float* mean, float* rstd, const float* a, const float* r, const float* gamma,
                   const float* beta, int N, int C, float eps) {
  if (N == 0 || C == 0) return;
  const size_t smem = size_t(C) * sizeof(float);
  if (smem > 48 * 1024) {
    auto* k = layernorm_fwd_k;
    CUDA_CHECK(cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)));
  }
  LAUNCH(layernorm_fwd_k, N, kRowBlock, smem, 0)(y, s, mean, rstd, a, r, gamma, beta, C, eps);
  check_launch("layernorm_fwd_k");
}

void layernorm_bwd(float* da, float* dr, float* dgamma, float* dbeta, const float* dy, const float* s,
                   const float* mean, const float* rstd, const float* gamma, int N, int C, bool acc_da, bool acc_dr) {
  if (N == 0 || C == 0) return;
  if (da || dr) {
    LAUNCH(layernorm_bwd_k, N, kRowBlock, 0, 0)(da, dr, dy, s, mean, rstd, gamma, C, acc_da, acc_dr);
    check_launch("layernorm_bwd_k");
  }
  colsum_acc(dgamma, GammaGrad{dy, s, mean, rstd, C}, N, C);
  colsum_acc(dbeta, RowsOf{dy, C}, N, C);
}

}  // namespace mr::cuda
