// Row-major GEMMs of the CUDA ops, through cuBLASLt (kernels/cuda/gemm.cu):
//   C(M, N) = or += op(A) op(B) (+ bias(N) on every row)
// op(A) is (M, K): A itself (M, K) row-major, or with ta its transpose, A stored (K, M).
// op(B) is (K, N): B itself (K, N), or with tb its transpose, B stored (N, K).
// The compute type follows the math mode m: fp32 (CUBLAS_COMPUTE_32F), bf16
// (CUBLAS_COMPUTE_32F_FAST_16BF: A and B rounded to bf16, fp32 accumulation) or tf32
// (CUBLAS_COMPUTE_32F_FAST_TF32); storage is fp32.
// Under the SIMT emulator cuBLASLt is the host stand-in kernels/emu/include/cublasLt.h.
#pragma once
#include <cstdint>

#include "kernels/cuda/cuda_ops.h"

namespace mr::cuda {

void gemm(float* C, const float* A, bool ta, const float* B, bool tb, const float* bias, int M, int N, int K,
          bool acc, Math m);

// bf16 storage: A and B bf16 (CUDA_R_16BF), products accumulated in fp32 (CUBLAS_COMPUTE_32F,
// whatever the math mode), C either bf16 (rounded once, from fp32) or fp32. The bias has
// C's type (cuBLASLt's default bias type is the D type).
void gemm(bf16_t* C, const bf16_t* A, bool ta, const bf16_t* B, bool tb, const bf16_t* bias, int M, int N, int K,
          bool acc);
void gemm(float* C, const bf16_t* A, bool ta, const bf16_t* B, bool tb, int M, int N, int K, bool acc);

// The plan cache: one plan per (shape, transposes, bias, types, alignments), the least recently
// used dropped beyond the limit (1024 by default; at least 1).
size_t gemm_plan_count();
uint64_t gemm_plan_misses();  // plans made so far (heuristic queries), for tests
void set_gemm_plan_limit(size_t n);

}  // namespace mr::cuda
