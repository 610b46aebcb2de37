// Reference multi-head self-attention over a fused qkv projection (see kernel_table.h).
// Masking: keys with mask 0 get probability exactly 0 (HF adds finfo.min, which underflows to
// the same 0 after exp). A row whose keys are all masked attends uniformly over all keys,
// which is what HF's finfo.min addition produces in fp32.
#include <cmath>
#include <vector>

#include "kernels/philox.h"
#include "kernels/ref/ref.h"

namespace mr::ref {

template <class T>
void attention_fwd(T* out, T* probs, const T* qkv, const int32_t* mask, int B, int T_, int C, int H, float p_drop,
                   uint64_t seed, uint64_t offset) {
  const int D = C / H;
  const double scale = 1.0 / std::sqrt(double(D));
  const double keep_scale = p_drop > 0 ? 1.0 / (1.0 - double(p_drop)) : 1.0;
  std::vector<double> sc(T_);
  for (int b = 0; b < B; ++b) {
    int valid = 0;
    for (int j = 0; j < T_; ++j) valid += (!mask || mask[b * T_ + j]) ? 1 : 0;
    for (int h = 0; h < H; ++h)
      for (int i = 0; i < T_; ++i) {
        const T* q = qkv + (size_t(b) * T_ + i) * 3 * C + h * D;
        double mx = -INFINITY;
        for (int j = 0; j < T_; ++j) {
          const bool ok = valid == 0 || !mask || mask[b * T_ + j];
          if (!ok) { sc[j] = -INFINITY; continue; }
          const T* k = qkv + (size_t(b) * T_ + j) * 3 * C + C + h * D;
          double dot = 0;
          for (int d = 0; d < D; ++d) dot += double(q[d]) * double(k[d]);
          sc[j] = dot * scale;
          mx = std::max(mx, sc[j]);
        }
        double z = 0;
        for (int j = 0; j < T_; ++j) z += sc[j] == -INFINITY ? 0.0 : std::exp(sc[j] - mx);
        T* prow = probs + ((size_t(b) * H + h) * T_ + i) * T_;
        for (int j = 0; j < T_; ++j) prow[j] = T(sc[j] == -INFINITY ? 0.0 : std::exp(sc[j] - mx) / z);
        T* o = out + (size_t(b) * T_ + i) * C + h * D;
        for (int d = 0; d < D; ++d) {
          double acc = 0;
          for (int j = 0; j < T_; ++j) {
            double pj = double(prow[j]);
            if (p_drop > 0) {
              const uint64_t idx = offset + ((size_t(b) * H + h) * T_ + i) * T_ + j;
              pj = dropout_keep(seed, idx, p_drop) ? pj * keep_scale : 0.0;
            }
            acc += pj * double(qkv[(size_t(b) * T_ + j) * 3 * C + 2 * C + h * D + d]);
          }
          o[d] = T(acc);
        }
      }
  }
}

template <class T>
void attention_bwd(T* dqkv, const T* dout, const T* qkv, const T* probs, const int32_t* mask, int B, int T_, int C,
                   int H, float p_drop, uint64_t seed, uint64_t offset, bool acc) {
  (void)mask;  // masked keys have probability 0, so their gradients come out 0 by themselves
  const int D = C / H;
  const double scale = 1.0 / std::sqrt(double(D));
  const double keep_scale = p_drop > 0 ? 1.0 / (1.0 - double(p_drop)) : 1.0;
  std::vector<double> g(size_t(B) * T_ * 3 * C, 0.0);
  std::vector<double> dp(T_), keep(T_);
  auto at = [&](int b, int t, int part, int h, int d) { return (size_t(b) * T_ + t) * 3 * C + part * C + h * D + d; };
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h)
      for (int i = 0; i < T_; ++i) {
        const T* prow = probs + ((size_t(b) * H + h) * T_ + i) * T_;
        const T* go = dout + (size_t(b) * T_ + i) * C + h * D;
        for (int j = 0; j < T_; ++j) {
          keep[j] = 1.0;
          if (p_drop > 0) {
            const uint64_t idx = offset + ((size_t(b) * H + h) * T_ + i) * T_ + j;
            keep[j] = dropout_keep(seed, idx, p_drop) ? keep_scale : 0.0;
          }
          // out_i = sum_j P'_ij v_j  ->  dV_j += P'_ij dout_i ; dP'_ij = dout_i . v_j
          double s = 0;
          for (int d = 0; d < D; ++d) {
            s += double(go[d]) * double(qkv[at(b, j, 2, h, d)]);
            g[at(b, j, 2, h, d)] += double(prow[j]) * keep[j] * double(go[d]);
          }
          dp[j] = s * keep[j];  // gradient wrt the probability before dropout
        }
        double dot = 0;
        for (int j = 0; j < T_; ++j) dot += dp[j] * double(prow[j]);
        for (int j = 0; j < T_; ++j) {
          const double ds = double(prow[j]) * (dp[j] - dot) * scale;  // softmax backward, then the scale
          if (ds == 0.0) continue;
          for (int d = 0; d < D; ++d) {
            g[at(b, i, 0, h, d)] += ds * double(qkv[at(b, j, 1, h, d)]);
            g[at(b, j, 1, h, d)] += ds * double(qkv[at(b, i, 0, h, d)]);
          }
        }
      }
  for (size_t k = 0; k < g.size(); ++k) put(&dqkv[k], g[k], acc);
}

MR_REF_INSTANTIATE(attention_fwd)
MR_REF_INSTANTIATE(attention_bwd)

}  // namespace mr::ref
