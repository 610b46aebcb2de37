// Reference embedding: word + position + token type. Backward scatter-adds into the tables.
#include "kernels/ref/ref.h"

namespace mr::ref {

template <class T>
void embedding_fwd(T* out, const int32_t* ids, const int32_t* types, const T* wte, const T* wpe, const T* wtt,
                   int B, int T_, int C) {
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T_; ++t) {
      const int row = b * T_ + t, id = ids[row], ty = types ? types[row] : 0;
      for (int c = 0; c < C; ++c)
        out[size_t(row) * C + c] = T(double(wte[size_t(id) * C + c]) + double(wpe[size_t(t) * C + c]) +
                                     double(wtt[size_t(ty) * C + c]));
    }
}

template <class T>
void embedding_bwd(T* dwte, T* dwpe, T* dwtt, const T* dout, const int32_t* ids, const int32_t* types, int B,
                   int T_, int C) {
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T_; ++t) {
      const int row = b * T_ + t, id = ids[row], ty = types ? types[row] : 0;
      for (int c = 0; c < C; ++c) {
        const T g = dout[size_t(row) * C + c];
        if (dwte) dwte[size_t(id) * C + c] += g;
        if (dwpe) dwpe[size_t(t) * C + c] += g;
        if (dwtt) dwtt[size_t(ty) * C + c] += g;
      }
    }
}

MR_REF_INSTANTIATE(embedding_fwd)
MR_REF_INSTANTIATE(embedding_bwd)

}  // namespace mr::ref
