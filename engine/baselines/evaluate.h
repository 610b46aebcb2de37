// The one evaluator every model goes through: score each case of a split, rank all candidate
// items (full ranking), average the metrics (engine/metrics/metrics.h).
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/baselines/model.h"
#include "engine/data/split.h"

namespace mr::baselines {

struct EvalOptions {
  std::vector<int> ks = {10, 20, 50};
  bool mask_known = true;    // remove each case's known items (except its targets) from the ranking
  std::string part = "test"; // "test" or "valid"
  size_t sampled = 0;        // > 0: also rank targets among N sampled negatives; keys "sampled<N>_..."
  uint64_t seed = 0;         // for the sampled negatives
};

nlohmann::json evaluate(const data::Split& sp, const Model& model, const EvalOptions& opt);

}  // namespace mr::baselines
