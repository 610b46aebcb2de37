#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include "base/check.h"
#include "engine/data/readers.h"
#include "engine/data/split.h"
#include "tests/recdata/common.h"

using namespace mr::data;
using V = std::vector<uint32_t>;

// users u0..: user k has the items given, in time order
static Dataset make(const std::vector<std::vector<std::string>>& seqs) {
  Dataset ds;
  ds.name = "synthetic";
  DatasetBuilder b(ds);
  for (size_t u = 0; u < seqs.size(); u++)
    for (size_t k = 0; k < seqs[u].size(); k++) b.add("u" + std::to_string(u), seqs[u][k], double(k), NAN);
  b.finalize({});
  return ds;
}

static std::vector<std::string> nm(const Dataset& ds, const V& v) {
  std::vector<std::string> s;
  for (auto i : v) s.push_back(ds.items.names[i]);
  return s;
}
using S = std::vector<std::string>;

TEST_CASE("loo: last item test, second-to-last valid, history truncated") {
  auto ds = make({{"a", "b", "c", "d", "e"}, {"a", "b"}, {"x", "y", "z"}});
  auto sp = split_loo(ds, 2);
  CHECK(sp.dropped_users == 1);
  REQUIRE(sp.test.size() == 2);
  CHECK(nm(ds, sp.test[0].history) == S{"c", "d"});
  CHECK(nm(ds, sp.test[0].known) == S{"a", "b", "c", "d"});
  CHECK(nm(ds, sp.test[0].targets) == S{"e"});
  CHECK(nm(ds, sp.valid[0].history) == S{"b", "c"});
  CHECK(nm(ds, sp.valid[0].targets) == S{"d"});
  CHECK(nm(ds, sp.test[1].history) == S{"x", "y"});
  CHECK(nm(ds, sp.valid[1].history) == S{"x"});
  // train: a b c (user 0), a b (user 1, too short to evaluate), x (user 2)
  CHECK(sp.train.size() == 6);
  CHECK_THROWS_AS(split_loo(ds, 0), mr::Error);

  // mirror_valid: user 0 (a b c d e) trains on a b only; its validation case still predicts d,
  // from a history that ends with c, which is not trained on (as e's history ends with d in test)
  auto mv = split_loo(ds, 2, true);
  CHECK(mv.protocol == "loo-mirror");
  CHECK(mv.test.empty());
  REQUIRE(mv.valid.size() == 2);
  CHECK(nm(ds, mv.valid[0].history) == S{"b", "c"});  // c is not trained on
  CHECK(nm(ds, mv.valid[0].targets) == S{"d"});
  CHECK(nm(ds, mv.valid[1].history) == S{"x"});  // 3 items: the standard validation case
  CHECK(nm(ds, mv.valid[1].targets) == S{"y"});
  // train: a b (user 0), a b (user 1), x (user 2)
  CHECK(mv.train.size() == 5);
  std::vector<std::string> u0;
  for (auto& x : mv.train)
    if (x.user == mv.valid[0].user) u0.push_back(ds.items.names[x.item]);
  CHECK(u0 == S{"a", "b"});
}

TEST_CASE("cold-user: filter, seeded partition, K-shot support and query") {
  std::vector<std::vector<std::string>> seqs;
  for (int u = 0; u < 40; u++) {
    int n = u == 0 ? 5 : u == 1 ? 120 : 13 + u;  // user 0 too short, user 1 too long
    std::vector<std::string> s;
    for (int k = 0; k < n; k++) s.push_back("i" + std::to_string((u * 7 + k) % 150));
    seqs.push_back(s);
  }
  auto ds = make(seqs);
  ColdUserOptions o;
  o.k_shot = 3;
  o.seed = 7;
  auto sp = split_cold_user(ds, o);
  CHECK(sp.dropped_users == 2);
  std::set<uint32_t> all;
  for (auto* v : {&sp.train_users, &sp.valid_users, &sp.test_users}) all.insert(v->begin(), v->end());
  CHECK(all.size() == 38);
  CHECK(sp.train_users.size() + sp.valid_users.size() + sp.test_users.size() == 38);
  CHECK(sp.test_users.size() == 8);  // round(0.2 * 38)
  CHECK(sp.valid_users.size() == 4);
  CHECK(!all.count(0));
  CHECK(!all.count(1));
  REQUIRE(sp.test.size() == sp.test_users.size());
  for (auto& c : sp.test) {
    auto seq = ds.item_sequence(c.user);
    CHECK(c.history == V(seq.begin(), seq.begin() + 3));
    CHECK(c.known == c.history);
    V q(seq.begin() + 3, seq.end());
    std::sort(q.begin(), q.end());
    CHECK(c.targets == q);
  }
  // training data: everything of meta-train users, the support of valid/test users
  size_t expect = 0;
  for (auto u : sp.train_users) expect += ds.of_user(u).size();
  expect += 3 * (sp.valid_users.size() + sp.test_users.size());
  CHECK(sp.train.size() == expect);
  auto again = split_cold_user(ds, o);
  CHECK(again.test_users == sp.test_users);
  o.seed = 8;
  CHECK(split_cold_user(ds, o).test_users != sp.test_users);
  o.min_interactions = 200;
  o.max_interactions = 300;
  CHECK_THROWS_AS(split_cold_user(ds, o), mr::Error);
}

TEST_CASE("cold-item: cold items never in training, ranked among cold items only") {
  std::vector<std::vector<std::string>> seqs;
  for (int u = 0; u < 30; u++) {
    std::vector<std::string> s;
    for (int k = 0; k < 10; k++) s.push_back("i" + std::to_string((u * 3 + k * 5) % 50));
    seqs.push_back(s);
  }
  auto ds = make(seqs);
  ColdItemOptions o;
  o.seed = 3;
  auto sp = split_cold_item(ds, o);
  CHECK(sp.cold_test_items.size() == 10);  // 0.2 * 50
  CHECK(sp.cold_valid_items.size() == 5);
  std::set<uint32_t> cold(sp.cold_test_items.begin(), sp.cold_test_items.end());
  cold.insert(sp.cold_valid_items.begin(), sp.cold_valid_items.end());
  for (auto& x : sp.train) CHECK(!cold.count(x.item));
  REQUIRE(!sp.test.empty());
  for (auto& c : sp.test)
    for (auto t : c.targets) CHECK(sp.test_candidates[t] == 1);
  size_t n_cand = std::count(sp.test_candidates.begin(), sp.test_candidates.end(), 1);
  CHECK(n_cand == 10);
}

TEST_CASE("loo reproduces the amazon-scientific test and valid files" * doctest::skip(!rt::have_amazon())) {
  auto ds = load_dataset(rt::amazon(), LoadOptions{});
  auto sp = split_loo(ds, 50);
  REQUIRE(sp.test.size() == 8442);
  CHECK(sp.dropped_users == 0);
  for (auto [part, cases] : {std::pair{"test", &sp.test}, std::pair{"valid", &sp.valid}}) {
    ReadReport rep;
    auto t = read_atomic(rt::amazon() + "/Scientific." + part + ".inter", {}, rep);
    REQUIRE(t.rows.size() == cases->size());
    std::map<std::string, size_t> by_user;
    for (size_t k = 0; k < cases->size(); k++) by_user[ds.users.names[(*cases)[k].user]] = k;
    size_t mismatches = 0, full50 = 0;
    for (auto& row : t.rows) {
      auto& c = (*cases)[by_user.at(row[0])];
      std::string hist;
      for (auto i : c.history) hist += (hist.empty() ? "" : " ") + ds.items.names[i];
      mismatches += hist != row[1] || ds.items.names[c.targets[0]] != row[2];
      full50 += c.history.size() == 50;
    }
    CHECK(mismatches == 0);
    CHECK(full50 > 0);
  }
}
