// Sampled softmax (loss.negatives > 0): the sampler, the candidates, and the loss against
// references computed here from the model's full-softmax logits in double: with every item as
// a uniform negative and one row, it is the full softmax; otherwise each row's log-sum-exp runs
// over the in-batch and sampled columns with the logQ correction recomputed by hand and the
// accidental hits left out. Gradients against central finite differences. The row ops the
// sampled loss and the item tower use (gather_rows, l2_rows) against finite differences too.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <set>

#include "engine/rec/config.h"
#include "engine/rec/model.h"
#include "engine/rec/row_ops.h"
#include "engine/rec/sampled.h"
#include "tests/rec/rec_test_util.h"

using namespace mr;

namespace {

constexpr int64_t kN = 9, kD = 5;
// the parameters whose gradients are checked against finite differences
const auto kGradParams = {"item.proj.weight", "item.id", "item.bias", "user.layer.0.qkv.weight", "head.weight"};

rec::ModelConfig cfg(int negatives, const std::string& sampler = "uniform") {
  rec::ModelConfig c;
  c.dim = 8; c.heads = 2; c.layers = 1; c.ffn = 16; c.max_history = 3; c.tau = 0.7f; c.dropout = 0.0f;
  c.seed = 5;
  c.negatives = negatives;
  c.sampler = rec::parse_enum<rec::SamplerKind>(sampler, "loss.sampler");
  c.alpha = 0.75;
  return c;
}

std::vector<float> random_vec(size_t n, uint64_t seed, float sd = 1.0f) {
  std::mt19937_64 r(seed);
  std::normal_distribution<float> nd(0.0f, sd);
  std::vector<float> v(n);
  for (auto& x : v) x = nd(r);
  return v;
}

std::vector<double> counts() { return {40, 3, 0, 12, 7, 1, 25, 9, 2}; }

// every trainable parameter moved away from its init (ids and biases are zero there)
void perturb(rec::RecModel& m) {
  auto noise = random_vec(size_t(m.params().numel()), 17, 0.1f);
  for (Param& p : m.params().all())
    if (!p.frozen)
      for (int64_t i = 0; i < p.w.numel(); ++i) p.w.f32()[i] += noise[size_t(p.offset + i)];
}

struct Model {
  rec::RecModel m;
  Model(int negatives, const std::string& sampler = "uniform") : m(cfg(negatives, sampler), random_vec(kN * kD, 1), kN, kD) {
    perturb(m);
    m.set_item_counts(counts());
  }
  double loss(const rec::Batch& b, std::vector<float>* grad = nullptr, uint64_t seed = 7, uint64_t off = 0) {
    return rec_test::loss_at(m, b, grad, seed, off);
  }
  std::vector<std::vector<double>> full_logits(const rec::Batch& b) {
    Arena a;
    Tape t(a);
    NoGrad ng(t);
    Var* lg = m.logits(t, b);
    std::vector<std::vector<double>> out(b.size());
    for (size_t r = 0; r < b.size(); ++r) out[r].assign(lg->v.f32() + r * (kN + 1), lg->v.f32() + r * (kN + 1) + kN);
    return out;
  }
};

rec::Batch batch3() {
  rec::Batch b;
  b.add({1, 4}, 6);
  b.add({2}, 3);
  b.add({1, 4, 6, 0}, 6);  // the same target as row 0: an accidental hit for each other
  return b;
}

double max_rel(const std::vector<float>& a, const std::vector<float>& b, double floor) {
  REQUIRE(a.size() == b.size());
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(double(a[i]) - b[i]) / std::max(floor, std::abs(double(b[i]))));
  return m;
}

// the model's (B, N+1) logits for b, no gradient
std::vector<float> all_logits(rec::RecModel& m, const rec::Batch& b) {
  Arena a;
  Tape t(a);
  NoGrad ng(t);
  Var* lg = m.logits(t, b);
  return std::vector<float>(lg->v.f32(), lg->v.f32() + lg->v.numel());
}

}  // namespace

TEST_CASE("negative sampler: uniform draws distinct items (all when N >= n); popularity follows (c + 1)^alpha") {
  rec::NegativeSampler u(kN, rec::SamplerKind::Uniform, 1.0, {});
  std::mt19937_64 rng(3);
  auto all = u.draw(int(kN) + 4, rng);
  CHECK(std::set<int32_t>(all.begin(), all.end()).size() == size_t(kN));
  CHECK(all.size() == size_t(kN));
  std::vector<int> hits(kN, 0);
  for (int k = 0; k < 4000; ++k) {
    auto d = u.draw(4, rng);
    REQUIRE(std::set<int32_t>(d.begin(), d.end()).size() == 4);
    for (int32_t i : d) hits[size_t(i)]++;
  }
  for (int h : hits) CHECK(std::abs(h - 4000 * 4.0 / kN) < 5 * std::sqrt(4000 * 4.0 / kN));  // 5 sigma
  CHECK(u.log_expected_count(2, 4) == doctest::Approx(std::log(4.0 / kN)));

  rec::NegativeSampler p(kN, rec::SamplerKind::Popularity, 0.75, counts());
  double z = 0;
  for (double c : counts()) z += std::pow(c + 1, 0.75);
  std::vector<int> n(kN, 0);
  const int draws = 200000;
  for (int32_t i : p.draw(draws, rng)) n[size_t(i)]++;
  for (int64_t j = 0; j < kN; ++j) {
    const double pj = std::pow(counts()[size_t(j)] + 1, 0.75) / z;
    CAPTURE(j);
    CHECK(std::abs(n[size_t(j)] - draws * pj) < 5 * std::sqrt(draws * pj));
    CHECK(p.log_expected_count(int32_t(j), 6) == doctest::Approx(std::log(6 * pj)));
  }
  rec::Config bad;  // the config parses loss.sampler: a NegativeSampler never sees an unknown one
  CHECK_THROWS_WITH_AS(bad.set("loss.sampler=zipf"), doctest::Contains("loss.sampler must be one of uniform, popularity"),
                       Error);
  CHECK_THROWS_AS(rec::NegativeSampler(kN, rec::SamplerKind::Popularity, 1.0, {1, 2}), Error);
}

TEST_CASE("candidates: in-batch columns first, labels, accidental hits masked, logQ shift") {
  rec::NegativeSampler p(kN, rec::SamplerKind::Popularity, 0.75, counts());
  std::mt19937_64 rng(11);
  auto c = rec::make_candidates({6, -100, 3, 6}, p, 20, rng);
  REQUIRE(c.items.size() == 23);
  CHECK(c.items[0] == 6); CHECK(c.items[1] == 3); CHECK(c.items[2] == 6);
  CHECK(c.label == std::vector<int32_t>{0, -100, 1, 2});
  const size_t M = c.items.size();
  for (size_t r : {size_t(0), size_t(2), size_t(3)}) {
    const int32_t tgt = r == 2 ? 3 : 6;
    for (size_t m = 0; m < M; ++m) {
      const bool hit = c.items[m] == tgt && int32_t(m) != c.label[r];
      if (hit) CHECK(c.shift[r * M + m] <= -1e8f);
      else CHECK(c.shift[r * M + m] == doctest::Approx(-p.log_expected_count(c.items[m], 20)));
    }
  }
  for (size_t m = 0; m < M; ++m) CHECK(c.shift[1 * M + m] == doctest::Approx(-p.log_expected_count(c.items[m], 20)));
}

TEST_CASE("sampled softmax with every item as a uniform negative and one row = the full softmax over the items") {
  // The full softmax's logits have a START column (never a target); the sampled one has only
  // items. Reference: the model's full logits with START masked, through the existing ops.
  Model full(0), smp{int(kN)};
  rec::Batch b;
  b.add({1, 4, 6}, 3);
  std::vector<float> gf, gs;
  double lf = 0;
  {
    Arena a;
    Tape t(a);
    full.m.params().zero_grad();
    Tensor mask = t.arena().alloc(Shape{1, kN + 1}), tg = t.arena().alloc(Shape{1}, DType::I32);
    for (int64_t j = 0; j <= kN; ++j) mask.f32()[j] = j == kN ? -1e9f : 0.0f;
    tg.i32()[0] = 3;
    Var* l = ops::cross_entropy(t, ops::weighted_sum(t, {{full.m.logits(t, b), 1.0f}, {t.input(mask), 1.0f}}), tg);
    lf = l->v.f32()[0];
    t.backward(l);
    auto g = full.m.params().flat_grads();
    gf.assign(g.f32(), g.f32() + g.numel());
  }
  const double ls = smp.loss(b, &gs);
  CHECK(ls == doctest::Approx(lf).epsilon(1e-6));
  CHECK(max_rel(gs, gf, 1e-3) < 1e-4);
  // fewer negatives: a smaller loss, so the comparison above can fail
  Model few(3);
  CHECK(few.loss(b) < lf - 1e-3);
}

TEST_CASE("sampled softmax: loss against a double reference from the full logits (in-batch + sampled, masking, logQ)") {
  for (std::string sampler : {"uniform", "popularity"}) {
    CAPTURE(sampler);
    Model m(6, sampler);
    rec::Batch b = batch3();
    auto full = m.full_logits(b);
    // the same candidates as the loss: public overload with explicit candidates
    rec::NegativeSampler s(kN, rec::parse_enum<rec::SamplerKind>(sampler, "loss.sampler"), 0.75, counts());
    std::mt19937_64 rng(123);
    auto c = rec::make_candidates(b.target, s, 6, rng);
    double z = 0;
    for (double x : counts()) z += std::pow(x + 1, 0.75);
    double ref = 0;
    for (size_t r = 0; r < b.size(); ++r) {
      double mx = -1e300, se = 0, pos = 0;
      std::vector<double> zs;
      for (size_t k = 0; k < c.items.size(); ++k) {
        const int32_t j = c.items[k];
        if (j == b.target[r] && int32_t(k) != c.label[r]) continue;  // accidental hit
        const double q = sampler == "uniform" ? 6.0 / kN : 6.0 * std::pow(counts()[size_t(j)] + 1, 0.75) / z;
        zs.push_back(full[r][size_t(j)] - std::log(q));
        if (int32_t(k) == c.label[r]) pos = zs.back();
        mx = std::max(mx, zs.back());
      }
      for (double v : zs) se += std::exp(v - mx);
      ref += mx + std::log(se) - pos;
    }
    ref /= double(b.size());
    Arena a;
    Tape t(a);
    NoGrad ng(t);
    const double got = m.m.loss(t, b, c)->v.f32()[0];
    CHECK(got == doctest::Approx(ref).epsilon(1e-5));
  }
}

TEST_CASE("sampled softmax: gradients against central finite differences; negatives fixed by the tape's seed") {
  Model m(5, "popularity");
  rec::Batch b = batch3();
  const double l0 = m.loss(b, nullptr, 7, 64);
  CHECK(m.loss(b, nullptr, 7, 64) == l0);                          // same seed and offset: same negatives
  CHECK(std::abs(m.loss(b, nullptr, 7, 128) - l0) > 1e-6);         // another offset: others
  CHECK(std::abs(m.loss(b, nullptr, 8, 64) - l0) > 1e-6);          // another seed: others
  CHECK(rec_test::check_param_grads(m.m, b, kGradParams, rec_test::three_entries, 7, 64) == 15);
  rec::RecModel nocounts(cfg(4, "popularity"), random_vec(kN * kD, 1), kN, kD);
  Arena a;
  Tape t(a);
  CHECK_THROWS_WITH_AS(nocounts.loss(t, b), doctest::Contains("item counts"), Error);
}

TEST_CASE("row ops: gather_rows (with zero rows) and l2_rows against finite differences") {
  Arena a;
  HostTensor x(Shape{4, 3});
  auto xv = random_vec(12, 4);
  xv[9] = xv[10] = xv[11] = 0;  // a zero row: stays zero under l2_rows
  std::memcpy(x->f32(), xv.data(), sizeof(float) * 12);
  const std::vector<int32_t> idx = {2, 0, -1, 2, 3};
  auto w = random_vec(15, 5);
  auto f = [&](bool grad, std::vector<float>* gx) {
    Tape t(a);
    Var* in = t.input(*x, true);
    Var* y = rec::gather_rows(t, rec::l2_rows(t, in, 2.5f), idx);
    HostTensor wt(Shape{5, 3});
    std::memcpy(wt->f32(), w.data(), sizeof(float) * 15);
    // loss = sum w * y^2 / 2 + sum w * y (not linear, not symmetric)
    double l = 0;
    for (int k = 0; k < 15; ++k) l += 0.5 * w[size_t(k)] * y->v.f32()[k] * y->v.f32()[k] + w[size_t(k)] * y->v.f32()[k];
    if (grad) {
      y->g = t.arena().alloc(y->v.shape);
      for (int k = 0; k < 15; ++k) y->g.f32()[k] = w[size_t(k)] * (y->v.f32()[k] + 1.0f);
      for (auto it = t.records().rbegin(); it != t.records().rend(); ++it) {
        Record r = *it;
        r.backward(t, r);
      }
      gx->assign(in->g.f32(), in->g.f32() + 12);
    }
    t.reset();
    return l;
  };
  std::vector<float> g;
  f(true, &g);
  for (int k = 0; k < 12; ++k) {
    if (k >= 9) {  // zero row: no gradient
      CHECK(g[size_t(k)] == 0.0f);
      continue;
    }
    const double fd = rec_test::central_diff(x->f32()[k], [&] { return f(false, nullptr); });
    CAPTURE(k); CAPTURE(fd); CAPTURE(g[size_t(k)]);
    CHECK(std::abs(g[size_t(k)] - fd) < 2e-3 + 1e-2 * std::abs(fd));
  }
}

TEST_CASE("cosine score (model.score = cos): bounded, invariant to the user vector's scale, gradients against finite differences") {
  for (int negatives : {0, 5}) {
    CAPTURE(negatives);
    rec::ModelConfig c = cfg(negatives, "popularity");
    c.score = rec::Score::Cos;
    c.tau = 0.25f;
    rec::RecModel m(c, random_vec(kN * kD, 1), kN, kD);
    perturb(m);
    m.set_item_counts(counts());
    rec::Batch b = batch3();
    auto logits = [&] { return all_logits(m, b); };
    // |tau * logit - b_j| <= 1 (a cosine), and some pair is not trivially small
    const auto l0 = logits();
    const float* bias = m.params().at("item.bias").w.f32();
    double widest = 0;
    for (size_t r = 0; r < b.size(); ++r)
      for (int64_t j = 0; j <= kN; ++j) {
        const double cosv = double(c.tau) * l0[r * size_t(kN + 1) + size_t(j)] - bias[j];
        CHECK(std::abs(cosv) <= 1.0 + 1e-5);
        widest = std::max(widest, std::abs(cosv));
      }
    CHECK(widest > 0.3);
    // scaling the user head (u -> 3u) leaves every logit unchanged: only u's direction counts
    Param& hw = m.params().at("head.weight");
    Param& hb = m.params().at("head.bias");
    for (int64_t i = 0; i < hw.w.numel(); ++i) hw.w.f32()[i] *= 3.0f;
    for (int64_t i = 0; i < hb.w.numel(); ++i) hb.w.f32()[i] *= 3.0f;
    const auto l1 = logits();
    CHECK(max_rel(l1, l0, 1e-3) < 1e-5);
    // gradients of the loss (full softmax, or sampled with popularity negatives) against finite differences
    CHECK(rec_test::check_param_grads(m, b, kGradParams, rec_test::three_entries, 7, 64) == 15);
  }
  // the dot score is not scale invariant, so the check above can fail
  rec::RecModel d(cfg(0), random_vec(kN * kD, 1), kN, kD);
  perturb(d);
  rec::Batch b = batch3();
  auto dl = [&] { return all_logits(d, b); };
  const auto d0 = dl();
  for (int64_t i = 0; i < d.params().at("head.weight").w.numel(); ++i) d.params().at("head.weight").w.f32()[i] *= 3.0f;
  CHECK(max_rel(dl(), d0, 1e-3) > 1e-2);
  rec::ModelConfig bad = cfg(0);
  rec::Config bad_cfg;  // the config parses model.score: a RecModel never sees an unknown one
  CHECK_THROWS_WITH_AS(bad_cfg.set("model.score=cosine"), doctest::Contains("model.score must be one of dot, cos"), Error);
}
