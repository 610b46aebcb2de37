// FOMAML and Reptile meta-gradients against an independent PyTorch implementation
// (tools/golden/meta_golden.py, float64) of the same tiny model: parameters, embeddings and
// batches come from tests/data/rec/meta_golden.json.
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "engine/meta/meta.h"
#include "engine/rec/config.h"
#include "engine/rec/model.h"

using namespace mr;

TEST_CASE("meta-gradients match the PyTorch reference (fomaml head k=2, reptile user k=2, fomaml all k=1)") {
  std::ifstream f("tests/data/rec/meta_golden.json");
  REQUIRE_MESSAGE(f.good(), "tests/data/rec/meta_golden.json is absent (run from the repository root)");
  nlohmann::json j;
  f >> j;
  const auto& cf = j["config"];
  rec::ModelConfig c;
  c.dim = cf["dim"]; c.heads = cf["heads"]; c.layers = 1; c.ffn = cf["ffn"]; c.max_history = cf["max_history"];
  c.tau = cf["tau"]; c.dropout = 0.0f;
  const int64_t N = cf["n_items"], D = cf["D"];
  auto toB = [](const nlohmann::json& a) {
    rec::Batch b;
    for (auto& e : a) b.add(e[0].get<std::vector<uint32_t>>(), e[1].get<int32_t>());
    return b;
  };
  rec::Batch sup = toB(j["support"]), qry = toB(j["query"]);
  int cases = 0;
  for (auto& [key, cs] : j["cases"].items()) {
    CAPTURE(key);
    rec::RecModel m(c, j["emb"].get<std::vector<float>>(), N, D);
    for (Param& p : m.params().all()) {
      auto v = j["params"].at(p.name).get<std::vector<float>>();
      REQUIRE(int64_t(v.size()) == p.w.numel());
      std::copy(v.begin(), v.end(), p.w.f32());
    }
    const rec::Scope scope = rec::parse_enum<rec::Scope>(cs["scope"], "scope");
    meta::MetaLearner ml(m.params(), [scope](const std::string& n) { return rec::RecModel::in_scope(scope, n); },
                         {rec::parse_enum<meta::Algorithm>(cs["algorithm"], "algorithm"), cs["k"].get<int>(),
                          cs["alpha"].get<float>()});
    Arena a;
    Tape t(a);
    float lq = ml.task(t, [&](Tape& tt) { return m.loss(tt, sup); }, [&](Tape& tt) { return m.loss(tt, qry); });
    ml.finish();
    CHECK(lq == doctest::Approx(cs["query_loss"].get<double>()).epsilon(1e-4));
    double worst = 0, gnorm = 0;
    std::string worst_name;
    for (Param& p : m.params().all()) {
      auto ref = cs["grad"].at(p.name).get<std::vector<double>>();
      for (int64_t i = 0; i < p.w.numel(); ++i) {
        gnorm += ref[size_t(i)] * ref[size_t(i)];
        // float32 forward/backward vs float64; Reptile's (theta - theta') loses ~1e-7/alpha
        const double e = std::abs(double(p.g.f32()[i]) - ref[size_t(i)]) / (2e-3 + std::abs(ref[size_t(i)]));
        if (e > worst) { worst = e; worst_name = p.name; }
      }
    }
    CAPTURE(worst_name);
    CHECK(std::sqrt(gnorm) > 1e-2);
    CHECK(worst < 2e-3);
    cases++;
  }
  CHECK(cases == 3);
}
