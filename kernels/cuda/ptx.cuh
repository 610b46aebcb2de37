// Every inline PTX instruction our kernels use, behind one wrapper each. Under nvcc the
// wrapper is the real instruction (sm_80+); under the SIMT emulator it is the PTX ISA's
// semantics, executed as a warp collective (kernels/emu/ptx.cpp has the fragment layouts).
//   mma_m16n8k16_bf16 / _f16   D(16x8, f32) = A(16x16, row) * B(16x8, col) + C; d may be c
//   ldmatrix_x1/x2/x4[_trans]  8x8 b16 matrices from shared memory; each lane gives one
//                              16-byte-aligned row address (lanes 8m..8m+7: matrix m)
//   cp_async_{4,8,16}          global -> shared copies in flight; _zfill reads src_bytes and
//                              zero-fills the rest; cp_async_commit() closes a group,
//                              cp_async_wait<N>() waits until at most N groups are pending,
//                              cp_async_wait_all() waits for all of them. The copies are only
//                              visible after the wait (and, to other threads, a __syncthreads).
#pragma once
#include <cstdint>

#include "kernels/cuda/compat.cuh"

namespace mr::ptx {

#if defined(__CUDACC__)

__device__ __forceinline__ unsigned smem_addr(const void* p) {
  return static_cast<unsigned>(__cvta_generic_to_shared(p));
}

__device__ __forceinline__ void mma_m16n8k16_bf16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2],
                                                  const float (&c)[4]) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%10,%11,%12,%13};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]));
}
__device__ __forceinline__ void mma_m16n8k16_f16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2],
                                                 const float (&c)[4]) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%10,%11,%12,%13};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]));
}

__device__ __forceinline__ void ldmatrix_x1(uint32_t& r0, const void* row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x1.shared.b16 {%0}, [%1];\n" : "=r"(r0) : "r"(smem_addr(row)));
}
__device__ __forceinline__ void ldmatrix_x2(uint32_t& r0, uint32_t& r1, const void* row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0,%1}, [%2];\n" : "=r"(r0), "=r"(r1) : "r"(smem_addr(row)));
}
__device__ __forceinline__ void ldmatrix_x4(uint32_t& r0, uint32_t& r1, uint32_t& r2, uint32_t& r3, const void* row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
               : "r"(smem_addr(row)));
}
__device__ __forceinline__ void ldmatrix_x1_trans(uint32_t& r0, const void* row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x1.trans.shared.b16 {%0}, [%1];\n" : "=r"(r0) : "r"(smem_addr(row)));
}
__device__ __forceinline__ void ldmatrix_x2_trans(uint32_t& r0, uint32_t& r1, const void* row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0,%1}, [%2];\n"
               : "=r"(r0), "=r"(r1)
               : "r"(smem_addr(row)));
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t& r0, uint32_t& r1, uint32_t& r2, uint32_t& r3,
                                                  const void* row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
               : "r"(smem_addr(row)));
}

__device__ __forceinline__ void cp_async_4(void* smem, const void* gmem) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4;\n" ::"r"(smem_addr(smem)), "l"(gmem));
}
__device__ __forceinline__ void cp_async_8(void* smem, const void* gmem) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 8;\n" ::"r"(smem_addr(smem)), "l"(gmem));
}
__device__ __forceinline__ void cp_async_16(void* smem, const void* gmem) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(smem_addr(smem)), "l"(gmem));
}
__device__ __forceinline__ void cp_async_16_zfill(void* smem, const void* gmem, int src_bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(smem)), "l"(gmem), "r"(src_bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}
__device__ __forceinline__ void cp_async_wait_all() { asm volatile("cp.async.wait_all;\n" ::); }

#elif defined(MR_EMU)

inline void mma_m16n8k16_bf16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2], const float (&c)[4],
                              const std::source_location& loc = std::source_location::current()) {
  ::mr::emu::mma_m16n8k16(true, d, a, b, c, loc);
}
inline void mma_m16n8k16_f16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2], const float (&c)[4],
                             const std::source_location& loc = std::source_location::current()) {
  ::mr::emu::mma_m16n8k16(false, d, a, b, c, loc);
}
inline void ldmatrix_x1(uint32_t& r0, const void* row, const std::source_location& loc = std::source_location::current()) {
  uint32_t r[1];
  ::mr::emu::ldmatrix(1, false, r, row, loc);
  r0 = r[0];
}
inline void ldmatrix_x2(uint32_t& r0, uint32_t& r1, const void* row,
                        const std::source_location& loc = std::source_location::current()) {
  uint32_t r[2];
  ::mr::emu::ldmatrix(2, false, r, row, loc);
  r0 = r[0], r1 = r[1];
}
inline void ldmatrix_x4(uint32_t& r0, uint32_t& r1, uint32_t& r2, uint32_t& r3, const void* row,
                        const std::source_location& loc = std::source_location::current()) {
  uint32_t r[4];
  ::mr::emu::ldmatrix(4, false, r, row, loc);
  r0 = r[0], r1 = r[1], r2 = r[2], r3 = r[3];
}
inline void ldmatrix_x1_trans(uint32_t& r0, const void* row,
                              const std::source_location& loc = std::source_location::current()) {
  uint32_t r[1];
  ::mr::emu::ldmatrix(1, true, r, row, loc);
  r0 = r[0];
}
inline void ldmatrix_x2_trans(uint32_t& r0, uint32_t& r1, const void* row,
                              const std::source_location& loc = std::source_location::current()) {
  uint32_t r[2];
  ::mr::emu::ldmatrix(2, true, r, row, loc);
  r0 = r[0], r1 = r[1];
}
inline void ldmatrix_x4_trans(uint32_t& r0, uint32_t& r1, uint32_t& r2, uint32_t& r3, const void* row,
                              const std::source_location& loc = std::source_location::current()) {
  uint32_t r[4];
  ::mr::emu::ldmatrix(4, true, r, row, loc);
  r0 = r[0], r1 = r[1], r2 = r[2], r3 = r[3];
}
inline void cp_async_4(void* smem, const void* gmem, const std::source_location& loc = std::source_location::current()) {
  ::mr::emu::cp_async(smem, gmem, 4, 4, loc);
}
inline void cp_async_8(void* smem, const void* gmem, const std::source_location& loc = std::source_location::current()) {
  ::mr::emu::cp_async(smem, gmem, 8, 8, loc);
}
inline void cp_async_16(void* smem, const void* gmem, const std::source_location& loc = std::source_location::current()) {
  ::mr::emu::cp_async(smem, gmem, 16, 16, loc);
}
inline void cp_async_16_zfill(void* smem, const void* gmem, int src_bytes,
                              const std::source_location& loc = std::source_location::current()) {
  ::mr::emu::cp_async(smem, gmem, 16, src_bytes, loc);
}
inline void cp_async_commit() { ::mr::emu::cp_async_commit(); }
template <int N>
inline void cp_async_wait() {
  ::mr::emu::cp_async_wait(N);
}
inline void cp_async_wait_all() {
  ::mr::emu::cp_async_commit();
  ::mr::emu::cp_async_wait(0);
}

#endif

// Two 16-bit values in one .b32 register, the first in the low half (the fragment order).
__host__ __device__ __forceinline__ uint32_t pack_b16(unsigned short lo, unsigned short hi) {
  return uint32_t(lo) | (uint32_t(hi) << 16);
}

}  // namespace mr::ptx
