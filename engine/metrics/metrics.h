// Full-ranking metrics (RecBole's definitions). For one evaluation case, every candidate item
// (all items, or a candidate set) is ranked by score, highest first; equal scores are ordered
// by item id, lowest first (a stable sort of the item list by descending score). Known items
// are removed from the ranking when the protocol masks them, except the targets themselves.
// With ranks r_1 < ... < r_m of the m targets among the n ranked candidates:
//   hit@K       1 if r_1 <= K                       (HR@K)
//   recall@K    #{r_i <= K} / m
//   precision@K #{r_i <= K} / K
//   ndcg@K      sum_{r_i <= K} 1/log2(r_i + 1) / sum_{j=1..min(m,K)} 1/log2(j + 1)
//   mrr         1 / r_1;  mrr@K: 1/r_1 if r_1 <= K else 0
//   auc         mean over targets of the fraction of the n - m non-targets ranked below it
//               (the case is left out of auc when every candidate is a target)
//   gauc        auc averaged over cases weighted by m (RecBole's GAUC)
//   coverage@K  distinct items in any case's top K / number of candidate items
//   tied_targets share of targets whose score equals another ranked item's, and
//   tied_items_per_target  the mean number of such items: how much the results depend on the
//                tie order (pop has small ties; ID models on cold items tie everything)
// Every per-case metric is averaged over cases (users). Sampled-candidate evaluation is not
// full ranking: its keys carry a "sampled<N>_" prefix.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mr::metrics {

struct CaseResult {
  std::vector<double> hit, recall, precision, ndcg, mrr_k;  // one per cutoff
  double mrr = 0, auc = 0;
  bool has_auc = false;
  uint32_t n_targets = 0;
  uint32_t tied_targets = 0;  // targets whose score equals another ranked item's (rank set by item id)
  uint32_t tied_items = 0;    // sum over targets of the other ranked items with the same score
  std::vector<uint32_t> top;  // the top max(K) items (for coverage)
};

// Ranks of the targets (1-based, ascending) among the candidates: items i with candidate[i]
// (or every item when candidate is empty), minus `exclude` (except targets). Duplicated
// targets count once. Throws on a NaN score, an out-of-range item or a non-candidate target.
std::vector<uint32_t> target_ranks(std::span<const float> scores, std::span<const uint32_t> targets,
                                   std::span<const uint32_t> exclude, std::span<const uint8_t> candidate,
                                   size_t* n_candidates = nullptr, uint32_t* tied = nullptr);  // tied[2]: targets, items
// The first k items of the ranking (same order and exclusions).
std::vector<uint32_t> top_k(std::span<const float> scores, size_t k, std::span<const uint32_t> exclude,
                            std::span<const uint32_t> targets, std::span<const uint8_t> candidate);

// One case's ranking, as the metrics need it, however it was computed: the targets' ranks
// (1-based, ascending), the number of ranked candidates, the tie counts and the top items.
struct Ranking {
  std::vector<uint32_t> ranks;
  size_t n_candidates = 0;
  uint32_t tied_targets = 0, tied_items = 0;
  std::vector<uint32_t> top;  // the top max(K) items
};
// The metrics of one case from its ranking. score_case is target_ranks and top_k on the host,
// then this; the device ranking (engine/baselines/evaluate.cpp) ends here too.
CaseResult case_result(const Ranking& rk, const std::vector<int>& ks);

// Ranking where the scores are (a device: kernels/ops.def topk_merge/topk_count), the host's
// part, which needs no score. rank_query checks the targets and the exclusions as target_ranks
// does (the same errors) and gives the targets (sorted, duplicates once), the removed items
// (sorted: excluded, not targets) and the number of ranked candidates; n_cand_all is the number
// of candidate items (n when candidate is empty).
struct RankQuery {
  std::vector<uint32_t> targets, removed;
  size_t n_candidates = 0;
};
RankQuery rank_query(size_t n, std::span<const uint32_t> targets, std::span<const uint32_t> exclude,
                     std::span<const uint8_t> candidate, size_t n_cand_all);
// The ranking from the device's counts: per target j of q.targets, the ranked items above it
// (above[j]) and those with its score (ties[j]); nan_item, the lowest item with a NaN score
// (>= n: none), throws as target_ranks does; top, best first.
Ranking ranking_from_counts(const RankQuery& q, size_t n, std::span<const int32_t> above, std::span<const int32_t> ties,
                            int64_t nan_item, std::vector<uint32_t> top);

CaseResult score_case(std::span<const float> scores, std::span<const uint32_t> targets, std::span<const uint32_t> exclude,
                      std::span<const uint8_t> candidate, const std::vector<int>& ks);

class Accumulator {
 public:
  Accumulator(size_t n_items, std::vector<int> ks, size_t n_candidates);
  void add(const CaseResult& r);  // call in a fixed order for reproducible sums
  nlohmann::json result(const std::string& prefix = "") const;  // keys recall@10, ndcg@10, ...
  size_t cases() const { return n_; }

 private:
  std::vector<int> ks_;
  size_t n_ = 0, n_auc_ = 0, n_candidates_;
  double mrr_ = 0, auc_ = 0, gauc_num_ = 0, gauc_den_ = 0, tied_ = 0, tied_items_ = 0, targets_ = 0;
  std::vector<double> hit_, recall_, precision_, ndcg_, mrr_k_;
  std::vector<std::vector<uint8_t>> seen_;  // per cutoff: item appeared in some top K
};

}  // namespace mr::metrics
