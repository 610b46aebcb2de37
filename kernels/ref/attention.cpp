// Reference multi-head self-attention over a fused qkv projection (see kernel_table.h).
// Masking: keys with mask 0 get probability exactly 0 (HF adds finfo.min, which underflows to
// the same 0 after exp). A row whose keys are all masked attends uniformly over all keys,
// which is what HF's finfo.min addition produces in fp32.
// Forward saves lse(B, H, T), the log-sum-exp of each row's scaled, unmasked scores; backward
// recomputes every score and P_ij = exp(S_ij - lse_i) from Q, K, the bias and lse. The
// reference sums dP_ij P_ij over the keys itself and does not read the saved out.
// The additive bias (H, T, T) enters each unmasked score after the 1/sqrt(D) scale; its
// gradient dbias[h, i, j] += sum_b P_ij (dP_ij - sum_k dP_ik P_ik) (the score gradient before
// the scale), accumulated in double over the batch and added once.
#include <cmath>
#include <vector>

#include "kernels/philox.h"
#include "kernels/ref/ref.h"

namespace mr::ref {

namespace {

// Scaled (and biased) scores of query row i of head h in sequence b, -inf for masked keys.
template <class T>
void scores(std::vector<double>& sc, const T* qkv, const int32_t* mask, const T* bias, int b, int h, int i, int T_,
            int C, int D, int valid) {
  const double scale = 1.0 / std::sqrt(double(D));
  const T* q = qkv + (size_t(b) * T_ + i) * 3 * C + h * D;
  for (int j = 0; j < T_; ++j) {
    const bool ok = valid == 0 || !mask || mask[b * T_ + j];
    if (!ok) { sc[j] = -INFINITY; continue; }
    const T* k = qkv + (size_t(b) * T_ + j) * 3 * C + C + h * D;
    double dot = 0;
    for (int d = 0; d < D; ++d) dot += double(q[d]) * double(k[d]);
    sc[j] = dot * scale + (bias ? double(bias[(size_t(h) * T_ + i) * T_ + j]) : 0.0);
  }
}

int valid_keys(const int32_t* mask, int b, int T_) {
  int valid = 0;
  for (int j = 0; j < T_; ++j) valid += (!mask || mask[b * T_ + j]) ? 1 : 0;
  return valid;
}

// The dropout factor of element (b, h, i, j): 0 or 1/(1-p) (1 without dropout).
double keep_factor(uint64_t seed, uint64_t offset, float p_drop, int b, int h, int i, int j, int H, int T_) {
  if (p_drop <= 0) return 1.0;
  const uint64_t idx = offset + ((size_t(b) * H + h) * T_ + i) * T_ + j;
  return dropout_keep(seed, idx, p_drop) ? 1.0 / (1.0 - double(p_drop)) : 0.0;
}

}  // namespace

template <class T>
void attention_fwd(T* out, T* lse, const T* qkv, const int32_t* mask, const T* bias, int B, int T_, int C, int H,
                   float p_drop, uint64_t seed, uint64_t offset) {
  const int D = C / H;
  std::vector<double> sc(T_), pr(T_);
  for (int b = 0; b < B; ++b) {
    const int valid = valid_keys(mask, b, T_);
    for (int h = 0; h < H; ++h)
      for (int i = 0; i < T_; ++i) {
        scores(sc, qkv, mask, bias, b, h, i, T_, C, D, valid);
        double mx = -INFINITY;
        for (int j = 0; j < T_; ++j) mx = std::max(mx, sc[j]);
        double z = 0;
        for (int j = 0; j < T_; ++j) z += sc[j] == -INFINITY ? 0.0 : std::exp(sc[j] - mx);
        lse[(size_t(b) * H + h) * T_ + i] = T(mx + std::log(z));
        for (int j = 0; j < T_; ++j)
          pr[j] = (sc[j] == -INFINITY ? 0.0 : std::exp(sc[j] - mx) / z) *
                  keep_factor(seed, offset, p_drop, b, h, i, j, H, T_);
        T* o = out + (size_t(b) * T_ + i) * C + h * D;
        for (int d = 0; d < D; ++d) {
          double acc = 0;
          for (int j = 0; j < T_; ++j) acc += pr[j] * double(qkv[(size_t(b) * T_ + j) * 3 * C + 2 * C + h * D + d]);
          o[d] = T(acc);
        }
      }
  }
}

template <class T>
void attention_bwd(T* dqkv, T* dbias, const T* dout, const T* qkv, const T* out, const T* lse, const int32_t* mask,
                   const T* bias, int B, int T_, int C, int H, float p_drop, uint64_t seed, uint64_t offset,
                   GradMode acc) {
  (void)out;  // the reference sums dP_ij P_ij over the keys instead
  const int D = C / H;
  const double scale = 1.0 / std::sqrt(double(D));
  std::vector<double> g(size_t(B) * T_ * 3 * C, 0.0), gb(dbias ? size_t(H) * T_ * T_ : 0, 0.0);
  std::vector<double> sc(T_), pr(T_), dp(T_), keep(T_);
  auto at = [&](int b, int t, int part, int h, int d) { return (size_t(b) * T_ + t) * 3 * C + part * C + h * D + d; };
  for (int b = 0; b < B; ++b) {
    const int valid = valid_keys(mask, b, T_);
    for (int h = 0; h < H; ++h)
      for (int i = 0; i < T_; ++i) {
        scores(sc, qkv, mask, bias, b, h, i, T_, C, D, valid);
        const double l = double(lse[(size_t(b) * H + h) * T_ + i]);
        const T* go = dout + (size_t(b) * T_ + i) * C + h * D;
        for (int j = 0; j < T_; ++j) {
          pr[j] = sc[j] == -INFINITY ? 0.0 : std::exp(sc[j] - l);  // P recomputed from the saved lse
          keep[j] = keep_factor(seed, offset, p_drop, b, h, i, j, H, T_);
          // out_i = sum_j P'_ij v_j  ->  dV_j += P'_ij dout_i ; dP'_ij = dout_i . v_j
          double s = 0;
          for (int d = 0; d < D; ++d) {
            s += double(go[d]) * double(qkv[at(b, j, 2, h, d)]);
            g[at(b, j, 2, h, d)] += pr[j] * keep[j] * double(go[d]);
          }
          dp[j] = s * keep[j];  // gradient wrt the probability before dropout
        }
        double dot = 0;
        for (int j = 0; j < T_; ++j) dot += dp[j] * pr[j];
        for (int j = 0; j < T_; ++j) {
          const double dsb = pr[j] * (dp[j] - dot);  // softmax backward: the gradient of the biased score
          if (dbias) gb[(size_t(h) * T_ + i) * T_ + j] += dsb;
          const double ds = dsb * scale;  // then the scale
          if (ds == 0.0) continue;
          for (int d = 0; d < D; ++d) {
            g[at(b, i, 0, h, d)] += ds * double(qkv[at(b, j, 1, h, d)]);
            g[at(b, j, 1, h, d)] += ds * double(qkv[at(b, i, 0, h, d)]);
          }
        }
      }
  }
  if (dqkv)
    for (size_t k = 0; k < g.size(); ++k) put(&dqkv[k], g[k], acc);
  for (size_t k = 0; k < gb.size(); ++k) put(&dbias[k], gb[k], true);  // a parameter gradient: +=
}

MR_REF_INSTANTIATE(attention_fwd)
MR_REF_INSTANTIATE(attention_bwd)

}  // namespace mr::ref
