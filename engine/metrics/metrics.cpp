#include "engine/metrics/metrics.h"

#include <algorithm>
#include <cmath>
#include <unordered_set>

#include "base/check.h"

namespace mr::metrics {

// a ranks above b: higher score, or equal score and lower id
static inline bool before(float sa, uint32_t a, float sb, uint32_t b) { return sa > sb || (sa == sb && a < b); }

static std::vector<uint8_t> removed_mask(size_t n, std::span<const uint32_t> exclude, std::span<const uint32_t> targets) {
  std::vector<uint8_t> m(n, 0);
  for (auto i : exclude) {
    MR_CHECK(i < n, "excluded item {} out of range ({} items)", i, n);
    m[i] = 1;
  }
  for (auto t : targets) m[t] = 0;
  return m;
}

std::vector<uint32_t> target_ranks(std::span<const float> scores, std::span<const uint32_t> targets,
                                   std::span<const uint32_t> exclude, std::span<const uint8_t> candidate,
                                   size_t* n_candidates, uint32_t* tied_targets) {
  size_t n = scores.size();
  MR_CHECK(candidate.empty() || candidate.size() == n, "candidate mask has {} entries for {} items", candidate.size(), n);
  for (auto t : targets) {
    MR_CHECK(t < n, "target item {} out of range ({} items)", t, n);
    MR_CHECK(candidate.empty() || candidate[t], "target item {} is not a candidate", t);
  }
  std::vector<uint32_t> tg(targets.begin(), targets.end());
  std::sort(tg.begin(), tg.end());
  tg.erase(std::unique(tg.begin(), tg.end()), tg.end());
  auto removed = removed_mask(n, exclude, tg);
  std::vector<uint32_t> above(tg.size(), 0), ties(tg.size(), 0);
  size_t count = 0;
  for (size_t i = 0; i < n; i++) {
    MR_CHECK(!std::isnan(scores[i]), "score of item {} is NaN", i);
    if (removed[i] || (!candidate.empty() && !candidate[i])) continue;
    count++;
    for (size_t k = 0; k < tg.size(); k++) {
      if (before(scores[i], static_cast<uint32_t>(i), scores[tg[k]], tg[k])) above[k]++;
      if (scores[i] == scores[tg[k]] && i != tg[k]) ties[k]++;
    }
  }
  if (n_candidates) *n_candidates = count;
  if (tied_targets) {
    tied_targets[0] = tied_targets[1] = 0;
    for (auto t : ties) { tied_targets[0] += t > 0; tied_targets[1] += t; }
  }
  for (auto& a : above) a += 1;
  std::sort(above.begin(), above.end());
  return above;
}

// The first k items of the ranking among the items with !removed[i] (and candidate[i]): a heap
// of the k best seen so far, its root the worst of them, so memory is O(k), not O(items).
static std::vector<uint32_t> top_k_of(std::span<const float> scores, size_t k, const std::vector<uint8_t>& removed,
                                      std::span<const uint8_t> candidate) {
  std::vector<uint32_t> heap;
  if (k == 0) return heap;
  heap.reserve(k);
  auto worse = [&](uint32_t a, uint32_t b) { return before(scores[a], a, scores[b], b); };  // max-heap on "ranks lower"
  const size_t n = scores.size();
  for (size_t i = 0; i < n; i++) {
    if (removed[i] || (!candidate.empty() && !candidate[i])) continue;
    const uint32_t id = static_cast<uint32_t>(i);
    if (heap.size() < k) {
      heap.push_back(id);
      std::push_heap(heap.begin(), heap.end(), worse);
    } else if (before(scores[i], id, scores[heap.front()], heap.front())) {
      std::pop_heap(heap.begin(), heap.end(), worse);
      heap.back() = id;
      std::push_heap(heap.begin(), heap.end(), worse);
    }
  }
  std::sort_heap(heap.begin(), heap.end(), worse);  // best first
  return heap;
}

std::vector<uint32_t> top_k(std::span<const float> scores, size_t k, std::span<const uint32_t> exclude,
                            std::span<const uint32_t> targets, std::span<const uint8_t> candidate) {
  return top_k_of(scores, k, removed_mask(scores.size(), exclude, targets), candidate);
}

RankQuery rank_query(size_t n, std::span<const uint32_t> targets, std::span<const uint32_t> exclude,
                     std::span<const uint8_t> candidate, size_t n_cand_all) {
  MR_CHECK(!targets.empty(), "an evaluation case needs at least one target");
  MR_CHECK(candidate.empty() || candidate.size() == n, "candidate mask has {} entries for {} items", candidate.size(), n);
  for (auto t : targets) {
    MR_CHECK(t < n, "target item {} out of range ({} items)", t, n);
    MR_CHECK(candidate.empty() || candidate[t], "target item {} is not a candidate", t);
  }
  RankQuery q;
  q.targets.assign(targets.begin(), targets.end());
  std::sort(q.targets.begin(), q.targets.end());
  q.targets.erase(std::unique(q.targets.begin(), q.targets.end()), q.targets.end());
  for (auto i : exclude) MR_CHECK(i < n, "excluded item {} out of range ({} items)", i, n);
  q.removed.assign(exclude.begin(), exclude.end());
  std::sort(q.removed.begin(), q.removed.end());
  q.removed.erase(std::unique(q.removed.begin(), q.removed.end()), q.removed.end());
  q.removed.erase(std::remove_if(q.removed.begin(), q.removed.end(),
                                 [&](uint32_t i) { return std::binary_search(q.targets.begin(), q.targets.end(), i); }),
                  q.removed.end());
  size_t removed_cand = 0;
  for (auto i : q.removed) removed_cand += candidate.empty() || candidate[i];
  q.n_candidates = n_cand_all - removed_cand;
  return q;
}

Ranking ranking_from_counts(const RankQuery& q, size_t n, std::span<const int32_t> above, std::span<const int32_t> ties,
                            int64_t nan_item, std::vector<uint32_t> top) {
  MR_CHECK(nan_item < 0 || size_t(nan_item) >= n, "score of item {} is NaN", nan_item);
  MR_CHECK(above.size() == q.targets.size() && ties.size() == q.targets.size(), "{} target counts for {} targets",
           above.size(), q.targets.size());
  Ranking rk;
  rk.n_candidates = q.n_candidates;
  for (size_t j = 0; j < above.size(); j++) {
    MR_CHECK(above[j] >= 0 && ties[j] >= 0 && size_t(above[j]) < q.n_candidates, "target {}: bad counts {} / {}",
             q.targets[j], above[j], ties[j]);
    rk.ranks.push_back(uint32_t(above[j]) + 1);
    rk.tied_targets += ties[j] > 0;
    rk.tied_items += uint32_t(ties[j]);
  }
  std::sort(rk.ranks.begin(), rk.ranks.end());
  rk.top = std::move(top);
  return rk;
}

CaseResult score_case(std::span<const float> scores, std::span<const uint32_t> targets, std::span<const uint32_t> exclude,
                      std::span<const uint8_t> candidate, const std::vector<int>& ks) {
  MR_CHECK(!targets.empty(), "an evaluation case needs at least one target");
  Ranking rk;
  uint32_t tied[2];
  rk.ranks = target_ranks(scores, targets, exclude, candidate, &rk.n_candidates, tied);
  rk.tied_targets = tied[0];
  rk.tied_items = tied[1];
  const int kmax = ks.empty() ? 0 : *std::max_element(ks.begin(), ks.end());
  rk.top = top_k(scores, kmax, exclude, targets, candidate);
  return case_result(rk, ks);
}

CaseResult case_result(const Ranking& rk, const std::vector<int>& ks) {
  MR_CHECK(!rk.ranks.empty(), "an evaluation case needs at least one target");
  CaseResult r;
  const auto& ranks = rk.ranks;
  const size_t n = rk.n_candidates;
  r.tied_targets = rk.tied_targets;
  r.tied_items = rk.tied_items;
  size_t m = ranks.size();
  r.n_targets = static_cast<uint32_t>(m);
  for (int k : ks) {
    size_t hits = 0;
    double dcg = 0, idcg = 0;
    for (auto x : ranks)
      if (x <= static_cast<uint32_t>(k)) { hits++; dcg += 1.0 / std::log2(x + 1.0); }
    for (size_t j = 1; j <= std::min<size_t>(m, k); j++) idcg += 1.0 / std::log2(j + 1.0);
    r.hit.push_back(hits > 0);
    r.recall.push_back(static_cast<double>(hits) / m);
    r.precision.push_back(static_cast<double>(hits) / k);
    r.ndcg.push_back(dcg / idcg);
    r.mrr_k.push_back(ranks[0] <= static_cast<uint32_t>(k) ? 1.0 / ranks[0] : 0.0);
  }
  r.mrr = 1.0 / ranks[0];
  if (n > m) {
    double s = 0;
    for (size_t i = 0; i < m; i++) s += 1.0 - static_cast<double>(ranks[i] - 1 - i) / static_cast<double>(n - m);
    r.auc = s / m;
    r.has_auc = true;
  }
  r.top = rk.top;
  return r;
}

Accumulator::Accumulator(size_t n_items, std::vector<int> ks, size_t n_candidates)
    : ks_(std::move(ks)), n_candidates_(n_candidates) {
  for (int k : ks_) MR_CHECK(k > 0, "cutoff K must be positive, got {}", k);
  hit_.assign(ks_.size(), 0);
  recall_ = precision_ = ndcg_ = mrr_k_ = hit_;
  seen_.assign(ks_.size(), std::vector<uint8_t>(n_items, 0));
}

void Accumulator::add(const CaseResult& r) {
  n_++;
  for (size_t j = 0; j < ks_.size(); j++) {
    hit_[j] += r.hit[j];
    recall_[j] += r.recall[j];
    precision_[j] += r.precision[j];
    ndcg_[j] += r.ndcg[j];
    mrr_k_[j] += r.mrr_k[j];
    for (size_t p = 0; p < r.top.size() && p < static_cast<size_t>(ks_[j]); p++) seen_[j][r.top[p]] = 1;
  }
  mrr_ += r.mrr;
  tied_ += r.tied_targets;
  tied_items_ += r.tied_items;
  targets_ += r.n_targets;
  if (r.has_auc) {
    n_auc_++;
    auc_ += r.auc;
    gauc_num_ += r.auc * r.n_targets;
    gauc_den_ += r.n_targets;
  }
}

nlohmann::json Accumulator::result(const std::string& prefix) const {
  nlohmann::json j = nlohmann::json::object();
  double n = std::max<size_t>(n_, 1);
  for (size_t i = 0; i < ks_.size(); i++) {
    std::string k = std::to_string(ks_[i]);
    j[prefix + "recall@" + k] = recall_[i] / n;
    j[prefix + "hit@" + k] = hit_[i] / n;
    j[prefix + "ndcg@" + k] = ndcg_[i] / n;
    j[prefix + "precision@" + k] = precision_[i] / n;
    j[prefix + "mrr@" + k] = mrr_k_[i] / n;
    size_t c = 0;
    for (auto s : seen_[i]) c += s;
    j[prefix + "coverage@" + k] = n_candidates_ ? static_cast<double>(c) / n_candidates_ : 0.0;
  }
  j[prefix + "mrr"] = mrr_ / n;
  j[prefix + "auc"] = n_auc_ ? auc_ / n_auc_ : 0.0;
  j[prefix + "gauc"] = gauc_den_ > 0 ? gauc_num_ / gauc_den_ : 0.0;
  j[prefix + "tied_targets"] = targets_ > 0 ? tied_ / targets_ : 0.0;
  j[prefix + "tied_items_per_target"] = targets_ > 0 ? tied_items_ / targets_ : 0.0;
  j["cases"] = n_;
  return j;
}

}  // namespace mr::metrics
