// Reference row L2 normalisation (kernels/ops.def): y = s x / ||x|| per row, the norm and the
// backward's inner product summed in double; a zero row gives a zero row and no gradient.
#include <cmath>

#include "kernels/ref/ref.h"

namespace mr::ref {

template <class T>
void l2_rows_fwd(T* y, const T* x, int64_t N, int64_t C, float s) {
  for (int64_t i = 0; i < N; ++i) {
    const T* xi = x + i * C;
    double n2 = 0;
    for (int64_t c = 0; c < C; ++c) n2 += double(xi[c]) * double(xi[c]);
    const double k = n2 > 0 ? double(s) / std::sqrt(n2) : 0.0;
    for (int64_t c = 0; c < C; ++c) y[i * C + c] = T(double(xi[c]) * k);
  }
}

template <class T>
void l2_rows_bwd(T* dx, const T* dy, const T* x, int64_t N, int64_t C, float s, GradMode acc) {
  if (!dx) return;
  for (int64_t i = 0; i < N; ++i) {
    const T* xi = x + i * C;
    const T* gi = dy + i * C;
    double n2 = 0, dot = 0;
    for (int64_t c = 0; c < C; ++c) {
      n2 += double(xi[c]) * double(xi[c]);
      dot += double(xi[c]) * double(gi[c]);
    }
    const double inv = n2 > 0 ? 1.0 / std::sqrt(n2) : 0.0;
    const double k = double(s) * inv, proj = dot * inv * inv;  // <x_hat, dy> / ||x||
    for (int64_t c = 0; c < C; ++c) put(dx + i * C + c, k * (double(gi[c]) - double(xi[c]) * proj), acc);
  }
}

MR_REF_INSTANTIATE(l2_rows_fwd)
MR_REF_INSTANTIATE(l2_rows_bwd)

}  // namespace mr::ref
