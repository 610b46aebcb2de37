// Driver for the emulator's ThreadSanitizer mode (built by kernels/emu/emu.mk as
// $(BUILD)/emu-tsan/race_check, run by tests/emu/tsan_test.cpp): `race_check bug` runs a
// kernel that lacks a __syncthreads, which TSan must report as a data race between two CUDA
// threads; `race_check ldm-bug` the same race with the reads done by ldmatrix (a warp
// collective); `race_check ok` runs correct kernels (the same one with the barrier, the tiled
// GEMM, the block reduction, shuffles), which must come out clean.
#include <cuda_runtime.h>

#include <cstdio>
#include <cstring>
#include <vector>

#include "tests/emu/kernels/kernels.h"

int main(int argc, char** argv) {
  const int n = 64;
  std::vector<float> h(n);
  for (int i = 0; i < n; ++i) h[size_t(i)] = float(i + 1);
  float *x, *y;
  cudaMalloc(&x, n * sizeof(float));
  cudaMalloc(&y, n * sizeof(float));
  cudaMemcpy(x, h.data(), n * sizeof(float), cudaMemcpyHostToDevice);
  bool bug = argc > 1 && !std::strcmp(argv[1], "bug");
  bool ldm_bug = argc > 1 && !std::strcmp(argv[1], "ldm-bug");
  std::vector<uint16_t> m(64);
  for (int i = 0; i < 64; ++i) m[size_t(i)] = uint16_t(i + 1);
  uint16_t* dm;
  uint32_t* dr;
  cudaMalloc(&dm, 64 * sizeof(uint16_t));
  cudaMalloc(&dr, 32 * sizeof(uint32_t));
  cudaMemcpy(dm, m.data(), 64 * sizeof(uint16_t), cudaMemcpyHostToDevice);
  if (bug) {
    emutest::neighbour_no_barrier(y, x, n);
  } else if (ldm_bug) {
    emutest::ldmatrix_no_barrier(dr, dm);
  } else {
    emutest::neighbour_with_barrier(y, x, n);
    emutest::ldmatrix_with_barrier(dr, dm);
    std::vector<float> a(33 * 29, 0.5f), b(29 * 47, 0.25f);
    float *A, *B, *C;
    cudaMalloc(&A, a.size() * sizeof(float));
    cudaMalloc(&B, b.size() * sizeof(float));
    cudaMalloc(&C, 33 * 47 * sizeof(float));
    cudaMemcpy(A, a.data(), a.size() * sizeof(float), cudaMemcpyHostToDevice);
    cudaMemcpy(B, b.data(), b.size() * sizeof(float), cudaMemcpyHostToDevice);
    emutest::tiled_gemm(C, A, B, 33, 47, 29);
    emutest::block_reduce(C, A, 33 * 29, 3);
    int* out;
    cudaMalloc(&out, 64 * sizeof(int));
    emutest::shuffles(out, 3, 1, 32, 64);
    emutest::syncwarp_partial(out);
    cudaFree(out);
    cudaFree(A);
    cudaFree(B);
    cudaFree(C);
  }
  cudaMemcpy(h.data(), y, n * sizeof(float), cudaMemcpyDeviceToHost);
  std::printf("race_check %s: y[1] = %g\n", bug ? "bug" : ldm_bug ? "ldm-bug" : "ok", double(h[1]));
  cudaFree(dm);
  cudaFree(dr);
  cudaFree(x);
  cudaFree(y);
  return 0;
}
