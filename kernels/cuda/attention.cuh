// What the two attention implementations share (kernels/cuda/attention.cu: fp32 on CUDA
// cores; kernels/cuda/attention_tc.cu: bf16 tensor cores): the kernel arguments, which keys
// take part, the dropout factor, and the tensor-core entry points. Semantics: attention.cu.
#pragma once
#include <cstdint>
#include <string>

#include "kernels/cuda/common.cuh"
#include "kernels/kernel_table.h"
#include "kernels/philox.h"

namespace mr::cuda {

// The arguments every attention kernel shares (one struct, so the kernels read like the math).
struct Attn {
  const float* qkv;       // (B, T, 3C) = [Q | K | V], fp32 storage (else null)
  const int32_t* mask;    // (B, T), 1 = real token; null: none
  int T, C, H;
  float scale, p_drop, ks;  // 1/sqrt(D); dropout probability and 1/(1-p)
  uint64_t seed, offset;
  const bf16_t* qkv16 = nullptr;  // the same in bf16 storage (tensor-core kernels only)
  const float* bias = nullptr;    // (H, T, T) additive score bias, after the scale; null: none
  // the bias of (query i, key j) of head h (both in range)
  __device__ __forceinline__ float bias_at(int h, int i, int j) const {
    return bias[(int64_t(h) * T + i) * T + j];
  }
};

// Whether key j of sequence b takes part: in range, and real unless the sequence has no real
// token at all (then every key counts, as in the reference).
struct Keys {
  const int32_t* mask;
  int b, T, valid;
  __device__ __forceinline__ bool ok(int j) const { return j < T && (valid == 0 || !mask || mask[b * T + j]); }
};

// Number of real tokens of sequence b (all T without a mask); block-wide, all threads get it.
__device__ __forceinline__ int count_valid(const int32_t* mask, int b, int T, float* red) {
  if (!mask) return T;
  float cnt = 0.0f;
  for (int j = threadIdx.x; j < T; j += blockDim.x) cnt += mask[b * T + j] ? 1.0f : 0.0f;
  return int(block_sum(cnt, red) + 0.5f);
}

// The dropout factor of (query i, key j) of head bh: 0 or 1/(1-p) (1 without dropout); the
// same Philox element as the CPU: offset + (bh*T + i)*T + j.
__device__ __forceinline__ float attn_keep(const Attn& a, int64_t bh, int i, int j) {
  if (a.p_drop <= 0.0f) return 1.0f;
  const uint64_t idx = a.offset + uint64_t(bh * a.T + i) * uint64_t(a.T) + uint64_t(j);
  return dropout_keep(a.seed, idx, a.p_drop) ? a.ks : 0.0f;
}

// Raises the kernel's dynamic shared memory limit when it needs more than 48 KiB.
inline size_t smem_or_raise(const void* k, size_t bytes) {
  if (bytes > 48 * 1024) CUDA_CHECK(cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes)));
  return bytes;
}

// bf16 tensor-core attention (attention_tc.cu), for the head dims it supports (16, 32, 64,
// 128): in Math::bf16 over fp32 storage (a.qkv), and for bf16 storage (a.qkv16, bf16 out and
// dqkv). dsum (B, H, T) = dout_i . out_i, computed by the caller.
bool attention_tc_supports(int D);
void attention_fwd_tc(float* out, float* lse, const Attn& a, int B, int D);
void attention_fwd_tc(bf16_t* out, float* lse, const Attn& a, int B, int D);
void attention_bwd_tc(float* dqkv, const float* dout, const float* lse, const float* dsum, const Attn& a, int B,
                      int D, bool acc_dqkv);
void attention_bwd_tc(bf16_t* dqkv, const bf16_t* dout, const float* lse, const float* dsum, const Attn& a, int B,
                      int D, bool acc_dqkv);
// dbias(H, T, T) += sum_b P_ij (dP_ij - sum_k P_ik dP_ik), recomputed in fp32 from qkv (a.qkv
// or a.qkv16), dout and lse (attention.cu); deterministic: one block per (query, head) sums
// the batch in order.
void attention_dbias(float* dbias, const float* dout, const float* lse, const Attn& a, int B);
void attention_dbias(float* dbias, const bf16_t* dout, const float* lse, const Attn& a, int B);

}  // namespace mr::cuda
