// SIMT emulator: the header force-included (g++ -x c++ -include kernels/emu/emu.h
// -Ikernels/emu/include) when a CUDA source is compiled for the CPU. It supplies what nvcc
// would: the execution-space keywords, the built-in variables, the warp and block
// intrinsics, atomics, fast-math intrinsics, vector types, half/bf16 and the runtime API
// (host memory, in-order streams). Kernels run through LAUNCH (kernels/cuda/compat.cuh);
// every CUDA thread is a fiber and each block is scheduled by kernels/emu/sched.cpp.
// How to write and debug kernels for it: docs/emulator.md.
#pragma once
#define MR_EMU 1

#include <algorithm>
#include <atomic>
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <source_location>
#include <tuple>
#include <type_traits>
#include <utility>

#include "kernels/emu/fp16.h"

// ---------------------------------------------------------------- execution-space keywords
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
// __noinline__ is left undefined: libstdc++ spells __attribute__((__noinline__)) and a macro would break it.
#define __launch_bounds__(...)
#define __restrict__ __restrict
#define __align__(n) __attribute__((aligned(n)))
#define __constant__
#define __managed__
// Static shared memory: one instance per OS thread, and an OS thread runs one block at a
// time, so every fiber of a block sees the same storage and blocks never share it. It is not
// poisoned (C++ offers no hook); dynamic shared memory (DYNAMIC_SMEM) is. `extern __shared__`
// does not compile here on purpose: use DYNAMIC_SMEM from kernels/cuda/compat.cuh.
#define __shared__ static thread_local
#define __CUDA_ARCH_EMU__ 1

// ---------------------------------------------------------------- vector types
struct uint3 { unsigned int x, y, z; };
struct dim3 {
  unsigned int x = 1, y = 1, z = 1;
  constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1) : x(vx), y(vy), z(vz) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
  constexpr operator uint3() const { return {x, y, z}; }
};
#define MR_EMU_VEC2(T, N, A) struct alignas(A) N##2 { T x, y; }; \
  inline N##2 make_##N##2(T x, T y) { return {x, y}; }
#define MR_EMU_VEC3(T, N) struct N##3 { T x, y, z; }; \
  inline N##3 make_##N##3(T x, T y, T z) { return {x, y, z}; }
#define MR_EMU_VEC4(T, N, A) struct alignas(A) N##4 { T x, y, z, w; }; \
  inline N##4 make_##N##4(T x, T y, T z, T w) { return {x, y, z, w}; }
MR_EMU_VEC2(float, float, 8) MR_EMU_VEC3(float, float) MR_EMU_VEC4(float, float, 16)
MR_EMU_VEC2(int, int, 8) MR_EMU_VEC3(int, int) MR_EMU_VEC4(int, int, 16)
MR_EMU_VEC2(unsigned int, uint, 8) MR_EMU_VEC4(unsigned int, uint, 16)
MR_EMU_VEC2(double, double, 16) MR_EMU_VEC4(double, double, 16)
MR_EMU_VEC2(short, short, 4) MR_EMU_VEC4(short, short, 8)
MR_EMU_VEC2(unsigned short, ushort, 4) MR_EMU_VEC4(unsigned short, ushort, 8)
MR_EMU_VEC2(signed char, char, 2) MR_EMU_VEC4(signed char, char, 4)
MR_EMU_VEC2(unsigned char, uchar, 2) MR_EMU_VEC4(unsigned char, uchar, 4)
MR_EMU_VEC2(long long, longlong, 16) MR_EMU_VEC2(unsigned long long, ulonglong, 16)
#undef MR_EMU_VEC2
#undef MR_EMU_VEC3
#undef MR_EMU_VEC4
inline uint3 make_uint3(unsigned x, unsigned y, unsigned z) { return {x, y, z}; }

inline float2 __half22float2(__half2 h) { return {float(h.x), float(h.y)}; }
inline __half2 __float22half2_rn(float2 f) { return {__half(f.x), __half(f.y)}; }
inline float2 __bfloat1622float2(__nv_bfloat162 h) { return {float(h.x), float(h.y)}; }
inline __nv_bfloat162 __float22bfloat162_rn(float2 f) { return {__nv_bfloat16(f.x), __nv_bfloat16(f.y)}; }

// ---------------------------------------------------------------- runtime API types
enum cudaError {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInitializationError = 3,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidDevicePointer = 17,
  cudaErrorInvalidMemcpyDirection = 21,
  cudaErrorInvalidDevice = 101,
  cudaErrorInvalidResourceHandle = 400,
  cudaErrorNotReady = 600,
  cudaErrorLaunchFailure = 719,
  cudaErrorUnknown = 999,
};
typedef cudaError cudaError_t;
enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
};
enum cudaFuncAttribute {
  cudaFuncAttributeMaxDynamicSharedMemorySize = 8,
  cudaFuncAttributePreferredSharedMemoryCarveout = 9,
};
enum cudaDeviceAttr {
  cudaDevAttrMaxThreadsPerBlock = 1,
  cudaDevAttrMaxSharedMemoryPerBlock = 8,
  cudaDevAttrWarpSize = 10,
  cudaDevAttrMultiProcessorCount = 16,
  cudaDevAttrComputeCapabilityMajor = 75,
  cudaDevAttrComputeCapabilityMinor = 76,
  cudaDevAttrMaxSharedMemoryPerBlockOptin = 97,
};
struct CUstream_st;
struct CUevent_st;
typedef CUstream_st* cudaStream_t;
typedef CUevent_st* cudaEvent_t;
#define cudaStreamDefault 0x00
#define cudaStreamNonBlocking 0x01
#define cudaEventDefault 0x00
#define cudaEventBlockingSync 0x01
#define cudaEventDisableTiming 0x02
#define cudaStreamLegacy ((cudaStream_t)0x1)
#define cudaStreamPerThread ((cudaStream_t)0x2)
struct cudaDeviceProp {
  char name[256];
  size_t totalGlobalMem;
  size_t sharedMemPerBlock;
  size_t sharedMemPerBlockOptin;
  int regsPerBlock;
  int warpSize;
  int maxThreadsPerBlock;
  int maxThreadsDim[3];
  int maxGridSize[3];
  int major;
  int minor;
  int multiProcessorCount;
  int maxThreadsPerMultiProcessor;
};

// ---------------------------------------------------------------- emulator core interface
namespace mr::emu {

using Loc = std::source_location;

// The built-in variables of the running fiber / block (set by the scheduler on each switch).
inline thread_local uint3 tl_thread_idx{0, 0, 0};
inline thread_local uint3 tl_block_idx{0, 0, 0};
inline thread_local dim3 tl_block_dim{1, 1, 1};
inline thread_local dim3 tl_grid_dim{1, 1, 1};

// A warp collective: every lane in `mask` deposits a pointer to its own data and waits;
// when the last one arrives, resolve() sees all 32 slots (null for lanes outside the mask)
// and writes each lane's results. Errors inside resolve: call fail().
struct CollectiveOp {
  const char* name;
  bool any_site;  // lanes may wait at different call sites (only __syncwarp)
  void (*resolve)(void* const* lane_data, unsigned mask);
};
enum BarrierKind : int { kBarPlain = 0, kBarCount = 1, kBarAnd = 2, kBarOr = 3 };
int barrier(int kind, int pred, const Loc& loc);
void collective(const CollectiveOp& op, unsigned mask, void* data, const Loc& loc);
[[noreturn]] void fail(const char* what);  // an error inside a kernel: names kernel, block, thread
unsigned lane_id();
unsigned active_mask();  // lanes of the caller's warp that exist and have not exited
unsigned char* dynamic_smem();

// cp.async: copies are queued per thread and performed when a wait_group retires them.
void cp_async(void* dst, const void* src, int bytes, int src_bytes, const Loc& loc);
void cp_async_commit();
void cp_async_wait(int n_pending);
// mma.sync.aligned.m16n8k16.row.col.f32.{bf16,f16}.{bf16,f16}.f32 and ldmatrix.m8n8.b16, as warp
// collectives over the full warp (PTX ISA fragment layouts).
void mma_m16n8k16(bool bf16, float* d, const uint32_t* a, const uint32_t* b, const float* c, const Loc& loc);
void ldmatrix(int num, bool trans, uint32_t* regs, const void* row_addr, const Loc& loc);

// Thread order inside a block (and block order inside a grid).
enum class Order { Forward, Reverse, Random };
struct Config {
  Order order = Order::Forward;
  uint64_t seed = 1;
  int workers = 1;               // OS threads running blocks
  size_t stack_bytes = 256 << 10;  // per fiber, plus a guard page
};
// Current settings; first call reads MR_EMU_ORDER (forward | reverse | random[:SEED]),
// MR_EMU_THREADS and MR_EMU_STACK_KB.
Config& config();
Config config_from_env();

struct KernelCall {
  const char* name;
  const void* key;  // the kernel function, for cudaFuncSetAttribute
  dim3 grid, block;
  size_t smem;
  cudaStream_t stream;
  Loc loc;
  void (*thunk)(void* pack);  // calls the kernel with a fresh copy of the arguments
  void* pack;
};
// Runs every block to completion; launch-configuration errors set cudaGetLastError (as on
// the GPU); a bug the scheduler detects (deadlock, divergent barrier, bad warp mask, ...)
// throws mr::Error naming the kernel, the block, the threads and the call sites.
void launch(const KernelCall& call);
void set_last_error(cudaError_t e);

template <class... P>
struct Launcher {
  void (*fn)(P...);
  const char* name;
  dim3 grid, block;
  size_t smem;
  cudaStream_t stream;
  Loc loc;
  template <class... A>
  void operator()(A&&... a) const {
    static_assert(sizeof...(A) == sizeof...(P), "LAUNCH: wrong number of kernel arguments");
    struct Pack {
      void (*fn)(P...);
      std::tuple<std::decay_t<P>...> args;
    } pack{fn, std::tuple<std::decay_t<P>...>(static_cast<std::decay_t<P>>(std::forward<A>(a))...)};
    KernelCall call{name, reinterpret_cast<const void*>(fn), grid, block, smem, stream, loc,
                    [](void* p) {
                      auto* k = static_cast<Pack*>(p);
                      std::apply(k->fn, k->args);  // by-value parameters: each thread its own copy
                    },
                    &pack};
    launch(call);
  }
};
template <class... P>
Launcher<P...> make_launch(void (*fn)(P...), const char* name, dim3 grid, dim3 block, size_t smem,
                           cudaStream_t stream, const Loc& loc = Loc::current()) {
  return Launcher<P...>{fn, name, grid, block, smem, stream, loc};
}

template <class T>
inline uint64_t to_bits64(T v) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8, "warp intrinsics take values of at most 8 bytes");
  uint64_t u = 0;
  std::memcpy(&u, &v, sizeof(T));
  return u;
}
template <class T>
inline T from_bits64(uint64_t u) {
  T v;
  std::memcpy(&v, &u, sizeof(T));
  return v;
}
enum ShflKind : int { kShflIdx = 0, kShflUp = 1, kShflDown = 2, kShflXor = 3 };
uint64_t shfl(int kind, unsigned mask, uint64_t val, int arg, int width, const Loc& loc);
unsigned vote(int kind, unsigned mask, int pred, const Loc& loc);  // 0 ballot, 1 any, 2 all
void syncwarp(unsigned mask, const Loc& loc);

// device-side atomics; several OS threads may run blocks at once, so they are real atomics
template <class T>
inline T atomic_fetch_op(T* p, T v, int op) {  // 0 add 1 sub 2 exch 3 min 4 max 5 and 6 or 7 xor
  if constexpr (std::is_floating_point_v<T>) {
    std::atomic_ref<T> r(*p);
    T old = r.load(std::memory_order_relaxed);
    for (;;) {
      T nv = op == 0 ? T(old + v) : op == 1 ? T(old - v) : v;
      if (r.compare_exchange_weak(old, nv, std::memory_order_relaxed)) return old;
    }
  } else {
    switch (op) {
      case 0: return __atomic_fetch_add(p, v, __ATOMIC_RELAXED);
      case 1: return __atomic_fetch_sub(p, v, __ATOMIC_RELAXED);
      case 2: return __atomic_exchange_n(p, v, __ATOMIC_RELAXED);
      case 5: return __atomic_fetch_and(p, v, __ATOMIC_RELAXED);
      case 6: return __atomic_fetch_or(p, v, __ATOMIC_RELAXED);
      case 7: return __atomic_fetch_xor(p, v, __ATOMIC_RELAXED);
      default: {
        T old = __atomic_load_n(p, __ATOMIC_RELAXED);
        for (;;) {
          T nv = op == 3 ? (v < old ? v : old) : (v > old ? v : old);
          if (__atomic_compare_exchange_n(p, &old, nv, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) return old;
        }
      }
    }
  }
}

}  // namespace mr::emu

// ---------------------------------------------------------------- built-in variables
#define threadIdx (static_cast<const ::uint3&>(::mr::emu::tl_thread_idx))
#define blockIdx (static_cast<const ::uint3&>(::mr::emu::tl_block_idx))
#define blockDim (static_cast<const ::dim3&>(::mr::emu::tl_block_dim))
#define gridDim (static_cast<const ::dim3&>(::mr::emu::tl_grid_dim))
inline constexpr int warpSize = 32;

// ---------------------------------------------------------------- block and warp intrinsics
inline void __syncthreads(const std::source_location& loc = std::source_location::current()) {
  ::mr::emu::barrier(::mr::emu::kBarPlain, 0, loc);
}
inline int __syncthreads_count(int pred, const std::source_location& loc = std::source_location::current()) {
  return ::mr::emu::barrier(::mr::emu::kBarCount, pred != 0, loc);
}
inline int __syncthreads_and(int pred, const std::source_location& loc = std::source_location::current()) {
  return ::mr::emu::barrier(::mr::emu::kBarAnd, pred != 0, loc);
}
inline int __syncthreads_or(int pred, const std::source_location& loc = std::source_location::current()) {
  return ::mr::emu::barrier(::mr::emu::kBarOr, pred != 0, loc);
}
inline void __syncwarp(unsigned mask = 0xffffffffu, const std::source_location& loc = std::source_location::current()) {
  ::mr::emu::syncwarp(mask, loc);
}
template <class T>
inline T __shfl_sync(unsigned mask, T var, int srcLane, int width = 32,
                     const std::source_location& loc = std::source_location::current()) {
  return ::mr::emu::from_bits64<T>(::mr::emu::shfl(::mr::emu::kShflIdx, mask, ::mr::emu::to_bits64(var), srcLane, width, loc));
}
template <class T>
inline T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = 32,
                        const std::source_location& loc = std::source_location::current()) {
  return ::mr::emu::from_bits64<T>(::mr::emu::shfl(::mr::emu::kShflUp, mask, ::mr::emu::to_bits64(var), int(delta), width, loc));
}
template <class T>
inline T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = 32,
                          const std::source_location& loc = std::source_location::current()) {
  return ::mr::emu::from_bits64<T>(::mr::emu::shfl(::mr::emu::kShflDown, mask, ::mr::emu::to_bits64(var), int(delta), width, loc));
}
template <class T>
inline T __shfl_xor_sync(unsigned mask, T var, int laneMask, int width = 32,
                         const std::source_location& loc = std::source_location::current()) {
  return ::mr::emu::from_bits64<T>(::mr::emu::shfl(::mr::emu::kShflXor, mask, ::mr::emu::to_bits64(var), laneMask, width, loc));
}
inline unsigned __ballot_sync(unsigned mask, int pred, const std::source_location& loc = std::source_location::current()) {
  return ::mr::emu::vote(0, mask, pred, loc);
}
inline int __any_sync(unsigned mask, int pred, const std::source_location& loc = std::source_location::current()) {
  return int(::mr::emu::vote(1, mask, pred, loc));
}
inline int __all_sync(unsigned mask, int pred, const std::source_location& loc = std::source_location::current()) {
  return int(::mr::emu::vote(2, mask, pred, loc));
}
inline unsigned __activemask() { return ::mr::emu::active_mask(); }
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_block() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_system() { std::atomic_thread_fence(std::memory_order_seq_cst); }
[[noreturn]] inline void __trap() { ::mr::emu::fail("__trap() called"); }
inline long long clock64() { return (long long)__builtin_ia32_rdtsc(); }
inline void __nanosleep(unsigned) {}

// ---------------------------------------------------------------- atomics
#define MR_EMU_ATOMIC(name, op, T) \
  inline T name(T* p, T v) { return ::mr::emu::atomic_fetch_op<T>(p, v, op); } \
  inline T name##_block(T* p, T v) { return ::mr::emu::atomic_fetch_op<T>(p, v, op); } \
  inline T name##_system(T* p, T v) { return ::mr::emu::atomic_fetch_op<T>(p, v, op); }
MR_EMU_ATOMIC(atomicAdd, 0, int) MR_EMU_ATOMIC(atomicAdd, 0, unsigned int)
MR_EMU_ATOMIC(atomicAdd, 0, unsigned long long) MR_EMU_ATOMIC(atomicAdd, 0, float)
MR_EMU_ATOMIC(atomicAdd, 0, double)
MR_EMU_ATOMIC(atomicSub, 1, int) MR_EMU_ATOMIC(atomicSub, 1, unsigned int)
MR_EMU_ATOMIC(atomicExch, 2, int) MR_EMU_ATOMIC(atomicExch, 2, unsigned int)
MR_EMU_ATOMIC(atomicExch, 2, unsigned long long) MR_EMU_ATOMIC(atomicExch, 2, float)
MR_EMU_ATOMIC(atomicMin, 3, int) MR_EMU_ATOMIC(atomicMin, 3, unsigned int)
MR_EMU_ATOMIC(atomicMin, 3, long long) MR_EMU_ATOMIC(atomicMin, 3, unsigned long long)
MR_EMU_ATOMIC(atomicMax, 4, int) MR_EMU_ATOMIC(atomicMax, 4, unsigned int)
MR_EMU_ATOMIC(atomicMax, 4, long long) MR_EMU_ATOMIC(atomicMax, 4, unsigned long long)
MR_EMU_ATOMIC(atomicAnd, 5, int) MR_EMU_ATOMIC(atomicAnd, 5, unsigned int) MR_EMU_ATOMIC(atomicAnd, 5, unsigned long long)
MR_EMU_ATOMIC(atomicOr, 6, int) MR_EMU_ATOMIC(atomicOr, 6, unsigned int) MR_EMU_ATOMIC(atomicOr, 6, unsigned long long)
MR_EMU_ATOMIC(atomicXor, 7, int) MR_EMU_ATOMIC(atomicXor, 7, unsigned int) MR_EMU_ATOMIC(atomicXor, 7, unsigned long long)
#undef MR_EMU_ATOMIC
#define MR_EMU_CAS(T) \
  inline T atomicCAS(T* p, T compare, T val) { \
    __atomic_compare_exchange_n(p, &compare, val, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED); \
    return compare; \
  } \
  inline T atomicCAS_block(T* p, T compare, T val) { return atomicCAS(p, compare, val); }
MR_EMU_CAS(int) MR_EMU_CAS(unsigned int) MR_EMU_CAS(unsigned long long) MR_EMU_CAS(unsigned short)
#undef MR_EMU_CAS
inline unsigned atomicInc(unsigned* p, unsigned limit) {  // ((old >= limit) ? 0 : old + 1)
  unsigned old = __atomic_load_n(p, __ATOMIC_RELAXED);
  while (!__atomic_compare_exchange_n(p, &old, old >= limit ? 0u : old + 1u, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {}
  return old;
}
inline unsigned atomicDec(unsigned* p, unsigned limit) {  // ((old == 0) | (old > limit)) ? limit : old - 1
  unsigned old = __atomic_load_n(p, __ATOMIC_RELAXED);
  while (!__atomic_compare_exchange_n(p, &old, (old == 0 || old > limit) ? limit : old - 1u, true, __ATOMIC_RELAXED,
                                      __ATOMIC_RELAXED)) {}
  return old;
}

// ---------------------------------------------------------------- loads, math, bit tricks
template <class T> inline T __ldg(const T* p) { return *p; }
template <class T> inline T __ldcg(const T* p) { return *p; }
template <class T> inline T __ldca(const T* p) { return *p; }
template <class T> inline T __ldcs(const T* p) { return *p; }
template <class T> inline T __ldlu(const T* p) { return *p; }
template <class T> inline void __stcg(T* p, T v) { *p = v; }
template <class T> inline void __stcs(T* p, T v) { *p = v; }
template <class T> inline void __stwb(T* p, T v) { *p = v; }

// Fast-math intrinsics: computed with the accurate libm functions (the GPU's are
// approximations: tolerances in tests must allow for their documented error).
inline float __expf(float x) { return std::exp(x); }
inline float __exp10f(float x) { return std::pow(10.0f, x); }
inline float __logf(float x) { return std::log(x); }
inline float __log2f(float x) { return std::log2(x); }
inline float __log10f(float x) { return std::log10(x); }
inline float __sinf(float x) { return std::sin(x); }
inline float __cosf(float x) { return std::cos(x); }
inline float __tanf(float x) { return std::tan(x); }
inline void __sincosf(float x, float* s, float* c) { *s = std::sin(x); *c = std::cos(x); }
inline float __powf(float x, float y) { return std::pow(x, y); }
inline float __fdividef(float x, float y) { return x / y; }
inline float __fdiv_rn(float x, float y) { return x / y; }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fsqrt_rn(float x) { return std::sqrt(x); }
inline float __frsqrt_rn(float x) { return 1.0f / std::sqrt(x); }
inline float __fadd_rn(float x, float y) { return x + y; }
inline float __fsub_rn(float x, float y) { return x - y; }
inline float __fmul_rn(float x, float y) { return x * y; }
inline float __fmaf_rn(float x, float y, float z) { return std::fma(x, y, z); }
inline float __saturatef(float x) { return std::isnan(x) ? 0.0f : x < 0.0f ? 0.0f : x > 1.0f ? 1.0f : x; }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
inline float normcdff(float x) { return 0.5f * std::erfc(-x * 0.70710678118654752f); }
inline double normcdf(double x) { return 0.5 * std::erfc(-x * 0.70710678118654752440); }

inline int __float_as_int(float f) { int i; std::memcpy(&i, &f, 4); return i; }
inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
inline unsigned __float_as_uint(float f) { unsigned i; std::memcpy(&i, &f, 4); return i; }
inline float __uint_as_float(unsigned i) { float f; std::memcpy(&f, &i, 4); return f; }
inline long long __double_as_longlong(double d) { long long i; std::memcpy(&i, &d, 8); return i; }
inline double __longlong_as_double(long long i) { double d; std::memcpy(&d, &i, 8); return d; }
inline int __float2int_rn(float x) { return int(std::nearbyint(x)); }
inline int __float2int_rz(float x) { return int(std::trunc(x)); }
inline int __float2int_rd(float x) { return int(std::floor(x)); }
inline int __float2int_ru(float x) { return int(std::ceil(x)); }
inline unsigned __float2uint_rn(float x) { return unsigned(std::nearbyint(x)); }
inline unsigned __float2uint_rz(float x) { return unsigned(std::trunc(x)); }
inline float __int2float_rn(int x) { return float(x); }
inline float __uint2float_rn(unsigned x) { return float(x); }
inline float __double2float_rn(double x) { return float(x); }

inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz(unsigned(x)); }
inline int __clzll(long long x) { return x == 0 ? 64 : __builtin_clzll((unsigned long long)x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long x) { return __builtin_ffsll(x); }
inline unsigned __brev(unsigned x) {
  x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
  x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
  x = ((x >> 4) & 0x0f0f0f0fu) | ((x & 0x0f0f0f0fu) << 4);
  x = ((x >> 8) & 0x00ff00ffu) | ((x & 0x00ff00ffu) << 8);
  return (x >> 16) | (x << 16);
}
inline int __mul24(int a, int b) { return (int)(((long long)(a << 8 >> 8)) * (long long)(b << 8 >> 8)); }
inline unsigned __umul24(unsigned a, unsigned b) { return (a & 0xffffffu) * (b & 0xffffffu); }
inline int __mulhi(int a, int b) { return int(((long long)a * (long long)b) >> 32); }
inline unsigned __umulhi(unsigned a, unsigned b) { return unsigned(((unsigned long long)a * b) >> 32); }
inline unsigned __byte_perm(unsigned x, unsigned y, unsigned s) {
  unsigned long long v = ((unsigned long long)y << 32) | x;
  unsigned r = 0;
  for (int i = 0; i < 4; ++i) r |= unsigned((v >> (8 * ((s >> (4 * i)) & 7))) & 0xffu) << (8 * i);
  return r;
}

// CUDA's global min/max overloads (device code calls them unqualified).
template <class A, class B>
inline std::common_type_t<A, B> min(A a, B b) {
  using C = std::common_type_t<A, B>;
  if constexpr (std::is_floating_point_v<C>) return std::fmin(C(a), C(b));
  else return C(b) < C(a) ? C(b) : C(a);
}
template <class A, class B>
inline std::common_type_t<A, B> max(A a, B b) {
  using C = std::common_type_t<A, B>;
  if constexpr (std::is_floating_point_v<C>) return std::fmax(C(a), C(b));
  else return C(a) < C(b) ? C(b) : C(a);
}

// ---------------------------------------------------------------- runtime API (host memory, in-order)
cudaError_t cudaMalloc(void** p, size_t bytes);
template <class T> inline cudaError_t cudaMalloc(T** p, size_t bytes) { return cudaMalloc(reinterpret_cast<void**>(p), bytes); }
cudaError_t cudaMallocHost(void** p, size_t bytes);
template <class T> inline cudaError_t cudaMallocHost(T** p, size_t bytes) { return cudaMallocHost(reinterpret_cast<void**>(p), bytes); }
cudaError_t cudaMallocAsync(void** p, size_t bytes, cudaStream_t s);
template <class T> inline cudaError_t cudaMallocAsync(T** p, size_t bytes, cudaStream_t s) { return cudaMallocAsync(reinterpret_cast<void**>(p), bytes, s); }
cudaError_t cudaFree(void* p);
cudaError_t cudaFreeHost(void* p);
cudaError_t cudaFreeAsync(void* p, cudaStream_t s);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t s = nullptr);
cudaError_t cudaMemset(void* p, int value, size_t bytes);
cudaError_t cudaMemsetAsync(void* p, int value, size_t bytes, cudaStream_t s = nullptr);
template <class T> inline cudaError_t cudaMemcpyToSymbol(T& symbol, const void* src, size_t bytes, size_t offset = 0,
                                                         cudaMemcpyKind = cudaMemcpyHostToDevice) {
  std::memcpy(reinterpret_cast<char*>(&symbol) + offset, src, bytes);
  return cudaSuccess;
}
template <class T> inline cudaError_t cudaMemcpyFromSymbol(void* dst, const T& symbol, size_t bytes, size_t offset = 0,
                                                           cudaMemcpyKind = cudaMemcpyDeviceToHost) {
  std::memcpy(dst, reinterpret_cast<const char*>(&symbol) + offset, bytes);
  return cudaSuccess;
}
cudaError_t cudaStreamCreate(cudaStream_t* s);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t s);
cudaError_t cudaStreamSynchronize(cudaStream_t s);
cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned flags = 0);
cudaError_t cudaStreamQuery(cudaStream_t s);
cudaError_t cudaEventCreate(cudaEvent_t* e);
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned flags);
cudaError_t cudaEventDestroy(cudaEvent_t e);
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s = nullptr);
cudaError_t cudaEventSynchronize(cudaEvent_t e);
cudaError_t cudaEventQuery(cudaEvent_t e);
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaDeviceReset();
cudaError_t cudaGetLastError();
cudaError_t cudaPeekAtLastError();
const char* cudaGetErrorString(cudaError_t e);
const char* cudaGetErrorName(cudaError_t e);
cudaError_t cudaGetDeviceCount(int* n);
cudaError_t cudaGetDevice(int* d);
cudaError_t cudaSetDevice(int d);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device);
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device);
namespace mr::emu {
cudaError_t func_set_attribute(const void* fn, cudaFuncAttribute attr, int value);
}
template <class F> inline cudaError_t cudaFuncSetAttribute(F* fn, cudaFuncAttribute attr, int value) {
  return ::mr::emu::func_set_attribute(reinterpret_cast<const void*>(fn), attr, value);
}
