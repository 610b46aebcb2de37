// Reference meta-learning ops over flat buffers (kernels/ops.def, engine/meta): the formulas of
// the op list as written there. The float differences and products the op list states are
// computed in float (they are the op's definition); everything else in double.
#include "kernels/ref/ref.h"

namespace mr::ref {

void acc_f64(double* acc, const float* x, int64_t n) {
  for (int64_t j = 0; j < n; ++j) acc[j] = acc[j] + double(x[j]);
}

void acc_diff_f64(double* acc, const float* a, const float* b, float s, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    const float d = a[j] - b[j];
    const float v = d * s;
    acc[j] = acc[j] + double(v);
  }
}

void acc_prod_f64(double* acc, const float* a, const float* b, float s, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    const float p = a[j] * b[j];
    const float v = s * p;
    acc[j] = acc[j] + double(v);
  }
}

void f64_to_f32(float* y, const double* acc, double s, int64_t n) {
  for (int64_t j = 0; j < n; ++j) y[j] = float(acc[j] * s);
}

void metasgd_step(float* w, float* gsum, const float* g, const float* rate, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    w[j] = float(double(w[j]) - double(rate[j]) * double(g[j]));
    gsum[j] = float(double(gsum[j]) + double(g[j]));
  }
}

void clamp_min(float* x, int64_t n, float lo) {
  for (int64_t j = 0; j < n; ++j)
    if (x[j] < lo) x[j] = lo;
}

}  // namespace mr::ref
