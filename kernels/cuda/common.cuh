// Shared pieces of the CUDA ops (kernels/cuda/*.cu): block reductions over warp shuffles,
// grid sizes for elementwise launches, and the grow-only device scratch some backward
// passes need. Restricted style (docs/emulator.md): every thread of a block reaches every
// barrier, only *_sync intrinsics, blockDim.x a multiple of 32.
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "kernels/cuda/compat.cuh"
#include "kernels/cuda/cuda_check.cuh"

namespace mr::cuda {

constexpr int kBlock = 256;    // elementwise and per-column kernels
constexpr int kRowBlock = 128;  // one block per row (layernorm, softmax rows, losses)

inline int blocks_for(int64_t n, int block = kBlock) {
  int64_t b = (n + block - 1) / block;
  if (b < 1) b = 1;
  if (b > 65535) b = 65535;  // kernels stride over the rest (grid-stride loops)
  return int(b);
}

template <class T>
__device__ __forceinline__ T warp_sum(T v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(MR_FULL_MASK, v, o);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(MR_FULL_MASK, v, o));
  return v;
}

// Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the
// result. `red` is static shared scratch of 32 elements. The order of the additions is fixed
// by the block size, so results are deterministic run to run.
template <class T>
__device__ __forceinline__ T block_sum(T v, T* red) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  v = warp_sum(v);
  __syncthreads();  // red may still be read by a previous call
  if (lane == 0) red[warp] = v;
  __syncthreads();
  T r = lane < nw ? red[lane] : T(0);
  return warp_sum(r);
}

__device__ __forceinline__ float block_max(float v, float* red) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) red[warp] = v;
  __syncthreads();
  float r = lane < nw ? red[lane] : -INFINITY;
  return warp_max(r);
}

// Grow-only device scratch (kernels/cuda/table.cu): allocated on first use and kept, so a
// training step after the first allocates nothing. Independent slots: slot 0 for the ops' own
// temporaries, slot 1 for colsum_acc (colsum.cuh), so an op may hold slot 0 across a column
// sum, slot 2 for the fp32 copies the bf16 attention entries work on (attention.cu), held
// across the fp32 kernels that use slots 0 and 1, and slot 3 for an aligned copy of a GEMM
// bias (gemm.cu). Growing a slot frees its old memory: do not
// hold a pointer across a larger request of the same slot. Not thread-safe: one host thread
// drives the CUDA backend.
constexpr int kScratchSlots = 4;
void* scratch(size_t bytes, int slot = 0);

// Throws mr::Error naming the launch when a kernel launch failed.
inline void check_launch(const char* what) {
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) ::mr::throw_error(__FILE__, __LINE__, what, cudaGetErrorString(e));
}

}  // namespace mr::cuda
