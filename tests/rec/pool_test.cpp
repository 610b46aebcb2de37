// The user tower's pooling (model.pool): "recent" reads the transformer output at the most recent
// history item (SASRec-style), "cls" at the START position. Checked by properties that fail for
// the wrong position: with no transformer layer the recent-pooled user depends on the most recent
// item only; an empty history pools START, i.e. equals "cls" with the same parameters; gradients
// against central finite differences with one layer and an empty-history row in the batch.
#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include "engine/rec/config.h"
#include "engine/rec/model.h"
#include "tests/rec/rec_test_util.h"

using namespace mr;

namespace {

constexpr int64_t kN = 9, kD = 5;

rec::ModelConfig cfg(const std::string& pool, int layers) {
  rec::ModelConfig c;
  c.dim = 8; c.heads = 2; c.layers = layers; c.ffn = 16; c.max_history = 4; c.tau = 0.7f; c.dropout = 0.0f;
  c.seed = 5;
  c.pool = rec::parse_enum<rec::UserPool>(pool, "model.pool");
  return c;
}

std::vector<float> random_vec(size_t n, uint64_t seed, float sd) {
  std::mt19937_64 r(seed);
  std::normal_distribution<float> nd(0.0f, sd);
  std::vector<float> v(n);
  for (auto& x : v) x = nd(r);
  return v;
}

// a model with every parameter moved away from its init (the same values for every pool)
rec::RecModel make(const std::string& pool, int layers) {
  rec::RecModel m(cfg(pool, layers), random_vec(kN * kD, 1, 1.0f), kN, kD);
  auto noise = random_vec(size_t(m.params().numel()), 17, 0.1f);
  for (Param& p : m.params().all())
    if (!p.frozen)
      for (int64_t i = 0; i < p.w.numel(); ++i) p.w.f32()[i] += noise[size_t(p.offset + i)];
  return m;
}

// logits (B, N+1) of every row, no gradient
std::vector<std::vector<float>> rows(rec::RecModel& m, const rec::Batch& b) {
  Arena a;
  Tape t(a);
  NoGrad ng(t);
  Var* lg = m.logits(t, b);
  std::vector<std::vector<float>> out(b.size());
  for (size_t r = 0; r < b.size(); ++r) out[r].assign(lg->v.f32() + r * (kN + 1), lg->v.f32() + (r + 1) * (kN + 1));
  return out;
}

double max_diff(const std::vector<float>& x, const std::vector<float>& y) {
  double d = 0;
  for (size_t i = 0; i < x.size(); ++i) d = std::max(d, std::abs(double(x[i]) - y[i]));
  return d;
}

rec::Batch histories() {
  rec::Batch b;
  b.add({2, 7, 4}, 1);     // most recent: 4
  b.add({5, 0, 3, 4}, 1);  // most recent: 4, other items before it
  b.add({7, 2, 4, 6}, 1);  // most recent: 6
  b.add({}, 1);            // empty: START
  return b;
}

}  // namespace

TEST_CASE("model.pool = recent: no layer -> the user is a function of the most recent item; empty history = cls") {
  rec::Batch b = histories();
  rec::RecModel recent0 = make("recent", 0), cls0 = make("cls", 0), mean0 = make("mean", 0);
  const auto r0 = rows(recent0, b);
  CHECK(max_diff(r0[0], r0[1]) < 1e-6);  // same most recent item, different older items
  CHECK(max_diff(r0[0], r0[2]) > 1e-2);  // another most recent item
  const auto c0 = rows(cls0, b);
  CHECK(max_diff(c0[0], c0[2]) < 1e-6);  // cls without a layer sees no history at all
  CHECK(max_diff(r0[3], c0[3]) < 1e-6);  // empty history: both pool START
  CHECK(max_diff(r0[0], c0[0]) > 1e-2);
  const auto m0 = rows(mean0, b);
  CHECK(max_diff(m0[0], m0[1]) > 1e-2);  // mean pooling does see the older items

  // with a layer the older items count through attention, and the two pools differ
  rec::RecModel recent1 = make("recent", 1), cls1 = make("cls", 1);
  const auto r1 = rows(recent1, b), c1 = rows(cls1, b);
  CHECK(max_diff(r1[0], r1[1]) > 1e-3);
  CHECK(max_diff(r1[3], c1[3]) < 1e-6);
  CHECK(max_diff(r1[0], c1[0]) > 1e-2);
}

TEST_CASE("model.pool = recent: gradients against finite differences (one layer, an empty history in the batch)") {
  rec::RecModel m = make("recent", 1);
  rec::Batch b = histories();
  b.target = {3, 0, 8, 5};
  CHECK(rec_test::check_param_grads(m, b, {"item.proj.weight", "item.id", "user.position", "user.layer.0.qkv.weight",
                                           "user.layer.0.ln2.weight", "head.weight"},
                                    rec_test::three_entries, 3, 0) == 18);
  rec::Config bad;  // the config parses model.pool: a RecModel never sees an unknown one
  CHECK_THROWS_WITH_AS(bad.set("model.pool=last"), doctest::Contains("model.pool must be one of cls, mean, recent; got 'last'"),
                       Error);
}
