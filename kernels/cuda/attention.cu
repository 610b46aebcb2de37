// Multi-head self-attention over a fused projection qkv(B, T, 3C) = [Q | K | V], H heads of
// D = C/H (D <= kMaxD). mask(B, T): 1 = real token, 0 = padding key (null: none). Semantics
// exactly as kernels/ref/attention.cpp: masked keys get probability exactly 0; a sequence with
// no real token attends uniformly over all keys; lse(B, H, T) is saved instead of the
// probabilities; dropout keeps element (b, h, i, j) iff
// dropout_keep(seed, offset + ((b*H + h)*T + i)*T + j) (the same Philox stream as the CPU, so
// the masks are identical bit for bit).
//
// fp32, flash-style (FlashAttention-2 structure, CUDA cores, no tensor cores). Tiles of
// kTile query rows and kTile keys; a block has kTile * kLanes threads, kLanes per query row
// (or per key row in the dK/dV kernel); a thread holds kTile/kLanes scores of a tile and
// D/kLanes output channels. Shared memory does not grow with T.
//   forward, grid (T/kTile, H, B): Q tile in shared memory; loop over K/V tiles with an
//     online softmax (running max m and sum l per row; the accumulator is rescaled by
//     exp(m_old - m_new) whenever the max grows); out = acc / l, lse = m + log l.
//   backward, deterministic, no atomics:
//     1. rowdot: Dsum_i = dout_i . out_i (B, H, T) into scratch; equals sum_j P_ij dP_ij,
//        dP the gradient of P before dropout, with or without dropout.
//     2. dK/dV, grid (T/kTile, H, B), one block per key tile: loop over query tiles, recompute
//        P_ij = exp(S_ij - lse_i), dS_ij = P_ij (keep_ij dout_i . v_j - Dsum_i) / sqrt(D);
//        dv_j = sum_i P_ij keep_ij dout_i, dk_j = sum_i dS_ij q_i.
//     3. dQ, grid (T/kTile, H, B), one block per query tile: loop over key tiles, the same dS;
//        dq_i = sum_j dS_ij k_j.
//   Every sum runs in a fixed order (tiles in order, then the rows of a tile in order), so two
//   runs are bit-identical. dqkv is written or added by acc_dqkv (each element by one thread).
// In Math::bf16 the head dims 16, 32, 64 and 128 go to the tensor-core kernels of
// attention_tc.cu instead (same semantics, bf16 operands); the rowdot pass is shared.
// The optional bias (H, T, T) is added to every unmasked scaled score, in every kernel that
// computes scores (the branch without it is the code it always was, bit for bit). Its
// gradient dbias (+=) has a kernel of its own, attention_dbias_k, grid (T, H): one block per
// (query row, head) recomputes P_ij and dP_ij in fp32 for every key, sums P dP over the keys
// itself (block_sum: the saved out may be rounded, under bf16 storage), and adds the batch
// in order: deterministic, no atomics, no (B, H, T, T) scratch.
#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/bf16.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace mr::cuda {

namespace {

constexpr int kTile = 32;                  // query rows and keys per tile
constexpr int kLanes = 4;                  // threads per row of a tile (adjacent lanes of a warp)
constexpr int kThreads = kTile * kLanes;   // 128
constexpr int kPer = kTile / kLanes;       // scores of a tile per thread
constexpr int kMaxD = 128;                 // largest head dim
constexpr int kAcc = kMaxD / kLanes;       // output channels per thread, at most
constexpr int kLdS = kTile + 1;            // row stride of the (kTile, kTile) score tiles

// dst(kTile, ld) <- rows [r0, r0 + kTile) of a (T, D) view with row stride `stride`; rows past
// T are zero (never NaN: they are multiplied by zero probabilities).
__device__ __forceinline__ void load_tile(float* dst, int ld, const float* src, int64_t stride, int r0, int T,
                                          int D) {
  for (int e = threadIdx.x; e < kTile * D; e += blockDim.x) {
    const int r = e / D, d = e % D;
    dst[r * ld + d] = r0 + r < T ? src[int64_t(r0 + r) * stride + d] : 0.0f;
  }
}

__device__ __forceinline__ float dot(const float* a, const float* b, int D) {
  float s = 0.0f;
  for (int d = 0; d < D; ++d) s += a[d] * b[d];
  return s;
}

// Sum and max over the kLanes adjacent lanes of a row (every lane gets the same bits).
__device__ __forceinline__ float row_sum(float v) {
  for (int o = 1; o < kLanes; o <<= 1) v += __shfl_xor_sync(MR_FULL_MASK, v, o);
  return v;
}
__device__ __forceinline__ float row_max(float v) {
  for (int o = 1; o < kLanes; o <<= 1) v = fmaxf(v, __shfl_xor_sync(MR_FULL_MASK, v, o));
  return v;
}

// acc[c] (channel sub + kLanes*c) = acc[c] * alpha + sum_{r < kTile} w[r] * x[r * ld + channel], r in order
__device__ __forceinline__ void acc_rows(float* acc, float alpha, const float* w, const float* x, int ld, int sub,
                                         int D) {
#pragma unroll
  for (int c = 0; c < kAcc; ++c) {
    const int d = sub + kLanes * c;
    if (d < D) {
      float a = acc[c] * alpha;
      for (int r = 0; r < kTile; ++r) a += w[r] * x[r * ld + d];
      acc[c] = a;
    }
  }
}

// dst[channel] = or += acc[c]
__device__ __forceinline__ void store_row(float* dst, const float* acc, int sub, int D, bool add) {
#pragma unroll
  for (int c = 0; c < kAcc; ++c) {
    const int d = sub + kLanes * c;
    if (d < D) dst[d] = add ? dst[d] + acc[c] : acc[c];
  }
}

// The block's head: sequence b = blockIdx.z, head h = blockIdx.y, and its views. Computing
// `keys` is block-wide (it contains barriers), so every thread constructs it.
struct Head {
  int b, h, D, ld;  // ld: row stride of the (kTile, D) tiles in shared memory
  int64_t C3, bh;
  const float* q;  // (T, D) rows of stride C3; k = q + C, v = q + 2C
  Keys keys;
  __device__ __forceinline__ Head(const Attn& a, float* red)
      : b(int(blockIdx.z)), h(int(blockIdx.y)), D(a.C / a.H), ld(D + 1), C3(3 * int64_t(a.C)),
        bh(int64_t(b) * a.H + h), q(a.qkv + int64_t(b) * a.T * C3 + h * D),
        keys{a.mask, b, a.T, count_valid(a.mask, b, a.T, red)} {}
  // rows [r0, r0 + kTile) of Q (part 0), K (1) or V (2) into a tile
  __device__ __forceinline__ void load(float* dst, int part, int r0, const Attn& a) const {
    load_tile(dst, ld, q + part * a.C, C3, r0, a.T, D);
  }
  // dO rows of this head, from dout (B, T, C)
  __device__ __forceinline__ void load_dout(float* dst, const float* dout, int r0, const Attn& a) const {
    load_tile(dst, ld, dout + int64_t(b) * a.T * a.C + h * D, a.C, r0, a.T, D);
  }
  // the dropout factor of (query i, key j): 0 or 1/(1-p) (1 without dropout)
  __device__ __forceinline__ float keep(int i, int j, const Attn& a) const {
    return attn_keep(a, bh, i, j);
  }
};

// grid (ceil(T/kTile), H, B), block kThreads; dynamic smem: Q, K, V tiles (kTile, D+1) and
// P' (kTile, kLdS).
__global__ void attention_fwd_k(float* out, float* lse, Attn a) {
  DYNAMIC_SMEM(float, sm);
  __shared__ float red[32];
  const Head hd(a, red);
  const int D = hd.D, ld = hd.ld, i0 = blockIdx.x * kTile;
  const int r = threadIdx.x / kLanes, sub = threadIdx.x % kLanes, i = i0 + r;
  float* q = sm;
  float* k = q + kTile * ld;
  float* v = k + kTile * ld;
  float* pt = v + kTile * ld;
  hd.load(q, 0, i0, a);
  float m = -INFINITY, l = 0.0f, acc[kAcc];
#pragma unroll
  for (int c = 0; c < kAcc; ++c) acc[c] = 0.0f;
  for (int j0 = 0; j0 < a.T; j0 += kTile) {
    __syncthreads();  // the previous tile is consumed (and q is complete)
    hd.load(k, 1, j0, a);
    hd.load(v, 2, j0, a);
    __syncthreads();
    float s[kPer], mt = -INFINITY;
#pragma unroll
    for (int t = 0; t < kPer; ++t) {
      const int jj = sub + kLanes * t;
      s[t] = hd.keys.ok(j0 + jj) ? dot(q + r * ld, k + jj * ld, D) * a.scale : -INFINITY;
      if (a.bias && i < a.T && s[t] != -INFINITY) s[t] += a.bias_at(hd.h, i, j0 + jj);
      mt = fmaxf(mt, s[t]);
    }
    const float mn = fmaxf(m, row_max(mt));
    const float alpha = mn == -INFINITY ? 1.0f : expf(m - mn);  // 0 while m is still -inf
    float ls = 0.0f;
#pragma unroll
    for (int t = 0; t < kPer; ++t) {
      s[t] = s[t] == -INFINITY ? 0.0f : expf(s[t] - mn);  // now the unnormalized probability
      ls += s[t];
    }
    l = l * alpha + row_sum(ls);
    m = mn;
#pragma unroll
    for (int t = 0; t < kPer; ++t) {
      const int jj = sub + kLanes * t;
      pt[r * kLdS + jj] = s[t] == 0.0f ? 0.0f : s[t] * hd.keep(i, j0 + jj, a);
    }
    __syncwarp();  // the row's P' comes from the kLanes lanes of this warp
    acc_rows(acc, alpha, pt + r * kLdS, v, ld, sub, D);
  }
  if (i < a.T) {
    const float inv = 1.0f / l;
#pragma unroll
    for (int c = 0; c < kAcc; ++c) acc[c] *= inv;
    store_row(out + (int64_t(hd.b) * a.T + i) * a.C + hd.h * D, acc, sub, D, false);
    if (sub == 0) lse[hd.bh * a.T + i] = m + logf(l);
  }
}

// dsum(B*H*T) = dout_i . out_i per (b, h, i); one thread per row, channels in order. dout
// and out are fp32 or bf16 (S), dsum fp32.
template <class S>
__global__ void attention_rowdot_k(float* dsum, const S* dout, const S* out, int B, int T, int C, int H) {
  const int D = C / H;
  const int64_t n = int64_t(B) * H * T;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = e % T, bh = e / T, h = bh % H, b = bh / H;
    const int64_t at = (b * T + i) * C + h * D;
    float acc = 0.0f;
    for (int d = 0; d < D; ++d) acc += ld(dout, at + d) * ld(out, at + d);
    dsum[e] = acc;
  }
}

// dsum into scratch slot 0 (B*H*T floats).
template <class S>
float* rowdot(const S* dout, const S* out, int B, int T, int C, int H) {
  float* dsum = static_cast<float*>(scratch(size_t(B) * H * T * sizeof(float)));
  auto* kd = attention_rowdot_k<S>;
  LAUNCH(kd, blocks_for(int64_t(B) * H * T), kBlock, 0, 0)(dsum, dout, out, B, T, C, H);
  check_launch("attention_rowdot_k");
  return dsum;
}

// P_ij keep_ij and dS_ij of one (query i, key j) pair from the tiles in shared memory.
struct PairGrad {
  float pk, ds;
};
// bias: the pair's score bias, or null.
__device__ __forceinline__ PairGrad pair_grad(const float* qi, const float* goi, const float* kj, const float* vj,
                                              float lse_i, float dsum_i, int D, float scale, float kp,
                                              const float* bias) {
  const float p = bias ? expf(dot(qi, kj, D) * scale + *bias - lse_i) : expf(dot(qi, kj, D) * scale - lse_i);
  const float dp = dot(goi, vj, D) * kp;
  return PairGrad{p * kp, p * (dp - dsum_i) * scale};
}

// The backward kernels' shared memory, bwd_smem_floats(D) floats: Q, dO, K, V tiles
// (kTile, D+1); P' and dS (kTile, kLdS); lse and dsum of a query tile (kTile). The dQ kernel
// leaves pk, tl and td unused.
struct BwdTiles {
  float *q, *go, *k, *v, *pk, *ds, *tl, *td;
  __device__ __forceinline__ BwdTiles(float* sm, int ld)
      : q(sm), go(q + kTile * ld), k(go + kTile * ld), v(k + kTile * ld), pk(v + kTile * ld), ds(pk + kTile * kLdS),
        tl(ds + kTile * kLdS), td(tl + kTile) {}
};
size_t bwd_smem_floats(int D) {
  return size_t(4) * kTile * (D + 1) + size_t(2) * kTile * kLdS + 2 * kTile;
}

// grid (ceil(T/kTile), H, B), block kThreads, one block per key tile; P' and dS are stored by
// key row.
__global__ void attention_bwd_kv_k(float* dqkv, const float* dout, const float* lse, const float* dsum, Attn a,
                                   bool acc) {
  DYNAMIC_SMEM(float, sm);
  __shared__ float red[32];
  const Head hd(a, red);
  const int D = hd.D, ld = hd.ld, j0 = blockIdx.x * kTile;
  const int r = threadIdx.x / kLanes, sub = threadIdx.x % kLanes, j = j0 + r;
  const BwdTiles tiles(sm, ld);
  float *q = tiles.q, *go = tiles.go, *k = tiles.k, *v = tiles.v, *pk = tiles.pk, *ds = tiles.ds;
  float *tl = tiles.tl, *td = tiles.td;
  hd.load(k, 1, j0, a);
  hd.load(v, 2, j0, a);
  const bool kok = hd.keys.ok(j);
  float ak[kAcc], av[kAcc];
#pragma unroll
  for (int c = 0; c < kAcc; ++c) ak[c] = av[c] = 0.0f;
  for (int i0 = 0; i0 < a.T; i0 += kTile) {
    __syncthreads();
    hd.load(q, 0, i0, a);
    hd.load_dout(go, dout, i0, a);
    for (int e = threadIdx.x; e < kTile; e += blockDim.x) {
      tl[e] = i0 + e < a.T ? lse[hd.bh * a.T + i0 + e] : 0.0f;
      td[e] = i0 + e < a.T ? dsum[hd.bh * a.T + i0 + e] : 0.0f;
    }
    __syncthreads();
#pragma unroll
    for (int t = 0; t < kPer; ++t) {
      const int ii = sub + kLanes * t, i = i0 + ii;
      PairGrad g{0.0f, 0.0f};
      if (kok && i < a.T)
        g = pair_grad(q + ii * ld, go + ii * ld, k + r * ld, v + r * ld, tl[ii], td[ii], D, a.scale, hd.keep(i, j, a),
                      a.bias ? &a.bias[(int64_t(hd.h) * a.T + i) * a.T + j] : nullptr);
      pk[r * kLdS + ii] = g.pk;
      ds[r * kLdS + ii] = g.ds;
    }
    __syncwarp();  // the key row's P' and dS come from the kLanes lanes of this warp
    acc_rows(av, 1.0f, pk + r * kLdS, go, ld, sub, D);
    acc_rows(ak, 1.0f, ds + r * kLdS, q, ld, sub, D);
  }
  if (j < a.T) {
    float* dk = dqkv + (int64_t(hd.b) * a.T + j) * hd.C3 + a.C + hd.h * D;
    store_row(dk, ak, sub, D, acc);
    store_row(dk + a.C, av, sub, D, acc);
  }
}

// grid (ceil(T/kTile), H, B), block kThreads, one block per query tile.
__global__ void attention_bwd_q_k(float* dqkv, const float* dout, const float* lse, const float* dsum, Attn a,
                                  bool acc) {
  DYNAMIC_SMEM(float, sm);
  __shared__ float red[32];
  const Head hd(a, red);
  const int D = hd.D, ld = hd.ld, i0 = blockIdx.x * kTile;
  const int r = threadIdx.x / kLanes, sub = threadIdx.x % kLanes, i = i0 + r;
  const BwdTiles tiles(sm, ld);
  float *q = tiles.q, *go = tiles.go, *k = tiles.k, *v = tiles.v, *ds = tiles.ds;
  hd.load(q, 0, i0, a);
  hd.load_dout(go, dout, i0, a);
  const float li = i < a.T ? lse[hd.bh * a.T + i] : 0.0f, di = i < a.T ? dsum[hd.bh * a.T + i] : 0.0f;
  float aq[kAcc];
#pragma unroll
  for (int c = 0; c < kAcc; ++c) aq[c] = 0.0f;
  for (int j0 = 0; j0 < a.T; j0 += kTile) {
    __syncthreads();
    hd.load(k, 1, j0, a);
    hd.load(v, 2, j0, a);
    __syncthreads();
#pragma unroll
    for (int t = 0; t < kPer; ++t) {
      const int jj = sub + kLanes * t, j = j0 + jj;
      float g = 0.0f;
      if (i < a.T && hd.keys.ok(j))
        g = pair_grad(q + r * ld, go + r * ld, k + jj * ld, v + jj * ld, li, di, D, a.scale, hd.keep(i, j, a),
                      a.bias ? &a.bias[(int64_t(hd.h) * a.T + i) * a.T + j] : nullptr)
                .ds;
      ds[r * kLdS + jj] = g;
    }
    __syncwarp();
    acc_rows(aq, 1.0f, ds + r * kLdS, k, ld, sub, D);
  }
  if (i < a.T) store_row(dqkv + (int64_t(hd.b) * a.T + i) * hd.C3 + hd.h * D, aq, sub, D, acc);
}

// grid (T, H), block kThreads; dynamic smem: P, dP and the accumulated dbias of the row's
// keys (3T floats). Every thread owns the keys j = threadIdx.x + k blockDim.x in all three.
template <class S>
__global__ void attention_dbias_k(float* dbias, const S* qkv, const S* dout, const float* lse, Attn a, int B) {
  DYNAMIC_SMEM(float, sm);
  __shared__ float red[32];
  float *p = sm, *dp = p + a.T, *acc = dp + a.T;
  const int i = int(blockIdx.x), h = int(blockIdx.y), D = a.C / a.H;
  const int64_t C3 = 3 * int64_t(a.C);
  for (int j = threadIdx.x; j < a.T; j += blockDim.x) acc[j] = 0.0f;
  for (int b = 0; b < B; ++b) {
    const Keys keys{a.mask, b, a.T, count_valid(a.mask, b, a.T, red)};
    const int64_t bh = int64_t(b) * a.H + h;
    const S* qi = qkv + (int64_t(b) * a.T + i) * C3 + h * D;
    const S* goi = dout + (int64_t(b) * a.T + i) * a.C + h * D;
    const float li = lse[bh * a.T + i];
    float part = 0.0f;
    for (int j = threadIdx.x; j < a.T; j += blockDim.x) {
      float pj = 0.0f, dpj = 0.0f;
      if (keys.ok(j)) {
        const S* kj = qkv + (int64_t(b) * a.T + j) * C3 + a.C + h * D;
        const S* vj = kj + a.C;
        float sc = 0.0f, g = 0.0f;
        for (int d = 0; d < D; ++d) {
          sc += ld(qi, d) * ld(kj, d);
          g += ld(goi, d) * ld(vj, d);
        }
        pj = expf(sc * a.scale + (a.bias ? a.bias_at(h, i, j) : 0.0f) - li);
        dpj = g * attn_keep(a, bh, i, j);  // the gradient of P before dropout
      }
      p[j] = pj;
      dp[j] = dpj;
      part += pj * dpj;
    }
    const float rs = block_sum(part, red);  // sum_k P_ik dP_ik
    for (int j = threadIdx.x; j < a.T; j += blockDim.x) acc[j] += p[j] * (dp[j] - rs);
  }
  for (int j = threadIdx.x; j < a.T; j += blockDim.x) dbias[(int64_t(h) * a.T + i) * a.T + j] += acc[j];
}

template <class S>
void dbias_any(float* dbias, const S* qkv, const S* dout, const float* lse, const Attn& a, int B) {
  auto* k = attention_dbias_k<S>;
  const size_t smem = smem_or_raise(reinterpret_cast<const void*>(k), size_t(3) * a.T * sizeof(float));
  LAUNCH(k, dim3(a.T, a.H), kThreads, smem, 0)(dbias, qkv, dout, lse, a, B);
  check_launch("attention_dbias_k");
}

// The shared kernel arguments for one call.
Attn attn_args(const float* qkv, const int32_t* mask, const float* bias, int T, int C, int H, float p_drop,
               uint64_t seed, uint64_t offset) {
  if (H < 1 || C % H != 0)
    ::mr::throw_error(__FILE__, __LINE__, "attention",
                      std::to_string(C) + " channels do not split into " + std::to_string(H) + " heads");
  const int D = C / H;
  if (D < 1 || D > kMaxD)
    ::mr::throw_error(__FILE__, __LINE__, "attention", "head dim " + std::to_string(D) + " outside [1, 128]");
  Attn a{qkv, mask, T, C, H, float(1.0 / sqrt(double(D))), p_drop,
         p_drop > 0 ? float(1.0 / (1.0 - double(p_drop))) : 1.0f, seed, offset};
  a.bias = bias;
  return a;
}


// fp32-addressed attention: the tensor-core kernels when tc (head dims 16/32/64/128), else the
// CUDA-core ones. dsum: scratch the caller filled with rowsum(dout * out).
void fwd_f32(float* out, float* lse, const Attn& a, int B, bool tc) {
  const int D = a.C / a.H;
  if (tc) return attention_fwd_tc(out, lse, a, B, D);
  auto* k = attention_fwd_k;
  const size_t smem = (size_t(3) * kTile * (D + 1) + size_t(kTile) * kLdS) * sizeof(float);
  smem_or_raise(reinterpret_cast<const void*>(k), smem);
  const dim3 grid((a.T + kTile - 1) / kTile, a.H, B);
  LAUNCH(k, grid, kThreads, smem, 0)(out, lse, a);
  check_launch("attention_fwd_k");
}

void bwd_f32(float* dqkv, float* dbias, const float* dout, const float* out, const float* lse, const Attn& a, int B,
             bool tc, bool acc_dqkv) {
  if (dbias) dbias_any(dbias, a.qkv, dout, lse, a, B);
  if (!dqkv) return;
  const int D = a.C / a.H;
  float* dsum = rowdot(dout, out, B, a.T, a.C, a.H);
  if (tc) return attention_bwd_tc(dqkv, dout, lse, dsum, a, B, D, acc_dqkv);
  const dim3 grid((a.T + kTile - 1) / kTile, a.H, B);
  auto* kkv = attention_bwd_kv_k;
  const size_t smem = bwd_smem_floats(D) * sizeof(float);
  smem_or_raise(reinterpret_cast<const void*>(kkv), smem);
  LAUNCH(kkv, grid, kThreads, smem, 0)(dqkv, dout, lse, dsum, a, acc_dqkv);
  check_launch("attention_bwd_kv_k");
  auto* kq = attention_bwd_q_k;
  smem_or_raise(reinterpret_cast<const void*>(kq), smem);
  LAUNCH(kq, grid, kThreads, smem, 0)(dqkv, dout, lse, dsum, a, acc_dqkv);
  check_launch("attention_bwd_q_k");
}

}  // namespace

void attention_dbias(float* dbias, const float* dout, const float* lse, const Attn& a, int B) {
  dbias_any(dbias, a.qkv, dout, lse, a, B);
}
void attention_dbias(float* dbias, const bf16_t* dout, const float* lse, const Attn& a, int B) {
  dbias_any(dbias, a.qkv16, dout, lse, a, B);
}

void attention_fwd(float* out, float* lse, const float* qkv, const int32_t* mask, const float* bias, int B, int T,
                   int C, int H, float p_drop, uint64_t seed, uint64_t offset, Math m) {
  if (B == 0 || T == 0 || C == 0) return;
  const Attn a = attn_args(qkv, mask, bias, T, C, H, p_drop, seed, offset);
  fwd_f32(out, lse, a, B, m == Math::bf16 && attention_tc_supports(C / H));
}

void attention_bwd(float* dqkv, float* dbias, const float* dout, const float* qkv, const float* out, const float* lse,
                   const int32_t* mask, const float* bias, int B, int T, int C, int H, float p_drop, uint64_t seed,
                   uint64_t offset, GradMode acc_dqkv, Math m) {
  if (B == 0 || T == 0 || C == 0 || (!dqkv && !dbias)) return;
  const Attn a = attn_args(qkv, mask, bias, T, C, H, p_drop, seed, offset);
  bwd_f32(dqkv, dbias, dout, out, lse, a, B, m == Math::bf16 && attention_tc_supports(C / H), acc_dqkv);
}

void attention_fwd(float* out, float* lse, const float* qkv, const int32_t* mask, const float* bias, int B, int T,
                   int C, int H, float p_drop, uint64_t seed, uint64_t offset) {
  attention_fwd(out, lse, qkv, mask, bias, B, T, C, H, p_drop, seed, offset, Math::fp32);
}
void attention_bwd(float* dqkv, float* dbias, const float* dout, const float* qkv, const float* out, const float* lse,
                   const int32_t* mask, const float* bias, int B, int T, int C, int H, float p_drop, uint64_t seed,
                   uint64_t offset, GradMode acc_dqkv) {
  attention_bwd(dqkv, dbias, dout, qkv, out, lse, mask, bias, B, T, C, H, p_drop, seed, offset, acc_dqkv, Math::fp32);
}

// bf16 storage. Head dims 16, 32, 64 and 128 run the tensor-core kernels straight on the bf16
// tensors (in every math mode): they copy bf16 tiles into shared memory as they are, and store
// out and dqkv rounded once. Other head dims widen the bf16 operands into fp32 scratch (slot 2,
// 4C floats per token forward, 8C backward; exact), run the CUDA-core kernels above, and
// round the results back. The bias and dbias are fp32 in both.
void bf16::attention_fwd(bf16_t* out, float* lse, const bf16_t* qkv, const int32_t* mask, const float* bias, int B,
                        int T, int C, int H, float p_drop, uint64_t seed, uint64_t offset) {
  if (B == 0 || T == 0 || C == 0) return;
  Attn a = attn_args(nullptr, mask, bias, T, C, H, p_drop, seed, offset);
  if (attention_tc_supports(C / H)) {
    a.qkv16 = qkv;
    return attention_fwd_tc(out, lse, a, B, C / H);
  }
  const int64_t rows = int64_t(B) * T;
  float* q32 = static_cast<float*>(scratch(size_t(rows) * 4 * C * sizeof(float), 2));
  float* o32 = q32 + rows * 3 * C;
  to_f32(q32, qkv, rows * 3 * C, kOverwrite);
  a.qkv = q32;
  fwd_f32(o32, lse, a, B, false);
  to_bf16(out, o32, rows * C, kOverwrite);
}

void bf16::attention_bwd(bf16_t* dqkv, float* dbias, const bf16_t* dout, const bf16_t* qkv, const bf16_t* out,
                        const float* lse, const int32_t* mask, const float* bias, int B, int T, int C, int H,
                        float p_drop, uint64_t seed, uint64_t offset, GradMode acc_dqkv) {
  if (B == 0 || T == 0 || C == 0 || (!dqkv && !dbias)) return;
  Attn a = attn_args(nullptr, mask, bias, T, C, H, p_drop, seed, offset);
  if (attention_tc_supports(C / H)) {
    a.qkv16 = qkv;
    if (dbias) attention_dbias(dbias, dout, lse, a, B);
    if (!dqkv) return;
    const float* dsum = rowdot(dout, out, B, T, C, H);
    return attention_bwd_tc(dqkv, dout, lse, dsum, a, B, C / H, acc_dqkv);
  }
  const int64_t rows = int64_t(B) * T;
  float* q32 = static_cast<float*>(scratch(size_t(rows) * 8 * C * sizeof(float), 2));
  float *do32 = q32 + rows * 3 * C, *o32 = do32 + rows * C, *dq32 = o32 + rows * C;
  to_f32(q32, qkv, rows * 3 * C, kOverwrite);
  to_f32(do32, dout, rows * C, kOverwrite);
  to_f32(o32, out, rows * C, kOverwrite);
  a.qkv = q32;
  bwd_f32(dqkv ? dq32 : nullptr, dbias, do32, o32, lse, a, B, false, false);
  if (dqkv) to_bf16(dqkv, dq32, rows * 3 * C, acc_dqkv);
}

}  // namespace mr::cuda
