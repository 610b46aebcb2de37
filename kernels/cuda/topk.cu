// Ranking ops for evaluation on the device (kernels/ops.def: topk_merge, topk_count): the
// evaluator's order (score desc, equal scores by item id asc; engine/metrics/metrics.h) over a
// tile of scores, so only K ids and scores per case, and each target's counts, leave the device.
//   topk_merge: one block per row. The row's running top (K entries) and a chunk of the tile's
//   items sit in shared memory, P = 2^p slots (P <= 4096: 32 KiB) of (score, id), id -1 for an
//   empty slot or an item that is not ranked (removed, not a candidate, NaN). A bitonic sort
//   puts the best first, so slots [0, K) hold the running top for the next chunk. The order
//   (before(), a strict total order on ranked (score, id) pairs: ids are distinct, -0 == +0,
//   no NaN) makes the result unique: equal to any other exact top-K. A NaN score's item goes
//   into a block minimum; the targets inside the tile have their scores copied.
//   topk_count: one block per row; per target, every thread counts over a stride of the tile,
//   then an integer block sum (exact in any order).
// Removed items: binary search in the row's sorted list. NaN is v != v (no fast-math here). No atomics.
#include <climits>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace mr::cuda {

namespace {

constexpr int kTopkMaxSlots = 4096;  // (score, id) pairs in shared memory: 32 KiB
constexpr int kTopkBlock = 256;

// rm[lo, hi) sorted ascending: is item in it
__device__ __forceinline__ bool in_sorted(const int32_t* rm, int32_t lo, int32_t hi, int32_t item) {
  int32_t a = lo, b = hi;
  while (a < b) {
    const int32_t mid = a + (b - a) / 2;
    if (rm[mid] < item) a = mid + 1;
    else b = mid;
  }
  return a < hi && rm[a] == item;
}

// slot a ranks before slot b (an empty slot, id < 0, ranks after everything)
__device__ __forceinline__ bool before_slot(const float* ks, const int32_t* ki, int a, int b) {
  if (ki[a] < 0) return false;
  if (ki[b] < 0) return true;
  return ks[a] > ks[b] || (ks[a] == ks[b] && ki[a] < ki[b]);
}

__device__ __forceinline__ int32_t warp_min_i(int32_t v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = min(v, __shfl_xor_sync(MR_FULL_MASK, v, o));
  return v;
}

__global__ void topk_merge_k(int32_t* top_id, float* top_score, int32_t* top_n, int32_t* nan_item, float* tscore,
                             const float* scores, int64_t ld, int R, int NW, int c0, const int32_t* rm_off,
                             const int32_t* rm, const int32_t* cand, const int32_t* t_off, const int32_t* tg, int K,
                             int P) {
  DYNAMIC_SMEM(float, ks);  // (P) scores
  int32_t* ki = reinterpret_cast<int32_t*>(ks + P);  // (P) item ids, -1: empty
  __shared__ int32_t red[32];
  const int tid = threadIdx.x, bd = blockDim.x, CH = P - K;
  for (int r = blockIdx.x; r < R; r += gridDim.x) {
    const float* s = scores + int64_t(r) * ld;
    const int32_t rb = rm_off[r], re = rm_off[r + 1], n0 = top_n[r];
    for (int k = tid; k < K; k += bd) {
      ki[k] = k < n0 ? top_id[int64_t(r) * K + k] : -1;
      ks[k] = k < n0 ? top_score[int64_t(r) * K + k] : 0.0f;
    }
    int32_t nan_at = INT_MAX;
    for (int j0 = 0; j0 < NW; j0 += CH) {
      for (int q = tid; q < CH; q += bd) {
        const int j = j0 + q;
        float v = 0.0f;
        int32_t id = -1;
        if (j < NW) {
          v = s[j];
          const int32_t item = c0 + j;
          if (v != v) nan_at = min(nan_at, item);
          else if ((!cand || cand[item] != 0) && !in_sorted(rm, rb, re, item)) id = item;
        }
        ks[K + q] = v;
        ki[K + q] = id;
      }
      __syncthreads();
      // bitonic sort of the P slots, best first
      for (int k = 2; k <= P; k <<= 1)
        for (int j = k >> 1; j > 0; j >>= 1) {
          for (int i = tid; i < P; i += bd) {
            const int l = i ^ j;
            if (l > i) {
              const bool up = (i & k) == 0;
              if (up ? before_slot(ks, ki, l, i) : before_slot(ks, ki, i, l)) {
                const float tf = ks[i];
                ks[i] = ks[l];
                ks[l] = tf;
                const int32_t ti = ki[i];
                ki[i] = ki[l];
                ki[l] = ti;
              }
            }
          }
          __syncthreads();
        }
    }
    int32_t valid = 0;
    for (int k = tid; k < K; k += bd)
      if (ki[k] >= 0) {
        top_id[int64_t(r) * K + k] = ki[k];
        top_score[int64_t(r) * K + k] = ks[k];
        ++valid;
      }
    valid = block_sum(valid, red);
    // the NaN minimum: a warp minimum, then the warps' minima (red reused after a barrier)
    nan_at = warp_min_i(nan_at);
    __syncthreads();
    if ((tid & 31) == 0) red[tid >> 5] = nan_at;
    __syncthreads();
    nan_at = (tid & 31) < (bd >> 5) ? red[tid & 31] : INT_MAX;
    nan_at = warp_min_i(nan_at);
    if (tid == 0) {
      top_n[r] = valid;
      nan_item[r] = min(nan_item[r], nan_at);
    }
    for (int32_t j = t_off[r] + tid; j < t_off[r + 1]; j += bd)
      if (tg[j] >= c0 && tg[j] < c0 + NW) tscore[j] = s[tg[j] - c0];
    __syncthreads();  // the slots and red are reused by the next row
  }
}

__global__ void topk_count_k(int32_t* above, int32_t* ties, const float* scores, int64_t ld, int R, int NW, int c0,
                             const int32_t* rm_off, const int32_t* rm, const int32_t* cand, const int32_t* t_off,
                             const int32_t* tg, const float* tscore) {
  __shared__ int32_t red[32];
  for (int r = blockIdx.x; r < R; r += gridDim.x) {
    const float* s = scores + int64_t(r) * ld;
    const int32_t rb = rm_off[r], re = rm_off[r + 1];
    for (int32_t t = t_off[r]; t < t_off[r + 1]; ++t) {
      const float st = tscore[t];
      const int32_t it = tg[t];
      int32_t a = 0, e = 0;
      for (int j = threadIdx.x; j < NW; j += blockDim.x) {
        const float v = s[j];
        const int32_t item = c0 + j;
        if (v != v || (cand && cand[item] == 0) || in_sorted(rm, rb, re, item)) continue;
        a += v > st || (v == st && item < it);
        e += v == st && item != it;
      }
      a = block_sum(a, red);
      e = block_sum(e, red);
      if (threadIdx.x == 0) {
        above[t] += a;
        ties[t] += e;
      }
    }
  }
}

int topk_slots(int K, int NW) {
  int P = 2;
  while (P < K + NW && P < kTopkMaxSlots) P <<= 1;
  return P;
}

}  // namespace

void topk_merge(int32_t* top_id, float* top_score, int32_t* top_n, int32_t* nan_item, float* tscore,
                const float* scores, int64_t ld, int R, int NW, int c0, const int32_t* rm_off, const int32_t* rm,
                const int32_t* cand, const int32_t* t_off, const int32_t* tg, int K) {
  if (R <= 0) return;
  if (K < 1 || K > kTopkMaxSlots / 2)
    ::mr::throw_error(__FILE__, __LINE__, "topk_merge", "K = " + std::to_string(K) + " outside 1.." +
                                                            std::to_string(kTopkMaxSlots / 2));
  const int P = topk_slots(K, NW);
  LAUNCH(topk_merge_k, std::min(R, 65535), kTopkBlock, size_t(P) * 8, 0)
  (top_id, top_score, top_n, nan_item, tscore, scores, ld, R, NW, c0, rm_off, rm, cand, t_off, tg, K, P);
  check_launch("topk_merge_k");
}

void topk_count(int32_t* above, int32_t* ties, const float* scores, int64_t ld, int R, int NW, int c0,
                const int32_t* rm_off, const int32_t* rm, const int32_t* cand, const int32_t* t_off, const int32_t* tg,
                const float* tscore) {
  if (R <= 0) return;
  LAUNCH(topk_count_k, std::min(R, 65535), kTopkBlock, 0, 0)
  (above, ties, scores, ld, R, NW, c0, rm_off, rm, cand, t_off, tg, tscore);
  check_launch("topk_count_k");
}

}  // namespace mr::cuda
