// A trained model as the evaluator (and `metarec recommend`) sees it: AdaptedScorer adapts a
// copy of theta to a history with the meta learner's inner loop, scores every item and restores
// theta; and the number of adaptation steps a run's config asks for.
#pragma once
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "engine/baselines/model.h"
#include "engine/meta/meta.h"
#include "engine/rec/config.h"
#include "engine/rec/model.h"
#include "engine/rec/run.h"

namespace mr::rec {

// Support examples for adapting to a history: predict h[j] from h[0..j) for the last
// `max_examples` positions.
Batch support_batch(const std::vector<uint32_t>& history, size_t max_examples);

// The inner loop's steps: meta.inner_steps, 0 for meta.algorithm = none.
int inner_adapt_steps(const Config& c);
// The SGD steps a run adapts with at evaluation: `requested` when >= 0, else eval.adapt_steps,
// and when that is negative too, inner_adapt_steps.
int eval_adapt_steps(const Config& c, int requested = -1);

class AdaptedScorer : public baselines::Model {
 public:
  // score() adapts with `adapt_steps` SGD steps at rate lr (0: no adaptation).
  // item_tower_fixed: the adapt scope leaves the "item." parameters alone (head, user), so the
  // item table is computed once for all cases.
  AdaptedScorer(std::string name, RecModel& m, meta::MetaLearner& ml, int adapt_steps, float lr,
                bool item_tower_fixed = false);
  // r's model as r's config says (meta.inner_lr, meta.scope)
  AdaptedScorer(std::string name, LoadedRun& r, int adapt_steps);
  ~AdaptedScorer() override;
  std::string name() const override { return name_; }
  void fit(const data::Split&) override {}
  void score(const data::EvalCase& c, std::span<float> out) const override;
  std::vector<float> scores(const std::vector<uint32_t>& history) const;
  // A tile of cases: each case's user vector (adapted to its history when adapt_steps > 0),
  // then one product of the tile's user vectors with the item table (on the model's device).
  // With the item tower adapting too (scope all), the cases are scored one at a time.
  void score_tile(std::span<const data::EvalCase* const> cases, std::span<float> out) const override;
  // The same tile ranked on the model's backend (RecModel::rank_users): the user vectors as in
  // score_tile, then only each case's top k and its targets' counts come back. Not with the item
  // tower adapting (scope all): those cases are scored one at a time on the host's ranking.
  bool can_rank_tile() const override { return !(steps_ > 0 && !m_.item_table_cached()); }
  bool scores_on_device() const override { return m_.backend().dev != Device::CPU; }
  void rank_tile(std::span<const data::EvalCase* const> cases, std::span<const metrics::RankQuery> queries,
                 std::span<const uint8_t> candidate, size_t k, size_t item_tile,
                 std::span<metrics::Ranking> out) const override;

 private:
  // Rows 0..R-1 of users_: the tile's user vectors (adapted when steps_ > 0); mu_ held.
  Tensor user_rows(std::span<const data::EvalCase* const> cases) const;
  std::string name_;
  RecModel& m_;
  meta::MetaLearner& ml_;
  int steps_;
  float lr_;
  mutable std::mutex mu_;
  mutable Arena arena_;  // on the model's device (its backend: RecModel::to)
  mutable std::unique_ptr<Tape> tape_;
  mutable OwnedTensor users_;  // (tile, C) user vectors on the model's device
};

}  // namespace mr::rec
