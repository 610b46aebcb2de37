// Ranking where the model scores (baselines::EvalOptions::Ranking::Backend: AdaptedScorer::rank_tile,
// RecModel::rank_users, the backend's topk_merge/topk_count) gives the host evaluator's metrics
// (Ranking::Host: every score to the host, metrics::score_case) to the last digit: the whole
// JSON, every key but "ranked_on", compared as text. On the CPU backend (the CUDA backend runs the
// same code under the emulator: tests/cuda/train_cuda_test.cpp). Items share text embeddings in
// groups, so many scores tie exactly and the tie order matters; with masking, a candidate set,
// several targets per case, item tiles of 1, 7 and all items, dot and cosine scores, with and
// without adaptation. And RecModel::rank_users in item tiles: the same ranking, and the arena never
// holds the (users, items) scores.
#include <doctest/doctest.h>

#include <random>

#include "engine/baselines/evaluate.h"
#include "engine/meta/meta.h"
#include "engine/rec/config.h"
#include "engine/rec/model.h"
#include "engine/rec/scorer.h"
#include "tests/rec/random_emb.h"

using namespace mr;

namespace {

// every key but ranked_on, as text
std::string without_ranked_on(nlohmann::json j) {
  j.erase("ranked_on");
  return j.dump();
}

}  // namespace

TEST_CASE("evaluation ranked on the backend gives the host ranking's metrics to the last digit") {
  rec::ModelConfig c;
  c.dim = 16; c.heads = 2; c.layers = 1; c.ffn = 32; c.max_history = 5; c.tau = 2.0f; c.dropout = 0.0f; c.seed = 5;
  const int64_t N = 37, D = 12;
  // items i and i + 9k share one text embedding: equal scores unless id vectors or biases differ
  const auto base = random_emb(9, D, 1);
  std::vector<float> emb(size_t(N * D));
  for (int64_t i = 0; i < N; ++i)
    for (int64_t d = 0; d < D; ++d) emb[size_t(i * D + d)] = base[size_t((i % 9) * D + d)];
  data::Split sp;
  sp.protocol = "test";
  sp.n_items = size_t(N);
  std::mt19937_64 g(11);
  for (int u = 0; u < 19; ++u) {
    data::EvalCase e;
    e.user = uint32_t(u);
    const int len = u % 6 == 0 ? 0 : 1 + int(g() % 9);
    for (int j = 0; j < len; ++j) e.history.push_back(uint32_t(g() % N));
    e.known = e.history;
    e.known.push_back(uint32_t(g() % N));  // known beyond the history
    const int nt = 1 + u % 3;
    for (int j = 0; j < nt; ++j) e.targets.push_back(uint32_t(g() % (N - 1)));  // item N-1 is no candidate
    if (u % 4 == 1) e.targets.push_back(e.targets[0]);  // a duplicated target counts once
    sp.test.push_back(e);
  }
  for (bool candidates : {false, true}) {
    sp.test_candidates.clear();
    if (candidates) {
      sp.test_candidates.assign(size_t(N), 1);
      sp.test_candidates[size_t(N - 1)] = 0;
    }
    for (auto s : {rec::Score::Dot, rec::Score::Cos})
      for (int steps : {0, 2}) {
        c.score = s;
        rec::RecModel m(c, emb, N, D);
        m.init(7);
        std::mt19937_64 r(9);
        std::normal_distribution<float> nd(0.0f, 0.05f);
        for (Param& p : m.params().all())
          if (p.name != "item.bias" && p.name != "item.id")  // keep the text-twin items tied
            for (int64_t i = 0; i < p.w.numel(); ++i) p.w.f32()[i] += nd(r);
        meta::MetaLearner ml(m.params(), [](const std::string& n) { return rec::RecModel::in_scope(rec::Scope::Head, n); },
                             {meta::Algorithm::FOMAML, 2, 0.3f});
        rec::AdaptedScorer scorer("t", m, ml, steps, 0.3f, true);
        REQUIRE(scorer.can_rank_tile());
        CHECK_FALSE(scorer.scores_on_device());
        baselines::EvalOptions eo;
        eo.ks = {1, 5, 10, 50};  // 50 > every case's candidates
        eo.mask_known = true;
        eo.tile = 4;
        eo.ranking = baselines::EvalOptions::Ranking::Host;
        const nlohmann::json host = baselines::evaluate(sp, scorer, eo);
        CHECK(host["ranked_on"] == "host");
        CHECK(host["tied_targets"].get<double>() > 0.2);  // the tie order is exercised
        eo.ranking = baselines::EvalOptions::Ranking::Auto;  // the CPU backend: auto ranks on the host
        CHECK(baselines::evaluate(sp, scorer, eo)["ranked_on"] == "host");
        for (size_t item_tile : {size_t(0), size_t(7), size_t(1)}) {
          CAPTURE(candidates); CAPTURE(int(s)); CAPTURE(steps); CAPTURE(item_tile);
          eo.ranking = baselines::EvalOptions::Ranking::Backend;
          eo.item_tile = item_tile;
          const nlohmann::json be = baselines::evaluate(sp, scorer, eo);
          CHECK(be["ranked_on"] == "backend");
          CHECK(without_ranked_on(be) == without_ranked_on(host));
        }
      }
  }
}

TEST_CASE("evaluation ranked on the backend: a NaN score is the host's error") {
  rec::ModelConfig c;
  c.dim = 8; c.heads = 2; c.layers = 1; c.ffn = 16; c.max_history = 4; c.seed = 3;
  const int64_t N = 11, D = 6;
  rec::RecModel m(c, random_emb(N, D, 2), N, D);
  m.init(1);
  for (Param& p : m.params().all())
    if (p.name == "item.bias") p.w.f32()[5] = NAN;  // item 5's score is NaN in every row
  meta::MetaLearner ml(m.params(), [](const std::string& n) { return rec::RecModel::in_scope(rec::Scope::Head, n); },
                       {meta::Algorithm::FOMAML, 1, 0.1f});
  rec::AdaptedScorer scorer("t", m, ml, 0, 0.1f, true);
  data::Split sp;
  sp.protocol = "test";
  sp.n_items = size_t(N);
  sp.test.push_back({0, {1, 2}, {1, 2, 5}, {3}});  // item 5 removed: its NaN still fails, as on the host
  baselines::EvalOptions eo;
  eo.ks = {3};
  std::string host_err, be_err;
  eo.ranking = baselines::EvalOptions::Ranking::Host;
  try { baselines::evaluate(sp, scorer, eo); } catch (const std::exception& e) { host_err = e.what(); }
  eo.ranking = baselines::EvalOptions::Ranking::Backend;
  try { baselines::evaluate(sp, scorer, eo); } catch (const std::exception& e) { be_err = e.what(); }
  CHECK(host_err.find("score of item 5 is NaN") != std::string::npos);
  CHECK(be_err.find("score of item 5 is NaN") != std::string::npos);
}

TEST_CASE("rank_users in item tiles holds tile x W scores, not users x items, and ranks the same") {
  rec::ModelConfig c;
  c.dim = 16; c.heads = 2; c.layers = 1; c.ffn = 32; c.max_history = 4; c.seed = 2;
  const int64_t N = 3000, D = 8, R = 40, W = 64;
  rec::RecModel m(c, random_emb(N, D, 4), N, D);
  m.init(3);
  std::mt19937_64 g(5);
  std::vector<float> u(size_t(R * c.dim));
  for (auto& x : u) x = std::normal_distribution<float>(0.0f, 1.0f)(g);
  std::vector<metrics::RankQuery> q;
  for (int64_t r = 0; r < R; ++r) {
    std::vector<uint32_t> tg{uint32_t(g() % N)}, ex{uint32_t(g() % N), uint32_t(g() % N)};
    q.push_back(metrics::rank_query(size_t(N), tg, ex, {}, size_t(N)));
  }
  auto run = [&](size_t item_tile, size_t* high) {
    Arena a;
    Tape t(a, m.backend());
    t.set_training(false);
    HostTensor U(Shape{R, c.dim});
    std::copy(u.begin(), u.end(), U->f32());
    std::vector<metrics::Ranking> out(static_cast<size_t>(R));
    m.rank_users(t, t.input(*U), q, {}, 20, item_tile, out);
    *high = a.high_water();
    return out;
  };
  size_t hw_full = 0, hw_tiled = 0;
  const auto full = run(0, &hw_full), tiled = run(size_t(W), &hw_tiled);
  for (int64_t r = 0; r < R; ++r) {
    CAPTURE(r);
    CHECK(full[size_t(r)].ranks == tiled[size_t(r)].ranks);
    CHECK(full[size_t(r)].top == tiled[size_t(r)].top);
    CHECK(full[size_t(r)].top.size() == 20);
  }
  const size_t scores = size_t(R) * size_t(N + 1) * sizeof(float);
  MESSAGE("arena high water: one product ", hw_full, " B, item tiles of ", W, ": ", hw_tiled, " B (R x N scores: ", scores, " B)");
  CHECK(hw_full >= hw_tiled + scores);  // the (R, N+1) product (and its scaled copy) is never held with tiles
}
