// Meta-gradients against direct computations on a tiny RecModel: theta' is built by hand from
// tape gradients (no MetaLearner code), and the query gradient at theta' is also checked
// against central finite differences of the query loss.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "engine/meta/meta.h"
#include "engine/optim.h"
#include "engine/rec/config.h"
#include "engine/rec/model.h"
#include "tests/rec/random_emb.h"

using namespace mr;

namespace {

rec::ModelConfig tiny_cfg() {
  rec::ModelConfig c;
  c.dim = 8; c.heads = 2; c.layers = 1; c.ffn = 16; c.max_history = 3; c.tau = 1.0f; c.dropout = 0.0f;
  c.seed = 3;
  return c;
}


// A model whose every parameter (id vectors and biases included) is away from its init, so no
// gradient is trivially zero.
struct Fixture {
  rec::RecModel m{tiny_cfg(), random_emb(7, 5, 1), 7, 5};
  rec::Batch sup, qry;
  Fixture() {
    std::mt19937_64 r(9);
    std::normal_distribution<float> nd(0.0f, 0.05f);
    for (Param& p : m.params().all())
      if (!p.frozen)
        for (int64_t i = 0; i < p.w.numel(); ++i) p.w.f32()[i] += nd(r);
    sup.add({}, 2);
    sup.add({2}, 4);
    sup.add({2, 4}, 1);
    qry.add({2, 4, 1}, 5);
    qry.add({2, 4, 1}, 6);
    qry.add({2, 4, 1}, 0);
  }
  std::vector<float> theta() { auto t = m.params().flat_params(); return {t.f32(), t.f32() + t.numel()}; }
  void set_theta(const std::vector<float>& v) { std::memcpy(m.params().flat_params().f32(), v.data(), v.size() * 4); }
  // loss and full gradient (every trainable parameter) at the current theta, plain tape
  std::vector<float> grad(const rec::Batch& b, double* loss = nullptr) {
    Arena a;
    Tape t(a);
    m.params().zero_grad();
    Var* l = m.loss(t, b);
    if (loss) *loss = l->v.f32()[0];
    t.backward(l);
    auto g = m.params().flat_grads();
    std::vector<float> out(g.f32(), g.f32() + g.numel());
    m.params().zero_grad();
    return out;
  }
  double loss(const rec::Batch& b) {
    Arena a;
    Tape t(a);
    NoGrad ng(t);
    return m.loss(t, b)->v.f32()[0];
  }
  std::vector<bool> scope_mask(const std::string& scope) {
    std::vector<bool> s(size_t(m.params().numel()), false);
    for (const Param& p : m.params().all())
      if (rec::RecModel::in_scope(rec::parse_enum<rec::Scope>(scope, "scope"), p.name) && !p.frozen)
        for (int64_t j = p.offset; j < p.offset + p.w.numel(); ++j) s[size_t(j)] = true;
    return s;
  }
  meta::MetaLearner learner(const std::string& scope, meta::MetaConfig c) {
    const rec::Scope sc = rec::parse_enum<rec::Scope>(scope, "scope");
    return meta::MetaLearner(m.params(), [sc](const std::string& n) { return rec::RecModel::in_scope(sc, n); }, c);
  }
  std::vector<float> meta_grad(meta::MetaLearner& ml, float* lq = nullptr) {
    Arena a;
    Tape t(a);
    float l = ml.task(t, [&](Tape& tt) { return m.loss(tt, sup); }, [&](Tape& tt) { return m.loss(tt, qry); });
    if (lq) *lq = l;
    ml.finish();
    auto g = m.params().flat_grads();
    return {g.f32(), g.f32() + g.numel()};
  }
};

double max_rel(const std::vector<float>& a, const std::vector<float>& b, double floor = 1e-3) {
  REQUIRE(a.size() == b.size());
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(double(a[i]) - b[i]) / std::max(floor, std::abs(double(b[i]))));
  return m;
}

double norm(const std::vector<float>& a) {
  double s = 0;
  for (float x : a) s += double(x) * x;
  return std::sqrt(s);
}

}  // namespace

TEST_CASE("fomaml: meta-gradient = query gradient at theta' = theta - alpha * support gradient (scope only)") {
  for (std::string scope : {"head", "user", "all"}) {
    CAPTURE(scope);
    for (int k : {1, 2}) {
      CAPTURE(k);
      Fixture f;
      const float alpha = 0.3f;
      auto th0 = f.theta();
      // by hand
      auto mask = f.scope_mask(scope);
      auto th = th0;
      for (int s = 0; s < k; ++s) {
        f.set_theta(th);
        auto gs = f.grad(f.sup);
        for (size_t j = 0; j < th.size(); ++j) if (mask[j]) th[j] -= alpha * gs[j];
      }
      f.set_theta(th);
      double lq_direct = 0;
      auto expect = f.grad(f.qry, &lq_direct);
      CHECK(norm(expect) > 1e-3);
      f.set_theta(th0);
      // the learner
      auto ml = f.learner(scope, {meta::Algorithm::FOMAML, k, alpha});
      float lq = 0;
      auto got = f.meta_grad(ml, &lq);
      CHECK(std::abs(lq - lq_direct) < 1e-5 * std::max(1.0, std::abs(lq_direct)));
      CHECK(max_rel(got, expect) < 1e-4);
      CHECK(f.theta() == th0);  // theta restored bit for bit
      // adaptation moved something: the gradient at theta differs from the one at theta'
      f.set_theta(th0);
      CHECK(max_rel(f.grad(f.qry), expect) > 1e-3);
    }
  }
}

TEST_CASE("fomaml: query gradient at theta' against central finite differences") {
  Fixture f;
  const float alpha = 0.3f;
  auto th0 = f.theta();
  auto ml = f.learner("head", {meta::Algorithm::FOMAML, 1, alpha});
  auto got = f.meta_grad(ml);
  // theta' by hand, then finite differences of the query loss there (double-checked in float:
  // step 1e-2 on O(1) parameters, loss O(1))
  auto mask = f.scope_mask("head");
  auto gs = f.grad(f.sup);
  auto th = th0;
  for (size_t j = 0; j < th.size(); ++j) if (mask[j]) th[j] -= alpha * gs[j];
  int checked = 0;
  for (const char* name : {"head.weight", "head.bias", "item.bias", "user.layer.0.ffn1.weight", "item.proj.weight"}) {
    Param& p = f.m.params().at(name);
    for (int64_t i : {int64_t(0), p.w.numel() / 2 + 1, p.w.numel() - 1}) {
      const size_t j = size_t(p.offset + i);
      const float h = 1e-2f;
      auto tp = th, tm = th;
      tp[j] += h; tm[j] -= h;
      f.set_theta(tp);
      const double lp = f.loss(f.qry);
      f.set_theta(tm);
      const double lm = f.loss(f.qry);
      const double fd = (lp - lm) / (2 * h);
      CAPTURE(name); CAPTURE(i); CAPTURE(fd); CAPTURE(got[j]);
      CHECK(std::abs(got[j] - fd) < 2e-3 + 2e-2 * std::abs(fd));
      checked++;
    }
  }
  CHECK(checked == 15);
}

TEST_CASE("reptile: (theta - theta')/(k alpha) is the support gradient for k = 1, the mean of the steps' for k = 2") {
  for (int k : {1, 2}) {
    CAPTURE(k);
    Fixture f;
    const float alpha = 0.2f;
    auto th0 = f.theta();
    auto mask = f.scope_mask("user");
    std::vector<float> sum(th0.size(), 0.0f);
    auto th = th0;
    for (int s = 0; s < k; ++s) {
      f.set_theta(th);
      auto gs = f.grad(f.sup);
      for (size_t j = 0; j < th.size(); ++j) if (mask[j]) { th[j] -= alpha * gs[j]; sum[j] += gs[j] / float(k); }
    }
    f.set_theta(th);
    auto gq = f.grad(f.qry);  // outside the scope: the query gradient at theta'
    std::vector<float> expect(th0.size());
    for (size_t j = 0; j < th0.size(); ++j) expect[j] = mask[j] ? sum[j] : gq[j];
    f.set_theta(th0);
    auto ml = f.learner("user", {meta::Algorithm::Reptile, k, alpha});
    auto got = f.meta_grad(ml);
    // (theta - theta') in float loses digits: relative 1e-6 of theta over alpha
    CHECK(max_rel(got, expect, 2e-2) < 2e-3);
    CHECK(f.theta() == th0);
  }
}

TEST_CASE("none: plain multi-task gradient; meta-batches average; gradients do not leak across tasks") {
  Fixture f;
  auto gs = f.grad(f.sup), gq = f.grad(f.qry);
  auto ml = f.learner("head", {meta::Algorithm::None, 1, 0.1f});
  auto got = f.meta_grad(ml);
  std::vector<float> expect(gs.size());
  for (size_t j = 0; j < gs.size(); ++j) expect[j] = gs[j] + gq[j];
  CHECK(max_rel(got, expect) < 1e-4);
  // two identical tasks average to the same; a dirty gradient buffer before a task is ignored
  auto ml2 = f.learner("head", {meta::Algorithm::FOMAML, 1, 0.3f});
  Arena a;
  Tape t(a);
  auto sl = [&](Tape& tt) { return f.m.loss(tt, f.sup); };
  auto ql = [&](Tape& tt) { return f.m.loss(tt, f.qry); };
  ml2.task(t, sl, ql);
  ml2.finish();
  auto g = f.m.params().flat_grads();
  std::vector<float> one(g.f32(), g.f32() + g.numel());
  for (int64_t j = 0; j < g.numel(); ++j) g.f32()[j] = 123.0f;  // garbage must not leak in
  ml2.task(t, sl, ql);
  ml2.task(t, sl, ql);
  CHECK(ml2.tasks() == 2);
  ml2.finish();
  std::vector<float> two(g.f32(), g.f32() + g.numel());
  CHECK(max_rel(two, one) < 1e-5);
}

TEST_CASE("meta-training reduces the query loss after adaptation on held-out tasks") {
  // 24 items in 3 taste groups; a user draws support and query items from one group. The
  // text embeddings carry no group information, so only meta-learned adaptation helps.
  const int N = 24, G = 3;
  rec::ModelConfig cfg = tiny_cfg();
  cfg.dim = 16;
  cfg.tau = 2.0f;
  rec::RecModel m(cfg, random_emb(N, 6, 5), N, 6);
  auto ml = meta::MetaLearner(m.params(), [](const std::string& n) { return rec::RecModel::in_scope(rec::Scope::Head, n); },
                              {meta::Algorithm::FOMAML, 2, 0.3f});
  auto make_task = [&](std::mt19937_64& r, rec::Batch& sup, rec::Batch& qry) {
    const int g = int(r() % G);
    std::vector<uint32_t> h;
    for (int j = 0; j < 3; ++j) h.push_back(uint32_t(g * (N / G) + int(r() % (N / G))));
    sup = rec::Batch();
    qry = rec::Batch();
    for (size_t j = 0; j < h.size(); ++j) sup.add({h.begin(), h.begin() + j}, int32_t(h[j]));
    for (int j = 0; j < 4; ++j) qry.add(h, g * (N / G) + int(r() % (N / G)));
  };
  auto heldout = [&]() {
    std::mt19937_64 r(777);
    double s = 0;
    Arena a;
    Tape t(a);
    t.set_training(false);
    for (int i = 0; i < 30; ++i) {
      rec::Batch sup, qry;
      make_task(r, sup, qry);
      ml.snapshot();
      ml.adapt(t, [&](Tape& tt) { return m.loss(tt, sup); });
      t.reset();
      {
        NoGrad ng(t);
        s += m.loss(t, qry)->v.f32()[0];
      }
      t.reset();
      ml.restore();
    }
    return s / 30;
  };
  const double before = heldout();
  AdamW opt(m.params(), {});
  std::mt19937_64 r(1);
  Arena a;
  Tape t(a);
  for (int step = 0; step < 300; ++step) {
    for (int b = 0; b < 4; ++b) {
      rec::Batch sup, qry;
      make_task(r, sup, qry);
      ml.task(t, [&](Tape& tt) { return m.loss(tt, sup); }, [&](Tape& tt) { return m.loss(tt, qry); });
    }
    ml.finish();
    clip_grad_norm(m.params(), 1.0);
    opt.step(3e-3f);
    m.params().zero_grad();
  }
  const double after = heldout();
  MESSAGE("held-out query loss after adaptation: before " << before << ", after " << after << " (uniform: " << std::log(double(N + 1)) << ")");
  // knowing the group leaves log(8) = 2.08 nats; not knowing it log(24) = 3.18
  CHECK(after < before - 0.5);
  CHECK(after < 2.8);
}

TEST_CASE("metasgd: theta gets the query gradient at theta' = theta - alpha (.) g_s; alpha gets -g_q (.) g_s") {
  Fixture f;
  auto th0 = f.theta();
  auto ml = f.learner("user", {meta::Algorithm::MetaSGD, 1, 0.25f});
  REQUIRE(ml.inner_rates() != nullptr);
  // distinct rates per parameter, so a mix-up of entries shows
  float* a = ml.inner_rates()->flat_params().f32();
  for (int64_t j = 0; j < ml.inner_rates()->numel(); ++j) a[j] = 0.1f + 0.2f * float(j % 7) / 7.0f;
  std::vector<float> rates(a, a + ml.inner_rates()->numel());
  auto mask = f.scope_mask("user");
  auto gs = f.grad(f.sup);
  auto th = th0;
  for (size_t j = 0; j < th.size(); ++j) if (mask[j]) th[j] -= rates[j] * gs[j];
  f.set_theta(th);
  auto gq = f.grad(f.qry);
  f.set_theta(th0);
  auto got = f.meta_grad(ml);
  CHECK(max_rel(got, gq) < 1e-4);
  auto ga = ml.inner_rates()->flat_grads();
  std::vector<float> got_a(ga.f32(), ga.f32() + ga.numel()), expect_a(th0.size(), 0.0f);
  for (size_t j = 0; j < th0.size(); ++j) expect_a[j] = mask[j] ? -gq[j] * gs[j] : 0.0f;
  CHECK(max_rel(got_a, expect_a, 1e-4) < 1e-3);
  CHECK(norm(expect_a) > 1e-4);
  // first-order check of dL_q/dalpha by finite differences on one rate with a visible effect
  size_t jbest = 0;
  for (size_t j = 0; j < th0.size(); ++j) if (std::abs(expect_a[j]) > std::abs(expect_a[jbest])) jbest = j;
  auto lq_at = [&](float da) {
    auto t2 = th0;
    for (size_t j = 0; j < t2.size(); ++j) if (mask[j]) t2[j] -= (rates[j] + (j == jbest ? da : 0.0f)) * gs[j];
    f.set_theta(t2);
    return f.loss(f.qry);
  };
  const double fd = (lq_at(1e-2f) - lq_at(-1e-2f)) / 2e-2;
  f.set_theta(th0);
  CHECK(std::abs(fd - expect_a[jbest]) < 2e-2 * std::abs(fd) + 1e-4);
  CHECK(f.theta() == th0);
}

TEST_CASE("cached item table: same scores and same head/user adaptation as recomputing it") {
  Fixture f;
  auto th0 = f.theta();
  Arena a;
  Tape t(a);
  t.set_training(false);
  auto plain = f.m.score(t, {2, 4, 1});
  auto ml = f.learner("user", {meta::Algorithm::FOMAML, 2, 0.3f});
  ml.snapshot();
  ml.adapt(t, [&](Tape& tt) { return f.m.loss(tt, f.sup); });
  t.reset();
  auto adapted = f.m.score(t, {2, 4, 1});
  ml.restore();
  t.reset();
  f.m.cache_item_table();
  REQUIRE(f.m.item_table_cached());
  auto plain_c = f.m.score(t, {2, 4, 1});
  ml.snapshot();
  ml.adapt(t, [&](Tape& tt) { return f.m.loss(tt, f.sup); });
  t.reset();
  auto adapted_c = f.m.score(t, {2, 4, 1});
  ml.restore();
  f.m.clear_item_table();
  CHECK(max_rel(plain_c, plain, 1e-3) < 1e-5);
  CHECK(max_rel(adapted_c, adapted, 1e-3) < 1e-5);
  CHECK(max_rel(adapted, plain, 1e-3) > 1e-3);  // adaptation changed the scores
  CHECK(f.theta() == th0);
}
