// Task families on the sampled candidates (click BCE, rating MSE) with fixed and uncertainty
// weights, against a double reference built from the model's full-softmax logits; gradients
// against central finite differences; the ops (pick, uncertainty_sum) against finite
// differences; task construction (tasks.h).
#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include "engine/rec/config.h"
#include "engine/rec/model.h"
#include "engine/rec/multitask.h"
#include "engine/rec/tasks.h"
#include "tests/rec/rec_test_util.h"

using namespace mr;

namespace {

constexpr int64_t kN = 8, kD = 4;

rec::RecModel make(const std::string& weighting, std::vector<float> w) {
  rec::ModelConfig c;
  c.dim = 8; c.heads = 2; c.layers = 1; c.ffn = 16; c.max_history = 3; c.tau = 0.5f; c.dropout = 0.0f;
  c.negatives = 4;
  c.loss_weights = w;
  c.weighting = rec::parse_enum<rec::Weighting>(weighting, "loss.weighting");
  std::mt19937_64 r(1);
  std::normal_distribution<float> nd;
  std::vector<float> e(size_t(kN * kD));
  for (auto& x : e) x = nd(r);
  rec::RecModel m(c, e, kN, kD);
  std::normal_distribution<float> small(0.0f, 0.1f);
  for (Param& p : m.params().all())
    if (!p.frozen)
      for (int64_t i = 0; i < p.w.numel(); ++i) p.w.f32()[i] += small(r);
  return m;
}

rec::Batch batch() {
  rec::Batch b;
  b.add({1, 4}, 6, 4.0f);
  b.add({2}, 3);  // no rating
  b.add({1, 4, 6, 0}, 6, 2.0f);
  b.add({5}, 1, 5.0f);
  return b;
}

double reference(rec::RecModel& m, const rec::Batch& b, const rec::Candidates& cd, float tau, std::vector<float> w,
                 bool unc) {
  Arena a;
  Tape t(a);
  NoGrad ng(t);
  Var* lg = m.logits(t, b);
  const size_t M = cd.items.size(), B = b.size();
  auto s = [&](size_t r, size_t k) { return double(lg->v.f32()[r * (kN + 1) + size_t(cd.items[k])]) * tau; };  // raw score
  double rank = 0, click = 0, rating = 0;
  int rated = 0;
  for (size_t r = 0; r < B; ++r) {
    double mx = -1e300, se = 0, pos = 0;
    std::vector<double> z;
    for (size_t k = 0; k < M; ++k) {
      const bool hit = cd.items[k] == b.target[r] && int32_t(k) != cd.label[r];
      const double x = s(r, k) / tau;
      if (!hit) {  // BCE with y = 1 on the label column; hits contribute 0
        const double y = int32_t(k) == cd.label[r] ? 1.0 : 0.0;
        click += std::max(x, 0.0) - x * y + std::log1p(std::exp(-std::abs(x)));
        z.push_back(x + cd.shift[r * M + k]);
        mx = std::max(mx, z.back());
        if (int32_t(k) == cd.label[r]) pos = z.back();
      }
    }
    for (double v : z) se += std::exp(v - mx);
    rank += mx + std::log(se) - pos;
    if (std::isfinite(b.signal[r])) {
      const double pred = m.params().at("head.rating.weight").w.f32()[0] * s(r, size_t(cd.label[r])) +
                          m.params().at("head.rating.bias").w.f32()[0];
      rating += (pred - b.signal[r]) * (pred - b.signal[r]);
      rated++;
    }
  }
  const double L[3] = {rank / double(B), click / double(B * M), rating / rated};
  double tot = 0;
  for (int k = 0; k < 3; ++k) {
    if (unc) {
      const double sk = m.params().at("loss.log_var").w.f32()[k];
      tot += std::exp(-sk) * L[k] + sk;
    } else {
      tot += w[size_t(k)] * L[k];
    }
  }
  return tot;
}

}  // namespace

TEST_CASE("multi-task loss (rank + click BCE + rating MSE), fixed and uncertainty weights, against a double reference") {
  for (std::string weighting : {"fixed", "uncertainty"}) {
    CAPTURE(weighting);
    const std::vector<float> w = {1.0f, 0.5f, 2.0f};
    rec::RecModel m = make(weighting, w);
    rec::Batch b = batch();
    rec::NegativeSampler s(kN, rec::SamplerKind::Uniform, 1.0, {});
    std::mt19937_64 rng(5);
    auto cd = rec::make_candidates(b.target, s, 4, rng);
    Arena a;
    Tape t(a);
    NoGrad ng(t);
    const double got = m.loss(t, b, cd)->v.f32()[0];
    const double ref = reference(m, b, cd, 0.5f, w, weighting == "uncertainty");
    CHECK(got == doctest::Approx(ref).epsilon(1e-5));
    // without the extra families the loss differs (the comparison can fail)
    rec::RecModel r1 = make("fixed", {1.0f, 0.0f, 0.0f});
    Tape t1(a);
    NoGrad ng1(t1);
    CHECK(std::abs(r1.loss(t1, b, cd)->v.f32()[0] - got) > 1e-3);
  }
  CHECK(rec::RecModel::in_scope(rec::Scope::Head, "head.rating.weight"));
  CHECK_FALSE(rec::RecModel::in_scope(rec::Scope::All, "loss.log_var"));
  rec::ModelConfig c;
  c.loss_weights = {1.0f, 1.0f, 0.0f};
  CHECK_THROWS_WITH_AS(rec::RecModel(c, std::vector<float>(size_t(kN * kD), 1.0f), kN, kD),
                       doctest::Contains("loss.negatives > 0"), Error);
}

TEST_CASE("multi-task loss: gradients against central finite differences (uncertainty weighting)") {
  rec::RecModel m = make("uncertainty", {1.0f, 1.0f, 1.0f});
  rec::Batch b = batch();
  auto ends = [](const Param& p) { return std::vector<int64_t>{0, p.w.numel() - 1}; };
  CHECK(rec_test::check_param_grads(
            m, b, {"loss.log_var", "head.rating.weight", "head.rating.bias", "item.proj.weight", "head.weight", "item.bias"},
            ends, 4, 0) == 12);
}

TEST_CASE("ops: pick and uncertainty_sum against finite differences") {
  Arena a;
  HostTensor x(Shape{3, 4}), s(Shape{3});
  for (int i = 0; i < 12; ++i) x->f32()[i] = 0.3f * float(i) - 1.0f;
  s->f32()[0] = 0.2f; s->f32()[1] = -0.4f; s->f32()[2] = 0.7f;
  auto f = [&](std::vector<float>* gx, std::vector<float>* gs) {
    Tape t(a);
    Var* xv = t.input(*x, true);
    Var* sv = t.input(*s, true);
    Var* p = rec::pick(t, xv, {0, 2, 2}, {3, 1, 0});  // (3, 1): 1.0, 1.7, 1.4
    HostTensor y(Shape{3});
    y->f32()[0] = 0.5f; y->f32()[1] = 2.0f; y->f32()[2] = -1.0f;
    Var* l1 = ops::mse(t, p, *y);
    Var* l2 = ops::weighted_sum(t, {{l1, 0.5f}});
    Var* tot = rec::uncertainty_sum(t, {l1, l2}, sv, {2, 0});
    const double v = tot->v.f32()[0];
    if (gx) {
      t.backward(tot);
      gx->assign(xv->g.f32(), xv->g.f32() + 12);
      gs->assign(sv->g.f32(), sv->g.f32() + 3);
    }
    t.reset();
    return v;
  };
  std::vector<float> gx, gs;
  f(&gx, &gs);
  CHECK(gs[1] == 0.0f);  // slot 1 unused
  auto fd = [&](float& v) { return rec_test::central_diff(v, [&] { return f(nullptr, nullptr); }); };
  for (int i = 0; i < 12; ++i) CHECK(gx[size_t(i)] == doctest::Approx(fd(x->f32()[i])).epsilon(1e-2).scale(1e-3));
  for (int i = 0; i < 3; ++i) CHECK(gs[size_t(i)] == doctest::Approx(fd(s->f32()[i])).epsilon(1e-2).scale(1e-3));
  CHECK(std::abs(gx[3]) > 0.1);  // picked entries get a gradient, the others none
  CHECK(gx[1] == 0.0f);
}

TEST_CASE("tasks: support = prefixes of the first K items (no signal), query = later items with their signals") {
  data::Split sp;
  for (uint32_t j = 0; j < 6; ++j) sp.train.push_back({0, 10 + j, double(j), float(j) + 0.5f});
  sp.train.push_back({1, 3, 0, 1.0f});  // one item: not a task
  sp.train_users = {0, 1};
  auto seqs = rec::task_sequences(sp, 2);
  REQUIRE(seqs.size() == 1);
  rec::TaskOptions o{{2}, rec::Target::Future, 3};
  std::mt19937_64 rng(1);
  auto tb = rec::sample_task(seqs, o, rng);
  REQUIRE(tb.support.size() == 2);
  CHECK(tb.support.history[0].empty());
  CHECK(tb.support.target[0] == 10);
  CHECK(tb.support.history[1] == std::vector<uint32_t>{10});
  CHECK(tb.support.target[1] == 11);
  CHECK(std::isnan(tb.support.signal[1]));
  REQUIRE(tb.query.size() == 3);
  for (size_t r = 0; r < 3; ++r) {
    CHECK(tb.query.history[r] == std::vector<uint32_t>{10, 11});
    CHECK(tb.query.target[r] >= 12);
    CHECK(tb.query.signal[r] == float(tb.query.target[r] - 10) + 0.5f);
  }
}
