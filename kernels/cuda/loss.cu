// Losses, reduced by the mean as torch's defaults; `loss` and `dloss` are device scalars.
//   xent: loss = mean over rows with target != -100 of lse(logits) - logits[target]; lse(N)
//         saved. One block per row for lse (max, then sum of exp, fp32), then one block sums
//         the rows in double. Backward: one block per row; every block recounts the targets
//         (N ints) so no scratch is needed.
//   xent_w: the row-weighted sum (w[n] per row, no mean), the same lse and backward shape.
//   bce (torch BCEWithLogitsLoss), mse: one block sums in double; backward elementwise.
// Every reduction has a fixed order (deterministic run to run, no atomics).
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace mr::cuda {

namespace {

__global__ void xent_lse_k(float* lse, const float* logits, int V) {
  __shared__ float red[32];
  const float* x = logits + int64_t(blockIdx.x) * V;
  float mx = -INFINITY;
  for (int v = threadIdx.x; v < V; v += blockDim.x) mx = fmaxf(mx, x[v]);
  mx = block_max(mx, red);
  float z = 0.0f;
  for (int v = threadIdx.x; v < V; v += blockDim.x) z += expf(x[v] - mx);
  z = block_sum(z, red);
  if (threadIdx.x == 0) lse[blockIdx.x] = mx + logf(z);
}

__global__ void xent_mean_k(float* loss, const float* lse, const float* logits, const int32_t* targets, int N,
                            int V) {
  __shared__ double red[32];
  double total = 0.0, count = 0.0;
  for (int n = threadIdx.x; n < N; n += blockDim.x)
    if (targets[n] != -100) {
      total += double(lse[n]) - double(logits[int64_t(n) * V + targets[n]]);
      count += 1.0;
    }
  total = block_sum(total, red);
  count = block_sum(count, red);
  if (threadIdx.x == 0) *loss = float(count > 0 ? total / count : 0.0);
}

__global__ void xent_bwd_k(float* dlogits, const float* dloss, const float* logits, const float* lse,
                           const int32_t* targets, int N, int V, bool acc) {
  __shared__ float red[32];
  float cnt = 0.0f;
  for (int n = threadIdx.x; n < N; n += blockDim.x) cnt += targets[n] != -100 ? 1.0f : 0.0f;
  const float count = block_sum(cnt, red);
  const int n = blockIdx.x, tgt = targets[n];
  const float g = count > 0 ? *dloss / count : 0.0f, l = lse[n];
  for (int v = threadIdx.x; v < V; v += blockDim.x) {
    const int64_t i = int64_t(n) * V + v;
    const float d = tgt == -100 ? 0.0f : g * (expf(logits[i] - l) - (v == tgt ? 1.0f : 0.0f));
    dlogits[i] = acc ? dlogits[i] + d : d;
  }
}

__global__ void xent_w_sum_k(float* loss, const float* lse, const float* logits, const int32_t* targets,
                             const float* w, int N, int V) {
  __shared__ double red[32];
  double total = 0.0;
  for (int n = threadIdx.x; n < N; n += blockDim.x)
    if (targets[n] != -100) total += double(w[n]) * (double(lse[n]) - double(logits[int64_t(n) * V + targets[n]]));
  total = block_sum(total, red);
  if (threadIdx.x == 0) *loss = float(total);
}

__global__ void xent_w_bwd_k(float* dlogits, const float* dloss, const float* logits, const float* lse,
                             const int32_t* targets, const float* w, int V, bool acc) {
  const int n = blockIdx.x, tgt = targets[n];
  const float g = tgt != -100 ? *dloss * w[n] : 0.0f, l = lse[n];
  for (int v = threadIdx.x; v < V; v += blockDim.x) {
    const int64_t i = int64_t(n) * V + v;
    const float d = tgt != -100 ? g * (expf(logits[i] - l) - (v == tgt ? 1.0f : 0.0f)) : 0.0f;
    dlogits[i] = acc ? dlogits[i] + d : d;
  }
}

__global__ void bce_fwd_k(float* loss, const float* x, const float* y, int64_t n) {
  __shared__ double red[32];
  double total = 0.0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    const float xi = x[i];
    total += double(fmaxf(xi, 0.0f) - xi * y[i] + log1pf(expf(-fabsf(xi))));
  }
  total = block_sum(total, red);
  if (threadIdx.x == 0) *loss = float(n ? total / double(n) : 0.0);
}

__global__ void bce_bwd_k(float* dx, const float* dloss, const float* x, const float* y, int64_t n, bool acc) {
  const float g = *dloss / float(n);
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float sig = 1.0f / (1.0f + expf(-x[i]));
    const float d = g * (sig - y[i]);
    dx[i] = acc ? dx[i] + d : d;
  }
}

__global__ void mse_fwd_k(float* loss, const float* x, const float* y, int64_t n) {
  __shared__ double red[32];
  double total = 0.0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    const double d = double(x[i]) - double(y[i]);
    total += d * d;
  }
  total = block_sum(total, red);
  if (threadIdx.x == 0) *loss = float(n ? total / double(n) : 0.0);
}

__global__ void mse_bwd_k(float* dx, const float* dloss, const float* x, const float* y, int64_t n, bool acc) {
  const float g = 2.0f * *dloss / float(n);
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float d = g * (x[i] - y[i]);
    dx[i] = acc ? dx[i] + d : d;
  }
}

}  // namespace

void xent_fwd(float* loss, float* lse, const float* logits, const int32_t* targets, int N, int V) {
  if (N > 0) {
    LAUNCH(xent_lse_k, N, kRowBlock, 0, 0)(lse, logits, V);
    check_launch("xent_lse_k");
  }
  LAUNCH(xent_mean_k, 1, kBlock, 0, 0)(loss, lse, logits, targets, N, V);
  check_launch("xent_mean_k");
}

void xent_bwd(float* dlogits, const float* dloss, const float* logits, const float* lse, const int32_t* targets,
              int N, int V, GradMode acc) {
  if (N == 0 || V == 0 || !dlogits) return;
  LAUNCH(xent_bwd_k, N, kRowBlock, 0, 0)(dlogits, dloss, logits, lse, targets, N, V, acc);
  check_launch("xent_bwd_k");
}

void xent_w_fwd(float* loss, float* lse, const float* logits, const int32_t* targets, const float* w, int N, int V) {
  if (N > 0) {
    LAUNCH(xent_lse_k, N, kRowBlock, 0, 0)(lse, logits, V);
    check_launch("xent_lse_k");
  }
  LAUNCH(xent_w_sum_k, 1, kBlock, 0, 0)(loss, lse, logits, targets, w, N, V);
  check_launch("xent_w_sum_k");
}

void xent_w_bwd(float* dlogits, const float* dloss, const float* logits, const float* lse, const int32_t* targets,
                const float* w, int N, int V, GradMode acc) {
  if (N == 0 || V == 0 || !dlogits) return;
  LAUNCH(xent_w_bwd_k, N, kRowBlock, 0, 0)(dlogits, dloss, logits, lse, targets, w, V, acc);
  check_launch("xent_w_bwd_k");
}

void bce_fwd(float* loss, const float* x, const float* y, int64_t n) {
  LAUNCH(bce_fwd_k, 1, kBlock, 0, 0)(loss, x, y, n);
  check_launch("bce_fwd_k");
}

void bce_bwd(float* dx, const float* dloss, const float* x, const float* y, int64_t n, GradMode acc) {
  if (n <= 0 || !dx) return;
  LAUNCH(bce_bwd_k, blocks_for(n), kBlock, 0, 0)(dx, dloss, x, y, n, acc);
  check_launch("bce_bwd_k");
}

void mse_fwd(float* loss, const float* x, const float* y, int64_t n) {
  LAUNCH(mse_fwd_k, 1, kBlock, 0, 0)(loss, x, y, n);
  check_launch("mse_fwd_k");
}

void mse_bwd(float* dx, const float* dloss, const float* x, const float* y, int64_t n, GradMode acc) {
  if (n <= 0 || !dx) return;
  LAUNCH(mse_bwd_k, blocks_for(n), kBlock, 0, 0)(dx, dloss, x, y, n, acc);
  check_launch("mse_bwd_k");
}

}  // namespace mr::cuda
