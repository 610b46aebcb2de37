// Bias + activation: out(N, C) = act(x + b), act in {none, GELU (erf form, HF "gelu"), tanh}.
// Backward: dx = dout * act'(x + b) (written or added by acc_dx), elementwise; db(C) += column
// sums of those values (colsum.cuh: deterministic, no atomics). Templated on the storage type:
// float for the fp32 table, bf16_t for the bf16 one (bf16.cuh).
#include "kernels/cuda/bf16.cuh"
#include "kernels/cuda/colsum.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace mr::cuda {

namespace {

__device__ __forceinline__ float act_f(float z, int act) {
  if (act == int(Act::Gelu)) return 0.5f * z * (1.0f + erff(z * 0.70710678118654752f));
  if (act == int(Act::Tanh)) return tanhf(z);
  return z;
}

__device__ __forceinline__ float act_df(float z, int act) {
  if (act == int(Act::Gelu)) {
    const float cdf = 0.5f * (1.0f + erff(z * 0.70710678118654752f));
    const float pdf = expf(-0.5f * z * z) * 0.39894228040143268f;  // 1/sqrt(2 pi)
    return cdf + z * pdf;
  }
  if (act == int(Act::Tanh)) {
    const float t = tanhf(z);
    return 1.0f - t * t;
  }
  return 1.0f;
}

template <class T>
__global__ void bias_act_fwd_k(T* out, const T* x, const T* b, int C, int64_t total, int act) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x)
    st(out, i, act_f(ld(x, i) + (b ? ld(b, i % C) : 0.0f), act));
}

// dx = or += dout * act'(x + b), elementwise.
template <class T>
__global__ void bias_act_dx_k(T* dx, const T* dout, const T* x, const T* b, int C, int64_t total, int act,
                              bool acc_dx) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x)
    st_acc(dx, i, ld(dout, i) * act_df(ld(x, i) + (b ? ld(b, i % C) : 0.0f), act), acc_dx);
}

// f(n, c) = dout * act'(x + b) at (n, c), recomputed for the column sum of db (dx may hold a
// sum already when acc_dx).
template <class T>
struct BiasActGrad {
  const T *dout, *x, *b;
  int C, act;
  __device__ __forceinline__ float operator()(int n, int c) const {
    const int64_t i = int64_t(n) * C + c;
    return ld(dout, i) * act_df(ld(x, i) + (b ? ld(b, c) : 0.0f), act);
  }
};

template <class T>
void fwd(T* out, const T* x, const T* b, int N, int C, Act act) {
  const int64_t total = int64_t(N) * C;
  if (total == 0) return;
  auto* k = bias_act_fwd_k<T>;
  LAUNCH(k, blocks_for(total), kBlock, 0, 0)(out, x, b, C, total, int(act));
  check_launch("bias_act_fwd_k");
}

template <class T>
void bwd(T* dx, float* db, const T* dout, const T* x, const T* b, int N, int C, Act act, bool acc_dx) {
  const int64_t total = int64_t(N) * C;
  if (total == 0) return;
  if (dx) {
    auto* k = bias_act_dx_k<T>;
    LAUNCH(k, blocks_for(total), kBlock, 0, 0)(dx, dout, x, b, C, total, int(act), acc_dx);
    check_launch("bias_act_dx_k");
  }
  colsum_acc(db, BiasActGrad<T>{dout, x, b, C, int(act)}, N, C);
}

}  // namespace

void bias_act_fwd(float* out, const float* x, const float* b, int N, int C, Act act) { fwd(out, x, b, N, C, act); }
void bias_act_bwd(float* dx, float* db, const float* dout, const float* x, const float* b, int N, int C, Act act,
                  GradMode acc_dx) {
  bwd(dx, db, dout, x, b, N, C, act, acc_dx);
}
void bf16::bias_act_fwd(bf16_t* out, const bf16_t* x, const bf16_t* b, int N, int C, Act act) {
  fwd(out, x, b, N, C, act);
}
void bf16::bias_act_bwd(bf16_t* dx, float* db, const bf16_t* dout, const bf16_t* x, const bf16_t* b, int N, int C,
                       Act act, GradMode acc_dx) {
  bwd(dx, db, dout, x, b, N, C, act, acc_dx);
}

}  // namespace mr::cuda
