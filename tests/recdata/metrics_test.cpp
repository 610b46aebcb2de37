#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "base/check.h"
#include "engine/metrics/metrics.h"
#include "tests/recdata/common.h"

using namespace mr::metrics;
using V = std::vector<uint32_t>;

TEST_CASE("metrics: one target, ties by item id, masking") {
  std::vector<float> s = {0.1f, 0.9f, 0.3f, 0.9f, 0.5f, 0.0f};
  // order: 1, 3 (tie with 1, higher id), 4, 2, 0, 5 -> target 2 at rank 4
  CHECK(target_ranks(s, V{2}, {}, {}) == V{4});
  auto r = score_case(s, V{2}, {}, {}, {3, 5});
  CHECK(r.hit == std::vector<double>{0, 1});
  CHECK(r.recall == std::vector<double>{0, 1});
  CHECK(r.precision[1] == doctest::Approx(0.2));
  CHECK(r.ndcg[0] == 0);
  CHECK(r.ndcg[1] == doctest::Approx(1 / std::log2(5.0)));  // 0.430677
  CHECK(r.mrr == doctest::Approx(0.25));
  CHECK(r.mrr_k == std::vector<double>{0, 0.25});
  CHECK(r.auc == doctest::Approx(0.4));  // 2 of 5 non-targets below
  CHECK(r.top == V{1, 3, 4, 2, 0});
  CHECK(r.tied_targets == 0);
  CHECK(score_case(s, V{1}, {}, {}, {1}).tied_targets == 1);     // 0.9 like item 3
  CHECK(score_case(std::vector<float>{1, 1, 1, 2}, V{0, 3}, {}, {}, {1}).tied_items == 2);
  CHECK(score_case(s, V{1}, V{3}, {}, {1}).tied_targets == 0);   // item 3 masked
  // item 1 masked: rank 3
  auto m = score_case(s, V{2}, V{1}, {}, {5});
  CHECK(m.ndcg[0] == doctest::Approx(0.5));
  CHECK(m.auc == doctest::Approx(0.5));
  // a target is never masked
  CHECK(target_ranks(s, V{2}, V{2, 1}, {}) == V{3});
  // candidate set: only items 0, 2, 5 ranked
  std::vector<uint8_t> cand = {1, 0, 1, 0, 0, 1};
  CHECK(target_ranks(s, V{2}, {}, cand) == V{1});
}

TEST_CASE("metrics: several targets") {
  std::vector<float> s = {0.1f, 0.9f, 0.3f, 0.9f, 0.5f, 0.0f};
  // order 1(T) 3 4(T) 2 0 5(T): ranks 1, 3, 6
  auto r = score_case(s, V{5, 1, 4, 4}, {}, {}, {3});
  CHECK(r.n_targets == 3);
  CHECK(r.hit[0] == 1);
  CHECK(r.recall[0] == doctest::Approx(2.0 / 3));
  CHECK(r.precision[0] == doctest::Approx(2.0 / 3));
  CHECK(r.ndcg[0] == doctest::Approx(1.5 / (1 + 1 / std::log2(3.0) + 0.5)));  // 0.703918
  CHECK(r.mrr == 1);
  CHECK(r.auc == doctest::Approx(5.0 / 9));
  // every candidate a target: no auc
  auto all = score_case(std::vector<float>{1, 2}, V{0, 1}, {}, {}, {1});
  CHECK(!all.has_auc);
}

TEST_CASE("metrics: bad input") {
  std::vector<float> s = {0.1f, NAN};
  CHECK_THROWS_AS(target_ranks(s, V{0}, {}, {}), mr::Error);
  std::vector<float> ok = {0.1f, 0.2f};
  CHECK_THROWS_AS(target_ranks(ok, V{2}, {}, {}), mr::Error);
  CHECK_THROWS_AS(target_ranks(ok, V{0}, V{7}, {}), mr::Error);
  std::vector<uint8_t> cand = {0, 1};
  CHECK_THROWS_AS(target_ranks(ok, V{0}, {}, cand), mr::Error);
  CHECK_THROWS_AS(score_case(ok, V{}, {}, {}, {1}), mr::Error);
}

TEST_CASE("accumulator: means and coverage") {
  Accumulator acc(6, {1, 2}, 6);
  std::vector<float> s = {0.1f, 0.9f, 0.3f, 0.9f, 0.5f, 0.0f};
  acc.add(score_case(s, V{1}, {}, {}, {1, 2}));  // rank 1; top2 = 1, 3
  acc.add(score_case(s, V{2}, V{1}, {}, {1, 2}));  // order 3 4 2 ...: rank 3; top2 = 3, 4
  auto j = acc.result();
  CHECK(j["recall@1"].get<double>() == doctest::Approx(0.5));
  CHECK(j["mrr"].get<double>() == doctest::Approx((1 + 1.0 / 3) / 2));
  CHECK(j["coverage@1"].get<double>() == doctest::Approx(2.0 / 6));  // {1, 3}
  CHECK(j["coverage@2"].get<double>() == doctest::Approx(3.0 / 6));  // {1, 3, 4}
  CHECK(j["cases"].get<size_t>() == 2);
  CHECK(j["tied_targets"].get<double>() == doctest::Approx(0.5));  // case 1: items 1 and 3 both 0.9
  CHECK(j["tied_items_per_target"].get<double>() == doctest::Approx(0.5));
}

static void compare(const nlohmann::json& got, const nlohmann::json& want) {
  for (auto it = want.begin(); it != want.end(); ++it) {
    INFO(it.key());
    REQUIRE(got.contains(it.key()));
    CHECK(got[it.key()].get<double>() == doctest::Approx(it.value().get<double>()).epsilon(1e-9));
  }
}

TEST_CASE("metrics agree with tools/metrics_reference.py (RecBole formulas, numpy)") {
  std::ifstream f(rt::fixture("metrics_reference.json"));
  REQUIRE(f.good());
  auto doc = nlohmann::json::parse(f);
  auto ks = doc["ks"].get<std::vector<int>>();
  size_t n = doc["n_items"].get<size_t>();
  auto cand = doc["candidates"].get<std::vector<uint8_t>>();
  size_t n_cand = 0;
  for (auto c : cand) n_cand += c;
  Accumulator full(n, ks, n), sub(n, ks, n_cand);
  for (auto& c : doc["cases"]) {
    auto sc = c["scores"].get<std::vector<double>>();
    std::vector<float> s(sc.begin(), sc.end());
    auto t = c["targets"].get<V>(), e = c["exclude"].get<V>();
    full.add(score_case(s, t, e, {}, ks));
    sub.add(score_case(s, t, e, cand, ks));
  }
  compare(full.result(), doc["expected"]);
  compare(sub.result(), doc["expected_candidates"]);
}
