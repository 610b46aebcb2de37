// Grouped linear (kernels/ops.def glinear_*): rows [offsets[g], offsets[g+1]) use w[g] (OUT, IN)
// and b[g]. The meta-batch's per-task head weights in one launch per pass instead of one GEMM
// per task: the matrices are small (the recommender's C = 64), so plain fp32 dot products per
// output element, fixed order (deterministic, no atomics).
//   fwd     one block per row (grid-stride), threads over OUT; the row's group by binary search
//   dinp    one block per row, threads over IN
//   dw, db  one block per (g, o), threads over IN (db: thread 0), summing the group's rows
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace mr::cuda {

namespace {

// the group of row n: the last g with offsets[g] <= n (empty groups skipped)
__device__ __forceinline__ int group_of(const int32_t* offsets, int G, int n) {
  int lo = 0, hi = G - 1;
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (offsets[mid] <= n) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

__global__ void glinear_fwd_k(float* out, const float* inp, const float* w, const float* b, const int32_t* offsets,
                              int N, int G, int IN, int OUT) {
  for (int n = blockIdx.x; n < N; n += gridDim.x) {
    const int g = group_of(offsets, G, n);
    const float* x = inp + int64_t(n) * IN;
    for (int o = threadIdx.x; o < OUT; o += blockDim.x) {
      const float* wr = w + (int64_t(g) * OUT + o) * IN;
      float acc = b ? b[int64_t(g) * OUT + o] : 0.0f;
      for (int i = 0; i < IN; ++i) acc += x[i] * wr[i];
      out[int64_t(n) * OUT + o] = acc;
    }
  }
}

__global__ void glinear_dinp_k(float* dinp, const float* dout, const float* w, const int32_t* offsets, int N, int G,
                               int IN, int OUT, bool acc) {
  for (int n = blockIdx.x; n < N; n += gridDim.x) {
    const int g = group_of(offsets, G, n);
    const float* d = dout + int64_t(n) * OUT;
    const float* wg = w + int64_t(g) * OUT * IN;
    for (int i = threadIdx.x; i < IN; i += blockDim.x) {
      float s = 0.0f;
      for (int o = 0; o < OUT; ++o) s += d[o] * wg[int64_t(o) * IN + i];
      float* p = dinp + int64_t(n) * IN + i;
      *p = acc ? *p + s : s;
    }
  }
}

__global__ void glinear_dw_k(float* dw, float* db, const float* dout, const float* inp, const int32_t* offsets, int G,
                             int IN, int OUT) {
  for (int go = blockIdx.x; go < G * OUT; go += gridDim.x) {
    const int g = go / OUT, o = go % OUT, n0 = offsets[g], n1 = offsets[g + 1];
    if (dw)
      for (int i = threadIdx.x; i < IN; i += blockDim.x) {
        float s = 0.0f;
        for (int n = n0; n < n1; ++n) s += dout[int64_t(n) * OUT + o] * inp[int64_t(n) * IN + i];
        dw[int64_t(go) * IN + i] += s;
      }
    if (db && threadIdx.x == 0) {
      float s = 0.0f;
      for (int n = n0; n < n1; ++n) s += dout[int64_t(n) * OUT + o];
      db[go] += s;
    }
  }
}

}  // namespace

void glinear_fwd(float* out, const float* inp, const float* w, const float* b, const int32_t* offsets, int N, int G,
                 int IN, int OUT) {
  if (N <= 0 || OUT <= 0) return;
  LAUNCH(glinear_fwd_k, blocks_for(N, 1), kRowBlock, 0, 0)(out, inp, w, b, offsets, N, G, IN, OUT);
  check_launch("glinear_fwd_k");
}

void glinear_bwd(float* dinp, float* dw, float* db, const float* dout, const float* inp, const float* w,
                 const int32_t* offsets, int N, int G, int IN, int OUT, GradMode acc_dinp) {
  if (dinp && N > 0 && IN > 0) {
    LAUNCH(glinear_dinp_k, blocks_for(N, 1), kRowBlock, 0, 0)(dinp, dout, w, offsets, N, G, IN, OUT, acc_dinp);
    check_launch("glinear_dinp_k");
  }
  if ((dw || db) && G > 0 && OUT > 0) {
    LAUNCH(glinear_dw_k, blocks_for(int64_t(G) * OUT, 1), kRowBlock, 0, 0)(dw, db, dout, inp, offsets, G, IN, OUT);
    check_launch("glinear_dw_k");
  }
}

}  // namespace mr::cuda
