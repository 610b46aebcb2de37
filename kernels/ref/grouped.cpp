// Reference grouped linear (kernels/ops.def glinear_*): group g's rows use w[g] (OUT, IN), b[g].
#include "kernels/ref/ref.h"

namespace mr::ref {

template <class T>
void glinear_fwd(T* out, const T* inp, const T* w, const T* b, const int32_t* offsets, int N, int G, int IN, int OUT) {
  for (int g = 0; g < G; ++g)
    for (int n = offsets[g]; n < offsets[g + 1]; ++n)
      for (int o = 0; o < OUT; ++o) {
        double acc = b ? double(b[size_t(g) * OUT + o]) : 0.0;
        for (int i = 0; i < IN; ++i) acc += double(inp[size_t(n) * IN + i]) * double(w[(size_t(g) * OUT + o) * IN + i]);
        out[size_t(n) * OUT + o] = T(acc);
      }
  (void)N;
}

template <class T>
void glinear_bwd(T* dinp, T* dw, T* db, const T* dout, const T* inp, const T* w, const int32_t* offsets, int N, int G,
                 int IN, int OUT, GradMode acc_dinp) {
  for (int g = 0; g < G; ++g) {
    const int n0 = offsets[g], n1 = offsets[g + 1];
    const T* wg = w + size_t(g) * OUT * IN;
    if (dinp)
      for (int n = n0; n < n1; ++n)
        for (int i = 0; i < IN; ++i) {
          double acc = 0;
          for (int o = 0; o < OUT; ++o) acc += double(dout[size_t(n) * OUT + o]) * double(wg[size_t(o) * IN + i]);
          put(&dinp[size_t(n) * IN + i], acc, acc_dinp);
        }
    if (dw)
      for (int o = 0; o < OUT; ++o)
        for (int i = 0; i < IN; ++i) {
          double acc = 0;
          for (int n = n0; n < n1; ++n) acc += double(dout[size_t(n) * OUT + o]) * double(inp[size_t(n) * IN + i]);
          put(&dw[(size_t(g) * OUT + o) * IN + i], acc, true);
        }
    if (db)
      for (int o = 0; o < OUT; ++o) {
        double acc = 0;
        for (int n = n0; n < n1; ++n) acc += double(dout[size_t(n) * OUT + o]);
        put(&db[size_t(g) * OUT + o], acc, true);
      }
  }
  (void)N;
}

MR_REF_INSTANTIATE(glinear_fwd)
MR_REF_INSTANTIATE(glinear_bwd)

}  // namespace mr::ref
