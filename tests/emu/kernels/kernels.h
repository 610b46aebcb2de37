// Host launchers of the emulator test kernels (tests/emu/kernels/*.cu). The same sources
// compile with nvcc, so on a GPU these launch the real kernels. bf16/half buffers are passed
// as their 16-bit patterns.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace emutest {

// basic.cu
void builtins(int* out, dim3 grid, dim3 block);  // out: 12 ints per thread, linear over the grid
void sync_votes(int* out, const int* pred, int n);  // one block of n: count, and, or per thread
void shuffles(int* out, int kind, int arg, int width, int nthreads);  // kind 0 idx 1 up 2 down 3 xor
void shuffle_types(double* outd, float* outf, uint16_t* outh, uint16_t* outb, long long* outl);  // one warp, lane ^ 1
void ballots(unsigned* out, const int* pred, int nthreads);  // 3 per thread: ballot, any, all
void atomics(int* ints, unsigned* uints, float* floats, int nblocks, int nthreads);
void static_shared(int* out, int nblocks, int nthreads);  // out[gid] = blockIdx.x * 1000 + thread count
void dynamic_shared_first_read(float* out, int nthreads, size_t smem_bytes);  // read before write
void fast_math(float* out, const float* in, int n);  // 6 per element
void halves(float* out, const uint16_t* h, const uint16_t* b, int n);  // 4 per element
void syncwarp_partial(int* out);  // 32 threads: lanes 0..15 and 16..31 sync separately
cudaError_t launch_config(int threads, size_t smem);  // launches an empty kernel, returns cudaGetLastError()
cudaError_t launch_big_smem(float* out, size_t smem);  // opts in to `smem` bytes; out[t] = (t+1) % 64, 64 threads
void trap();  // thread 2 calls __trap()

// bugs.cu: each is a deliberately broken kernel; the emulator must catch it
void neighbour_no_barrier(float* out, const float* in, int n);    // out[t] = in[t-1] without __syncthreads
void neighbour_with_barrier(float* out, const float* in, int n);  // the fixed version
void ldmatrix_no_barrier(uint32_t* out, const uint16_t* in);  // warp 1 stages 8x8 b16, warp 0 ldmatrix, no barrier
void ldmatrix_with_barrier(uint32_t* out, const uint16_t* in);  // the fixed version
void bug_deadlock();              // lane 0 at __syncthreads, lanes 1..31 at __shfl_sync
void bug_divergent_barrier();     // odd and even threads at different __syncthreads
void bug_exit_before_barrier();   // thread 3 returns, the others __syncthreads
void bug_absent_lane();           // 48 threads; warp 1 shuffles with a full mask
void bug_exited_lane();           // lane 31 returns, the rest shuffle with a full mask
void bug_shuffle_outside_mask();  // mask 0xffff, lane l reads lane l+16
void bug_mask_without_caller();   // lane 0 uses mask 0xfffffffe
void bug_shuffle_sites();         // even and odd lanes at different __shfl_sync calls

// gemm.cu
void tiled_gemm(float* C, const float* A, const float* B, int M, int N, int K);  // C = A(MxK) B(KxN), row-major
void block_reduce(float* out, const float* in, int n, int nblocks);  // out[b] = sum of block b's grid-stride share
void ldmatrix_dump(uint32_t* out, const uint16_t* m, int num, int trans);  // m: num 8x8 row-major; out[lane*4+r]
// D(16x8) = A(16x16, row-major) * B(16x8, B[k][n] row-major) + C(16x8), bf16 (bf16=1) or f16 inputs
void mma_ldmatrix(float* D, const uint16_t* A, const uint16_t* B, const float* C, int bf16);
void mma_direct(float* D, const uint16_t* A, const uint16_t* B, const float* C, int bf16);  // fragments from global
void cp_async_copy(float* out, const float* in, int n, int wait);  // wait=0: read smem before waiting
void cp_async_zfill(float* out, const float* in, int src_bytes);   // one 16-byte copy of 4 floats
void ldmatrix_misaligned();  // emulator only: row addresses off by 2 bytes
void cp_async_misaligned();  // emulator only: a 16-byte copy to an 8-byte aligned address
// overhead: `iters` __syncthreads (kind 0) or __shfl_xor_sync (kind 1) per thread
void overhead(float* out, int kind, int iters, int nthreads, int nblocks);

}  // namespace emutest
