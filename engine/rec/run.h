// A metarec run: data + cached item embeddings + RecModel + meta-learning, in a run folder:
//   OUT/config.toml, config.json   the resolved configuration
//   OUT/item_emb.npy               the frozen encoder's pooled item embeddings (n_items, D)
//   OUT/metrics.jsonl              one JSON object per logged step and per evaluation
//   OUT/ckpt-<step>.safetensors    checkpoints (engine/io/checkpoint.h), OUT/latest
//   OUT/results.json, results.md   evaluation at every K: this model and the baselines
#pragma once
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/baselines/model.h"
#include "engine/data/dataset.h"
#include "engine/data/split.h"
#include "engine/meta/meta.h"
#include "engine/rec/config.h"
#include "engine/rec/model.h"

namespace mr::comm {
class Communicator;
}

namespace mr::rec {

data::Dataset load_data(const Config& c);
data::Split make_split(const Config& c, const data::Dataset& ds, size_t k_shot);
ModelConfig model_config(const Config& c);
meta::MetaConfig meta_config(const Config& c);
// The frozen encoder's item embeddings (n_items, *D): from encoder.cache when the same model,
// texts and settings were embedded before, else computed (progress bar) and cached.
std::vector<float> item_embeddings(const Config& c, const data::Dataset& ds, int64_t* D);
// The items' texts, and the cache key of their encoding (encoder model, settings and texts).
std::vector<std::string> item_texts(const data::Dataset& ds);
uint64_t item_text_key(const Config& c, const std::vector<std::string>& texts);

// Support examples for adapting to a history: predict h[j] from h[0..j) for the last
// `max_examples` positions.
Batch support_batch(const std::vector<uint32_t>& history, size_t max_examples);

// The SGD steps a run adapts with at evaluation: `requested` when >= 0, else eval.adapt_steps,
// and when that is negative too, meta.inner_steps (0 for meta.algorithm = none).
int eval_adapt_steps(const Config& c, int requested = -1);

// A trained model as the evaluator sees it: score() adapts a copy of theta to the case's
// history with `adapt_steps` SGD steps (0: no adaptation), scores every item and restores theta.
class AdaptedScorer : public baselines::Model {
 public:
  // item_tower_fixed: the adapt scope leaves the "item." parameters alone (head, user), so the
  // item table is computed once for all cases.
  AdaptedScorer(std::string name, RecModel& m, meta::MetaLearner& ml, int adapt_steps, float lr,
                bool item_tower_fixed = false);
  ~AdaptedScorer() override;
  std::string name() const override { return name_; }
  void fit(const data::Split&) override {}
  void score(const data::EvalCase& c, std::span<float> out) const override;
  std::vector<float> scores(const std::vector<uint32_t>& history) const;

 private:
  std::string name_;
  RecModel& m_;
  meta::MetaLearner& ml_;
  int steps_;
  float lr_;
  mutable std::mutex mu_;
  mutable Arena arena_;
  mutable std::unique_ptr<Tape> tape_;
};

struct LoadedRun {
  Config cfg;
  data::Dataset ds;
  std::unique_ptr<RecModel> model;
  std::unique_ptr<meta::MetaLearner> ml;
  int64_t step = 0;
};
// Opens OUT: config.json, item_emb.npy, the latest checkpoint (or `checkpoint` when given).
LoadedRun load_run(const std::string& dir, const std::string& checkpoint = "");

// Trains (resuming from OUT's latest checkpoint when resume) and evaluates; returns results.
// comm (null: one process): the meta-batch's tasks are dealt round-robin over the ranks, one
// all-reduce per step, rank 0's start state is broadcast; rank 0 alone writes OUT, evaluates and
// returns the results; the other ranks return {"rank": r, "step": steps} (docs/comm.md).
nlohmann::json train(const Config& c, const std::string& out, bool resume, comm::Communicator* comm = nullptr);
// Evaluates a loaded run and the configured baselines at every eval.k_shots (cold-user) or once
// (loo); appends to OUT/metrics.jsonl and writes OUT/results.{json,md} when out is not empty.
nlohmann::json evaluate(LoadedRun& r, const std::string& out);
// Markdown table of results.json objects (several runs may be merged).
std::string results_table(const std::vector<nlohmann::json>& results, const std::vector<int>& ks);

}  // namespace mr::rec
