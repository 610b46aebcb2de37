// Reference bias + activation: out = act(x + b). GELU is the exact erf form that
// HuggingFace's "gelu" uses: 0.5 * z * (1 + erf(z / sqrt(2))).
#include <cmath>

#include "kernels/ref/ref.h"

namespace mr::ref {

static double act_f(double z, Act a) {
  switch (a) {
    case Act::None: return z;
    case Act::Gelu: return 0.5 * z * (1.0 + std::erf(z / std::sqrt(2.0)));
    case Act::Tanh: return std::tanh(z);
  }
  return z;
}

static double act_df(double z, Act a) {
  switch (a) {
    case Act::None: return 1.0;
    case Act::Gelu: {
      const double cdf = 0.5 * (1.0 + std::erf(z / std::sqrt(2.0)));
      const double pdf = std::exp(-0.5 * z * z) / std::sqrt(2.0 * M_PI);
      return cdf + z * pdf;
    }
    case Act::Tanh: {
      const double t = std::tanh(z);
      return 1.0 - t * t;
    }
  }
  return 1.0;
}

template <class T>
void bias_act_fwd(T* out, const T* x, const T* b, int N, int C, Act act) {
  for (int n = 0; n < N; ++n)
    for (int c = 0; c < C; ++c)
      out[size_t(n) * C + c] = T(act_f(double(x[size_t(n) * C + c]) + (b ? double(b[c]) : 0.0), act));
}

template <class T>
void bias_act_bwd(T* dx, T* db, const T* dout, const T* x, const T* b, int N, int C, Act act, GradMode acc_dx) {
  for (int c = 0; c < C; ++c) {
    double sum = 0;
    for (int n = 0; n < N; ++n) {
      const size_t i = size_t(n) * C + c;
      const double g = double(dout[i]) * act_df(double(x[i]) + (b ? double(b[c]) : 0.0), act);
      if (dx) put(&dx[i], g, acc_dx);
      sum += g;
    }
    if (db) put(&db[c], sum, true);
  }
}

MR_REF_INSTANTIATE(bias_act_fwd)
MR_REF_INSTANTIATE(bias_act_bwd)

}  // namespace mr::ref
