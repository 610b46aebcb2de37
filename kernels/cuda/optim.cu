// Optimizers and reductions over the flat parameter/gradient buffers (engine/params.h).
//   adamw: torch.optim.AdamW's single-tensor path operation by operation in fp32, scalars
//          (bias corrections, step size) computed in double on the host, as kernels/cpu does;
//          one fused elementwise launch over n contiguous elements.
//   sgd:   torch.optim.SGD (dampening 0, no nesterov).
//   sumsq: sum of squares in double, for global-norm clipping: a fixed grid of kSumBlocks
//          blocks writes per-block partials (double) to scratch, the host adds them in order,
//          so the result is the same run to run.
//   axpy, scale: elementwise.
#include <algorithm>
#include <cmath>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace mr::cuda {

namespace {

constexpr int kSumBlocks = 64;

__global__ void adamw_k(float* p, const float* g, float* m, float* v, int64_t n, float decay, float step_size,
                        float bc2_sqrt, float b1, float omb1, float b2, float omb2, float eps) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float gi = g[i];
    const float pi = p[i] * decay;
    const float mi = m[i] * b1 + gi * omb1;
    const float vi = v[i] * b2 + omb2 * gi * gi;
    const float denom = sqrtf(vi) / bc2_sqrt + eps;
    p[i] = pi - step_size * (mi / denom);
    m[i] = mi;
    v[i] = vi;
  }
}

__global__ void sgd_k(float* p, const float* g, float* buf, int64_t n, float lr, float momentum, float wd,
                      bool first_step) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    float d = g[i] + wd * p[i];
    if (momentum != 0.0f) {
      d = first_step ? d : momentum * buf[i] + d;
      buf[i] = d;
    }
    p[i] -= lr * d;
  }
}

__global__ void sumsq_k(double* partial, const float* x, int64_t n) {
  __shared__ double red[32];
  double s = 0.0;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    s += double(x[i]) * double(x[i]);
  s = block_sum(s, red);
  if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

__global__ void axpy_k(float* y, const float* x, float a, int64_t n, bool acc) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = acc ? y[i] + a * x[i] : a * x[i];
}

__global__ void scale_k(float* x, int64_t n, float s) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    x[i] *= s;
}

}  // namespace

void adamw(float* p, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2, float eps,
           float weight_decay, int t) {
  if (n <= 0) return;
  const float decay = float(1.0 - double(lr) * double(weight_decay));
  const double bc1 = 1.0 - std::pow(double(beta1), t), bc2 = 1.0 - std::pow(double(beta2), t);
  const float step_size = float(double(lr) / bc1), bc2_sqrt = float(std::sqrt(bc2));
  const float omb1 = float(1.0 - double(beta1)), omb2 = float(1.0 - double(beta2));
  LAUNCH(adamw_k, blocks_for(n), kBlock, 0, 0)(p, g, m, v, n, decay, step_size, bc2_sqrt, beta1, omb1, beta2, omb2,
                                               eps);
  check_launch("adamw_k");
}

void sgd(float* p, const float* g, float* buf, int64_t n, float lr, float momentum, float weight_decay,
         bool first_step) {
  if (n <= 0) return;
  LAUNCH(sgd_k, blocks_for(n), kBlock, 0, 0)(p, g, buf, n, lr, momentum, weight_decay, first_step);
  check_launch("sgd_k");
}

double sumsq(const float* x, int64_t n) {
  if (n <= 0) return 0.0;
  const int nb = int(std::min<int64_t>(kSumBlocks, (n + kBlock - 1) / kBlock));
  double* partial = static_cast<double*>(scratch(kSumBlocks * sizeof(double)));
  LAUNCH(sumsq_k, nb, kBlock, 0, 0)(partial, x, n);
  check_launch("sumsq_k");
  double h[kSumBlocks];
  CUDA_CHECK(cudaMemcpy(h, partial, size_t(nb) * sizeof(double), cudaMemcpyDeviceToHost));
  double s = 0.0;
  for (int b = 0; b < nb; ++b) s += h[b];
  return s;
}

void axpy(float* y, const float* x, float a, int64_t n, GradMode acc) {
  if (n <= 0) return;
  LAUNCH(axpy_k, blocks_for(n), kBlock, 0, 0)(y, x, a, n, acc);
  check_launch("axpy_k");
}

void scale(float* x, int64_t n, float s) {
  if (n <= 0) return;
  LAUNCH(scale_k, blocks_for(n), kBlock, 0, 0)(x, n, s);
  check_launch("scale_k");
}

}  // namespace mr::cuda
