// CPU multi-head attention over fused qkv (B, T, 3C). One OpenMP task per (batch, head); the
// four products per head are sgemm calls on strided views (lda = 3C), so Q, K and V are never
// copied out. probs (B, H, T, T) keeps the softmax before dropout; backward regenerates the
// dropout mask from Philox instead of storing it.
#include <cblas.h>

#include <cmath>
#include <vector>

#include "kernels/cpu/cpu.h"
#include "kernels/philox.h"

namespace mr::cpu {

// The (T, T) probabilities of head (b, h) after dropout (or P itself when p == 0); keep gets
// the mask, drawn once per head with one Philox call per 4 elements.
static const float* dropped(const float* P, float* scratch, uint8_t* keep, int T, float p, uint64_t seed,
                            uint64_t base) {
  if (p <= 0.0f) return P;
  const float ks = 1.0f / (1.0f - p);
  dropout_mask(keep, seed, base, int64_t(T) * T, p);
  for (int k = 0; k < T * T; ++k) scratch[k] = keep[k] ? P[k] * ks : 0.0f;
  return scratch;
}

void attention_fwd(float* out, float* probs, const float* qkv, const int32_t* mask, int B, int T, int C, int H,
                   float p_drop, uint64_t seed, uint64_t offset) {
  const int D = C / H, ld = 3 * C;
  const float scale = 1.0f / std::sqrt(float(D));
#pragma omp parallel
  {
    std::vector<float> scratch(p_drop > 0 ? size_t(T) * T : 0);
    std::vector<uint8_t> keep(p_drop > 0 ? size_t(T) * T : 0);
#pragma omp for schedule(static) collapse(2)
    for (int b = 0; b < B; ++b)
      for (int h = 0; h < H; ++h) {
        const float* q = qkv + size_t(b) * T * ld + h * D;
        const float* k = q + C;
        const float* v = q + 2 * C;
        float* P = probs + (size_t(b) * H + h) * T * T;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, D, scale, q, ld, k, ld, 0.0f, P, T);
        const int32_t* mrow = mask ? mask + size_t(b) * T : nullptr;
        bool any = !mrow;
        if (mrow)
          for (int j = 0; j < T && !any; ++j) any = mrow[j] != 0;
        for (int i = 0; i < T; ++i) {
          float* row = P + size_t(i) * T;
          float mx = -INFINITY;
          for (int j = 0; j < T; ++j)
            if (!mrow || !any || mrow[j]) mx = std::max(mx, row[j]);
          float z = 0;
          for (int j = 0; j < T; ++j) {
            const float e = (!mrow || !any || mrow[j]) ? std::exp(row[j] - mx) : 0.0f;
            row[j] = e;
            z += e;
          }
          const float iz = 1.0f / z;
          for (int j = 0; j < T; ++j) row[j] *= iz;
        }
        const float* Pd = dropped(P, scratch.data(), keep.data(), T, p_drop, seed, offset + (size_t(b) * H + h) * T * T);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, D, T, 1.0f, Pd, T, v, ld, 0.0f,
                    out + size_t(b) * T * C + h * D, C);
      }
  }
}

void attention_bwd(float* dqkv, const float* dout, const float* qkv, const float* probs, const int32_t* mask, int B,
                   int T, int C, int H, float p_drop, uint64_t seed, uint64_t offset, bool acc) {
  const int D = C / H, ld = 3 * C;
  const float scale = 1.0f / std::sqrt(float(D));
  const float ks = p_drop > 0 ? 1.0f / (1.0f - p_drop) : 1.0f;
  const float beta = acc ? 1.0f : 0.0f;
#pragma omp parallel
  {
    std::vector<float> dP(size_t(T) * T), scratch(p_drop > 0 ? size_t(T) * T : 0);
    std::vector<uint8_t> keep(p_drop > 0 ? size_t(T) * T : 0);
#pragma omp for schedule(static) collapse(2)
    for (int b = 0; b < B; ++b)
      for (int h = 0; h < H; ++h) {
        const float* q = qkv + size_t(b) * T * ld + h * D;
        const float* k = q + C;
        const float* v = q + 2 * C;
        float* dq = dqkv + size_t(b) * T * ld + h * D;
        float* dk = dq + C;
        float* dv = dq + 2 * C;
        const float* go = dout + size_t(b) * T * C + h * D;
        const float* P = probs + (size_t(b) * H + h) * T * T;
        const uint64_t base = offset + (size_t(b) * H + h) * T * T;
        const float* Pd = dropped(P, scratch.data(), keep.data(), T, p_drop, seed, base);
        // dV = P'^T dO ; dP' = dO V^T
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, D, T, 1.0f, Pd, T, go, C, beta, dv, ld);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, D, 1.0f, go, C, v, ld, 0.0f, dP.data(), T);
        // through dropout and softmax: dS = P * (dP - sum_j dP_j P_j), times the score scale
        for (int i = 0; i < T; ++i) {
          float* g = dP.data() + size_t(i) * T;
          const float* p = P + size_t(i) * T;
          if (p_drop > 0)
            for (int j = 0; j < T; ++j) g[j] = keep[size_t(i) * T + j] ? g[j] * ks : 0.0f;
          float dot = 0;
          for (int j = 0; j < T; ++j) dot += g[j] * p[j];
          for (int j = 0; j < T; ++j) g[j] = p[j] * (g[j] - dot) * scale;
        }
        // dQ = dS K ; dK = dS^T Q
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, D, T, 1.0f, dP.data(), T, k, ld, beta, dq, ld);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, D, T, 1.0f, dP.data(), T, q, ld, beta, dk, ld);
      }
  }
  (void)mask;  // masked keys have probability 0: their dS is 0 without looking at the mask
}

}  // namespace mr::cpu
