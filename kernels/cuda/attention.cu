// Multi-head self-attention over a fused projection qkv(B, T, 3C) = [Q | K | V], H heads of
// D = C/H. mask(B, T): 1 = real token, 0 = padding key (null: none). Semantics exactly as
// kernels/ref/attention.cpp: masked keys get probability exactly 0; a sequence with no real
// token attends uniformly over all keys; probs(B, H, T, T) is saved before dropout; dropout
// keeps element (b, h, i, j) iff dropout_keep(seed, offset + ((b*H + h)*T + i)*T + j) (the
// same Philox stream as the CPU, so the masks are identical bit for bit).
//
// fp32, straightforward (not yet flash-style): forward is one block of 128 threads per
// (query row i, head h, batch b): the row's scores live in shared memory (T floats), softmax
// with block reductions, then out = P' V with one thread per output channel.
// Backward, deterministic (no atomics), in two kernels:
//   1. per query row (b, h, i): dp_j = keep_j * (dout_i . v_j); dot_i = sum_j dp_j p_j;
//      ds_j = p_j (dp_j - dot_i) / sqrt(D); dq_i = sum_j ds_j k_j. dot_i goes to scratch.
//   2. per key row (b, h, j): recomputes dp_ij and ds_ij from dot_i, then
//      dk_j = sum_i ds_ij q_i and dv_j = sum_i p_ij keep_ij dout_i.
// dqkv is written or added by acc_dqkv (each element by exactly one thread).
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/philox.h"

namespace mr::cuda {

namespace {

// Number of real tokens of sequence b (all T without a mask); block-wide, all threads get it.
__device__ __forceinline__ int count_valid(const int32_t* mask, int b, int T, float* red) {
  if (!mask) return T;
  float cnt = 0.0f;
  for (int j = threadIdx.x; j < T; j += blockDim.x) cnt += mask[b * T + j] ? 1.0f : 0.0f;
  return int(block_sum(cnt, red) + 0.5f);
}

__device__ __forceinline__ float keep_scale_of(uint64_t seed, uint64_t idx, float p_drop, float ks) {
  if (p_drop <= 0.0f) return 1.0f;
  return dropout_keep(seed, idx, p_drop) ? ks : 0.0f;
}

// grid (T, H, B), block 128, dynamic smem (T + D) floats
__global__ void attention_fwd_k(float* out, float* probs, const float* qkv, const int32_t* mask, int T, int C, int H,
                                float scale, float p_drop, float ks, uint64_t seed, uint64_t offset) {
  DYNAMIC_SMEM(float, sm);
  __shared__ float red[32];
  const int i = blockIdx.x, h = blockIdx.y, b = blockIdx.z, D = C / H;
  float* sc = sm;      // (T)
  float* q = sm + T;   // (D)
  const int64_t C3 = 3 * int64_t(C);
  const float* qrow = qkv + (int64_t(b) * T + i) * C3 + h * D;
  for (int d = threadIdx.x; d < D; d += blockDim.x) q[d] = qrow[d];
  __syncthreads();
  const int valid = count_valid(mask, b, T, red);
  float mx = -INFINITY;
  for (int j = threadIdx.x; j < T; j += blockDim.x) {
    const bool ok = valid == 0 || !mask || mask[b * T + j];
    float v = -INFINITY;
    if (ok) {
      const float* k = qkv + (int64_t(b) * T + j) * C3 + C + h * D;
      float dot = 0.0f;
      for (int d = 0; d < D; ++d) dot += q[d] * k[d];
      v = dot * scale;
      mx = fmaxf(mx, v);
    }
    sc[j] = v;
  }
  mx = block_max(mx, red);
  float z = 0.0f;
  for (int j = threadIdx.x; j < T; j += blockDim.x) {
    const float e = sc[j] == -INFINITY ? 0.0f : expf(sc[j] - mx);
    sc[j] = e;
    z += e;
  }
  z = block_sum(z, red);  // barriers inside: sc is complete after it
  const float inv = 1.0f / z;
  const int64_t prow = ((int64_t(b) * H + h) * T + i) * T;
  for (int j = threadIdx.x; j < T; j += blockDim.x) {
    const float p = sc[j] * inv;
    probs[prow + j] = p;
    sc[j] = p * keep_scale_of(seed, offset + uint64_t(prow + j), p_drop, ks);
  }
  __syncthreads();
  for (int d = threadIdx.x; d < D; d += blockDim.x) {
    float acc = 0.0f;
    for (int j = 0; j < T; ++j) acc += sc[j] * qkv[(int64_t(b) * T + j) * C3 + 2 * C + h * D + d];
    out[(int64_t(b) * T + i) * C + h * D + d] = acc;
  }
}

// grid (T, H, B), block 128, dynamic smem (T + D) floats. Writes dq rows and dot (B, H, T).
__global__ void attention_bwd_q_k(float* dqkv, float* dots, const float* dout, const float* qkv, const float* probs,
                                  int T, int C, int H, float scale, float p_drop, float ks, uint64_t seed,
                                  uint64_t offset, bool acc) {
  DYNAMIC_SMEM(float, sm);
  __shared__ float red[32];
  const int i = blockIdx.x, h = blockIdx.y, b = blockIdx.z, D = C / H;
  float* ds = sm;     // (T)
  float* go = sm + T;  // (D)
  const int64_t C3 = 3 * int64_t(C);
  const int64_t prow = ((int64_t(b) * H + h) * T + i) * T;
  for (int d = threadIdx.x; d < D; d += blockDim.x) go[d] = dout[(int64_t(b) * T + i) * C + h * D + d];
  __syncthreads();
  float part = 0.0f;
  for (int j = threadIdx.x; j < T; j += blockDim.x) {
    const float* v = qkv + (int64_t(b) * T + j) * C3 + 2 * C + h * D;
    float s = 0.0f;
    for (int d = 0; d < D; ++d) s += go[d] * v[d];
    const float dp = s * keep_scale_of(seed, offset + uint64_t(prow + j), p_drop, ks);
    ds[j] = dp;
    part += dp * probs[prow + j];
  }
  const float dot = block_sum(part, red);
  for (int j = threadIdx.x; j < T; j += blockDim.x) ds[j] = probs[prow + j] * (ds[j] - dot) * scale;
  if (threadIdx.x == 0) dots[(int64_t(b) * H + h) * T + i] = dot;
  __syncthreads();
  for (int d = threadIdx.x; d < D; d += blockDim.x) {
    float sum = 0.0f;
    for (int j = 0; j < T; ++j) sum += ds[j] * qkv[(int64_t(b) * T + j) * C3 + C + h * D + d];
    float* dq = dqkv + (int64_t(b) * T + i) * C3 + h * D + d;
    *dq = acc ? *dq + sum : sum;
  }
}

// grid (T, H, B), block 128, dynamic smem (2T + D) floats: key/value row j.
__global__ void attention_bwd_kv_k(float* dqkv, const float* dots, const float* dout, const float* qkv,
                                   const float* probs, int T, int C, int H, float scale, float p_drop, float ks,
                                   uint64_t seed, uint64_t offset, bool acc) {
  DYNAMIC_SMEM(float, sm);
  const int j = blockIdx.x, h = blockIdx.y, b = blockIdx.z, D = C / H;
  float* dsc = sm;         // (T) ds_ij over i
  float* pk = sm + T;      // (T) p_ij keep_ij over i
  float* v = sm + 2 * T;   // (D)
  const int64_t C3 = 3 * int64_t(C);
  for (int d = threadIdx.x; d < D; d += blockDim.x) v[d] = qkv[(int64_t(b) * T + j) * C3 + 2 * C + h * D + d];
  __syncthreads();
  for (int i = threadIdx.x; i < T; i += blockDim.x) {
    const int64_t pidx = ((int64_t(b) * H + h) * T + i) * T + j;
    const float* go = dout + (int64_t(b) * T + i) * C + h * D;
    float s = 0.0f;
    for (int d = 0; d < D; ++d) s += go[d] * v[d];
    const float kp = keep_scale_of(seed, offset + uint64_t(pidx), p_drop, ks);
    const float p = probs[pidx];
    dsc[i] = p * (s * kp - dots[(int64_t(b) * H + h) * T + i]) * scale;
    pk[i] = p * kp;
  }
  __syncthreads();
  for (int d = threadIdx.x; d < D; d += blockDim.x) {
    float ak = 0.0f, av = 0.0f;
    for (int i = 0; i < T; ++i) {
      const int64_t row = (int64_t(b) * T + i);
      ak += dsc[i] * qkv[row * C3 + h * D + d];
      av += pk[i] * dout[row * C + h * D + d];
    }
    float* dk = dqkv + (int64_t(b) * T + j) * C3 + C + h * D + d;
    float* dv = dk + C;
    *dk = acc ? *dk + ak : ak;
    *dv = acc ? *dv + av : av;
  }
}

size_t smem_or_raise(const void* k, size_t bytes) {
  if (bytes > 48 * 1024) CUDA_CHECK(cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes)));
  return bytes;
}

}  // namespace

void attention_fwd(float* out, float* probs, const float* qkv, const int32_t* mask, int B, int T, int C, int H,
                   float p_drop, uint64_t seed, uint64_t offset) {
  if (B == 0 || T == 0 || C == 0) return;
  const int D = C / H;
  const float scale = float(1.0 / sqrt(double(D)));
  const float ks = p_drop > 0 ? float(1.0 / (1.0 - double(p_drop))) : 1.0f;
  auto* k = attention_fwd_k;
  const size_t smem = smem_or_raise(reinterpret_cast<const void*>(k), size_t(T + D) * sizeof(float));
  LAUNCH(k, dim3(T, H, B), kRowBlock, smem, 0)(out, probs, qkv, mask, T, C, H, scale, p_drop, ks, seed, offset);
  check_launch("attention_fwd_k");
}

void attention_bwd(float* dqkv, const float* dout, const float* qkv, const float* probs, const int32_t* mask, int B,
                   int T, int C, int H, float p_drop, uint64_t seed, uint64_t offset, bool acc_dqkv) {
  (void)mask;  // masked keys have probability 0, so their gradients come out 0 by themselves
  if (B == 0 || T == 0 || C == 0 || !dqkv) return;
  const int D = C / H;
  const float scale = float(1.0 / sqrt(double(D)));
  const float ks = p_drop > 0 ? float(1.0 / (1.0 - double(p_drop))) : 1.0f;
  float* dots = static_cast<float*>(scratch(size_t(B) * H * T * sizeof(float)));
  auto* kq = attention_bwd_q_k;
  size_t smem = smem_or_raise(reinterpret_cast<const void*>(kq), size_t(T + D) * sizeof(float));
  LAUNCH(kq, dim3(T, H, B), kRowBlock, smem, 0)(dqkv, dots, dout, qkv, probs, T, C, H, scale, p_drop, ks, seed,
                                                offset, acc_dqkv);
  check_launch("attention_bwd_q_k");
  auto* kkv = attention_bwd_kv_k;
  smem = smem_or_raise(reinterpret_cast<const void*>(kkv), size_t(2 * T + D) * sizeof(float));
  LAUNCH(kkv, dim3(T, H, B), kRowBlock, smem, 0)(dqkv, dots, dout, qkv, probs, T, C, H, scale, p_drop, ks, seed,
                                                 offset, acc_dqkv);
  check_launch("attention_bwd_kv_k");
}

}  // namespace mr::cuda
