#include "engine/rec/tasks.h"

#include <algorithm>

#include "base/check.h"

namespace mr::rec {

std::vector<UserSeq> task_sequences(const data::Split& sp, size_t n_users) {
  std::vector<UserSeq> by_user(n_users), seqs;
  for (auto& x : sp.train) {
    by_user[x.user].items.push_back(x.item);
    by_user[x.user].signal.push_back(x.signal);
  }
  std::vector<uint32_t> users = sp.train_users;
  if (users.empty())
    for (uint32_t u = 0; u < n_users; ++u) users.push_back(u);  // loo: everyone trains
  for (auto u : users)
    if (by_user[u].items.size() >= 2) seqs.push_back(std::move(by_user[u]));
  MR_CHECK(!seqs.empty(), "no training user has 2 or more interactions");
  return seqs;
}

TaskBatches sample_task(const std::vector<UserSeq>& seqs, const TaskOptions& o, std::mt19937_64& rng) {
  MR_CHECK(!o.k_shots.empty(), "task.k_shots is empty");
  const UserSeq& u = seqs[rng() % seqs.size()];
  const auto& s = u.items;
  int K = o.k_shots[rng() % o.k_shots.size()];
  K = std::max(1, std::min<int>(K, int(s.size()) - 1));
  // cut point: the first K items (cold start), or a random point for next-item tasks
  size_t cut = size_t(K);
  if (o.target == Target::Next) cut = size_t(K) + rng() % (s.size() - size_t(K));
  std::vector<uint32_t> hist(s.begin(), s.begin() + cut);
  TaskBatches tb;
  // support: the last K items of the history, without their signals (evaluation adapts on the
  // items only: the evaluator's cases carry no ratings, so training's inner loop does neither)
  for (size_t j = cut - size_t(K); j < cut; ++j) tb.support.add(std::vector<uint32_t>(s.begin(), s.begin() + j), int32_t(s[j]));
  if (o.target == Target::Next) {
    for (size_t j = cut; j < std::min(s.size(), cut + o.next_positions); ++j)  // each from everything before it
      tb.query.add(std::vector<uint32_t>(s.begin(), s.begin() + j), int32_t(s[j]), u.signal[j]);
  } else {
    std::vector<uint32_t> pos;
    for (size_t j = cut; j < s.size(); ++j) pos.push_back(uint32_t(j));
    std::shuffle(pos.begin(), pos.end(), rng);
    for (size_t j = 0; j < std::min(o.query_size, pos.size()); ++j) tb.query.add(hist, int32_t(s[pos[j]]), u.signal[pos[j]]);
  }
  return tb;
}

}  // namespace mr::rec
