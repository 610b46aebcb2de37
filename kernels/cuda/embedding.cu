// Embedding: out(B*T, C) = wte[ids] + wpe[t] + wtt[types] (types null: all type 0).
// Backward is deterministic, without float atomics: every table row is summed by exactly one
// thread, in token order.
//   dwte: first, one thread per token row r links the rows that share an id: next[r] = the
//         next row with ids[r] (or -1), and whether r is the first row of its id (O((B*T)^2)
//         id compares in all, no channel loop). Then one thread per (row r, channel c): the
//         thread of a first row walks its chain, summing the gradients of every row with that
//         id in row order, and adds the total to dwte[id]; the other rows do nothing. So the
//         sums take O(B*T*C). (It used to be O((B*T)^2 * C): each (r, c) thread scanned all
//         rows itself.)
//   dwpe: one thread per (t, c), summing over b in order.
//   dwtt: one thread per (type row, c), summing over the rows of that type in order. The
//         number of types is found on the device and read there: no copy to the host.
// Gradient convention: all three are parameter gradients (+=). The output and its gradient are
// float or bf16_t (templated); the tables and their gradients are fp32.
#include "kernels/cuda/bf16.cuh"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace mr::cuda {

namespace {

template <class S>
__global__ void embedding_fwd_k(S* out, const int32_t* ids, const int32_t* types, const float* wte,
                                const float* wpe, const float* wtt, int T, int C, int64_t total) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t row = i / C;
    const int c = int(i % C), t = int(row % T);
    const int id = ids[row], ty = types ? types[row] : 0;
    st(out, i, wte[int64_t(id) * C + c] + wpe[int64_t(t) * C + c] + wtt[int64_t(ty) * C + c]);
  }
}

// One thread per row r: next[r] = the next row holding ids[r], or -1; first[r] = 1 iff no
// earlier row holds it.
__global__ void embedding_link_k(int* next, int* first, const int32_t* ids, int rows) {
  for (int r = blockIdx.x * blockDim.x + threadIdx.x; r < rows; r += gridDim.x * blockDim.x) {
    const int id = ids[r];
    int f = 1;
    for (int q = 0; q < r && f; ++q) f = ids[q] != id;
    int n = -1;
    for (int q = r + 1; q < rows && n < 0; ++q)
      if (ids[q] == id) n = q;
    next[r] = n;
    first[r] = f;
  }
}

// grid (ceil(C / blockDim), min(rows, 65535)): thread (r, c), rows strided by gridDim.y; the
// first row of an id sums its chain.
template <class S>
__global__ void embedding_bwd_wte_k(float* dwte, const S* dout, const int32_t* ids, const int* next,
                                    const int* first, int rows, int C) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  for (int r = blockIdx.y; r < rows; r += gridDim.y) {
    if (!first[r]) continue;
    float acc = 0.0f;
    for (int q = r; q >= 0; q = next[q]) acc += ld(dout, int64_t(q) * C + c);
    dwte[int64_t(ids[r]) * C + c] += acc;
  }
}

template <class S>
__global__ void embedding_bwd_wpe_k(float* dwpe, const S* dout, int B, int T, int C) {
  const int t = blockIdx.y, c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c < C) {
    float acc = 0.0f;
    for (int b = 0; b < B; ++b) acc += ld(dout, (int64_t(b) * T + t) * C + c);
    dwpe[int64_t(t) * C + c] += acc;
  }
}

// grid (ceil(C / blockDim), kTypeBlocks): types ty = blockIdx.y, + gridDim.y, ... below
// *ntypes (on the device: no copy to the host, no sync).
template <class S>
__global__ void embedding_bwd_wtt_k(float* dwtt, const S* dout, const int32_t* types, const int* ntypes, int rows,
                                    int C) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  const int nt = types ? *ntypes : 1;
  for (int ty = blockIdx.y; ty < nt; ty += gridDim.y) {
    float acc = 0.0f;
    bool any = false;
    for (int q = 0; q < rows; ++q)
      if ((types ? types[q] : 0) == ty) {
        acc += ld(dout, int64_t(q) * C + c);
        any = true;
      }
    if (any) dwtt[int64_t(ty) * C + c] += acc;
  }
}

constexpr int kTypeBlocks = 4;  // BERT has 2 token types; more are strided over these

// Largest type id + 1 (types are few: 2 in BERT). One block; deterministic.
__global__ void max_type_k(int* out, const int32_t* types, int rows) {
  __shared__ int red[32];
  int m = 0;
  for (int q = threadIdx.x; q < rows; q += blockDim.x) m = max(m, int(types[q]));
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) m = max(m, __shfl_xor_sync(MR_FULL_MASK, m, o));
  if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = m;
  __syncthreads();
  if (threadIdx.x == 0) {
    int r = 0;
    for (int w = 0; w < int(blockDim.x >> 5); ++w) r = max(r, red[w]);
    *out = r + 1;
  }
}

template <class S>
void fwd(S* out, const int32_t* ids, const int32_t* types, const float* wte, const float* wpe, const float* wtt,
         int B, int T, int C) {
  const int64_t total = int64_t(B) * T * C;
  if (total == 0) return;
  auto* k = embedding_fwd_k<S>;
  LAUNCH(k, blocks_for(total), kBlock, 0, 0)(out, ids, types, wte, wpe, wtt, T, C, total);
  check_launch("embedding_fwd_k");
}

template <class S>
void bwd(float* dwte, float* dwpe, float* dwtt, const S* dout, const int32_t* ids, const int32_t* types, int B, int T,
         int C) {
  const int rows = B * T;
  if (rows == 0 || C == 0) return;
  const int cb = (C + kRowBlock - 1) / kRowBlock;
  // one scratch block: next (rows ints), first (rows ints), the number of types (1 int)
  int* next = static_cast<int*>(scratch((2 * size_t(rows) + 1) * sizeof(int)));
  int* first = next + rows;
  int* ntypes_dev = first + rows;
  if (dwte) {
    LAUNCH(embedding_link_k, blocks_for(rows), kBlock, 0, 0)(next, first, ids, rows);
    check_launch("embedding_link_k");
    auto* k = embedding_bwd_wte_k<S>;
    LAUNCH(k, dim3(cb, std::min(rows, 65535)), kRowBlock, 0, 0)(dwte, dout, ids, next, first, rows, C);
    check_launch("embedding_bwd_wte_k");
  }
  if (dwpe) {
    auto* k = embedding_bwd_wpe_k<S>;
    LAUNCH(k, dim3(cb, T), kRowBlock, 0, 0)(dwpe, dout, B, T, C);
    check_launch("embedding_bwd_wpe_k");
  }
  if (dwtt) {
    if (types) {
      LAUNCH(max_type_k, 1, kBlock, 0, 0)(ntypes_dev, types, rows);
      check_launch("max_type_k");
    }
    auto* k = embedding_bwd_wtt_k<S>;
    LAUNCH(k, dim3(cb, kTypeBlocks), kRowBlock, 0, 0)(dwtt, dout, types, ntypes_dev, rows, C);
    check_launch("embedding_bwd_wtt_k");
  }
}

}  // namespace

void embedding_fwd(float* out, const int32_t* ids, const int32_t* types, const float* wte, const float* wpe,
                   const float* wtt, int B, int T, int C) {
  fwd(out, ids, types, wte, wpe, wtt, B, T, C);
}
void embedding_bwd(float* dwte, float* dwpe, float* dwtt, const float* dout, const int32_t* ids,
                   const int32_t* types, int B, int T, int C) {
  bwd(dwte, dwpe, dwtt, dout, ids, types, B, T, C);
}
void bf16::embedding_fwd(bf16_t* out, const int32_t* ids, const int32_t* types, const float* wte, const float* wpe,
                        const float* wtt, int B, int T, int C) {
  fwd(out, ids, types, wte, wpe, wtt, B, T, C);
}
void bf16::embedding_bwd(float* dwte, float* dwpe, float* dwtt, const bf16_t* dout, const int32_t* ids,
                        const int32_t* types, int B, int T, int C) {
  bwd(dwte, dwpe, dwtt, dout, ids, types, B, T, C);
}

}  // namespace mr::cuda
