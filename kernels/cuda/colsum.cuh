// Deterministic column sums for parameter gradients (bias, LayerNorm gamma/beta):
//   dst(C) += sum_{n < N} f(n, c)
// parallel over rows as well as columns, without atomics. Stage 1, grid (columns, chunks):
// thread (k, c) sums the rows of chunk k in order into part[k, c]. Stage 2: thread c adds the
// chunk sums in chunk order to dst[c]. The order depends only on N and C, so two runs give the
// same bits. (One thread per column, walking all N rows, would leave most of a GPU idle: C is
// 768 for BERT-base, N = B*T is thousands.) f is a functor with `float operator()(int n, int c)`,
// called on the device. The chunk sums live in scratch slot 1.
#pragma once
#include "kernels/cuda/bf16.cuh"
#include "kernels/cuda/common.cuh"

namespace mr::cuda {

constexpr int kColChunk = 64;  // rows per chunk (at least; more when N would need > 65535 chunks)

template <class F>
__global__ void colsum_part_k(float* part, F f, int N, int C, int chunk) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x, k = blockIdx.y;
  if (c < C) {
    const int n0 = k * chunk, n1 = min(N, n0 + chunk);
    float s = 0.0f;
    for (int n = n0; n < n1; ++n) s += f(n, c);
    part[int64_t(k) * C + c] = s;
  }
}

template <int kUnused = 0>
__global__ void colsum_finish_k(float* dst, const float* part, int chunks, int C) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c < C) {
    float s = 0.0f;
    for (int k = 0; k < chunks; ++k) s += part[int64_t(k) * C + c];
    dst[c] += s;
  }
}

template <class F>
void colsum_acc(float* dst, const F& f, int N, int C) {
  if (!dst || N <= 0 || C <= 0) return;
  const int chunk = std::max(kColChunk, (N + 65534) / 65535);
  const int chunks = (N + chunk - 1) / chunk;
  float* part = static_cast<float*>(scratch(size_t(chunks) * C * sizeof(float), 1));
  const int cb = (C + kRowBlock - 1) / kRowBlock;
  auto* k1 = colsum_part_k<F>;
  LAUNCH(k1, dim3(cb, chunks), kRowBlock, 0, 0)(part, f, N, C, chunk);
  check_launch("colsum_part_k");
  auto* k2 = colsum_finish_k<0>;
  LAUNCH(k2, cb, kRowBlock, 0, 0)(dst, part, chunks, C);
  check_launch("colsum_finish_k");
}

// f(n, c) = x[n * C + c]: the plain column sum of a row-major (N, C) matrix (float or bf16_t).
template <class T>
struct RowsOf {
  const T* x;
  int C;
  __device__ __forceinline__ float operator()(int n, int c) const { return ld(x, int64_t(n) * C + c); }
};

}  // namespace mr::cuda
