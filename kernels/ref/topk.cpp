// Reference ranking ops (kernels/ops.def: topk_merge, topk_count): a full sort of each row's
// candidates (the running top and the tile's ranked items) by (score desc, id asc) in double,
// and counts by direct comparison. The removed items are looked up by a linear scan.
#include <algorithm>
#include <climits>
#include <cmath>
#include <utility>
#include <vector>

#include "kernels/ref/ref.h"

namespace mr::ref {

namespace {
bool is_removed(const int32_t* rm, int32_t b, int32_t e, int32_t item) {
  for (int32_t k = b; k < e; ++k)
    if (rm[k] == item) return true;
  return false;
}
// item c0 + j of row r is ranked
bool ranked(const float* scores, int64_t ld, int r, int j, int c0, const int32_t* rm_off, const int32_t* rm,
            const int32_t* cand) {
  const int32_t item = c0 + j;
  if (cand && cand[item] == 0) return false;
  if (is_removed(rm, rm_off[r], rm_off[r + 1], item)) return false;
  return !std::isnan(scores[int64_t(r) * ld + j]);
}
}  // namespace

void topk_merge(int32_t* top_id, float* top_score, int32_t* top_n, int32_t* nan_item, float* tscore,
                const float* scores, int64_t ld, int R, int NW, int c0, const int32_t* rm_off, const int32_t* rm,
                const int32_t* cand, const int32_t* t_off, const int32_t* tg, int K) {
  for (int r = 0; r < R; ++r) {
    const float* s = scores + int64_t(r) * ld;
    std::vector<std::pair<double, int32_t>> all;  // (score, item)
    for (int k = 0; k < top_n[r]; ++k) all.emplace_back(double(top_score[int64_t(r) * K + k]), top_id[int64_t(r) * K + k]);
    for (int j = 0; j < NW; ++j) {
      if (std::isnan(s[j])) nan_item[r] = std::min(nan_item[r], c0 + j);
      if (ranked(scores, ld, r, j, c0, rm_off, rm, cand)) all.emplace_back(double(s[j]), c0 + j);
    }
    std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
      return a.first > b.first || (a.first == b.first && a.second < b.second);
    });
    const int n = int(std::min<size_t>(all.size(), size_t(K)));
    for (int k = 0; k < n; ++k) {
      top_id[int64_t(r) * K + k] = all[size_t(k)].second;
      top_score[int64_t(r) * K + k] = float(all[size_t(k)].first);
    }
    top_n[r] = n;
    for (int32_t j = t_off[r]; j < t_off[r + 1]; ++j)
      if (tg[j] >= c0 && tg[j] < c0 + NW) tscore[j] = s[tg[j] - c0];
  }
}

void topk_count(int32_t* above, int32_t* ties, const float* scores, int64_t ld, int R, int NW, int c0,
                const int32_t* rm_off, const int32_t* rm, const int32_t* cand, const int32_t* t_off, const int32_t* tg,
                const float* tscore) {
  for (int r = 0; r < R; ++r)
    for (int32_t t = t_off[r]; t < t_off[r + 1]; ++t) {
      const double st = double(tscore[t]);
      int32_t a = 0, e = 0;
      for (int j = 0; j < NW; ++j) {
        if (!ranked(scores, ld, r, j, c0, rm_off, rm, cand)) continue;
        const double si = double(scores[int64_t(r) * ld + j]);
        const int32_t item = c0 + j;
        if (si > st || (si == st && item < tg[t])) ++a;
        if (si == st && item != tg[t]) ++e;
      }
      above[t] += a;
      ties[t] += e;
    }
}

}  // namespace mr::ref
