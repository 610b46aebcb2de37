// Reference layernorm with a fused residual add: s = a + r, y = (s - mean) * rstd * gamma + beta.
// Statistics in double, two passes (mean, then the centred variance; biased, as torch).
#include <cmath>
#include <vector>

#include "kernels/ref/ref.h"

namespace mr::ref {

template <class T>
void layernorm_fwd(T* y, T* s, T* mean, T* rstd, const T* a, const T* r, const T* gamma, const T* beta, int N,
                   int C, float eps) {
  std::vector<double> x(C);
  for (int n = 0; n < N; ++n) {
    const size_t o = size_t(n) * C;
    for (int c = 0; c < C; ++c) {
      // The sum is rounded to T first: that rounded value is what gets saved and normalised.
      const T v = r ? T(double(a[o + c]) + double(r[o + c])) : a[o + c];
      if (r) s[o + c] = v;
      x[c] = double(v);
    }
    double m = 0;
    for (int c = 0; c < C; ++c) m += x[c];
    m /= C;
    double var = 0;
    for (int c = 0; c < C; ++c) var += (x[c] - m) * (x[c] - m);
    var /= C;
    const double rs = 1.0 / std::sqrt(var + double(eps));
    for (int c = 0; c < C; ++c) y[o + c] = T((x[c] - m) * rs * double(gamma[c]) + double(beta[c]));
    mean[n] = T(m);
    rstd[n] = T(rs);
  }
}

template <class T>
void layernorm_bwd(T* da, T* dr, T* dgamma, T* dbeta, const T* dy, const T* s, const T* mean, const T* rstd,
                   const T* gamma, int N, int C, GradMode acc_da, GradMode acc_dr) {
  for (int n = 0; n < N; ++n) {
    const size_t o = size_t(n) * C;
    const double m = double(mean[n]), rs = double(rstd[n]);
    // dxhat = dy * gamma; ds = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
    double sum_g = 0, sum_gx = 0;
    for (int c = 0; c < C; ++c) {
      const double xh = (double(s[o + c]) - m) * rs, g = double(dy[o + c]) * double(gamma[c]);
      sum_g += g;
      sum_gx += g * xh;
    }
    for (int c = 0; c < C; ++c) {
      const double xh = (double(s[o + c]) - m) * rs, g = double(dy[o + c]) * double(gamma[c]);
      const double ds = rs * (g - sum_g / C - xh * sum_gx / C);
      if (da) put(&da[o + c], ds, acc_da);
      if (dr) put(&dr[o + c], ds, acc_dr);
      if (dgamma) put(&dgamma[c], double(dy[o + c]) * xh, true);
      if (dbeta) put(&dbeta[c], double(dy[o + c]), true);
    }
  }
}

MR_REF_INSTANTIATE(layernorm_fwd)
MR_REF_INSTANTIATE(layernorm_bwd)

}  // namespace mr::ref
