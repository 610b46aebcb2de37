// Small kernels exercising one emulator feature each (restricted style: compiles with nvcc
// and under the emulator). Expected values live in tests/emu/basic_test.cpp.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "kernels/cuda/compat.cuh"
#include "tests/emu/kernels/kernels.h"

namespace emutest {

__global__ void builtins_k(int* out) {
  int tpb = blockDim.x * blockDim.y * blockDim.z;
  int t = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  int b = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  int* o = out + 12 * (b * tpb + t);
  o[0] = threadIdx.x, o[1] = threadIdx.y, o[2] = threadIdx.z;
  o[3] = blockIdx.x, o[4] = blockIdx.y, o[5] = blockIdx.z;
  o[6] = blockDim.x, o[7] = blockDim.y, o[8] = blockDim.z;
  o[9] = gridDim.x * 10000 + gridDim.y * 100 + gridDim.z;
  o[10] = warpSize;
  o[11] = t;
}
void builtins(int* out, dim3 grid, dim3 block) { LAUNCH(builtins_k, grid, block, 0, 0)(out); }

__global__ void sync_votes_k(int* out, const int* pred) {
  int t = threadIdx.x;
  int p = pred[t];
  out[3 * t + 0] = __syncthreads_count(p);
  out[3 * t + 1] = __syncthreads_and(p);
  out[3 * t + 2] = __syncthreads_or(p);
}
void sync_votes(int* out, const int* pred, int n) { LAUNCH(sync_votes_k, 1, n, 0, 0)(out, pred); }

__global__ void shuffles_k(int* out, int kind, int arg, int width) {
  int t = threadIdx.x;
  int v = 1000 * (t / 32) + (t % 32);
  int r = 0;
  if (kind == 0) r = __shfl_sync(MR_FULL_MASK, v, arg, width);
  if (kind == 1) r = __shfl_up_sync(MR_FULL_MASK, v, arg, width);
  if (kind == 2) r = __shfl_down_sync(MR_FULL_MASK, v, arg, width);
  if (kind == 3) r = __shfl_xor_sync(MR_FULL_MASK, v, arg, width);
  out[t] = r;
}
void shuffles(int* out, int kind, int arg, int width, int nthreads) {
  LAUNCH(shuffles_k, 1, nthreads, 0, 0)(out, kind, arg, width);
}

__global__ void shuffle_types_k(double* outd, float* outf, uint16_t* outh, uint16_t* outb, long long* outl) {
  int l = threadIdx.x;
  double d = __shfl_xor_sync(MR_FULL_MASK, 0.5 + l, 1);
  float f = __shfl_xor_sync(MR_FULL_MASK, 0.25f + float(l), 1);
  __half h = __shfl_xor_sync(MR_FULL_MASK, __float2half(float(l)), 1);
  __nv_bfloat16 b = __shfl_xor_sync(MR_FULL_MASK, __float2bfloat16(float(-l)), 1);
  long long x = __shfl_xor_sync(MR_FULL_MASK, (long long)l << 40, 1);
  outd[l] = d, outf[l] = f, outl[l] = x;
  outh[l] = __half_as_ushort(h);
  outb[l] = __bfloat16_as_ushort(b);
}
void shuffle_types(double* outd, float* outf, uint16_t* outh, uint16_t* outb, long long* outl) {
  LAUNCH(shuffle_types_k, 1, 32, 0, 0)(outd, outf, outh, outb, outl);
}

__global__ void ballots_k(unsigned* out, const int* pred) {
  int t = threadIdx.x;
  out[3 * t + 0] = __ballot_sync(MR_FULL_MASK, pred[t]);
  out[3 * t + 1] = __any_sync(MR_FULL_MASK, pred[t]);
  out[3 * t + 2] = __all_sync(MR_FULL_MASK, pred[t]);
}
void ballots(unsigned* out, const int* pred, int nthreads) { LAUNCH(ballots_k, 1, nthreads, 0, 0)(out, pred); }

// ints: [0] add count, [1] max of gid, [2] min of -gid, [3] CAS-claimed slot owner, [4] exch,
//       [5] sub; uints: [0] add of gid, [1] max, [2] min; floats: [0] add of 0.5, [1] exch
__global__ void atomics_k(int* ints, unsigned* uints, float* floats) {
  int gid = blockIdx.x * blockDim.x + threadIdx.x;
  atomicAdd(&ints[0], 1);
  atomicMax(&ints[1], gid);
  atomicMin(&ints[2], -gid);
  atomicCAS(&ints[3], -1, gid);  // only the first succeeds; the value is some gid
  atomicExch(&ints[4], 7);
  atomicSub(&ints[5], 2);
  atomicAdd(&uints[0], unsigned(gid));
  atomicMax(&uints[1], unsigned(gid) * 3u);
  atomicMin(&uints[2], unsigned(gid) + 5u);
  atomicAdd(&floats[0], 0.5f);
  atomicExch(&floats[1], 2.5f);
}
void atomics(int* ints, unsigned* uints, float* floats, int nblocks, int nthreads) {
  LAUNCH(atomics_k, nblocks, nthreads, 0, 0)(ints, uints, floats);
}

__global__ void static_shared_k(int* out) {
  __shared__ int owner;
  __shared__ int count;
  if (threadIdx.x == 0) owner = int(blockIdx.x) * 1000, count = 0;
  __syncthreads();
  atomicAdd(&count, 1);
  __syncthreads();
  out[blockIdx.x * blockDim.x + threadIdx.x] = owner + count;
}
void static_shared(int* out, int nblocks, int nthreads) { LAUNCH(static_shared_k, nblocks, nthreads, 0, 0)(out); }

__global__ void dynamic_shared_first_read_k(float* out) {
  DYNAMIC_SMEM(float, s);
  out[threadIdx.x] = s[threadIdx.x];  // never written: poisoned
}
void dynamic_shared_first_read(float* out, int nthreads, size_t smem_bytes) {
  LAUNCH(dynamic_shared_first_read_k, 1, nthreads, smem_bytes, 0)(out);
}

__global__ void fast_math_k(float* out, const float* in, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float x = __ldg(&in[i]);
  out[6 * i + 0] = __expf(x);
  out[6 * i + 1] = __logf(x);
  out[6 * i + 2] = __fdividef(1.0f, x);
  out[6 * i + 3] = rsqrtf(x);
  out[6 * i + 4] = __saturatef(x - 1.0f);
  out[6 * i + 5] = __sinf(x);
}
void fast_math(float* out, const float* in, int n) { LAUNCH(fast_math_k, (n + 31) / 32, 32, 0, 0)(out, in, n); }

__global__ void halves_k(float* out, const uint16_t* hb, const uint16_t* bb, int n) {
  int i = threadIdx.x;
  if (i >= n) return;
  __half h = __ushort_as_half(hb[i]);
  __nv_bfloat16 b = __ushort_as_bfloat16(bb[i]);
  out[4 * i + 0] = __half2float(h);
  out[4 * i + 1] = __bfloat162float(b);
  out[4 * i + 2] = __half2float(__hmul(h, h));
  out[4 * i + 3] = __bfloat162float(__hadd(b, __float2bfloat16(1.0f)));
}
void halves(float* out, const uint16_t* h, const uint16_t* b, int n) { LAUNCH(halves_k, 1, n, 0, 0)(out, h, b, n); }

__global__ void syncwarp_partial_k(int* out) {
  __shared__ int s[32];
  int l = threadIdx.x;
  s[l] = l * l;
  unsigned half_mask = l < 16 ? 0x0000ffffu : 0xffff0000u;
  __syncwarp(half_mask);
  out[l] = s[l ^ 1];  // the partner is in the same half
}
void syncwarp_partial(int* out) { LAUNCH(syncwarp_partial_k, 1, 32, 0, 0)(out); }

__global__ void empty_k(int) {}
cudaError_t launch_config(int threads, size_t smem) {
  LAUNCH(empty_k, 1, threads, smem, 0)(0);
  return cudaGetLastError();
}
__global__ void big_smem_k(float* out) {
  DYNAMIC_SMEM(float, s);
  s[threadIdx.x] = float(threadIdx.x);
  __syncthreads();
  out[threadIdx.x] = s[(threadIdx.x + 1) % blockDim.x];
}
cudaError_t launch_big_smem(float* out, size_t smem) {
  cudaError_t e = cudaFuncSetAttribute(big_smem_k, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem));
  if (e != cudaSuccess) return e;
  LAUNCH(big_smem_k, 1, 64, smem, 0)(out);
  return cudaGetLastError();
}

__global__ void trap_k() {
  if (threadIdx.x == 2) __trap();
}
void trap() { LAUNCH(trap_k, 1, 4, 0, 0)(); }

}  // namespace emutest
