// The per-step item table (RecModel::begin_step / end_step): a meta-batch computed with the item
// table once per step and its gradient accumulated over the tasks must give the same meta-gradient
// as the per-loss item table (the reference path), for every algorithm and the scopes that allow
// it. Also checked: the item-tower part of that gradient is not zero (so the comparison covers
// end_step's backward), and parameters are untouched.
#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include "engine/meta/meta.h"
#include "engine/rec/config.h"
#include "engine/rec/model.h"
#include "tests/rec/random_emb.h"

using namespace mr;

namespace {


// meta-gradient of a 3-task meta-batch (flat), with or without the per-step table
// mode 0: per-loss table (reference); 1: per-step table, dV summed in place, end_step(1/n);
// 2: per-step table, dV handed to the meta learner (set_extra_grad), end_step(1)
std::vector<float> meta_grad(const std::string& alg, const std::string& scope, int mode) {
  rec::ModelConfig c;
  c.dim = 8; c.heads = 2; c.layers = 1; c.ffn = 16; c.max_history = 3; c.tau = 1.0f; c.dropout = 0.0f; c.seed = 5;
  rec::RecModel m(c, random_emb(9, 6, 2), 9, 6);
  perturb_trainable(m.params(), 11);
  const std::vector<float> theta(m.params().flat_params().f32(), m.params().flat_params().f32() + m.params().numel());
  meta::MetaConfig mc;
  mc.algorithm = rec::parse_enum<meta::Algorithm>(alg, "algorithm");
  mc.inner_steps = 2;
  mc.inner_lr = 0.3f;
  const rec::Scope sc = rec::parse_enum<rec::Scope>(scope, "scope");
  meta::MetaLearner ml(m.params(), [sc](const std::string& n) { return rec::RecModel::in_scope(sc, n); }, mc);
  Arena a;
  Tape t(a);
  if (mode > 0) m.begin_step();
  if (mode == 2) ml.set_extra_grad(m.step_table_grad(), size_t(m.step_table_numel()));
  const std::vector<std::vector<uint32_t>> users = {{1, 4, 7, 2}, {3, 8, 0}, {5, 5, 6, 1, 2}};
  for (auto& u : users) {
    rec::Batch sup, qry;
    for (size_t j = 0; j + 1 < u.size(); ++j) sup.add(std::vector<uint32_t>(u.begin(), u.begin() + j), int32_t(u[j]));
    qry.add(std::vector<uint32_t>(u.begin(), u.end() - 1), int32_t(u.back()));
    qry.add(u, int32_t((u.back() + 3) % 9));
    ml.task(t, [&](Tape& tt) { return m.loss(tt, sup); }, [&](Tape& tt) { return m.loss(tt, qry); });
  }
  ml.finish();
  if (mode > 0) m.end_step(mode == 1 ? 1.0f / float(users.size()) : 1.0f);
  CHECK_FALSE(m.in_step());
  for (int64_t j = 0; j < m.params().numel(); ++j) REQUIRE(m.params().flat_params().f32()[j] == theta[size_t(j)]);
  return {m.params().flat_grads().f32(), m.params().flat_grads().f32() + m.params().numel()};
}

}  // namespace

TEST_CASE("per-step item table: same meta-gradient as the per-loss table") {
  for (const char* alg : {"fomaml", "reptile", "none", "metasgd"})
    for (const char* scope : {"head", "user"}) {
      CAPTURE(alg);
      CAPTURE(scope);
      auto ref = meta_grad(alg, scope, 0);
      for (int mode : {1, 2}) {
      CAPTURE(mode);
      auto got = meta_grad(alg, scope, mode);
      REQUIRE(ref.size() == got.size());
      double num = 0, den = 0, item = 0;
      // the item tower's parameters come first in the flat buffer ("item.proj.weight" ... "item.bias")
      for (size_t j = 0; j < ref.size(); ++j) {
        num += (double(ref[j]) - got[j]) * (double(ref[j]) - got[j]);
        den += double(ref[j]) * ref[j];
      }
      for (size_t j = 0; j < size_t(8 * 6 + 8 + 10 * 8); ++j) item += std::fabs(ref[j]);  // proj W, b, ids
      CHECK(item > 1e-3);
      CHECK(std::sqrt(num / den) < 1e-6);
      }
    }
}
