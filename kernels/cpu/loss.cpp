// CPU losses (mean reduction): softmax cross-entropy with ignore_index -100, BCE with logits, MSE.
#include <cmath>

#include "kernels/cpu/cpu.h"

namespace mr::cpu {

// log-sum-exp of row x (V entries): fp32 max, the sum of exponentials in double
static double row_lse(const float* x, int V) {
  float mx = -INFINITY;
  for (int v = 0; v < V; ++v) mx = std::max(mx, x[v]);
  double z = 0;
  for (int v = 0; v < V; ++v) z += std::exp(double(x[v] - mx));
  return double(mx) + std::log(z);
}

void xent_fwd(float* loss, float* lse, const float* logits, const int32_t* targets, int N, int V) {
  double total = 0;
  int count = 0;
#pragma omp parallel for schedule(static) reduction(+ : total, count)
  for (int n = 0; n < N; ++n) {
    const float* x = logits + size_t(n) * V;
    const double l = row_lse(x, V);
    lse[n] = float(l);
    if (targets[n] != -100) {
      total += l - double(x[targets[n]]);
      ++count;
    }
  }
  *loss = float(count ? total / count : 0.0);
}

void xent_bwd(float* dlogits, const float* dloss, const float* logits, const float* lse, const int32_t* targets, int N,
              int V, GradMode acc) {
  int count = 0;
  for (int n = 0; n < N; ++n) count += targets[n] != -100;
  const float g = count ? *dloss / float(count) : 0.0f;
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; ++n) {
    const float* x = logits + size_t(n) * V;
    float* d = dlogits + size_t(n) * V;
    const bool skip = targets[n] == -100;
    for (int v = 0; v < V; ++v) {
      const float gv = skip ? 0.0f : g * (std::exp(x[v] - lse[n]) - (v == targets[n] ? 1.0f : 0.0f));
      d[v] = acc ? d[v] + gv : gv;
    }
  }
}

void xent_w_fwd(float* loss, float* lse, const float* logits, const int32_t* targets, const float* w, int N, int V) {
  double total = 0;
#pragma omp parallel for schedule(static) reduction(+ : total)
  for (int n = 0; n < N; ++n) {
    const float* x = logits + size_t(n) * V;
    const double l = row_lse(x, V);
    lse[n] = float(l);
    if (targets[n] != -100) total += double(w[n]) * (l - double(x[targets[n]]));
  }
  *loss = float(total);
}

void xent_w_bwd(float* dlogits, const float* dloss, const float* logits, const float* lse, const int32_t* targets,
                const float* w, int N, int V, GradMode acc) {
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; ++n) {
    const float* x = logits + size_t(n) * V;
    float* d = dlogits + size_t(n) * V;
    const bool skip = targets[n] == -100;
    const float g = skip ? 0.0f : *dloss * w[n];
    for (int v = 0; v < V; ++v) {
      const float gv = skip ? 0.0f : g * (std::exp(x[v] - lse[n]) - (v == targets[n] ? 1.0f : 0.0f));
      d[v] = acc ? d[v] + gv : gv;
    }
  }
}

void bce_fwd(float* loss, const float* x, const float* y, int64_t n) {
  double total = 0;
#pragma omp parallel for schedule(static) reduction(+ : total)
  for (int64_t i = 0; i < n; ++i) total += std::max(x[i], 0.0f) - x[i] * y[i] + std::log1p(std::exp(-std::fabs(x[i])));
  *loss = float(n ? total / double(n) : 0.0);
}

void bce_bwd(float* dx, const float* dloss, const float* x, const float* y, int64_t n, GradMode acc) {
  const float g = *dloss / float(n);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float d = g * (1.0f / (1.0f + std::exp(-x[i])) - y[i]);
    dx[i] = acc ? dx[i] + d : d;
  }
}

void mse_fwd(float* loss, const float* x, const float* y, int64_t n) {
  double total = 0;
#pragma omp parallel for schedule(static) reduction(+ : total)
  for (int64_t i = 0; i < n; ++i) total += double(x[i] - y[i]) * double(x[i] - y[i]);
  *loss = float(n ? total / double(n) : 0.0);
}

void mse_bwd(float* dx, const float* dloss, const float* x, const float* y, int64_t n, GradMode acc) {
  const float g = 2.0f * *dloss / float(n);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float d = g * (x[i] - y[i]);
    dx[i] = acc ? dx[i] + d : d;
  }
}

}  // namespace mr::cpu
