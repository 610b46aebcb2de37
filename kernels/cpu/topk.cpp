// CPU ranking ops (kernels/ops.def: topk_merge, topk_count), one row per OpenMP iteration.
// topk_merge keeps a heap of the K best (its root the worst of them, as metrics::top_k) seeded
// with the running top, then sorts it best first; removed items by binary search in the row's
// sorted list. Integer counts: the result does not depend on the order.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/cpu.h"

namespace mr::cpu {

namespace {
inline bool before(float sa, int32_t a, float sb, int32_t b) { return sa > sb || (sa == sb && a < b); }
inline bool ranked(float s, int32_t item, const int32_t* rb, const int32_t* re, const int32_t* cand) {
  return !std::isnan(s) && (!cand || cand[item] != 0) && !std::binary_search(rb, re, item);
}
}  // namespace

void topk_merge(int32_t* top_id, float* top_score, int32_t* top_n, int32_t* nan_item, float* tscore,
                const float* scores, int64_t ld, int R, int NW, int c0, const int32_t* rm_off, const int32_t* rm,
                const int32_t* cand, const int32_t* t_off, const int32_t* tg, int K) {
#pragma omp parallel for schedule(dynamic, 4) if (int64_t(R) * NW > (1 << 16))
  for (int r = 0; r < R; ++r) {
    const float* s = scores + int64_t(r) * ld;
    const int32_t *rb = rm + rm_off[r], *re = rm + rm_off[r + 1];
    int32_t* ids = top_id + int64_t(r) * K;
    float* sc = top_score + int64_t(r) * K;
    struct E { float s; int32_t id; };
    auto worse = [](const E& a, const E& b) { return before(a.s, a.id, b.s, b.id); };  // max-heap on "ranks lower"
    std::vector<E> heap;
    heap.reserve(size_t(K));
    for (int k = 0; k < top_n[r]; ++k) {
      heap.push_back({sc[k], ids[k]});
      std::push_heap(heap.begin(), heap.end(), worse);
    }
    int32_t nan_at = nan_item[r];
    for (int j = 0; j < NW; ++j) {
      const int32_t item = c0 + j;
      if (std::isnan(s[j])) nan_at = std::min(nan_at, item);
      if (!ranked(s[j], item, rb, re, cand)) continue;
      if (heap.size() < size_t(K)) {
        heap.push_back({s[j], item});
        std::push_heap(heap.begin(), heap.end(), worse);
      } else if (before(s[j], item, heap.front().s, heap.front().id)) {
        std::pop_heap(heap.begin(), heap.end(), worse);
        heap.back() = {s[j], item};
        std::push_heap(heap.begin(), heap.end(), worse);
      }
    }
    std::sort_heap(heap.begin(), heap.end(), worse);  // best first
    for (size_t k = 0; k < heap.size(); ++k) ids[k] = heap[k].id, sc[k] = heap[k].s;
    top_n[r] = int32_t(heap.size());
    nan_item[r] = nan_at;
    for (int32_t j = t_off[r]; j < t_off[r + 1]; ++j)
      if (tg[j] >= c0 && tg[j] < c0 + NW) tscore[j] = s[tg[j] - c0];
  }
}

void topk_count(int32_t* above, int32_t* ties, const float* scores, int64_t ld, int R, int NW, int c0,
                const int32_t* rm_off, const int32_t* rm, const int32_t* cand, const int32_t* t_off, const int32_t* tg,
                const float* tscore) {
#pragma omp parallel for schedule(dynamic, 4) if (int64_t(R) * NW > (1 << 16))
  for (int r = 0; r < R; ++r) {
    const float* s = scores + int64_t(r) * ld;
    const int32_t *rb = rm + rm_off[r], *re = rm + rm_off[r + 1];
    for (int32_t t = t_off[r]; t < t_off[r + 1]; ++t) {
      const float st = tscore[t];
      int32_t a = 0, e = 0;
      for (int j = 0; j < NW; ++j) {
        const int32_t item = c0 + j;
        if (!ranked(s[j], item, rb, re, cand)) continue;
        a += before(s[j], item, st, tg[t]);
        e += s[j] == st && item != tg[t];
      }
      above[t] += a;
      ties[t] += e;
    }
  }
}

}  // namespace mr::cpu
