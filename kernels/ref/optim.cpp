// Reference optimizers, written as the formulas in torch.optim's documentation, in double.
#include <cmath>

#include "kernels/ref/ref.h"

namespace mr::ref {

void adamw(float* p, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2, float eps,
           float weight_decay, int t) {
  const double bc1 = 1.0 - std::pow(double(beta1), t), bc2 = 1.0 - std::pow(double(beta2), t);
  for (int64_t i = 0; i < n; ++i) {
    double pi = double(p[i]) * (1.0 - double(lr) * double(weight_decay));
    const double mi = double(beta1) * double(m[i]) + (1.0 - double(beta1)) * double(g[i]);
    const double vi = double(beta2) * double(v[i]) + (1.0 - double(beta2)) * double(g[i]) * double(g[i]);
    pi -= double(lr) * (mi / bc1) / (std::sqrt(vi / bc2) + double(eps));
    p[i] = float(pi);
    m[i] = float(mi);
    v[i] = float(vi);
  }
}

void sgd(float* p, const float* g, float* buf, int64_t n, float lr, float momentum, float weight_decay,
         bool first_step) {
  for (int64_t i = 0; i < n; ++i) {
    double d = double(g[i]) + double(weight_decay) * double(p[i]);
    if (momentum != 0.0f) {
      d = first_step ? d : double(momentum) * double(buf[i]) + d;
      buf[i] = float(d);
    }
    p[i] = float(double(p[i]) - double(lr) * d);
  }
}

double sumsq(const float* x, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += double(x[i]) * double(x[i]);
  return s;
}

void axpy(float* y, const float* x, float a, int64_t n, GradMode acc) {
  for (int64_t i = 0; i < n; ++i) y[i] = float((acc ? double(y[i]) : 0.0) + double(a) * double(x[i]));
}

void scale(float* x, int64_t n, float s) {
  for (int64_t i = 0; i < n; ++i) x[i] = float(double(x[i]) * double(s));
}

}  // namespace mr::ref
