// The task-batched meta-batch (engine/rec/batched.h) against the per-task loop
// (MetaLearner::task, with the same per-step item table): for every algorithm, inner steps 0
// (not reptile, which refuses it; Meta-SGD's rate gradient is then 0), 1 and 2, the cls and mean pools, dot and cosine scores, tasks of different sizes (one with an
// empty history row), the same meta-gradient (theta's, dV through end_step, Meta-SGD's rate
// gradient) and the same mean query loss, to fp32 summation order. Dropout is 0: the two paths
// draw their dropout masks differently (batched.h).
#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include "engine/meta/meta.h"
#include "engine/rec/batched.h"
#include "engine/rec/config.h"
#include "engine/rec/model.h"
#include "tests/rec/random_emb.h"

using namespace mr;

namespace {

struct Out {
  std::vector<float> grad, rate_grad;
  double loss = 0;
};

Out meta_grad(const std::string& alg, int steps, rec::UserPool pool, rec::Score score, bool batched) {
  rec::ModelConfig c;
  c.dim = 8; c.heads = 2; c.layers = 1; c.ffn = 16; c.max_history = 3; c.tau = 1.0f; c.dropout = 0.0f; c.seed = 5;
  c.pool = pool;
  c.score = score;
  rec::RecModel m(c, random_emb(9, 6, 2), 9, 6);
  perturb_trainable(m.params(), 11);
  const std::vector<float> theta(m.params().flat_params().f32(), m.params().flat_params().f32() + m.params().numel());
  rec::Config cfg;
  cfg.meta.algorithm = rec::parse_enum<meta::Algorithm>(alg, "algorithm");
  cfg.meta.inner_steps = steps;
  cfg.meta.inner_lr = 0.3f;
  cfg.meta.scope = rec::Scope::Head;
  meta::MetaConfig mc;
  mc.algorithm = cfg.meta.algorithm;
  mc.inner_steps = steps;
  mc.inner_lr = 0.3f;
  meta::MetaLearner ml(m.params(), [](const std::string& n) { return rec::RecModel::in_scope(rec::Scope::Head, n); }, mc);
  if (ParamStore* rates = ml.inner_rates())  // learned rates that differ per entry
    for (int64_t j = 0; j < rates->numel(); ++j) rates->flat_params().f32()[j] = 0.1f + 0.4f * float(j % 7) / 7.0f;
  Arena a;
  Tape t(a);
  m.begin_step();
  ml.set_extra_grad(m.step_table_grad(), size_t(m.step_table_numel()));
  const std::vector<std::vector<uint32_t>> users = {{1, 4, 7, 2}, {3, 8, 0}, {5, 5, 6, 1, 2}, {2, 6}};
  std::vector<rec::TaskBatches> tasks;
  for (auto& u : users) {
    rec::TaskBatches tb;
    for (size_t j = 0; j + 1 < u.size(); ++j) tb.support.add(std::vector<uint32_t>(u.begin(), u.begin() + j), int32_t(u[j]));
    tb.query.add(std::vector<uint32_t>(u.begin(), u.end() - 1), int32_t(u.back()));
    tb.query.add(u, int32_t((u.back() + 3) % 9));
    if (u.size() == 3) tb.query.add(u, -100);  // a row without a target
    tasks.push_back(tb);
  }
  if (batched) {
    rec::TaskBatcher tb(cfg, m, ml, int(tasks.size()));
    std::vector<const rec::TaskBatches*> ptrs;
    for (auto& x : tasks) ptrs.push_back(&x);
    tb.run(t, ptrs);
  } else {
    for (auto& x : tasks)
      ml.task(t, [&](Tape& tt) { return m.loss(tt, x.support); }, [&](Tape& tt) { return m.loss(tt, x.query); });
  }
  Out o;
  o.loss = ml.finish();
  m.end_step(1.0f);
  for (int64_t j = 0; j < m.params().numel(); ++j) REQUIRE(m.params().flat_params().f32()[j] == theta[size_t(j)]);
  o.grad.assign(m.params().flat_grads().f32(), m.params().flat_grads().f32() + m.params().numel());
  if (ParamStore* rates = ml.inner_rates())
    o.rate_grad.assign(rates->flat_grads().f32(), rates->flat_grads().f32() + rates->numel());
  return o;
}

double rel_l2(const std::vector<float>& ref, const std::vector<float>& got) {
  double num = 0, den = 0;
  for (size_t j = 0; j < ref.size(); ++j) {
    num += (double(ref[j]) - got[j]) * (double(ref[j]) - got[j]);
    den += double(ref[j]) * ref[j];
  }
  return std::sqrt(num / den);
}

}  // namespace

TEST_CASE("task-batched meta-batch: the per-task loop's meta-gradient, rate gradient and query loss") {
  for (const char* alg : {"fomaml", "reptile", "metasgd", "none"})
    for (int steps : {0, 1, 2})
      for (auto [pool, score] : {std::pair{rec::UserPool::Cls, rec::Score::Dot}, {rec::UserPool::Mean, rec::Score::Cos}}) {
        CAPTURE(alg);
        CAPTURE(steps);
        CAPTURE(int(pool));
        if (steps == 0 && std::string(alg) == "reptile") continue;  // reptile needs k > 0 (refused)
        const Out ref = meta_grad(alg, steps, pool, score, false), got = meta_grad(alg, steps, pool, score, true);
        REQUIRE(ref.grad.size() == got.grad.size());
        double norm = 0;  // a non-trivial gradient
        for (float g : ref.grad) norm += std::fabs(g);
        CHECK(norm > 1e-3);
        CHECK(rel_l2(ref.grad, got.grad) < 1e-6);
        CHECK(std::fabs(ref.loss - got.loss) <= 1e-6 * std::fabs(ref.loss));
        CHECK(ref.rate_grad.size() == got.rate_grad.size());
        if (!ref.rate_grad.empty() && steps > 0) CHECK(rel_l2(ref.rate_grad, got.rate_grad) < 1e-6);
        if (!ref.rate_grad.empty() && steps == 0)  // no inner step: no rate gradient on either side
          for (size_t j = 0; j < ref.rate_grad.size(); ++j) REQUIRE((ref.rate_grad[j] == 0.0f && got.rate_grad[j] == 0.0f));
      }
}

TEST_CASE("task-batched meta-batch: unsupported settings are refused, naming the setting") {
  rec::Config c;
  c.meta.scope = rec::Scope::User;
  CHECK(rec::TaskBatcher::unsupported(c) == "meta.scope is not \"head\"");
  c.meta.scope = rec::Scope::Head;
  CHECK(rec::TaskBatcher::unsupported(c).empty());
  c.loss.negatives = 5;
  CHECK(rec::TaskBatcher::unsupported(c).find("loss.negatives") == 0);
  c.loss.negatives = 0;
  c.encoder.train_layers = 1;
  CHECK(rec::TaskBatcher::unsupported(c) == "encoder.train_layers is not 0");
}
