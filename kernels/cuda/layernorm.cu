// LayerNorm with a fused residual add: s = a + r (r null: s not written, a normalised);
// y = (s - mean) * rstd * gamma + beta; mean and rstd (N) saved. fp32 statistics in two
// passes over a row held in shared memory (mean, then the centred variance; biased, as torch).
// One block of 128 threads per row.
// Backward: ds = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy * gamma; da and dr both
// receive ds (each written or added by its flag). dgamma += sum_n dy * xhat and
// dbeta += sum_n dy are column sums (colsum.cuh: deterministic, no atomics). Templated on the
// storage type of the activations (float or bf16_t); gamma, beta and the statistics are fp32.
#include <type_traits>

#include "kernels/cuda/bf16.cuh"
#include "kernels/cuda/colsum.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace mr::cuda {

namespace {

template <class T>
__global__ void layernorm_fwd_k(T* y, T* s, float* mean, float* rstd, const T* a, const T* r, const float* gamma,
                                const float* beta, int C, float eps) {
  DYNAMIC_SMEM(float, xs);  // (C)
  __shared__ float red[32];
  const int64_t o = int64_t(blockIdx.x) * C;
  float part = 0.0f;
  for (int c = threadIdx.x; c < C; c += blockDim.x) {
    float v = r ? ld(a, o + c) + ld(r, o + c) : ld(a, o + c);
    if (r) {
      st(s, o + c, v);
      if constexpr (!std::is_same_v<T, float>) v = ld(s, o + c);  // normalise the bf16-rounded sum, as saved
    }
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
  for (int c = threadIdx.x; c < C; c += blockDim.x) st(y, o + c, (xs[c] - m) * rs * gamma[c] + beta[c]);
  if (threadIdx.x == 0) {
    mean[blockIdx.x] = m;
    rstd[blockIdx.x] = rs;
  }
}

template <class T>
__global__ void layernorm_bwd_k(T* da, T* dr, const T* dy, const T* s, const float* mean, const float* rstd,
                                const float* gamma, int C, bool acc_da, bool acc_dr) {
  __shared__ float red[32];
  const int64_t o = int64_t(blockIdx.x) * C;
  const float m = mean[blockIdx.x], rs = rstd[blockIdx.x];
  float pg = 0.0f, pgx = 0.0f;
  for (int c = threadIdx.x; c < C; c += blockDim.x) {
    const float xh = (ld(s, o + c) - m) * rs, g = ld(dy, o + c) * gamma[c];
    pg += g;
    pgx += g * xh;
  }
  const float mg = block_sum(pg, red) / float(C);
  const float mgx = block_sum(pgx, red) / float(C);
  for (int c = threadIdx.x; c < C; c += blockDim.x) {
    const float xh = (ld(s, o + c) - m) * rs, g = ld(dy, o + c) * gamma[c];
    const float ds = rs * (g - mg - xh * mgx);
    if (da) st_acc(da, o + c, ds, acc_da);
    if (dr) st_acc(dr, o + c, ds, acc_dr);
  }
}

// The column-sum terms of dgamma and dbeta.
template <class T>
struct GammaGrad {
  const T *dy, *s;
  const float *mean, *rstd;
  int C;
  __device__ __forceinline__ float operator()(int n, int c) const {
    const int64_t i = int64_t(n) * C + c;
    return ld(dy, i) * ((ld(s, i) - mean[n]) * rstd[n]);
  }
};

template <class T>
void fwd(T* y, T* s, float* mean, float* rstd, const T* a, const T* r, const float* gamma, const float* beta, int N,
         int C, float eps) {
  if (N == 0 || C == 0) return;
  const size_t smem = size_t(C) * sizeof(float);
  auto* k = layernorm_fwd_k<T>;
  if (smem > 48 * 1024) CUDA_CHECK(cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)));
  LAUNCH(k, N, kRowBlock, smem, 0)(y, s, mean, rstd, a, r, gamma, beta, C, eps);
  check_launch("layernorm_fwd_k");
}

template <class T>
void bwd(T* da, T* dr, float* dgamma, float* dbeta, const T* dy, const T* s, const float* mean, const float* rstd,
         const float* gamma, int N, int C, bool acc_da, bool acc_dr) {
  if (N == 0 || C == 0) return;
  if (da || dr) {
    auto* k = layernorm_bwd_k<T>;
    LAUNCH(k, N, kRowBlock, 0, 0)(da, dr, dy, s, mean, rstd, gamma, C, acc_da, acc_dr);
    check_launch("layernorm_bwd_k");
  }
  colsum_acc(dgamma, GammaGrad<T>{dy, s, mean, rstd, C}, N, C);
  colsum_acc(dbeta, RowsOf<T>{dy, C}, N, C);
}

}  // namespace

void layernorm_fwd(float* y, float* s, float* mean, float* rstd, const float* a, const float* r, const float* gamma,
                   const float* beta, int N, int C, float eps) {
  fwd(y, s, mean, rstd, a, r, gamma, beta, N, C, eps);
}
void layernorm_bwd(float* da, float* dr, float* dgamma, float* dbeta, const float* dy, const float* s,
                   const float* mean, const float* rstd, const float* gamma, int N, int C, GradMode acc_da, GradMode acc_dr) {
  bwd(da, dr, dgamma, dbeta, dy, s, mean, rstd, gamma, N, C, acc_da, acc_dr);
}
void bf16::layernorm_fwd(bf16_t* y, bf16_t* s, float* mean, float* rstd, const bf16_t* a, const bf16_t* r,
                        const float* gamma, const float* beta, int N, int C, float eps) {
  fwd(y, s, mean, rstd, a, r, gamma, beta, N, C, eps);
}
void bf16::layernorm_bwd(bf16_t* da, bf16_t* dr, float* dgamma, float* dbeta, const bf16_t* dy, const bf16_t* s,
                        const float* mean, const float* rstd, const float* gamma, int N, int C, GradMode acc_da,
                        GradMode acc_dr) {
  bwd(da, dr, dgamma, dbeta, dy, s, mean, rstd, gamma, N, C, acc_da, acc_dr);
}

}  // namespace mr::cuda
