// The one evaluator every model goes through: score the cases of a split a tile at a time, rank
// all candidate items (full ranking), average the metrics (engine/metrics/metrics.h). Peak memory
// is O(tile x items + cases x K), whatever the number of cases; ranked on the model's device
// (Ranking below), the host holds no scores, only each case's top K and its targets' counts.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/baselines/model.h"
#include "engine/data/split.h"
#include "engine/metrics/metrics.h"

namespace mr::baselines {

struct EvalOptions {
  std::vector<int> ks = {10, 20, 50};
  bool mask_known = true;    // remove each case's known items (except its targets) from the ranking
  std::string part = "test"; // "test" or "valid"
  size_t sampled = 0;        // > 0: also rank targets among N sampled negatives; keys "sampled<N>_..."
  uint64_t seed = 0;         // for the sampled negatives
  size_t tile = 0;           // cases scored at once (Model::score_tile); 0: eval_tile's default
  // Where a tile is ranked. host: the whole (tile x items) score tile comes to the host and
  // metrics::score_case ranks each row. backend: a model that can (Model::can_rank_tile: a
  // trained run) ranks where it scores, with its backend's topk_merge/topk_count (kernels/ops.def;
  // the CPU backend too), and only each case's top max(K) and its targets' counts come back.
  // auto: backend when the model scores on a device, else host. The metrics are the same to the
  // last digit (the same scores ranked by the same order); sampled > 0 and max(K) > 2048 rank on
  // the host.
  enum class Ranking { Auto, Host, Backend };
  Ranking ranking = Ranking::Auto;
  size_t item_tile = 0;      // backend ranking: items scored at once (0: as many as keep tile x items
                             // scores within 64 MiB); a running top K is merged tile by tile
  // Sharded evaluation: this process is `rank` of `ranks`, each scoring every ranks-th tile;
  // allreduce_sum (an in-place sum over the ranks, e.g. the communicator's) gathers the per-case
  // results, and every rank returns the metrics of one process, to the last digit.
  int rank = 0, ranks = 1;
  std::function<void(double*, int64_t)> allreduce_sum;
  // Per-case results (optional): called once per case of the part, in case order, with the
  // case's index, the case and its full-ranking result (not the sampled one), on every rank
  // (sharded: after the round's all-reduce), before evaluate() returns. The aggregate is the
  // mean of these results (auc: over the cases with has_auc).
  std::function<void(size_t, const data::EvalCase&, const metrics::CaseResult&)> on_case;
};

// Cases per tile: opt.tile, or as many as 64 MiB of scores hold, within [16, 1024]. Evaluation
// keeps one tile of scores (tile x n_items floats) and each case's ranks and top max(K) items.
size_t eval_tile(const EvalOptions& opt, size_t n_items);

nlohmann::json evaluate(const data::Split& sp, const Model& model, const EvalOptions& opt);

}  // namespace mr::baselines
