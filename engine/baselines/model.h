// What the evaluator needs from a recommender: fit on a split's training interactions, then
// score every item for one evaluation case. Baselines implement it; a trained metarec run
// will too.
#pragma once
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/data/split.h"
#include "engine/metrics/metrics.h"

namespace mr::baselines {

class Model {
 public:
  virtual ~Model() = default;
  virtual std::string name() const = 0;
  virtual void fit(const data::Split& sp) = 0;
  // out has n_items entries; higher is better. Must be safe to call from several threads.
  virtual void score(const data::EvalCase& c, std::span<float> out) const = 0;
  // Scores of a tile of cases: row r of out (cases.size() rows of n_items) for cases[r]. The
  // default calls score() on the cases in parallel; a model may batch them (one GEMM per tile).
  virtual void score_tile(std::span<const data::EvalCase* const> cases, std::span<float> out) const;
  virtual nlohmann::json config() const { return nlohmann::json::object(); }
  // Ranking where the scores are (engine/baselines/evaluate.cpp, EvalOptions::ranking): a model
  // that can rank a tile itself (can_rank_tile) ranks row r, the scores of cases[r], as queries[r]
  // says (metrics::rank_query; candidate: the part's candidate mask, empty for every item), keeps
  // the top k (1 <= k <= 2048) and the targets' counts, and fills out[r]
  // (metrics::ranking_from_counts). item_tile > 0: at most that many items scored at once (0:
  // the model's choice). scores_on_device: its scores live on a device (auto ranks there).
  virtual bool can_rank_tile() const { return false; }
  virtual bool scores_on_device() const { return false; }
  virtual void rank_tile(std::span<const data::EvalCase* const> cases, std::span<const metrics::RankQuery> queries,
                         std::span<const uint8_t> candidate, size_t k, size_t item_tile,
                         std::span<metrics::Ranking> out) const;
};

struct Options {
  // itemknn
  size_t knn_k = 100;          // neighbours kept per item
  double knn_shrink = 0;       // sim = c_ij / (sqrt(c_i c_j) + shrink)
  double knn_decay = 1;        // weight decay^p of the history item p places before the most recent
  // bpr
  size_t bpr_dim = 64;
  size_t bpr_epochs = 200;
  double bpr_lr = 0.1;
  double bpr_reg = 0.01;   // defaults: best of a small grid on ml-100k loo validation
  uint64_t seed = 0;
};

// "random", "pop", "itemknn", "bpr"; mr::Error for anything else.
std::unique_ptr<Model> make_model(const std::string& name, const Options& opt);

// Zero-shot text similarity: emb holds (n_items, dim) item text embeddings (the pretrained
// encoder's, L2-normalised); a case's user vector is the mean of its history items' vectors and
// an item's score is its dot product with it (cosine up to the user vector's norm, which does
// not change the ranking). Nothing is trained.
std::unique_ptr<Model> make_text_model(std::vector<float> emb, size_t dim);

}  // namespace mr::baselines
