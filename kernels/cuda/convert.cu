// fp32 <-> bf16 conversions (bf16 storage): dst = or += src, elementwise. to_bf16 rounds to
// nearest even (once, after the fp32 addition when acc); to_f32 is exact.
#include "kernels/cuda/bf16.cuh"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace mr::cuda {

namespace {

template <class D, class S>
__global__ void convert_k(D* dst, const S* src, int64_t n, bool acc) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    st_acc(dst, i, ld(src, i), acc);
}

template <class D, class S>
void convert(D* dst, const S* src, int64_t n, bool acc) {
  if (n <= 0) return;
  auto* k = convert_k<D, S>;
  LAUNCH(k, blocks_for(n), kBlock, 0, 0)(dst, src, n, acc);
  check_launch("convert_k");
}

}  // namespace

void bf16::to_bf16(bf16_t* dst, const float* src, int64_t n, GradMode acc) { convert(dst, src, n, acc); }
void bf16::to_f32(float* dst, const bf16_t* src, int64_t n, GradMode acc) { convert(dst, src, n, acc); }

}  // namespace mr::cuda
