// End to end: reader -> leave-one-out -> popularity -> full-ranking metrics, against
// tools/recdata_pop_reference.py (an independent Python pipeline; fixture committed).
#include <doctest/doctest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/baselines/evaluate.h"
#include "engine/data/readers.h"
#include "tests/recdata/common.h"

using namespace mr;

static void check_against(const std::string& dir, const std::string& key) {
  std::ifstream f(rt::fixture("pop_loo_reference.json"));
  REQUIRE(f.good());
  auto doc = nlohmann::json::parse(f);
  auto ds = data::load_dataset(dir, data::LoadOptions{});
  auto sp = data::split_loo(ds, 50);
  auto pop = baselines::make_model("pop", {});
  pop->fit(sp);
  for (bool mask : {true, false}) {
    baselines::EvalOptions eo;
    eo.ks = doc["ks"].get<std::vector<int>>();
    eo.mask_known = mask;
    auto got = baselines::evaluate(sp, *pop, eo);
    auto& want = doc[key][mask ? "masked" : "unmasked"];
    for (auto it = want.begin(); it != want.end(); ++it) {
      INFO(key, " masked=", mask, " ", it.key());
      CHECK(got[it.key()].get<double>() == doctest::Approx(it.value().get<double>()).epsilon(1e-9));
    }
  }
}

TEST_CASE("pop on ml-100k, loo, matches the Python pipeline" * doctest::skip(!rt::have_ml100k())) {
  check_against(rt::ml100k(), "ml-100k");
}

TEST_CASE("pop on amazon-scientific, loo, matches the Python pipeline" * doctest::skip(!rt::have_amazon())) {
  check_against(rt::amazon(), "amazon-scientific");
}
