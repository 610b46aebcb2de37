// Meta-learning ops over flat buffers (kernels/ops.def, engine/meta): elementwise grid-stride
// kernels, fp64 accumulators. Each element's arithmetic is the op list's: the accumulations are
// bit-identical to the CPU and the reference; metasgd_step's w - rate * g may be one fused
// multiply-add under nvcc (within an fp32 rounding of the CPU's).
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace mr::cuda {

namespace {

#define MR_FOR_EACH(i, n) \
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)

__global__ void acc_f64_k(double* acc, const float* x, int64_t n) {
  MR_FOR_EACH(j, n) acc[j] += double(x[j]);
}

__global__ void acc_diff_f64_k(double* acc, const float* a, const float* b, float s, int64_t n) {
  MR_FOR_EACH(j, n) acc[j] += double(__fmul_rn(__fsub_rn(a[j], b[j]), s));
}

__global__ void acc_prod_f64_k(double* acc, const float* a, const float* b, float s, int64_t n) {
  MR_FOR_EACH(j, n) acc[j] += double(__fmul_rn(s, __fmul_rn(a[j], b[j])));
}

__global__ void f64_to_f32_k(float* y, const double* acc, double s, int64_t n) {
  MR_FOR_EACH(j, n) y[j] = float(acc[j] * s);
}

__global__ void metasgd_step_k(float* w, float* gsum, const float* g, const float* rate, int64_t n) {
  MR_FOR_EACH(j, n) {
    const float gj = g[j];
    w[j] -= rate[j] * gj;
    gsum[j] += gj;
  }
}

__global__ void clamp_min_k(float* x, int64_t n, float lo) {
  MR_FOR_EACH(j, n) {
    const float v = x[j];
    x[j] = v < lo ? lo : v;
  }
}

#undef MR_FOR_EACH

// Launches an elementwise kernel over n elements (nothing when n <= 0).
template <class... P, class... Args>
void elementwise(void (*k)(P...), const char* name, int64_t n, Args... args) {
  if (n <= 0) return;
  LAUNCH(k, blocks_for(n), kBlock, 0, 0)(args...);
  check_launch(name);
}

}  // namespace

void acc_f64(double* acc, const float* x, int64_t n) { elementwise(acc_f64_k, "acc_f64_k", n, acc, x, n); }

void acc_diff_f64(double* acc, const float* a, const float* b, float s, int64_t n) {
  elementwise(acc_diff_f64_k, "acc_diff_f64_k", n, acc, a, b, s, n);
}

void acc_prod_f64(double* acc, const float* a, const float* b, float s, int64_t n) {
  elementwise(acc_prod_f64_k, "acc_prod_f64_k", n, acc, a, b, s, n);
}

void f64_to_f32(float* y, const double* acc, double s, int64_t n) {
  elementwise(f64_to_f32_k, "f64_to_f32_k", n, y, acc, s, n);
}

void metasgd_step(float* w, float* gsum, const float* g, const float* rate, int64_t n) {
  elementwise(metasgd_step_k, "metasgd_step_k", n, w, gsum, g, rate, n);
}

void clamp_min(float* x, int64_t n, float lo) { elementwise(clamp_min_k, "clamp_min_k", n, x, n, lo); }

}  // namespace mr::cuda
