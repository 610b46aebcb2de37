// Pooling over the sequence.
//   mean: out(B, C) = sum_t mask * h(B, T, C) / max(sum_t mask, 1e-9) (sentence-transformers;
//         mask null = all ones). One thread per (b, c), summing t in order.
//   cls:  out(B, C) = h(B, 0, C).
// Backward writes (or adds, by acc) every element of dh, zeros included.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace mr::cuda {

namespace {

__device__ __forceinline__ float count_of(const int32_t* mask, int b, int T) {
  float cnt = 0.0f;
  for (int t = 0; t < T; ++t) cnt += mask ? float(mask[b * T + t]) : 1.0f;
  return fmaxf(cnt, 1e-9f);
}

__global__ void mean_pool_fwd_k(float* out, const float* h, const int32_t* mask, int B, int T, int C) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < int64_t(B) * C;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int b = int(i / C), c = int(i % C);
    float acc = 0.0f;
    for (int t = 0; t < T; ++t) acc += (mask ? float(mask[b * T + t]) : 1.0f) * h[(int64_t(b) * T + t) * C + c];
    out[i] = acc / count_of(mask, b, T);
  }
}

// grid (ceil(C / blockDim), T, B)
__global__ void mean_pool_bwd_k(float* dh, const float* dout, const int32_t* mask, int T, int C, bool acc) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x, t = blockIdx.y, b = blockIdx.z;
  if (c < C) {
    const float w = (mask ? float(mask[b * T + t]) : 1.0f) / count_of(mask, b, T);
    const float g = w * dout[int64_t(b) * C + c];
    float* d = dh + (int64_t(b) * T + t) * C + c;
    *d = acc ? *d + g : g;
  }
}

__global__ void cls_pool_fwd_k(float* out, const float* h, int B, int T, int C) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < int64_t(B) * C;
       i += int64_t(gridDim.x) * blockDim.x)
    out[i] = h[(i / C) * T * C + i % C];
}

__global__ void cls_pool_bwd_k(float* dh, const float* dout, int T, int C, bool acc) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x, t = blockIdx.y, b = blockIdx.z;
  if (c < C) {
    const float g = t == 0 ? dout[int64_t(b) * C + c] : 0.0f;
    float* d = dh + (int64_t(b) * T + t) * C + c;
    *d = acc ? *d + g : g;
  }
}

}  // namespace

void mean_pool_fwd(float* out, const float* h, const int32_t* mask, int B, int T, int C) {
  if (int64_t(B) * C == 0) return;
  LAUNCH(mean_pool_fwd_k, blocks_for(int64_t(B) * C), kBlock, 0, 0)(out, h, mask, B, T, C);
  check_launch("mean_pool_fwd_k");
}

void mean_pool_bwd(float* dh, const float* dout, const int32_t* mask, int B, int T, int C, GradMode acc) {
  if (!dh || int64_t(B) * T * C == 0) return;
  LAUNCH(mean_pool_bwd_k, dim3((C + kRowBlock - 1) / kRowBlock, T, B), kRowBlock, 0, 0)(dh, dout, mask, T, C, acc);
  check_launch("mean_pool_bwd_k");
}

void cls_pool_fwd(float* out, const float* h, int B, int T, int C) {
  if (int64_t(B) * C == 0) return;
  LAUNCH(cls_pool_fwd_k, blocks_for(int64_t(B) * C), kBlock, 0, 0)(out, h, B, T, C);
  check_launch("cls_pool_fwd_k");
}

void cls_pool_bwd(float* dh, const float* dout, int B, int T, int C, GradMode acc) {
  if (!dh || int64_t(B) * T * C == 0) return;
  LAUNCH(cls_pool_bwd_k, dim3((C + kRowBlock - 1) / kRowBlock, T, B), kRowBlock, 0, 0)(dh, dout, T, C, acc);
  check_launch("cls_pool_bwd_k");
}

}  // namespace mr::cuda
