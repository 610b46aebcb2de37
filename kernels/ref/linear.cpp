// Reference linear layer: out = inp @ w^T + b, w is (OUT, IN) as in torch.nn.Linear.
#include "kernels/ref/ref.h"

namespace mr::ref {

template <class T>
void linear_fwd(T* out, const T* inp, const T* w, const T* b, int N, int IN, int OUT) {
  for (int n = 0; n < N; ++n)
    for (int o = 0; o < OUT; ++o) {
      double acc = b ? double(b[o]) : 0.0;
      for (int i = 0; i < IN; ++i) acc += double(inp[size_t(n) * IN + i]) * double(w[size_t(o) * IN + i]);
      out[size_t(n) * OUT + o] = T(acc);
    }
}

template <class T>
void linear_bwd(T* dinp, T* dw, T* db, const T* dout, const T* inp, const T* w, int N, int IN, int OUT,
                GradMode acc_dinp) {
  if (dinp)
    for (int n = 0; n < N; ++n)
      for (int i = 0; i < IN; ++i) {
        double acc = 0;
        for (int o = 0; o < OUT; ++o) acc += double(dout[size_t(n) * OUT + o]) * double(w[size_t(o) * IN + i]);
        put(&dinp[size_t(n) * IN + i], acc, acc_dinp);
      }
  if (dw)
    for (int o = 0; o < OUT; ++o)
      for (int i = 0; i < IN; ++i) {
        double acc = 0;
        for (int n = 0; n < N; ++n) acc += double(dout[size_t(n) * OUT + o]) * double(inp[size_t(n) * IN + i]);
        put(&dw[size_t(o) * IN + i], acc, true);
      }
  if (db)
    for (int o = 0; o < OUT; ++o) {
      double acc = 0;
      for (int n = 0; n < N; ++n) acc += double(dout[size_t(n) * OUT + o]);
      put(&db[o], acc, true);
    }
}

MR_REF_INSTANTIATE(linear_fwd)
MR_REF_INSTANTIATE(linear_bwd)

}  // namespace mr::ref
