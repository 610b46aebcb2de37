// tools/emu-run example: a shared-memory block reduction, correct under every thread order.
// Block b sums its blockDim.x elements of x into sums[b]; main checks every sum against the
// host and returns 1 on a mismatch. Grid and block come from --grid / --block (defaults 4 and
// 64; the block size must be a power of two).
//   tools/emu-run tests/emu/emu_run/reduce.cu --grid 3 --block 128
// reduce_no_barrier.cu is this file without the barrier between the stores and the tree.
#include <cuda_runtime.h>

#include <cstdio>
#include <vector>

#include "kernels/cuda/compat.cuh"
#include "kernels/emu/emu_run.h"

__global__ void block_sum_k(float* sums, const float* x) {
  DYNAMIC_SMEM(float, s);
  const unsigned t = threadIdx.x;
  s[t] = x[blockIdx.x * blockDim.x + t];
#ifndef REDUCE_WITHOUT_STORE_BARRIER
  __syncthreads();
#endif
  for (unsigned h = blockDim.x / 2; h > 0; h /= 2) {
    if (t < h) s[t] += s[t + h];
    __syncthreads();
  }
  if (t == 0) sums[blockIdx.x] = s[0];
}

int main() {
  const dim3 grid = emu_run_grid(dim3(4)), block = emu_run_block(dim3(64));
  const unsigned nb = grid.x, nt = block.x;
  if (grid.y * grid.z * block.y * block.z != 1 || (nt & (nt - 1)) != 0) {
    std::fprintf(stderr, "reduce: a 1-D grid and a 1-D block of a power of two threads, please\n");
    return 2;
  }
  std::vector<float> x(size_t(nb) * nt), sums(nb);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(i % 7 + 1);  // small integers: exact sums
  float *dx, *dsums;
  cudaMalloc(&dx, x.size() * sizeof(float));
  cudaMalloc(&dsums, nb * sizeof(float));
  cudaMemcpy(dx, x.data(), x.size() * sizeof(float), cudaMemcpyHostToDevice);
  LAUNCH(block_sum_k, nb, nt, nt * sizeof(float), 0)(dsums, dx);
  cudaMemcpy(sums.data(), dsums, nb * sizeof(float), cudaMemcpyDeviceToHost);
  cudaFree(dx);
  cudaFree(dsums);
  int bad = 0;
  for (unsigned b = 0; b < nb; ++b) {
    float want = 0;
    for (unsigned t = 0; t < nt; ++t) want += x[size_t(b) * nt + t];
    if (sums[b] != want) {
      std::printf("reduce: block %u: sum %g, expected %g\n", b, double(sums[b]), double(want));
      ++bad;
    }
  }
  std::printf("reduce: grid %u, block %u: %s\n", nb, nt, bad ? "WRONG" : "all sums right");
  return bad ? 1 : 0;
}
