// Deliberately broken kernels: each one is a bug the emulator must expose (a wrong answer
// under some thread order, or an error naming the kernel and call site). They compile with
// nvcc, but running them on a GPU is undefined behaviour: the GPU suite skips them.
#include <cuda_runtime.h>

#include "kernels/cuda/ptx.cuh"  // and compat.cuh
#include "tests/emu/kernels/kernels.h"

namespace emutest {

// Each thread stages its element in shared memory and reads its left neighbour's. Without a
// barrier the neighbour may not have written yet: forward order happens to hide that (thread
// t-1 runs to completion before t), reverse and random orders read the NaN poison.
__global__ void neighbour_no_barrier_k(float* out, const float* in) {
  DYNAMIC_SMEM(float, s);
  int t = threadIdx.x;
  s[t] = in[t];
  out[t] = t > 0 ? s[t - 1] : 0.0f;
}
__global__ void neighbour_with_barrier_k(float* out, const float* in) {
  DYNAMIC_SMEM(float, s);
  int t = threadIdx.x;
  s[t] = in[t];
  __syncthreads();
  out[t] = t > 0 ? s[t - 1] : 0.0f;
}
void neighbour_no_barrier(float* out, const float* in, int n) {
  LAUNCH(neighbour_no_barrier_k, 1, n, n * sizeof(float), 0)(out, in);
}
void neighbour_with_barrier(float* out, const float* in, int n) {
  LAUNCH(neighbour_with_barrier_k, 1, n, n * sizeof(float), 0)(out, in);
}

__global__ void deadlock_k(int* out) {
  int v = threadIdx.x;
  if (threadIdx.x == 0) __syncthreads();
  else v = __shfl_sync(MR_FULL_MASK, v, 0);
  out[threadIdx.x] = v;
}
__global__ void divergent_barrier_k(int* out) {
  if (threadIdx.x % 2) {
    __syncthreads();
  } else {
    __syncthreads();
  }
  out[threadIdx.x] = 1;
}
__global__ void exit_before_barrier_k(int* out) {
  if (threadIdx.x == 3) return;
  __syncthreads();
  out[threadIdx.x] = 1;
}
__global__ void absent_lane_k(int* out) {
  out[threadIdx.x] = __shfl_down_sync(MR_FULL_MASK, int(threadIdx.x), 1);
}
__global__ void exited_lane_k(int* out) {
  if (threadIdx.x == 31) return;
  out[threadIdx.x] = __shfl_down_sync(MR_FULL_MASK, int(threadIdx.x), 1);
}
__global__ void shuffle_outside_mask_k(int* out) {
  int l = threadIdx.x;
  if (l < 16) out[l] = __shfl_sync(0x0000ffffu, l, l + 16);
}
__global__ void mask_without_caller_k(int* out) {
  out[threadIdx.x] = __shfl_sync(0xfffffffeu, int(threadIdx.x), 1);
}
__global__ void shuffle_sites_k(int* out) {
  int l = threadIdx.x, v;
  if (l % 2) v = __shfl_xor_sync(MR_FULL_MASK, l, 1);
  else v = __shfl_xor_sync(MR_FULL_MASK, l, 1);
  out[l] = v;
}

namespace {
struct Scratch {  // a device buffer for the broken kernels' output
  int* p = nullptr;
  Scratch() { cudaMalloc(&p, 64 * sizeof(int)); }
  ~Scratch() { cudaFree(p); }
};
}  // namespace

void bug_deadlock() { Scratch s; LAUNCH(deadlock_k, 1, 32, 0, 0)(s.p); }
void bug_divergent_barrier() { Scratch s; LAUNCH(divergent_barrier_k, 1, 8, 0, 0)(s.p); }
void bug_exit_before_barrier() { Scratch s; LAUNCH(exit_before_barrier_k, 1, 8, 0, 0)(s.p); }
void bug_absent_lane() { Scratch s; LAUNCH(absent_lane_k, 1, 48, 0, 0)(s.p); }
void bug_exited_lane() { Scratch s; LAUNCH(exited_lane_k, 1, 32, 0, 0)(s.p); }
void bug_shuffle_outside_mask() { Scratch s; LAUNCH(shuffle_outside_mask_k, 1, 32, 0, 0)(s.p); }
void bug_mask_without_caller() { Scratch s; LAUNCH(mask_without_caller_k, 1, 32, 0, 0)(s.p); }
void bug_shuffle_sites() { Scratch s; LAUNCH(shuffle_sites_k, 1, 32, 0, 0)(s.p); }

// Warp 1 stages an 8x8 b16 matrix in shared memory and warp 0 reads it with ldmatrix. Without
// the barrier warp 0 may read before warp 1 wrote; the answer hides it in forward order, and
// ThreadSanitizer mode must report it (the emulator reports ldmatrix's row reads to TSan).
template <bool BARRIER>
__global__ void ldmatrix_stage_k(uint32_t* out, const uint16_t* in) {
  __shared__ __align__(16) uint16_t s[64];
  const int t = threadIdx.x, lane = t & 31;
  if (t >= 32) {
    s[2 * lane] = in[2 * lane];
    s[2 * lane + 1] = in[2 * lane + 1];
  }
  if (BARRIER) __syncthreads();
  if (t < 32) {
    uint32_t r;
    mr::ptx::ldmatrix_x1(r, &s[8 * (lane & 7)]);
    out[lane] = r;
  }
}
void ldmatrix_no_barrier(uint32_t* out, const uint16_t* in) {
  auto* k = ldmatrix_stage_k<false>;
  LAUNCH(k, 1, 64, 0, 0)(out, in);
}
void ldmatrix_with_barrier(uint32_t* out, const uint16_t* in) {
  auto* k = ldmatrix_stage_k<true>;
  LAUNCH(k, 1, 64, 0, 0)(out, in);
}

}  // namespace emutest
