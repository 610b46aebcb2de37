// The restricted style's compatibility layer: the same kernel source compiles with nvcc and,
// with the SIMT emulator's force-included header (kernels/emu/emu.h), with g++.
//   LAUNCH(kernel, grid, block, smem_bytes, stream)(args...)   a kernel launch
//   DYNAMIC_SMEM(T, name);                                     T* name = dynamic shared memory
// A kernel template with several parameters needs a pointer first (the macro splits on
// commas): `auto* k = my_kernel<float, 128>; LAUNCH(k, grid, block, 0, stream)(...)`.
// Rules of the style and how to debug under the emulator: docs/emulator.md.
#pragma once

#if defined(__CUDACC__)
#include <cuda_runtime.h>
#define LAUNCH(kernel, grid, block, smem, stream) kernel<<<(grid), (block), (smem), (stream)>>>
#define DYNAMIC_SMEM(T, name)                                                  \
  extern __shared__ __align__(16) unsigned char mr_dynamic_smem_[];            \
  T* name = reinterpret_cast<T*>(mr_dynamic_smem_)
#elif defined(MR_EMU)
#define LAUNCH(kernel, grid, block, smem, stream) \
  ::mr::emu::make_launch((kernel), #kernel, dim3(grid), dim3(block), size_t(smem), (stream))
#define DYNAMIC_SMEM(T, name) T* name = reinterpret_cast<T*>(::mr::emu::dynamic_smem())
#else
#error "kernels/cuda sources compile with nvcc, or with g++ -x c++ -include kernels/emu/emu.h (the SIMT emulator)"
#endif

// Full-warp mask for the *_sync intrinsics.
#define MR_FULL_MASK 0xffffffffu
