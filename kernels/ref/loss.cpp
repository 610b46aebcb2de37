// Reference losses, all reduced by the mean as torch's defaults: softmax cross-entropy
// (ignore_index -100), BCE with logits, MSE.
#include <cmath>

#include "kernels/ref/ref.h"

namespace mr::ref {

// log-sum-exp of row x (V entries), in double
template <class T>
double row_lse(const T* x, int V) {
  double mx = -INFINITY;
  for (int v = 0; v < V; ++v) mx = std::max(mx, double(x[v]));
  double z = 0;
  for (int v = 0; v < V; ++v) z += std::exp(double(x[v]) - mx);
  return mx + std::log(z);
}

template <class T>
void xent_fwd(T* loss, T* lse, const T* logits, const int32_t* targets, int N, int V) {
  double total = 0;
  int count = 0;
  for (int n = 0; n < N; ++n) {
    const T* x = logits + size_t(n) * V;
    const double l = row_lse(x, V);
    lse[n] = T(l);
    if (targets[n] == -100) continue;
    total += l - double(x[targets[n]]);
    ++count;
  }
  *loss = T(count ? total / count : 0.0);
}

template <class T>
void xent_bwd(T* dlogits, const T* dloss, const T* logits, const T* lse, const int32_t* targets, int N, int V,
              GradMode acc) {
  int count = 0;
  for (int n = 0; n < N; ++n) count += targets[n] != -100;
  const double g = count ? double(*dloss) / count : 0.0;
  for (int n = 0; n < N; ++n)
    for (int v = 0; v < V; ++v) {
      const size_t i = size_t(n) * V + v;
      double d = 0;
      if (targets[n] != -100) d = g * (std::exp(double(logits[i]) - double(lse[n])) - (v == targets[n] ? 1.0 : 0.0));
      put(&dlogits[i], d, acc);
    }
}

template <class T>
void xent_w_fwd(T* loss, T* lse, const T* logits, const int32_t* targets, const T* w, int N, int V) {
  double total = 0;
  for (int n = 0; n < N; ++n) {
    const T* x = logits + size_t(n) * V;
    const double l = row_lse(x, V);
    lse[n] = T(l);
    if (targets[n] != -100) total += double(w[n]) * (l - double(x[targets[n]]));
  }
  *loss = T(total);
}

template <class T>
void xent_w_bwd(T* dlogits, const T* dloss, const T* logits, const T* lse, const int32_t* targets, const T* w, int N,
                int V, GradMode acc) {
  for (int n = 0; n < N; ++n)
    for (int v = 0; v < V; ++v) {
      const size_t i = size_t(n) * V + v;
      double d = 0;
      if (targets[n] != -100)
        d = double(*dloss) * double(w[n]) * (std::exp(double(logits[i]) - double(lse[n])) - (v == targets[n] ? 1.0 : 0.0));
      put(&dlogits[i], d, acc);
    }
}

template <class T>
void bce_fwd(T* loss, const T* x, const T* y, int64_t n) {
  double total = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double xi = double(x[i]);
    total += std::max(xi, 0.0) - xi * double(y[i]) + std::log1p(std::exp(-std::fabs(xi)));
  }
  *loss = T(n ? total / double(n) : 0.0);
}

template <class T>
void bce_bwd(T* dx, const T* dloss, const T* x, const T* y, int64_t n, GradMode acc) {
  for (int64_t i = 0; i < n; ++i) {
    const double sig = 1.0 / (1.0 + std::exp(-double(x[i])));
    put(&dx[i], double(*dloss) * (sig - double(y[i])) / double(n), acc);
  }
}

template <class T>
void mse_fwd(T* loss, const T* x, const T* y, int64_t n) {
  double total = 0;
  for (int64_t i = 0; i < n; ++i) total += (double(x[i]) - double(y[i])) * (double(x[i]) - double(y[i]));
  *loss = T(n ? total / double(n) : 0.0);
}

template <class T>
void mse_bwd(T* dx, const T* dloss, const T* x, const T* y, int64_t n, GradMode acc) {
  for (int64_t i = 0; i < n; ++i) put(&dx[i], double(*dloss) * 2.0 * (double(x[i]) - double(y[i])) / double(n), acc);
}

MR_REF_INSTANTIATE(xent_fwd)
MR_REF_INSTANTIATE(xent_bwd)
MR_REF_INSTANTIATE(xent_w_fwd)
MR_REF_INSTANTIATE(xent_w_bwd)
MR_REF_INSTANTIATE(bce_fwd)
MR_REF_INSTANTIATE(bce_bwd)
MR_REF_INSTANTIATE(mse_fwd)
MR_REF_INSTANTIATE(mse_bwd)

}  // namespace mr::ref
