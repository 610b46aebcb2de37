#include <doctest/doctest.h>

#include <cmath>

#include "engine/baselines/evaluate.h"
#include "engine/baselines/mixture.h"
#include "engine/baselines/model.h"
#include "base/check.h"

using namespace mr;
using V = std::vector<uint32_t>;

static data::Split manual(size_t nu, size_t ni, const std::vector<std::pair<uint32_t, uint32_t>>& train) {
  data::Split sp;
  sp.protocol = "manual";
  sp.n_users = nu;
  sp.n_items = ni;
  for (auto [u, i] : train) sp.train.push_back({u, i, 0, NAN});
  return sp;
}

TEST_CASE("pop: scores are training counts; evaluate by hand") {
  // item counts: 0 -> 3, 1 -> 1, 2 -> 2, 3 -> 0
  auto sp = manual(3, 4, {{0, 0}, {1, 0}, {2, 0}, {0, 2}, {1, 2}, {2, 1}});
  sp.test.push_back({0, {0}, {0}, {1}});  // ranking 0 2 1 3; item 0 known
  sp.test.push_back({1, {}, {}, {3}});
  auto m = baselines::make_model("pop", {});
  m->fit(sp);
  std::vector<float> s(4);
  m->score(sp.test[0], s);
  CHECK(s == std::vector<float>{3, 1, 2, 0});
  baselines::EvalOptions eo;
  eo.ks = {1, 2};
  eo.mask_known = true;
  auto j = baselines::evaluate(sp, *m, eo);
  // case 0: masked 0 -> order 2 1 3: rank 2. case 1: order 0 2 1 3: rank 4
  CHECK(j["hit@1"].get<double>() == 0);
  CHECK(j["hit@2"].get<double>() == doctest::Approx(0.5));
  CHECK(j["ndcg@2"].get<double>() == doctest::Approx(0.5 / std::log2(3.0)));
  CHECK(j["mrr"].get<double>() == doctest::Approx((0.5 + 0.25) / 2));
  CHECK(j["auc"].get<double>() == doctest::Approx((0.5 + 0.0) / 2));
  eo.mask_known = false;
  auto u = baselines::evaluate(sp, *m, eo);
  CHECK(u["mrr"].get<double>() == doctest::Approx((1.0 / 3 + 0.25) / 2));
  CHECK(u["ranking"] == "full");
  eo.sampled = 2;
  auto smp = baselines::evaluate(sp, *m, eo);
  CHECK(smp.contains("sampled2_recall@1"));
  CHECK(smp["recall@1"] == u["recall@1"]);
  eo.part = "valid";
  CHECK_THROWS_AS(baselines::evaluate(sp, *m, eo), Error);
  CHECK_THROWS_AS(baselines::make_model("nope", {}), Error);
}

TEST_CASE("itemknn: co-occurrence cosine by hand") {
  // users: {a,b}, {a,b,c}, {c,d}; a=0 b=1 c=2 d=3
  auto sp = manual(3, 4, {{0, 0}, {0, 1}, {1, 0}, {1, 1}, {1, 2}, {2, 2}, {2, 3}});
  auto m = baselines::make_model("itemknn", {});
  m->fit(sp);
  std::vector<float> s(4);
  m->score({0, {0}, {0}, {}}, s);  // history {a}: b 2/sqrt(2*2)=1, c 1/sqrt(2*2)=.5, d 0
  CHECK(s[0] == 0);
  CHECK(s[1] == doctest::Approx(1.0));
  CHECK(s[2] == doctest::Approx(0.5));
  CHECK(s[3] == 0);
  m->score({0, {2, 2}, {2}, {}}, s);  // history {c} (duplicates once): a .5, b .5, d 1/sqrt(2)
  CHECK(s[0] == doctest::Approx(0.5));
  CHECK(s[3] == doctest::Approx(1 / std::sqrt(2.0)));
  baselines::Options o;
  o.knn_k = 1;  // keep only the best neighbour of c: d
  auto m1 = baselines::make_model("itemknn", o);
  m1->fit(sp);
  m1->score({0, {2}, {2}, {}}, s);
  CHECK(s[0] == 0);
  CHECK(s[3] == doctest::Approx(1 / std::sqrt(2.0)));

  // recency decay 0.5: history a, c, a (a most recent: weight 1; c one place back: 0.5; the
  // older a counts once, at its latest weight). sim: a-b 1, a-c .5, c-b .5, c-d 1/sqrt(2)
  baselines::Options d;
  d.knn_decay = 0.5;
  auto md = baselines::make_model("itemknn", d);
  md->fit(sp);
  md->score({0, {0, 2, 0}, {0, 2}, {}}, s);
  CHECK(s[0] == doctest::Approx(0.5 * 0.5));            // from c
  CHECK(s[1] == doctest::Approx(1.0 + 0.5 * 0.5));      // from a and c
  CHECK(s[2] == doctest::Approx(0.5));                  // from a
  CHECK(s[3] == doctest::Approx(0.5 / std::sqrt(2.0)));  // from c
  md->score({0, {2, 0, 0, 2}, {0, 2}, {}}, s);          // c most recent, a one place back
  CHECK(s[1] == doctest::Approx(0.5 + 0.5 * 1.0));
  CHECK(s[3] == doctest::Approx(1 / std::sqrt(2.0)));
  m->score({0, {0, 2, 0}, {0, 2}, {}}, s);  // decay 1 (default): a and c count the same
  CHECK(s[1] == doctest::Approx(1.5));
  d.knn_decay = 0;
  CHECK_THROWS_WITH_AS(baselines::make_model("itemknn", d), doctest::Contains("decay"), Error);
}

TEST_CASE("bpr: learns a planted two-cluster structure, deterministically") {
  // 40 users, 40 items; users < 20 like items < 20, the others items >= 20. Hold one item out.
  std::vector<std::pair<uint32_t, uint32_t>> tr;
  data::Split sp;
  for (uint32_t u = 0; u < 40; u++) {
    uint32_t base = u < 20 ? 0 : 20;
    for (uint32_t k = 0; k < 20; k++)
      if (k != u % 20 && (k + u) % 3 != 0) tr.push_back({u, base + k});
  }
  sp = manual(40, 40, tr);
  for (uint32_t u = 0; u < 40; u++) {
    uint32_t base = u < 20 ? 0 : 20;
    data::EvalCase c{u, {}, {}, {base + u % 20}};
    for (auto [uu, i] : tr)
      if (uu == u) c.known.push_back(i);
    sp.test.push_back(c);
  }
  baselines::Options o;
  o.bpr_dim = 8;
  o.bpr_epochs = 60;
  o.seed = 1;
  auto m = baselines::make_model("bpr", o);
  m->fit(sp);
  baselines::EvalOptions eo;
  eo.ks = {5};
  auto j = baselines::evaluate(sp, *m, eo);
  CHECK(j["auc"].get<double>() > 0.9);  // random would be 0.5; in-cluster items are ~1/3 of candidates
  auto m2 = baselines::make_model("bpr", o);
  m2->fit(sp);
  std::vector<float> a(40), b(40);
  m->score(sp.test[3], a);
  m2->score(sp.test[3], b);
  CHECK(a == b);
  auto pop = baselines::make_model("pop", {});
  pop->fit(sp);
  CHECK(baselines::evaluate(sp, *pop, eo)["auc"].get<double>() < 0.8);
}

TEST_CASE("random: near 0.5 auc, deterministic per seed") {
  auto sp = manual(50, 200, {{0, 0}});
  for (uint32_t u = 0; u < 50; u++) sp.test.push_back({u, {}, {}, {u, u + 50, u + 100}});
  auto m = baselines::make_model("random", {});
  m->fit(sp);
  auto j = baselines::evaluate(sp, *m, {});
  CHECK(j["auc"].get<double>() == doctest::Approx(0.5).epsilon(0.1));
  std::vector<float> a(200), b(200);
  m->score(sp.test[1], a);
  m->score(sp.test[1], b);
  CHECK(a == b);
  m->score(sp.test[2], b);
  CHECK(a != b);
}

TEST_CASE("text: mean of history vectors, dot product") {
  // 4 items in 2-d: a=(1,0) b=(0,1) c=(.6,.8) d=(-1,0)
  auto m = baselines::make_text_model({1, 0, 0, 1, 0.6f, 0.8f, -1, 0}, 2);
  auto sp = manual(1, 4, {});
  m->fit(sp);
  std::vector<float> s(4);
  m->score({0, {0, 0, 1}, {}, {}}, s);  // u = (2, 1)
  CHECK(s[0] == doctest::Approx(2));
  CHECK(s[1] == doctest::Approx(1));
  CHECK(s[2] == doctest::Approx(2.0));
  CHECK(s[3] == doctest::Approx(-2));
  auto wrong = manual(1, 5, {});
  CHECK_THROWS_AS(m->fit(wrong), Error);
  CHECK_THROWS_AS(baselines::make_text_model({1, 2, 3}, 2), Error);
}

namespace {
// a model with the same fixed scores for every case
struct Fixed : baselines::Model {
  std::vector<float> s;
  explicit Fixed(std::vector<float> v) : s(std::move(v)) {}
  std::string name() const override { return "fixed"; }
  void fit(const data::Split&) override {}
  void score(const data::EvalCase&, std::span<float> out) const override { std::copy(s.begin(), s.end(), out.begin()); }
};
}  // namespace

TEST_CASE("mixture: log((1-w) softmax(a) + w b/sum b) by hand; w = 0 and 1; b summing to 0 keeps a") {
  // a: fixed logits; b: pop counts 3, 1, 2, 0 (fit on the split)
  auto sp = manual(3, 4, {{0, 0}, {1, 0}, {2, 0}, {0, 2}, {1, 2}, {2, 1}});
  const std::vector<float> logits = {0.0f, std::log(2.0f), std::log(4.0f), std::log(1.0f)};  // softmax 1/8 2/8 4/8 1/8
  const double pa[4] = {1.0 / 8, 2.0 / 8, 4.0 / 8, 1.0 / 8}, pb[4] = {3.0 / 6, 1.0 / 6, 2.0 / 6, 0.0};
  for (double w : {0.0, 0.25, 1.0}) {
    CAPTURE(w);
    auto m = baselines::make_mixture(std::make_unique<Fixed>(logits), baselines::make_model("pop", {}), w);
    m->fit(sp);
    std::vector<float> s(4);
    m->score(sp.test.empty() ? data::EvalCase{} : sp.test[0], s);
    for (int i = 0; i < 4; ++i) {
      const double ref = std::log(std::max((1 - w) * pa[i] + w * pb[i], 1e-300));
      CAPTURE(i);
      CHECK(double(s[size_t(i)]) == doctest::Approx(ref).epsilon(1e-6));
    }
    CHECK(m->name() == fmt::format("fixed + pop {:g}", w));
  }
  // b with no evidence (all zero): the mixture is a's distribution for any w
  auto z = baselines::make_mixture(std::make_unique<Fixed>(logits), std::make_unique<Fixed>(std::vector<float>(4, 0.0f)), 0.5);
  std::vector<float> s(4);
  z->score({}, s);
  for (int i = 0; i < 4; ++i) CHECK(double(s[size_t(i)]) == doctest::Approx(std::log(pa[i])).epsilon(1e-6));
  CHECK_THROWS_AS(baselines::make_mixture(std::make_unique<Fixed>(logits), baselines::make_model("pop", {}), 1.5), Error);
}

TEST_CASE("ensemble: log of the mean of the members' softmax distributions, by hand") {
  // softmax 1/8 2/8 4/8 1/8 and (shifted by 5: same distribution) 1/2 1/4 1/8 1/8 and 1/4 each
  const std::vector<float> a = {0.0f, std::log(2.0f), std::log(4.0f), 0.0f};
  const std::vector<float> b = {5 + std::log(4.0f), 5 + std::log(2.0f), 5.0f, 5.0f};
  const std::vector<float> c = {-3.0f, -3.0f, -3.0f, -3.0f};
  const double pa[4] = {1.0 / 8, 2.0 / 8, 4.0 / 8, 1.0 / 8}, pb[4] = {4.0 / 8, 2.0 / 8, 1.0 / 8, 1.0 / 8};
  std::vector<std::unique_ptr<baselines::Model>> two;
  two.push_back(std::make_unique<Fixed>(a));
  two.push_back(std::make_unique<Fixed>(b));
  auto e2 = baselines::make_ensemble(std::move(two));
  std::vector<float> s(4);
  e2->score({}, s);
  for (int i = 0; i < 4; ++i) CHECK(double(s[size_t(i)]) == doctest::Approx(std::log((pa[i] + pb[i]) / 2)).epsilon(1e-6));
  CHECK(e2->name() == "ensemble(fixed, fixed)");
  std::vector<std::unique_ptr<baselines::Model>> three;
  for (auto* v : {&a, &b, &c}) three.push_back(std::make_unique<Fixed>(*v));
  auto e3 = baselines::make_ensemble(std::move(three));
  e3->score({}, s);
  for (int i = 0; i < 4; ++i)
    CHECK(double(s[size_t(i)]) == doctest::Approx(std::log((pa[i] + pb[i] + 0.25) / 3)).epsilon(1e-6));
  std::vector<std::unique_ptr<baselines::Model>> one;
  one.push_back(std::make_unique<Fixed>(a));
  CHECK_THROWS_WITH_AS(baselines::make_ensemble(std::move(one)), doctest::Contains("at least two"), Error);
}
