#include "engine/data/split.h"

#include <algorithm>
#include <cmath>

#include "base/check.h"

namespace mr::data {

static uint64_t splitmix64(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

void seeded_shuffle(std::vector<uint32_t>& v, uint64_t seed) {
  uint64_t s = seed;
  for (size_t i = v.size(); i > 1; i--) {
    size_t j = static_cast<size_t>(splitmix64(s) % i);
    std::swap(v[i - 1], v[j]);
  }
}

static std::vector<uint32_t> last_n(const std::vector<uint32_t>& s, size_t end, size_t n) {
  size_t b = end > n ? end - n : 0;
  return {s.begin() + b, s.begin() + end};
}

Split split_loo(const Dataset& ds, size_t max_history, bool mirror_valid) {
  MR_CHECK(max_history > 0, "max_history must be positive");
  Split sp;
  sp.protocol = mirror_valid ? "loo-mirror" : "loo";
  sp.n_users = ds.n_users();
  sp.n_items = ds.n_items();
  for (uint32_t u = 0; u < ds.n_users(); u++) {
    auto inter = ds.of_user(u);
    size_t n = inter.size();
    if (n < 3) {
      sp.train.insert(sp.train.end(), inter.begin(), inter.end());
      sp.dropped_users++;
      continue;
    }
    const bool mirror = mirror_valid && n >= 4;
    sp.train.insert(sp.train.end(), inter.begin(), inter.end() - (mirror ? 3 : 2));
    auto seq = ds.item_sequence(u);
    EvalCase v{u, last_n(seq, n - 2, max_history), {seq.begin(), seq.begin() + (n - 2)}, {seq[n - 2]}};
    EvalCase t{u, last_n(seq, n - 1, max_history), {seq.begin(), seq.begin() + (n - 1)}, {seq[n - 1]}};
    sp.valid.push_back(std::move(v));
    if (!mirror_valid) sp.test.push_back(std::move(t));
  }
  return sp;
}

Split split_cold_user(const Dataset& ds, const ColdUserOptions& opt) {
  MR_CHECK(opt.valid_fraction >= 0 && opt.test_fraction > 0 && opt.valid_fraction + opt.test_fraction < 1,
           "cold-user fractions must be in [0, 1) and leave meta-train users (valid {}, test {})", opt.valid_fraction,
           opt.test_fraction);
  MR_CHECK(opt.min_interactions <= opt.max_interactions, "min_interactions > max_interactions");
  Split sp;
  sp.protocol = "cold-user";
  sp.n_users = ds.n_users();
  sp.n_items = ds.n_items();
  std::vector<uint32_t> users;
  for (uint32_t u = 0; u < ds.n_users(); u++) {
    size_t n = ds.of_user(u).size();
    if (n >= opt.min_interactions && n <= opt.max_interactions && n > opt.k_shot) users.push_back(u);
    else sp.dropped_users++;
  }
  if (users.size() < 3)
    throw Error(fmt::format("cold-user split: only {} users have {}..{} interactions (and more than K={})", users.size(),
                            opt.min_interactions, opt.max_interactions, opt.k_shot));
  seeded_shuffle(users, opt.seed);
  size_t n_test = std::max<size_t>(1, static_cast<size_t>(std::llround(opt.test_fraction * users.size())));
  size_t n_valid = static_cast<size_t>(std::llround(opt.valid_fraction * users.size()));
  if (n_test + n_valid >= users.size()) n_valid = users.size() - n_test - 1;
  sp.test_users.assign(users.begin(), users.begin() + n_test);
  sp.valid_users.assign(users.begin() + n_test, users.begin() + n_test + n_valid);
  sp.train_users.assign(users.begin() + n_test + n_valid, users.end());
  for (auto* v : {&sp.test_users, &sp.valid_users, &sp.train_users}) std::sort(v->begin(), v->end());
  std::vector<uint8_t> role(ds.n_users(), 0);  // 0 dropped, 1 train, 2 valid, 3 test
  for (auto u : sp.train_users) role[u] = 1;
  for (auto u : sp.valid_users) role[u] = 2;
  for (auto u : sp.test_users) role[u] = 3;
  for (uint32_t u = 0; u < ds.n_users(); u++) {
    if (!role[u]) continue;
    auto inter = ds.of_user(u);
    if (role[u] == 1) { sp.train.insert(sp.train.end(), inter.begin(), inter.end()); continue; }
    // the support set is known at test time: baselines may train on it
    sp.train.insert(sp.train.end(), inter.begin(), inter.begin() + opt.k_shot);
    auto seq = ds.item_sequence(u);
    EvalCase c{u, {seq.begin(), seq.begin() + opt.k_shot}, {seq.begin(), seq.begin() + opt.k_shot},
               {seq.begin() + opt.k_shot, seq.end()}};
    std::sort(c.targets.begin(), c.targets.end());  // a set (sequences may repeat items)
    c.targets.erase(std::unique(c.targets.begin(), c.targets.end()), c.targets.end());
    (role[u] == 2 ? sp.valid : sp.test).push_back(std::move(c));
  }
  return sp;
}

Split split_cold_item(const Dataset& ds, const ColdItemOptions& opt) {
  MR_CHECK(opt.valid_fraction >= 0 && opt.test_fraction > 0 && opt.valid_fraction + opt.test_fraction < 1,
           "cold-item fractions must be in [0, 1) and leave warm items (valid {}, test {})", opt.valid_fraction,
           opt.test_fraction);
  Split sp;
  sp.protocol = "cold-item";
  sp.n_users = ds.n_users();
  sp.n_items = ds.n_items();
  std::vector<uint32_t> items(ds.n_items());
  for (uint32_t i = 0; i < items.size(); i++) items[i] = i;
  seeded_shuffle(items, opt.seed);
  size_t n_test = std::max<size_t>(1, static_cast<size_t>(std::llround(opt.test_fraction * items.size())));
  size_t n_valid = static_cast<size_t>(std::llround(opt.valid_fraction * items.size()));
  if (n_test + n_valid >= items.size())
    throw Error(fmt::format("cold-item split: {} items are too few for the fractions", items.size()));
  sp.cold_test_items.assign(items.begin(), items.begin() + n_test);
  sp.cold_valid_items.assign(items.begin() + n_test, items.begin() + n_test + n_valid);
  std::vector<uint8_t> role(ds.n_items(), 0);  // 0 warm, 2 cold-valid, 3 cold-test
  sp.valid_candidates.assign(ds.n_items(), 0);
  sp.test_candidates.assign(ds.n_items(), 0);
  for (auto i : sp.cold_valid_items) { role[i] = 2; sp.valid_candidates[i] = 1; }
  for (auto i : sp.cold_test_items) { role[i] = 3; sp.test_candidates[i] = 1; }
  for (auto* v : {&sp.cold_test_items, &sp.cold_valid_items}) std::sort(v->begin(), v->end());
  for (uint32_t u = 0; u < ds.n_users(); u++) {
    EvalCase v{u, {}, {}, {}}, t{u, {}, {}, {}};
    std::vector<uint32_t> warm;
    for (auto& x : ds.of_user(u)) {
      if (role[x.item] == 0) { sp.train.push_back(x); warm.push_back(x.item); }
      else (role[x.item] == 2 ? v : t).targets.push_back(x.item);
    }
    for (auto* c : {&v, &t}) {
      if (c->targets.empty()) continue;
      c->history = last_n(warm, warm.size(), opt.max_history);
      c->known = warm;
      // duplicates are merged in most sources; targets are a set
      std::sort(c->targets.begin(), c->targets.end());
      c->targets.erase(std::unique(c->targets.begin(), c->targets.end()), c->targets.end());
    }
    if (!v.targets.empty()) sp.valid.push_back(std::move(v));
    if (!t.targets.empty()) sp.test.push_back(std::move(t));
  }
  return sp;
}

}  // namespace mr::data
