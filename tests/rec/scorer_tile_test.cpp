// AdaptedScorer::score_tile (one user-vector pass or one adaptation per case, then one product
// for the tile) against scoring each case alone (AdaptedScorer::scores), for every adaptation
// scope, with and without adaptation; theta is unchanged afterwards.
#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include "engine/meta/meta.h"
#include "engine/rec/config.h"
#include "engine/rec/model.h"
#include "engine/rec/scorer.h"
#include "tests/rec/random_emb.h"

using namespace mr;

TEST_CASE("score_tile equals per-case scores (steps 0 and 2; scopes head, user, all)") {
  rec::ModelConfig c;
  c.dim = 16; c.heads = 2; c.layers = 1; c.ffn = 32; c.max_history = 5; c.tau = 2.0f; c.dropout = 0.1f; c.seed = 5;
  const int64_t N = 40, D = 12;
  std::vector<data::EvalCase> cases;
  std::mt19937_64 g(11);
  for (int u = 0; u < 13; ++u) {
    data::EvalCase e;
    e.user = uint32_t(u);
    const int len = u % 5 == 0 ? 0 : 1 + int(g() % 9);  // some empty histories, some longer than max_history
    for (int j = 0; j < len; ++j) e.history.push_back(uint32_t(g() % N));
    e.targets = {uint32_t(g() % N)};
    cases.push_back(e);
  }
  std::vector<const data::EvalCase*> ptrs;
  for (auto& e : cases) ptrs.push_back(&e);
  for (const char* scope : {"head", "user", "all"})
    for (int steps : {0, 2})
      for (auto s : {rec::Score::Dot, rec::Score::Cos}) {
        c.score = s;
        rec::RecModel m(c, random_emb(N, D, 1), N, D);
        m.init(7);
        std::mt19937_64 r(9);
        std::normal_distribution<float> nd(0.0f, 0.05f);
        for (Param& p : m.params().all())
          for (int64_t i = 0; i < p.w.numel(); ++i) p.w.f32()[i] += nd(r);  // ids and biases away from 0
        const rec::Scope sc = rec::parse_enum<rec::Scope>(scope, "scope");
        meta::MetaLearner ml(m.params(), [sc](const std::string& n) { return rec::RecModel::in_scope(sc, n); },
                             {meta::Algorithm::FOMAML, 2, 0.3f});
        const auto theta = m.params().flat_params();
        const std::vector<float> before(theta.f32(), theta.f32() + theta.numel());
        rec::AdaptedScorer scorer("t", m, ml, steps, 0.3f, sc != rec::Scope::All);
        std::vector<float> tile(cases.size() * size_t(N));
        scorer.score_tile(ptrs, tile);
        double worst = 0;
        int differ = 0;
        for (size_t k = 0; k < cases.size(); ++k) {
          const auto one = scorer.scores(cases[k].history);
          REQUIRE(one.size() == size_t(N));
          for (int64_t i = 0; i < N; ++i) {
            const double d = std::abs(double(one[size_t(i)]) - tile[k * size_t(N) + size_t(i)]);
            worst = std::max(worst, d / (1e-3 + std::abs(double(one[size_t(i)]))));
            differ += d != 0;
          }
        }
        CAPTURE(scope); CAPTURE(steps); CAPTURE(int(s)); CAPTURE(differ);
        // the tile's product and user-tower pass run on more rows than one case's: BLAS may sum
        // in another order, so ulps may differ; nothing more
        CHECK(worst < 1e-5);
        const std::vector<float> after(theta.f32(), theta.f32() + theta.numel());
        CHECK(after == before);  // every case's adaptation was undone
      }
}
