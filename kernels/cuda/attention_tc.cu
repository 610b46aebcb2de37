// Attention on bf16 tensor cores (Math::bf16), forward and backward, FlashAttention-2
// structure. Same semantics as the fp32 kernels (kernels/cuda/attention.cu). Templated on the
// storage type S of qkv, dout, out and dqkv: with fp32 storage (Math::bf16) the tiles are
// rounded to bf16 (round to nearest even) as they are copied into shared memory; with bf16
// storage (KernelTableBf16) they are copied as they are; every product runs as mma.m16n8k16 (bf16 x bf16 -> fp32)
// with fragments loaded by ldmatrix (kernels/cuda/ptx.cuh); softmax statistics, dS and every
// accumulator stay fp32. P' and dS are rounded to bf16 once, to feed the second product.
//
// A block has 4 warps; each warp owns 16 rows (query rows in the forward and the dQ kernel,
// key rows in the dK/dV kernel) and loops over tiles of 64 of the other side.
//   mma fragments (PTX ISA, m16n8k16): lane = 4g + t. A (16x16): a0 (g, 2t..2t+1),
//   a1 (g+8, 2t..), a2 (g, 2t+8..), a3 (g+8, 2t+8..). B (16x8): b0 (k 2t..2t+1, n g), b1 (k+8).
//   C/D (16x8): c0,c1 (g, 2t..2t+1), c2,c3 (g+8, 2t..2t+1).
// A C fragment pair (n-tiles 2c, 2c+1) is the A fragment of k-chunk c, which is how a score
// tile becomes the left operand of the next product without leaving registers.
//   forward, grid (T/64, H, B): S = Q K^T, online softmax, O += P' V; out = O / l, lse.
//   dK/dV, grid (T/64, H, B), a block per 64 keys: S^T = K Q^T, P = exp(S - lse),
//     dP^T = V dO^T, dS^T = P (keep dP - Dsum) / sqrt(D); dV += (P keep)^T dO, dK += dS^T Q.
//   dQ, grid (T/64, H, B), a block per 64 queries: S, P, dP = dO V^T, dS; dQ += dS K.
// No atomics, fixed order: two runs are bit-identical. Head dims 16, 32, 64 and 128.
// The optional score bias (Attn::bias, fp32) is added to each unmasked scaled score in fp32;
// its gradient is attention.cu's attention_dbias (fp32, not here).
#include <cuda_bf16.h>

#include <type_traits>

#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/bf16.cuh"
#include "kernels/cuda/ptx.cuh"

namespace mr::cuda {

namespace {

constexpr int kRows = 16;                 // rows per warp (the mma's M)
constexpr int kWarps = 4;
constexpr int kBr = kRows * kWarps;       // rows of a block: 64
constexpr int kBc = 64;                   // columns of a tile of the other side
constexpr int kThreads = 32 * kWarps;     // 128
constexpr int kNT = kBc / 8;              // n-tiles of 8 across a tile of 64

// Two floats as one .b32 register of two bf16 (the first in the low half), rounded to nearest even.
__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
  return ptx::pack_b16(__bfloat16_as_ushort(__float2bfloat16_rn(lo)), __bfloat16_as_ushort(__float2bfloat16_rn(hi)));
}

// dst(rows, D + 8) bf16 <- rows [r0, r0 + rows) of a (T, D) view with row stride `stride`
// (fp32, rounded here, or bf16, copied); rows past T are zero. The row pad of 8 keeps ldmatrix
// rows 16-byte aligned and spreads them over the banks.
template <int D, class S>
__device__ __forceinline__ void load_bf16(uint16_t* dst, const S* src, int64_t stride, int r0, int rows, int T) {
  constexpr int P = D / 2;
  for (int e = threadIdx.x; e < rows * P; e += blockDim.x) {
    const int r = e / P, c = 2 * (e % P);
    uint32_t w = 0;
    if (r0 + r < T) {
      const S* x = src + int64_t(r0 + r) * stride + c;
      if constexpr (std::is_same_v<S, bf16_t>)
        w = *reinterpret_cast<const uint32_t*>(x);  // two bf16, even element offset: 4-byte aligned
      else
        w = pack_bf16(x[0], x[1]);
    }
    *reinterpret_cast<uint32_t*>(dst + r * (D + 8) + c) = w;
  }
}

// The A fragment of rows [r0, r0+16) x columns [k0, k0+16) of a row-major tile.
__device__ __forceinline__ void ld_a(uint32_t (&a)[4], const uint16_t* tile, int ld, int r0, int k0) {
  const int l = threadIdx.x & 31, m = l >> 3;
  ptx::ldmatrix_x4(a[0], a[1], a[2], a[3], tile + (r0 + (l & 7) + 8 * (m & 1)) * ld + k0 + 8 * (m >> 1));
}
// B fragments of n-tiles [n0, n0+8) and [n0+8, n0+16), k-chunk [k0, k0+16), from a tile that
// holds B transposed, row n = column n of B (K for S = Q K^T).
__device__ __forceinline__ void ld_b_nk(uint32_t (&b0)[2], uint32_t (&b1)[2], const uint16_t* tile, int ld, int n0,
                                        int k0) {
  const int l = threadIdx.x & 31, m = l >> 3;
  ptx::ldmatrix_x4(b0[0], b0[1], b1[0], b1[1], tile + (n0 + (l & 7) + 8 * (m >> 1)) * ld + k0 + 8 * (m & 1));
}
// The same from a tile that holds B itself, row k (V for O = P V): transposed loads.
__device__ __forceinline__ void ld_b_kn(uint32_t (&b0)[2], uint32_t (&b1)[2], const uint16_t* tile, int ld, int k0,
                                        int n0) {
  const int l = threadIdx.x & 31, m = l >> 3;
  ptx::ldmatrix_x4_trans(b0[0], b0[1], b1[0], b1[1], tile + (k0 + (l & 7) + 8 * (m & 1)) * ld + n0 + 8 * (m >> 1));
}

__device__ __forceinline__ void mma(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
  ptx::mma_m16n8k16_bf16(d, a, b, d);
}

// acc(16, kBc) += A(16, D) B^T, A from rows r0 of tile `a`, B^T the (kBc, D) tile `bt`.
template <int D>
__device__ __forceinline__ void mm_abt(float (&acc)[kNT][4], const uint16_t* a, int r0, const uint16_t* bt) {
  constexpr int LD = D + 8;
#pragma unroll
  for (int kc = 0; kc < D / 16; ++kc) {
    uint32_t fa[4];
    ld_a(fa, a, LD, r0, 16 * kc);
#pragma unroll
    for (int nt = 0; nt < kNT; nt += 2) {
      uint32_t b0[2], b1[2];
      ld_b_nk(b0, b1, bt, LD, 8 * nt, 16 * kc);
      mma(acc[nt], fa, b0);
      mma(acc[nt + 1], fa, b1);
    }
  }
}

// acc(16, D) += W(16, kBc) X, W a score tile in C fragments (rounded to bf16 here), X the
// (kBc, D) tile `x`.
template <int D>
__device__ __forceinline__ void mm_wx(float (&acc)[D / 8][4], const float (&w)[kNT][4], const uint16_t* x) {
  constexpr int LD = D + 8;
#pragma unroll
  for (int c = 0; c < kNT / 2; ++c) {
    const uint32_t fa[4] = {pack_bf16(w[2 * c][0], w[2 * c][1]), pack_bf16(w[2 * c][2], w[2 * c][3]),
                            pack_bf16(w[2 * c + 1][0], w[2 * c + 1][1]), pack_bf16(w[2 * c + 1][2], w[2 * c + 1][3])};
#pragma unroll
    for (int dt = 0; dt < D / 8; dt += 2) {
      uint32_t b0[2], b1[2];
      ld_b_kn(b0, b1, x, LD, 16 * c, 8 * dt);
      mma(acc[dt], fa, b0);
      mma(acc[dt + 1], fa, b1);
    }
  }
}

template <int N>
__device__ __forceinline__ void zero(float (&x)[N][4]) {
#pragma unroll
  for (int i = 0; i < N; ++i) x[i][0] = x[i][1] = x[i][2] = x[i][3] = 0.0f;
}

// Max and sum over the 4 lanes (t = 0..3) that hold one row of a C fragment.
__device__ __forceinline__ float quad_max(float v) {
  v = fmaxf(v, __shfl_xor_sync(MR_FULL_MASK, v, 1));
  return fmaxf(v, __shfl_xor_sync(MR_FULL_MASK, v, 2));
}
__device__ __forceinline__ float quad_sum(float v) {
  v += __shfl_xor_sync(MR_FULL_MASK, v, 1);
  return v + __shfl_xor_sync(MR_FULL_MASK, v, 2);
}

// qkv as stored: fp32 (Attn::qkv) or bf16 (Attn::qkv16).
template <class S>
__device__ __forceinline__ const S* qkv_of(const Attn& a) {
  if constexpr (std::is_same_v<S, bf16_t>)
    return a.qkv16;
  else
    return a.qkv;
}

// The block's head and its views (sequence b = blockIdx.z, head h = blockIdx.y), and
// this lane's place: the block owns rows [64 blockIdx.x, +64) (queries or keys), its warp
// rows [r0, r0 + 16) of those, and the lane rows own[0] = base + r0 + g and own[1] = own[0] + 8,
// columns 2t, 2t + 1 of each n-tile.
template <class S>
struct HeadTc {
  int b, h;
  int64_t C3, bh;
  const S* q;  // (T, D) rows of stride C3; K = q + C, V = q + 2C
  Keys keys;       // block-wide to construct (barriers): every thread does
  int base, r0, t, own[2];
  __device__ __forceinline__ HeadTc(const Attn& a, int D, float* red)
      : b(int(blockIdx.z)), h(int(blockIdx.y)), C3(3 * int64_t(a.C)), bh(int64_t(b) * a.H + h),
        q(qkv_of<S>(a) + int64_t(b) * a.T * C3 + h * D), keys{a.mask, b, a.T, count_valid(a.mask, b, a.T, red)},
        base(int(blockIdx.x) * kBr), r0(kRows * int(threadIdx.x >> 5)), t(int(threadIdx.x & 3)),
        own{base + r0 + int((threadIdx.x & 31) >> 2), base + r0 + int((threadIdx.x & 31) >> 2) + 8} {}
  // bf16 tiles of rows [r0, r0 + rows): Q, K and V from qkv, dO from dout (B, T, C)
  template <int D>
  __device__ __forceinline__ void load_q(uint16_t* dst, int r0, const Attn& a) const {
    load_bf16<D>(dst, q, C3, r0, kBr, a.T);
  }
  template <int D>
  __device__ __forceinline__ void load_kv(uint16_t* k, uint16_t* v, int r0, const Attn& a) const {
    load_bf16<D>(k, q + a.C, C3, r0, kBc, a.T);
    load_bf16<D>(v, q + 2 * a.C, C3, r0, kBc, a.T);
  }
  template <int D>
  __device__ __forceinline__ void load_dout(uint16_t* dst, const S* dout, int r0, const Attn& a) const {
    load_bf16<D>(dst, dout + int64_t(b) * a.T * a.C + h * D, a.C, r0, kBr, a.T);
  }
};

// P' = P keep and dS = P (keep dP - Dsum) / sqrt(D) of one (query, key) pair, P = exp(S/sqrt(D) - lse).
struct PairGradTc {
  float pk, ds;
};
// bias: the pair's score bias, or null.
__device__ __forceinline__ PairGradTc pair_grad(float s, float dp, float lse_i, float dsum_i, float kp, float scale,
                                                const float* bias) {
  const float p = bias ? expf(s * scale + *bias - lse_i) : expf(s * scale - lse_i);
  return PairGradTc{p * kp, p * (dp * kp - dsum_i) * scale};
}
static_assert(kBr == kBc, "a block owns 64 rows of either side");

// Writes or adds the two rows (g, g+8) of a (16, D) C-fragment accumulator at rows row[0..1]
// of a row-major matrix (row stride `stride`, column offset col0); rows past T are skipped.
template <int D, class S>
__device__ __forceinline__ void store_rows(S* base, int64_t stride, const int (&row)[2], int T,
                                           const float (&acc)[D / 8][4], const float (&mul)[2], bool add) {
  const int t = threadIdx.x & 3;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    if (row[r] >= T) continue;
    S* dst = base + int64_t(row[r]) * stride;
#pragma unroll
    for (int dt = 0; dt < D / 8; ++dt) {
      const int d = 8 * dt + 2 * t;
      st_acc(dst, d, acc[dt][2 * r] * mul[r], add);
      st_acc(dst, d + 1, acc[dt][2 * r + 1] * mul[r], add);
    }
  }
}

// grid (ceil(T/kBr), H, B), block kThreads; dynamic smem: Q (kBr), K and V (kBc) tiles of
// (D + 8) bf16.
template <int D, class S>
__global__ void attention_fwd_tc_k(S* out, float* lse, Attn a) {
  constexpr int LD = D + 8;
  DYNAMIC_SMEM(uint16_t, sm);
  __shared__ float red[32];
  const HeadTc<S> hd(a, D, red);
  const int i0 = hd.base, r0 = hd.r0, t = hd.t;
  const int(&row)[2] = hd.own;
  uint16_t *q = sm, *k = q + kBr * LD, *v = k + kBc * LD;
  hd.template load_q<D>(q, i0, a);
  float o[D / 8][4], m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};
  zero(o);
  for (int j0 = 0; j0 < a.T; j0 += kBc) {
    __syncthreads();  // the previous K/V tiles are consumed (and Q is complete)
    hd.template load_kv<D>(k, v, j0, a);
    __syncthreads();
    float s[kNT][4];
    zero(s);
    mm_abt<D>(s, q, r0, k);
    float mt[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int nt = 0; nt < kNT; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int j = j0 + 8 * nt + 2 * t + (e & 1);
        s[nt][e] = hd.keys.ok(j) ? s[nt][e] * a.scale : -INFINITY;
        if (a.bias && row[e >> 1] < a.T && s[nt][e] != -INFINITY) s[nt][e] += a.bias_at(hd.h, row[e >> 1], j);
        mt[e >> 1] = fmaxf(mt[e >> 1], s[nt][e]);
      }
    float alpha[2], ls[2] = {0.0f, 0.0f};
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const float mn = fmaxf(m[r], quad_max(mt[r]));
      alpha[r] = mn == -INFINITY ? 1.0f : expf(m[r] - mn);  // 0 while m is still -inf
      m[r] = mn;
    }
#pragma unroll
    for (int nt = 0; nt < kNT; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int r = e >> 1, j = j0 + 8 * nt + 2 * t + (e & 1);
        const float p = s[nt][e] == -INFINITY ? 0.0f : expf(s[nt][e] - m[r]);  // unnormalized probability
        ls[r] += p;
        s[nt][e] = p == 0.0f ? 0.0f : p * attn_keep(a, hd.bh, row[r], j);  // P' (dropped)
      }
#pragma unroll
    for (int r = 0; r < 2; ++r) l[r] = l[r] * alpha[r] + quad_sum(ls[r]);
#pragma unroll
    for (int dt = 0; dt < D / 8; ++dt) {
      o[dt][0] *= alpha[0], o[dt][1] *= alpha[0];
      o[dt][2] *= alpha[1], o[dt][3] *= alpha[1];
    }
    mm_wx<D>(o, s, v);
  }
  const float inv[2] = {1.0f / l[0], 1.0f / l[1]};
  store_rows<D>(out + int64_t(hd.b) * a.T * a.C + hd.h * D, a.C, row, a.T, o, inv, false);
  if (t == 0)
    for (int r = 0; r < 2; ++r)
      if (row[r] < a.T) lse[hd.bh * a.T + row[r]] = m[r] + logf(l[r]);
}

// grid (ceil(T/kBc), H, B), block kThreads, a block per 64 keys (a warp per 16); dynamic
// smem: K, V, Q, dO tiles of (D + 8) bf16, then lse and Dsum of the query tile (kBr floats each).
template <int D, class S>
__global__ void attention_bwd_kv_tc_k(S* dqkv, const S* dout, const float* lse, const float* dsum, Attn a, bool acc) {
  constexpr int LD = D + 8;
  DYNAMIC_SMEM(uint16_t, sm);
  __shared__ float red[32];
  const HeadTc<S> hd(a, D, red);
  const int j0 = hd.base, r0 = hd.r0, t = hd.t;
  const int(&key)[2] = hd.own;
  const bool kok[2] = {hd.keys.ok(key[0]), hd.keys.ok(key[1])};
  uint16_t *k = sm, *v = k + kBc * LD, *q = v + kBc * LD, *go = q + kBr * LD;
  float* tl = reinterpret_cast<float*>(go + kBr * LD);
  float* td = tl + kBr;
  hd.template load_kv<D>(k, v, j0, a);
  float dk[D / 8][4], dv[D / 8][4];
  zero(dk);
  zero(dv);
  for (int i0 = 0; i0 < a.T; i0 += kBr) {
    __syncthreads();  // the previous query tile is consumed (and K, V are complete)
    hd.template load_q<D>(q, i0, a);
    hd.template load_dout<D>(go, dout, i0, a);
    for (int e = threadIdx.x; e < kBr; e += blockDim.x) {
      tl[e] = i0 + e < a.T ? lse[hd.bh * a.T + i0 + e] : 0.0f;
      td[e] = i0 + e < a.T ? dsum[hd.bh * a.T + i0 + e] : 0.0f;
    }
    __syncthreads();
    float s[kNT][4], dp[kNT][4];  // S^T and dP^T: rows = this warp's keys, columns = queries
    zero(s);
    zero(dp);
    mm_abt<D>(s, k, r0, q);
    mm_abt<D>(dp, v, r0, go);
#pragma unroll
    for (int nt = 0; nt < kNT; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int r = e >> 1, ii = 8 * nt + 2 * t + (e & 1), i = i0 + ii;
        PairGradTc g{0.0f, 0.0f};
        if (kok[r] && i < a.T)
          g = pair_grad(s[nt][e], dp[nt][e], tl[ii], td[ii], attn_keep(a, hd.bh, i, key[r]), a.scale,
                        a.bias ? &a.bias[(int64_t(hd.h) * a.T + i) * a.T + key[r]] : nullptr);
        s[nt][e] = g.pk;
        dp[nt][e] = g.ds;
      }
    mm_wx<D>(dv, s, go);
    mm_wx<D>(dk, dp, q);
  }
  const float one[2] = {1.0f, 1.0f};
  S* kbase = dqkv + int64_t(hd.b) * a.T * hd.C3 + a.C + hd.h * D;
  store_rows<D>(kbase, hd.C3, key, a.T, dk, one, acc);
  store_rows<D>(kbase + a.C, hd.C3, key, a.T, dv, one, acc);
}

// grid (ceil(T/kBr), H, B), block kThreads, a block per 64 queries (a warp per 16); dynamic
// smem: Q, dO, K, V tiles of (D + 8) bf16.
template <int D, class S>
__global__ void attention_bwd_q_tc_k(S* dqkv, const S* dout, const float* lse, const float* dsum, Attn a, bool acc) {
  constexpr int LD = D + 8;
  DYNAMIC_SMEM(uint16_t, sm);
  __shared__ float red[32];
  const HeadTc<S> hd(a, D, red);
  const int i0 = hd.base, r0 = hd.r0, t = hd.t;
  const int(&row)[2] = hd.own;
  float li[2], di[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    li[r] = row[r] < a.T ? lse[hd.bh * a.T + row[r]] : 0.0f;
    di[r] = row[r] < a.T ? dsum[hd.bh * a.T + row[r]] : 0.0f;
  }
  uint16_t *q = sm, *go = q + kBr * LD, *k = go + kBr * LD, *v = k + kBc * LD;
  hd.template load_q<D>(q, i0, a);
  hd.template load_dout<D>(go, dout, i0, a);
  float dq[D / 8][4];
  zero(dq);
  for (int j0 = 0; j0 < a.T; j0 += kBc) {
    __syncthreads();  // the previous K/V tiles are consumed (and Q, dO are complete)
    hd.template load_kv<D>(k, v, j0, a);
    __syncthreads();
    float s[kNT][4], dp[kNT][4];
    zero(s);
    zero(dp);
    mm_abt<D>(s, q, r0, k);
    mm_abt<D>(dp, go, r0, v);
#pragma unroll
    for (int nt = 0; nt < kNT; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int r = e >> 1, j = j0 + 8 * nt + 2 * t + (e & 1);
        float ds = 0.0f;
        if (row[r] < a.T && hd.keys.ok(j))
          ds = pair_grad(s[nt][e], dp[nt][e], li[r], di[r], attn_keep(a, hd.bh, row[r], j), a.scale,
                         a.bias ? &a.bias[(int64_t(hd.h) * a.T + row[r]) * a.T + j] : nullptr)
                   .ds;
        s[nt][e] = ds;
      }
    mm_wx<D>(dq, s, k);
  }
  const float one[2] = {1.0f, 1.0f};
  store_rows<D>(dqkv + int64_t(hd.b) * a.T * hd.C3 + hd.h * D, hd.C3, row, a.T, dq, one, acc);
}

constexpr size_t fwd_smem(int D) { return size_t(kBr + 2 * kBc) * (D + 8) * 2; }
constexpr size_t bwd_kv_smem(int D) { return size_t(2 * kBc + 2 * kBr) * (D + 8) * 2 + 2 * kBr * sizeof(float); }
constexpr size_t bwd_q_smem(int D) { return size_t(2 * kBr + 2 * kBc) * (D + 8) * 2; }

template <int D, class S>
void fwd(S* out, float* lse, const Attn& a, int B) {
  auto* k = attention_fwd_tc_k<D, S>;
  const size_t smem = smem_or_raise(reinterpret_cast<const void*>(k), fwd_smem(D));
  LAUNCH(k, dim3((a.T + kBr - 1) / kBr, a.H, B), kThreads, smem, 0)(out, lse, a);
  check_launch("attention_fwd_tc_k");
}

template <int D, class S>
void bwd(S* dqkv, const S* dout, const float* lse, const float* dsum, const Attn& a, int B, bool acc) {
  auto* kkv = attention_bwd_kv_tc_k<D, S>;
  size_t smem = smem_or_raise(reinterpret_cast<const void*>(kkv), bwd_kv_smem(D));
  LAUNCH(kkv, dim3((a.T + kBc - 1) / kBc, a.H, B), kThreads, smem, 0)(dqkv, dout, lse, dsum, a, acc);
  check_launch("attention_bwd_kv_tc_k");
  auto* kq = attention_bwd_q_tc_k<D, S>;
  smem = smem_or_raise(reinterpret_cast<const void*>(kq), bwd_q_smem(D));
  LAUNCH(kq, dim3((a.T + kBr - 1) / kBr, a.H, B), kThreads, smem, 0)(dqkv, dout, lse, dsum, a, acc);
  check_launch("attention_bwd_q_tc_k");
}

template <class S>
void fwd_any(S* out, float* lse, const Attn& a, int B, int D) {
  switch (D) {
    case 16: return fwd<16>(out, lse, a, B);
    case 32: return fwd<32>(out, lse, a, B);
    case 64: return fwd<64>(out, lse, a, B);
    case 128: return fwd<128>(out, lse, a, B);
  }
  ::mr::throw_error(__FILE__, __LINE__, "attention_fwd_tc", "head dim " + std::to_string(D) + " not 16/32/64/128");
}

template <class S>
void bwd_any(S* dqkv, const S* dout, const float* lse, const float* dsum, const Attn& a, int B, int D, bool acc) {
  switch (D) {
    case 16: return bwd<16>(dqkv, dout, lse, dsum, a, B, acc);
    case 32: return bwd<32>(dqkv, dout, lse, dsum, a, B, acc);
    case 64: return bwd<64>(dqkv, dout, lse, dsum, a, B, acc);
    case 128: return bwd<128>(dqkv, dout, lse, dsum, a, B, acc);
  }
  ::mr::throw_error(__FILE__, __LINE__, "attention_bwd_tc", "head dim " + std::to_string(D) + " not 16/32/64/128");
}

}  // namespace

bool attention_tc_supports(int D) { return D == 16 || D == 32 || D == 64 || D == 128; }

void attention_fwd_tc(float* out, float* lse, const Attn& a, int B, int D) { fwd_any(out, lse, a, B, D); }
void attention_fwd_tc(bf16_t* out, float* lse, const Attn& a, int B, int D) { fwd_any(out, lse, a, B, D); }
void attention_bwd_tc(float* dqkv, const float* dout, const float* lse, const float* dsum, const Attn& a, int B,
                      int D, bool acc) {
  bwd_any(dqkv, dout, lse, dsum, a, B, D, acc);
}
void attention_bwd_tc(bf16_t* dqkv, const bf16_t* dout, const float* lse, const float* dsum, const Attn& a, int B,
                      int D, bool acc) {
  bwd_any(dqkv, dout, lse, dsum, a, B, D, acc);
}

}  // namespace mr::cuda
