// CPU optimizers over a flat segment. AdamW follows torch.optim.AdamW's single-tensor code
// path operation by operation in fp32 (scalars computed in double, as Python does), so the
// result matches PyTorch to rounding.
#include <cmath>

#include "kernels/cpu/cpu.h"

namespace mr::cpu {

void adamw(float* p, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2, float eps,
           float weight_decay, int t) {
  const float decay = float(1.0 - double(lr) * double(weight_decay));
  const double bc1 = 1.0 - std::pow(double(beta1), t), bc2 = 1.0 - std::pow(double(beta2), t);
  const float step_size = float(double(lr) / bc1), bc2_sqrt = float(std::sqrt(bc2));
  const float b1 = beta1, omb1 = float(1.0 - double(beta1)), b2 = beta2, omb2 = float(1.0 - double(beta2));
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float gi = g[i];
    const float pi = p[i] * decay;
    const float mi = m[i] * b1 + gi * omb1;
    const float vi = v[i] * b2 + omb2 * gi * gi;
    const float denom = std::sqrt(vi) / bc2_sqrt + eps;
    p[i] = pi - step_size * (mi / denom);
    m[i] = mi;
    v[i] = vi;
  }
}

void sgd(float* p, const float* g, float* buf, int64_t n, float lr, float momentum, float weight_decay,
         bool first_step) {
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    float d = g[i] + weight_decay * p[i];
    if (momentum != 0.0f) {
      d = first_step ? d : momentum * buf[i] + d;
      buf[i] = d;
    }
    p[i] -= lr * d;
  }
}

double sumsq(const float* x, int64_t n) {
  double s = 0;
#pragma omp parallel for simd schedule(static) reduction(+ : s)
  for (int64_t i = 0; i < n; ++i) s += double(x[i]) * double(x[i]);
  return s;
}

void axpy(float* y, const float* x, float a, int64_t n, GradMode acc) {
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) y[i] = acc ? y[i] + a * x[i] : a * x[i];
}

void scale(float* x, int64_t n, float s) {
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) x[i] *= s;
}

}  // namespace mr::cpu
