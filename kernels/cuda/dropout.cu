// Dropout: out = in * keep / (1 - p), keep[i] = dropout_keep(seed, offset + i, p) from
// kernels/philox.h, the same Philox4x32-10 stream as the CPU and the reference, so the masks
// are identical bit for bit. Backward regenerates the mask (din written or added by acc_din).
// One thread per group of 4 consecutive counters: one Philox evaluation serves 4 elements.
// Templated on the storage type (float or bf16_t): the mask does not depend on it.
#include "kernels/cuda/bf16.cuh"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/philox.h"

namespace mr::cuda {

namespace {

// Thread q handles counters 4*(first + q) .. +3 that fall inside [offset, offset + n).
template <class T>
__global__ void dropout_k(T* out, const T* in, int64_t n, float p, float sc, uint64_t seed, uint64_t offset, bool acc) {
  const uint64_t first = offset >> 2, last = (offset + uint64_t(n) + 3) >> 2;
  for (uint64_t q = first + uint64_t(blockIdx.x) * blockDim.x + threadIdx.x; q < last;
       q += uint64_t(gridDim.x) * blockDim.x) {
    const Philox4 r = philox4x32_10(uint32_t(q), uint32_t(q >> 32), 0u, 0u, uint32_t(seed), uint32_t(seed >> 32));
#pragma unroll
    for (int w = 0; w < 4; ++w) {
      const uint64_t c = q * 4 + uint64_t(w);
      if (c < offset || c >= offset + uint64_t(n)) continue;
      const int64_t i = int64_t(c - offset);
      const bool keep = float(r.v[w] >> 8) * (1.0f / 16777216.0f) >= p;
      st_acc(out, i, keep ? ld(in, i) * sc : 0.0f, acc);
    }
  }
}

template <class T>
void launch(T* out, const T* in, int64_t n, float p, uint64_t seed, uint64_t offset, bool acc) {
  if (n <= 0) return;
  const float sc = float(1.0 / (1.0 - double(p)));
  const int64_t groups = int64_t(((offset + uint64_t(n) + 3) >> 2) - (offset >> 2));
  auto* k = dropout_k<T>;
  LAUNCH(k, blocks_for(groups), kBlock, 0, 0)(out, in, n, p, sc, seed, offset, acc);
  check_launch("dropout_k");
}

}  // namespace

void dropout_fwd(float* out, const float* in, int64_t n, float p, uint64_t seed, uint64_t offset) {
  launch(out, in, n, p, seed, offset, false);
}

void dropout_bwd(float* din, const float* dout, int64_t n, float p, uint64_t seed, uint64_t offset, GradMode acc_din) {
  if (din) launch(din, dout, n, p, seed, offset, acc_din);
}

void bf16::dropout_fwd(bf16_t* out, const bf16_t* in, int64_t n, float p, uint64_t seed, uint64_t offset) {
  launch(out, in, n, p, seed, offset, false);
}

void bf16::dropout_bwd(bf16_t* din, const bf16_t* dout, int64_t n, float p, uint64_t seed, uint64_t offset,
                      GradMode acc_din) {
  if (din) launch(din, dout, n, p, seed, offset, acc_din);
}

}  // namespace mr::cuda
