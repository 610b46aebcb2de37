// tools/emu-run example: divergent barriers. Even and odd threads stage their value through
// different __syncthreads calls; on a GPU that is undefined behaviour, and the emulator stops
// the kernel naming the thread, both barriers and their lines.
#include <cuda_runtime.h>

#include <cstdio>

#include "kernels/cuda/compat.cuh"
#include "kernels/emu/emu_run.h"

__global__ void swap_pairs_k(float* out, const float* x) {
  __shared__ float s[1024];
  const unsigned t = threadIdx.x;
  if (t % 2 == 0) {
    s[t] = x[t];
    __syncthreads();
  } else {
    s[t] = -x[t];
    __syncthreads();
  }
  out[t] = s[t ^ 1];
}

int main() {
  const unsigned nt = emu_run_block(dim3(32)).x;
  float *x, *out;
  cudaMalloc(&x, nt * sizeof(float));
  cudaMalloc(&out, nt * sizeof(float));
  cudaMemset(x, 0, nt * sizeof(float));
  LAUNCH(swap_pairs_k, 1, nt, 0, 0)(out, x);
  cudaDeviceSynchronize();
  std::printf("divergent_barrier: finished\n");
  cudaFree(x);
  cudaFree(out);
  return 0;
}
