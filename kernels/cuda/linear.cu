// Linear layer: out(N, OUT) = inp(N, IN) @ w(OUT, IN)^T + b(OUT).
// Backward: dinp(N, IN) = dout @ w (written or added by acc_dinp); dw(OUT, IN) += dout^T @ inp;
// db(OUT) += column sums of dout.
// All three products go through one fp32 shared-memory tiled GEMM written in the restricted
// style, so it runs under the SIMT emulator as well as on a GPU. On a GPU, cuBLASLt would be
// faster (see docs/cuda.md); this kernel is the portable,
// tested path. Deterministic: every output element is summed by one thread in k order.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace mr::cuda {

namespace {

constexpr int kTile = 16;

// C(M, Nc) (= or +=) A(M, K) B(K, Nc) (+ bias(Nc)), with A(m, k) = A[m*sam + k*sak] and
// B(k, n) = B[k*sbk + n*sbn] (strides express the transposes). Block (16, 16), one output
// element per thread; tiles of 16 x 16 in shared memory.
__global__ void gemm_k(float* Cm, const float* A, const float* Bm, const float* bias, int M, int Nc, int K,
                       int64_t sam, int64_t sak, int64_t sbk, int64_t sbn, bool acc) {
  __shared__ float As[kTile][kTile + 1];
  __shared__ float Bs[kTile][kTile + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int m = blockIdx.y * kTile + ty, n = blockIdx.x * kTile + tx;
  float sum = 0.0f;
  for (int k0 = 0; k0 < K; k0 += kTile) {
    const int ka = k0 + tx, kb = k0 + ty;
    const int am = blockIdx.y * kTile + ty, bn = blockIdx.x * kTile + tx;
    As[ty][tx] = (am < M && ka < K) ? A[am * sam + ka * sak] : 0.0f;
    Bs[ty][tx] = (kb < K && bn < Nc) ? Bm[kb * sbk + bn * sbn] : 0.0f;
    __syncthreads();
#pragma unroll
    for (int k = 0; k < kTile; ++k) sum += As[ty][k] * Bs[k][tx];
    __syncthreads();
  }
  if (m < M && n < Nc) {
    if (bias) sum += bias[n];
    float* c = Cm + int64_t(m) * Nc + n;
    *c = acc ? *c + sum : sum;
  }
}

void gemm(float* Cm, const float* A, const float* Bm, const float* bias, int M, int Nc, int K, int64_t sam,
          int64_t sak, int64_t sbk, int64_t sbn, bool acc) {
  if (M == 0 || Nc == 0) return;
  dim3 grid((Nc + kTile - 1) / kTile, (M + kTile - 1) / kTile), block(kTile, kTile);
  LAUNCH(gemm_k, grid, block, 0, 0)(Cm, A, Bm, bias, M, Nc, K, sam, sak, sbk, sbn, acc);
  check_launch("gemm_k");
}

// db(OUT) += sum_n dout(n, o): one thread per column, rows in order.
__global__ void colsum_acc_k(float* db, const float* dout, int N, int OUT) {
  const int o = blockIdx.x * blockDim.x + threadIdx.x;
  if (o < OUT) {
    float s = 0.0f;
    for (int n = 0; n < N; ++n) s += dout[int64_t(n) * OUT + o];
    db[o] += s;
  }
}

}  // namespace

void linear_fwd(float* out, const float* inp, const float* w, const float* b, int N, int IN, int OUT) {
  // out(n, o) = sum_i inp(n, i) w(o, i): A = inp (N x IN), B(k=i, n=o) = w[o*IN + i]
  gemm(out, inp, w, b, N, OUT, IN, IN, 1, 1, IN, false);
}

void linear_bwd(float* dinp, float* dw, float* db, const float* dout, const float* inp, const float* w, int N, int IN,
                int OUT, bool acc_dinp) {
  // dinp(n, i) = sum_o dout(n, o) w(o, i)
  if (dinp) gemm(dinp, dout, w, nullptr, N, IN, OUT, OUT, 1, IN, 1, acc_dinp);
  // dw(o, i) += sum_n dout(n, o) inp(n, i): A(o, n) = dout[n*OUT + o], B(n, i) = inp[n*IN + i]
  if (dw) gemm(dw, dout, inp, nullptr, OUT, IN, N, 1, OUT, IN, 1, true);
  if (db && OUT > 0) {
    LAUNCH(colsum_acc_k, blocks_for(OUT), kBlock, 0, 0)(db, dout, N, OUT);
    check_launch("colsum_acc_k");
  }
}

}  // namespace mr::cuda
