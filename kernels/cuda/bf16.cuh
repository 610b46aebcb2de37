// Element access for kernels templated on their storage type: float (fp32 storage) or
// bf16_t (bf16 storage, kernels/kernel_table.h). Loads widen to fp32; stores round to nearest
// even. Every kernel computes in fp32 either way, so one source serves both tables.
#pragma once
#include <cuda_bf16.h>

#include "kernels/kernel_table.h"

namespace mr::cuda {

__device__ __forceinline__ float ld(const float* p, int64_t i) { return p[i]; }
__device__ __forceinline__ float ld(const bf16_t* p, int64_t i) { return __bfloat162float(__ushort_as_bfloat16(p[i])); }
__device__ __forceinline__ void st(float* p, int64_t i, float v) { p[i] = v; }
__device__ __forceinline__ void st(bf16_t* p, int64_t i, float v) {
  p[i] = __bfloat16_as_ushort(__float2bfloat16_rn(v));
}
// p[i] = v, or p[i] + v when acc (added in fp32, then stored)
template <class T>
__device__ __forceinline__ void st_acc(T* p, int64_t i, float v, bool acc) {
  st(p, i, acc ? ld(p, i) + v : v);
}

}  // namespace mr::cuda
