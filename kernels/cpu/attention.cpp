// CPU multi-head attention over fused qkv (B, T, 3C). One OpenMP task per (batch, head); inside
// it, query rows go in blocks of kRows, and every product is an sgemm on strided views
// (lda = 3C), so Q, K and V are never copied out. Forward saves only lse (B, H, T); backward
// recomputes each block's scores with one more sgemm and P = exp(S - lse), and regenerates the
// dropout mask from Philox. Scratch is a few (kRows, T) blocks per thread, never (T, T).
// The optional bias (H, T, T) is added to each block of scaled scores; its gradient dbias
// (+=) is summed over the batch by one thread per head, sequences in order (deterministic):
// with dbias the parallel loop runs over heads only.
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/cpu.h"
#include "kernels/philox.h"

namespace mr::cpu {

namespace {

constexpr int kRows = 64;  // query rows per block

// Whether key j of a sequence counts: a sequence without any real token attends to all keys.
struct Keys {
  const int32_t* m;  // mask row of the sequence, or null
  bool any;
  explicit Keys(const int32_t* mrow, int T) : m(mrow), any(!mrow) {
    if (m)
      for (int j = 0; j < T && !any; ++j) any = m[j] != 0;
  }
  bool ok(int j) const { return !m || !any || m[j]; }
};

// The dropout mask of rows [i0, i0 + n) of head (b, h): keep[(i - i0) * T + j].
void block_mask(std::vector<uint8_t>& keep, int n, int T, float p, uint64_t seed, uint64_t head_base, int i0) {
  dropout_mask(keep.data(), seed, head_base + uint64_t(i0) * T, int64_t(n) * T, p);
}

}  // namespace

void attention_fwd(float* out, float* lse, const float* qkv, const int32_t* mask, const float* bias, int B, int T,
                   int C, int H, float p_drop, uint64_t seed, uint64_t offset) {
  const int D = C / H, ld = 3 * C, R = std::min(T, kRows);
  const float scale = 1.0f / std::sqrt(float(D));
  const float ks = p_drop > 0 ? 1.0f / (1.0f - p_drop) : 1.0f;
#pragma omp parallel
  {
    std::vector<float> S(size_t(R) * T);
    std::vector<uint8_t> keep(p_drop > 0 ? size_t(R) * T : 0);
#pragma omp for schedule(static) collapse(2)
    for (int b = 0; b < B; ++b)
      for (int h = 0; h < H; ++h) {
        const float* q = qkv + size_t(b) * T * ld + h * D;
        const float* k = q + C;
        const float* v = q + 2 * C;
        const Keys keys(mask ? mask + size_t(b) * T : nullptr, T);
        const uint64_t head_base = offset + (size_t(b) * H + h) * T * T;
        for (int i0 = 0; i0 < T; i0 += kRows) {
          const int n = std::min(kRows, T - i0);
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, T, D, scale, q + size_t(i0) * ld, ld, k, ld, 0.0f,
                      S.data(), T);
          if (p_drop > 0) block_mask(keep, n, T, p_drop, seed, head_base, i0);
          for (int r = 0; r < n; ++r) {
            float* row = S.data() + size_t(r) * T;
            if (bias) {
              const float* br = bias + (size_t(h) * T + i0 + r) * T;
              for (int j = 0; j < T; ++j) row[j] += br[j];
            }
            float mx = -INFINITY;
            for (int j = 0; j < T; ++j)
              if (keys.ok(j)) mx = std::max(mx, row[j]);
            float z = 0;
            for (int j = 0; j < T; ++j) {
              const float e = keys.ok(j) ? std::exp(row[j] - mx) : 0.0f;
              row[j] = e;
              z += e;
            }
            lse[(size_t(b) * H + h) * T + i0 + r] = mx + std::log(z);
            const float iz = 1.0f / z;
            if (p_drop > 0) {
              const uint8_t* kp = keep.data() + size_t(r) * T;
              for (int j = 0; j < T; ++j) row[j] = kp[j] ? row[j] * iz * ks : 0.0f;
            } else {
              for (int j = 0; j < T; ++j) row[j] *= iz;
            }
          }
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, D, T, 1.0f, S.data(), T, v, ld, 0.0f,
                      out + (size_t(b) * T + i0) * C + h * D, C);
        }
      }
  }
}

void attention_bwd(float* dqkv, float* dbias, const float* dout, const float* qkv, const float* out, const float* lse,
                   const int32_t* mask, const float* bias, int B, int T, int C, int H, float p_drop, uint64_t seed,
                   uint64_t offset, GradMode acc) {
  (void)out;  // the row sums dP_ij P_ij are taken over the recomputed P
  if (!dqkv && !dbias) return;
  const int D = C / H, ld = 3 * C, R = std::min(T, kRows);
  const float scale = 1.0f / std::sqrt(float(D));
  const float ks = p_drop > 0 ? 1.0f / (1.0f - p_drop) : 1.0f;
#pragma omp parallel
  {
    std::vector<float> P(size_t(R) * T), dP(size_t(R) * T), Pd(p_drop > 0 ? size_t(R) * T : 0);
    std::vector<uint8_t> keep(p_drop > 0 ? size_t(R) * T : 0);
    auto head = [&](int b, int h) {
      const float* q = qkv + size_t(b) * T * ld + h * D;
      const float* k = q + C;
      const float* v = q + 2 * C;
      float* dq = dqkv ? dqkv + size_t(b) * T * ld + h * D : nullptr;
      float* dk = dq ? dq + C : nullptr;
      float* dv = dq ? dq + 2 * C : nullptr;
      const float* go = dout + size_t(b) * T * C + h * D;
      const float* l = lse + (size_t(b) * H + h) * T;
      const Keys keys(mask ? mask + size_t(b) * T : nullptr, T);
      const uint64_t head_base = offset + (size_t(b) * H + h) * T * T;
      for (int i0 = 0; i0 < T; i0 += kRows) {
        const int n = std::min(kRows, T - i0);
        const float beta_q = acc ? 1.0f : 0.0f, beta_kv = (acc || i0 > 0) ? 1.0f : 0.0f;
        // P = exp(Q K^T / sqrt(D) - lse) over the unmasked keys
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, T, D, scale, q + size_t(i0) * ld, ld, k, ld, 0.0f,
                    P.data(), T);
        for (int r = 0; r < n; ++r) {
          float* row = P.data() + size_t(r) * T;
          const float li = l[i0 + r];
          if (bias) {
            const float* br = bias + (size_t(h) * T + i0 + r) * T;
            for (int j = 0; j < T; ++j) row[j] = keys.ok(j) ? std::exp((row[j] + br[j]) - li) : 0.0f;
          } else {
            for (int j = 0; j < T; ++j) row[j] = keys.ok(j) ? std::exp(row[j] - li) : 0.0f;
          }
        }
        const float* Pv = P.data();  // the probabilities after dropout
        if (p_drop > 0) {
          block_mask(keep, n, T, p_drop, seed, head_base, i0);
          for (size_t e = 0; e < size_t(n) * T; ++e) Pd[e] = keep[e] ? P[e] * ks : 0.0f;
          Pv = Pd.data();
        }
        // dV += P'^T dO ; dP' = dO V^T
        if (dv)
          cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, D, n, 1.0f, Pv, T, go + size_t(i0) * C, C,
                      beta_kv, dv, ld);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, T, D, 1.0f, go + size_t(i0) * C, C, v, ld, 0.0f,
                    dP.data(), T);
        // through dropout and softmax: dS = P * (dP - sum_j dP_j P_j), times the score scale
        for (int r = 0; r < n; ++r) {
          float* g = dP.data() + size_t(r) * T;
          const float* p = P.data() + size_t(r) * T;
          if (p_drop > 0)
            for (int j = 0; j < T; ++j) g[j] = keep[size_t(r) * T + j] ? g[j] * ks : 0.0f;
          float dot = 0;
          for (int j = 0; j < T; ++j) dot += g[j] * p[j];
          if (dbias) {  // the gradient of the biased score, before the scale
            float* db = dbias + (size_t(h) * T + i0 + r) * T;
            for (int j = 0; j < T; ++j) {
              const float u = p[j] * (g[j] - dot);
              db[j] += u;
              g[j] = u * scale;
            }
          } else {
            for (int j = 0; j < T; ++j) g[j] = p[j] * (g[j] - dot) * scale;
          }
        }
        if (!dq) continue;
        // dQ = dS K ; dK += dS^T Q
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, D, T, 1.0f, dP.data(), T, k, ld, beta_q,
                    dq + size_t(i0) * ld, ld);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, D, n, 1.0f, dP.data(), T, q + size_t(i0) * ld, ld,
                    beta_kv, dk, ld);
      }
    };
    if (!dbias) {
#pragma omp for schedule(static) collapse(2)
      for (int b = 0; b < B; ++b)
        for (int h = 0; h < H; ++h) head(b, h);
    } else {  // dbias[h] is written by one thread, the sequences in order
#pragma omp for schedule(static)
      for (int h = 0; h < H; ++h)
        for (int b = 0; b < B; ++b) head(b, h);
    }
  }
}

}  // namespace mr::cpu
