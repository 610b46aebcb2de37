// Reference dropout: keep element i iff philox_uniform(seed, offset + i) >= p, scale 1/(1-p).
#include "kernels/philox.h"
#include "kernels/ref/ref.h"

namespace mr::ref {

template <class T>
void dropout_fwd(T* out, const T* in, int64_t n, float p, uint64_t seed, uint64_t offset) {
  const double sc = 1.0 / (1.0 - double(p));
  for (int64_t i = 0; i < n; ++i) out[i] = dropout_keep(seed, offset + uint64_t(i), p) ? T(double(in[i]) * sc) : T(0);
}

template <class T>
void dropout_bwd(T* din, const T* dout, int64_t n, float p, uint64_t seed, uint64_t offset, GradMode acc) {
  const double sc = 1.0 / (1.0 - double(p));
  for (int64_t i = 0; i < n; ++i)
    put(&din[i], dropout_keep(seed, offset + uint64_t(i), p) ? double(dout[i]) * sc : 0.0, acc);
}

MR_REF_INSTANTIATE(dropout_fwd)
MR_REF_INSTANTIATE(dropout_bwd)

}  // namespace mr::ref
