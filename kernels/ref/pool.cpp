// Reference pooling over the sequence: masked mean (sentence-transformers) and CLS (token 0).
#include <algorithm>

#include "kernels/ref/ref.h"

namespace mr::ref {

static double count_of(const int32_t* mask, int b, int T_) {
  double cnt = 0;
  for (int t = 0; t < T_; ++t) cnt += mask ? double(mask[b * T_ + t]) : 1.0;
  return std::max(cnt, 1e-9);
}

template <class T>
void mean_pool_fwd(T* out, const T* h, const int32_t* mask, int B, int T_, int C) {
  for (int b = 0; b < B; ++b) {
    const double cnt = count_of(mask, b, T_);
    for (int c = 0; c < C; ++c) {
      double acc = 0;
      for (int t = 0; t < T_; ++t) acc += (mask ? double(mask[b * T_ + t]) : 1.0) * double(h[(size_t(b) * T_ + t) * C + c]);
      out[size_t(b) * C + c] = T(acc / cnt);
    }
  }
}

template <class T>
void mean_pool_bwd(T* dh, const T* dout, const int32_t* mask, int B, int T_, int C, GradMode acc) {
  for (int b = 0; b < B; ++b) {
    const double cnt = count_of(mask, b, T_);
    for (int t = 0; t < T_; ++t)
      for (int c = 0; c < C; ++c)
        put(&dh[(size_t(b) * T_ + t) * C + c], (mask ? double(mask[b * T_ + t]) : 1.0) * double(dout[size_t(b) * C + c]) / cnt, acc);
  }
}

template <class T>
void cls_pool_fwd(T* out, const T* h, int B, int T_, int C) {
  for (int b = 0; b < B; ++b)
    for (int c = 0; c < C; ++c) out[size_t(b) * C + c] = h[size_t(b) * T_ * C + c];
}

template <class T>
void cls_pool_bwd(T* dh, const T* dout, int B, int T_, int C, GradMode acc) {
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T_; ++t)
      for (int c = 0; c < C; ++c) put(&dh[(size_t(b) * T_ + t) * C + c], t == 0 ? double(dout[size_t(b) * C + c]) : 0.0, acc);
}

MR_REF_INSTANTIATE(mean_pool_fwd)
MR_REF_INSTANTIATE(mean_pool_bwd)
MR_REF_INSTANTIATE(cls_pool_fwd)
MR_REF_INSTANTIATE(cls_pool_bwd)

}  // namespace mr::ref
