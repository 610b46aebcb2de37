// Shared-memory tiled GEMM, a block reduction, tensor-core fragments (ldmatrix, mma.m16n8k16),
// cp.async pipelines and the overhead probe. Expected values: tests/emu/gemm_test.cpp.
#include <cuda_runtime.h>

#include "kernels/cuda/compat.cuh"
#include "kernels/cuda/ptx.cuh"
#include "tests/emu/kernels/kernels.h"

namespace emutest {

constexpr int kTile = 16;

__global__ void tiled_gemm_k(float* C, const float* A, const float* B, int M, int N, int K) {
  __shared__ float As[kTile][kTile + 1];
  __shared__ float Bs[kTile][kTile + 1];
  int tx = threadIdx.x, ty = threadIdx.y;
  int row = blockIdx.y * kTile + ty, col = blockIdx.x * kTile + tx;
  float acc = 0.0f;
  for (int k0 = 0; k0 < K; k0 += kTile) {
    As[ty][tx] = (row < M && k0 + tx < K) ? A[row * K + k0 + tx] : 0.0f;
    Bs[ty][tx] = (k0 + ty < K && col < N) ? B[(k0 + ty) * N + col] : 0.0f;
    __syncthreads();
    for (int k = 0; k < kTile; ++k) acc += As[ty][k] * Bs[k][tx];
    __syncthreads();
  }
  if (row < M && col < N) C[row * N + col] = acc;
}
void tiled_gemm(float* C, const float* A, const float* B, int M, int N, int K) {
  dim3 grid((N + kTile - 1) / kTile, (M + kTile - 1) / kTile), block(kTile, kTile);
  LAUNCH(tiled_gemm_k, grid, block, 0, 0)(C, A, B, M, N, K);
}

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(MR_FULL_MASK, v, o);
  return v;
}
__global__ void block_reduce_k(float* out, const float* in, int n) {
  __shared__ float part[32];
  float v = 0.0f;
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) v += in[i];
  v = warp_sum(v);
  int w = threadIdx.x / 32, l = threadIdx.x % 32;
  if (l == 0) part[w] = v;
  __syncthreads();
  if (w == 0) {
    v = l < int(blockDim.x / 32) ? part[l] : 0.0f;
    v = warp_sum(v);
    if (l == 0) out[blockIdx.x] = v;
  }
}
void block_reduce(float* out, const float* in, int n, int nblocks) {
  LAUNCH(block_reduce_k, nblocks, 128, 0, 0)(out, in, n);
}

__global__ void ldmatrix_dump_k(uint32_t* out, const uint16_t* m, int num, int trans) {
  __shared__ __align__(16) uint16_t s[4 * 64];
  int l = threadIdx.x;
  for (int i = l; i < 4 * 64; i += 32) s[i] = i < num * 64 ? m[i] : 0;
  __syncthreads();
  const uint16_t* row = &s[((l / 8) % num) * 64 + (l % 8) * 8];  // lane l: row l%8 of matrix l/8
  uint32_t r[4] = {0, 0, 0, 0};
  if (num == 1 && !trans) mr::ptx::ldmatrix_x1(r[0], row);
  if (num == 2 && !trans) mr::ptx::ldmatrix_x2(r[0], r[1], row);
  if (num == 4 && !trans) mr::ptx::ldmatrix_x4(r[0], r[1], r[2], r[3], row);
  if (num == 1 && trans) mr::ptx::ldmatrix_x1_trans(r[0], row);
  if (num == 2 && trans) mr::ptx::ldmatrix_x2_trans(r[0], r[1], row);
  if (num == 4 && trans) mr::ptx::ldmatrix_x4_trans(r[0], r[1], r[2], r[3], row);
  for (int i = 0; i < 4; ++i) out[4 * l + i] = r[i];
}
void ldmatrix_dump(uint32_t* out, const uint16_t* m, int num, int trans) {
  LAUNCH(ldmatrix_dump_k, 1, 32, 0, 0)(out, m, num, trans);
}

__device__ __forceinline__ void mma(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2], const float (&c)[4],
                                    int bf16) {
  if (bf16) mr::ptx::mma_m16n8k16_bf16(d, a, b, c);
  else mr::ptx::mma_m16n8k16_f16(d, a, b, c);
}
// C/D fragment (PTX ISA): c_i at row groupID + 8*(i >= 2), column 2*threadID_in_group + (i & 1)
__device__ __forceinline__ void load_c(float (&c)[4], const float* C, int lane) {
  int g = lane >> 2, t = lane & 3;
  c[0] = C[g * 8 + 2 * t], c[1] = C[g * 8 + 2 * t + 1], c[2] = C[(g + 8) * 8 + 2 * t], c[3] = C[(g + 8) * 8 + 2 * t + 1];
}
__device__ __forceinline__ void store_d(float* D, const float (&d)[4], int lane) {
  int g = lane >> 2, t = lane & 3;
  D[g * 8 + 2 * t] = d[0], D[g * 8 + 2 * t + 1] = d[1], D[(g + 8) * 8 + 2 * t] = d[2], D[(g + 8) * 8 + 2 * t + 1] = d[3];
}

__global__ void mma_ldmatrix_k(float* D, const uint16_t* A, const uint16_t* B, const float* C, int bf16) {
  __shared__ __align__(16) uint16_t As[16 * 16];
  __shared__ __align__(16) uint16_t Bs[16 * 8];
  int l = threadIdx.x;
  for (int i = l; i < 256; i += 32) As[i] = A[i];
  for (int i = l; i < 128; i += 32) Bs[i] = B[i];
  __syncthreads();
  uint32_t a[4], b[2];
  // A: matrices (rows 0-7, cols 0-7), (rows 8-15, cols 0-7), (rows 0-7, cols 8-15), (rows 8-15, cols 8-15)
  mr::ptx::ldmatrix_x4(a[0], a[1], a[2], a[3], &As[(l % 16) * 16 + (l / 16) * 8]);
  // B (k rows): matrices k 0-7 and k 8-15, transposed so a lane holds two consecutive k of one n
  mr::ptx::ldmatrix_x2_trans(b[0], b[1], &Bs[(l % 16) * 8]);
  float c[4], d[4];
  load_c(c, C, l);
  mma(d, a, b, c, bf16);
  store_d(D, d, l);
}
void mma_ldmatrix(float* D, const uint16_t* A, const uint16_t* B, const float* C, int bf16) {
  LAUNCH(mma_ldmatrix_k, 1, 32, 0, 0)(D, A, B, C, bf16);
}

// Fragments read straight from global memory with the PTX ISA tables (groupID g, thread in group t):
//   a0,a1: A[g][2t..2t+1]   a2,a3: A[g+8][2t..2t+1]   a4,a5: A[g][2t+8..]   a6,a7: A[g+8][2t+8..]
//   b0,b1: B[2t..2t+1][g]   b2,b3: B[2t+8..2t+9][g]
__global__ void mma_direct_k(float* D, const uint16_t* A, const uint16_t* B, const float* C, int bf16) {
  int l = threadIdx.x, g = l >> 2, t = l & 3;
  uint32_t a[4] = {mr::ptx::pack_b16(A[g * 16 + 2 * t], A[g * 16 + 2 * t + 1]),
                   mr::ptx::pack_b16(A[(g + 8) * 16 + 2 * t], A[(g + 8) * 16 + 2 * t + 1]),
                   mr::ptx::pack_b16(A[g * 16 + 2 * t + 8], A[g * 16 + 2 * t + 9]),
                   mr::ptx::pack_b16(A[(g + 8) * 16 + 2 * t + 8], A[(g + 8) * 16 + 2 * t + 9])};
  uint32_t b[2] = {mr::ptx::pack_b16(B[(2 * t) * 8 + g], B[(2 * t + 1) * 8 + g]),
                   mr::ptx::pack_b16(B[(2 * t + 8) * 8 + g], B[(2 * t + 9) * 8 + g])};
  float c[4], d[4];
  load_c(c, C, l);
  mma(d, a, b, c, bf16);
  store_d(D, d, l);
}
void mma_direct(float* D, const uint16_t* A, const uint16_t* B, const float* C, int bf16) {
  LAUNCH(mma_direct_k, 1, 32, 0, 0)(D, A, B, C, bf16);
}

// n floats, one 16-byte cp.async per thread into shared memory, then every thread writes out
// the chunk its right neighbour copied. mode 0: no wait (a bug: the data may not be there);
// 1: wait_all; 2: the first half of the threads commit one group, then all commit a second
// (the second half's chunks), wait<1> retires only the first group.
__global__ void cp_async_copy_k(float* out, const float* in, int mode) {
  DYNAMIC_SMEM(float, s);
  int t = threadIdx.x, nt = blockDim.x;
  bool first_half = t < nt / 2;
  if (mode != 2 || first_half) mr::ptx::cp_async_16(&s[4 * t], &in[4 * t]);
  mr::ptx::cp_async_commit();
  if (mode == 2 && !first_half) mr::ptx::cp_async_16(&s[4 * t], &in[4 * t]);
  if (mode == 2) mr::ptx::cp_async_commit();
  if (mode == 1) mr::ptx::cp_async_wait_all();
  if (mode == 2) mr::ptx::cp_async_wait<1>();
  __syncthreads();
  int u = (t + 1) % nt;
  for (int i = 0; i < 4; ++i) out[4 * u + i] = s[4 * u + i];
  if (mode != 1) mr::ptx::cp_async_wait_all();  // drain before exit
}
void cp_async_copy(float* out, const float* in, int n, int wait) {
  LAUNCH(cp_async_copy_k, 1, n / 4, n * sizeof(float), 0)(out, in, wait);
}
__global__ void cp_async_zfill_k(float* out, const float* in, int src_bytes) {
  __shared__ __align__(16) float s[4];
  mr::ptx::cp_async_16_zfill(s, in, src_bytes);
  mr::ptx::cp_async_wait_all();
  for (int i = 0; i < 4; ++i) out[i] = s[i];
}
void cp_async_zfill(float* out, const float* in, int src_bytes) {
  LAUNCH(cp_async_zfill_k, 1, 1, 0, 0)(out, in, src_bytes);
}

__global__ void ldmatrix_misaligned_k() {
  __shared__ __align__(16) uint16_t s[8 * 8 + 8];
  for (int i = threadIdx.x; i < 72; i += 32) s[i] = uint16_t(i);
  __syncthreads();
  uint32_t r;
  mr::ptx::ldmatrix_x1(r, &s[1 + (threadIdx.x % 8) * 8]);
  s[threadIdx.x] = uint16_t(r);
}
void ldmatrix_misaligned() { LAUNCH(ldmatrix_misaligned_k, 1, 32, 0, 0)(); }
__global__ void cp_async_misaligned_k(const float* in) {
  __shared__ __align__(16) float s[8];
  mr::ptx::cp_async_16(&s[2], in);
  mr::ptx::cp_async_wait_all();
}
void cp_async_misaligned() {
  struct Buf {  // freed also when the launch throws
    float* p = nullptr;
    Buf() { cudaMalloc(&p, 64); }
    ~Buf() { cudaFree(p); }
  } in;
  LAUNCH(cp_async_misaligned_k, 1, 1, 0, 0)(in.p);
}

__global__ void overhead_k(float* out, int kind, int iters) {
  __shared__ float s[1024];
  float v = float(threadIdx.x);
  if (kind == 0) {
    for (int i = 0; i < iters; ++i) {
      s[threadIdx.x] = v;
      __syncthreads();
      v += s[(threadIdx.x + 1) % blockDim.x];
      __syncthreads();
    }
  } else {
    for (int i = 0; i < iters; ++i) v += __shfl_xor_sync(MR_FULL_MASK, v, 1);
  }
  out[blockIdx.x * blockDim.x + threadIdx.x] = v;
}
void overhead(float* out, int kind, int iters, int nthreads, int nblocks) {
  LAUNCH(overhead_k, nblocks, nthreads, 0, 0)(out, kind, iters);
}

}  // namespace emutest
