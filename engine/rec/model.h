// The recommender: an item tower over cached text embeddings and a user tower over the user's
// recent item vectors; score(u, i) = (<u, v_i> + b_i) / tau.
//
//   item tower   v_i = W_p e_i + b_p (+ id_i)               e_i: the frozen BERT's pooled item
//                                                            embedding, cached once per item
//                                                            (L2-normalised, times sqrt(D))
//   user tower   x = LN(V[ids] + pos)  ids = [START, h_1 (most recent), h_2, ...] padded
//                L transformer layers (fused QKV attention, GELU FFN, post-LN like BERT)
//                pooled = x[START] ("cls"), masked mean ("mean") or x at the most recent item
//                ("recent", SASRec-style; START for an empty history); u = W_h pooled + b_h
//   logits       (B, N+1) = (u V^T + bias) / tau   (column N is the START row: never a target)
//                model.score = "cos": (u_hat V_hat^T + bias) / tau, rows L2-normalised (the user
//                tower still reads the unnormalised V)
//   loss         full softmax cross-entropy over every item (negatives = 0), or a sampled
//                softmax over the batch's targets plus `negatives` sampled items with logQ
//                correction and accidental hits masked (engine/rec/sampled.h)
//
// With a trainable top (ItemBertSpec, encoder.train_layers = L > 0) e_i is instead the output
// of the top L BERT layers ("item.bert.*" parameters) over the cached hidden states of the
// frozen bottom, pooled and normalised the same way (engine/rec/item_tower.h); a batch runs only
// the items it needs (START, the histories, the candidates) through them.
//
// Row N of the item table is the START/padding token (its text row is zero, so it is b_p plus
// its id vector). Every parameter lives in one ParamStore (engine/params.h), so the meta
// learner snapshots and restores theta with one memcpy.
#pragma once
#include <cmath>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/ops.h"
#include "engine/rec/item_tower.h"
#include "engine/rec/sampled.h"
#include "engine/params.h"
#include "engine/metrics/metrics.h"
#include "engine/tape.h"
#include "base/tensor.h"

namespace mr::rec {

// model.pool: where the user tower is read: START, the masked mean, or the most recent item
enum class UserPool { Cls, Mean, Recent };
// model.score: <u, v>, or cosine (u and the output-side v L2-normalised)
enum class Score { Dot, Cos };
// loss.weighting: fixed weights, or learned log-variances (Kendall et al. 2018)
enum class Weighting { Fixed, Uncertainty };
// meta.scope: the parameters the inner loop adapts: the head, head + user tower, or all
enum class Scope { Head, User, All };

struct ModelConfig {
  int dim = 64;          // C: item and user vectors
  int heads = 2;
  int layers = 1;        // user-tower transformer layers
  int ffn = 128;
  int max_history = 10;  // T: history items the user tower reads (plus START)
  UserPool pool = UserPool::Cls;
  float tau = 8.0f;      // score = <u, v> / tau
  Score score = Score::Dot;
  float dropout = 0.1f;
  bool item_id = true;   // add a learned per-item vector to the text projection
  bool item_bias = true; // per-item score bias (popularity)
  uint64_t seed = 0;
  int negatives = 0;                // loss.negatives: 0 = full softmax over every item
  SamplerKind sampler = SamplerKind::Uniform;  // loss.sampler
  double alpha = 1.0;               // loss.alpha: popularity^alpha
  // task families on the sampled candidates: next-item ranking (sampled softmax), click (sigmoid
  // BCE of the same scores, the label column positive, the other columns negative) and rating
  // (MSE of a head r = a s + c on the label's score, rows with a finite signal)
  std::vector<float> loss_weights = {1.0f, 0.0f, 0.0f};  // loss.weights: rank, click, rating
  Weighting weighting = Weighting::Fixed;                 // loss.weighting
  float rating_bias = 3.5f;                               // loss.rating_bias: c at init (a = 0)
  bool multitask() const {
    return weighting == Weighting::Uncertainty || loss_weights.size() != 3 || loss_weights[0] != 1.0f || loss_weights[1] != 0.0f ||
           loss_weights[2] != 0.0f;
  }
};

// One training/evaluation batch: B histories (chronological, any length; the last max_history
// are read), B targets (-100 = no target) and the targets' signals (ratings; NaN = none).
struct Batch {
  std::vector<std::vector<uint32_t>> history;
  std::vector<int32_t> target;
  std::vector<float> signal;
  size_t size() const { return history.size(); }
  void add(std::vector<uint32_t> h, int32_t t, float s = std::nanf("")) {
    history.push_back(std::move(h));
    target.push_back(t);
    signal.push_back(s);
  }
};

class RecModel {
 public:
  // emb: (n_items, D) row-major text embeddings of every item (copied, then normalised).
  RecModel(const ModelConfig& cfg, const std::vector<float>& emb, int64_t n_items, int64_t D);
  // A trainable top of the item tower: the top layers are declared last (after head.*), loaded
  // from top.weights after init; top.cache holds the frozen bottom's hidden states of every item.
  RecModel(const ModelConfig& cfg, const ItemBertSpec& top);

  // Moves the model (its parameters, item embeddings or hidden-state cache, tables) to be's
  // device; batches then run on tapes of that backend (fp32 activations). Any cached item table
  // is dropped. The host builds each batch's index tensors and uploads them.
  void to(const Backend& be);
  const Backend& backend() const { return be_; }

  ParamStore& params() { return ps_; }
  const ModelConfig& config() const { return cfg_; }
  int64_t n_items() const { return n_items_; }

  // HF-style init: N(0, 0.02) matrices, zero biases, LayerNorm 1/0; W_p ~ N(0, 1/D); the head
  // starts as the identity; id vectors and item biases start at zero (text only).
  void init(uint64_t seed);

  // Logits (B, N+1) for a batch.
  Var* logits(Tape& t, const Batch& b);
  // Mean cross-entropy of the batch targets: full softmax over every item (negatives = 0) or
  // the sampled softmax; its negatives come from the tape's seed and the next counters of its
  // stream (t.set_rng fixes them: the same seed and offset give the same candidates).
  Var* loss(Tape& t, const Batch& b);
  // The sampled softmax over given candidates (engine/rec/sampled.h).
  Var* loss(Tape& t, const Batch& b, const Candidates& c);
  // Item counts for loss.sampler = popularity (one per item, e.g. training interactions).
  void set_item_counts(const std::vector<double>& counts);
  // The candidates a sampled-softmax loss(t, b) drew: its column items and each column's log
  // expected count (the logQ correction is its negation; labels and masking follow from the
  // batch's targets, engine/rec/sampled.h). While record_candidates(out) is set (non-null), every
  // such loss appends its draw to *out, in call order (train --dump-tasks, for bench/torch_twin).
  struct Drawn {
    std::vector<int32_t> items;
    std::vector<double> log_q;
  };
  void record_candidates(std::vector<Drawn>* out) { record_ = out; }
  // Scores of every item (n_items) for one history, no gradient: users() then score_users().
  std::vector<float> score(Tape& t, const std::vector<uint32_t>& history);
  // (B, C) user vectors of the batch's histories at the current parameters: dropout off, no
  // gradient, on the model's device (the item table is read from the cache when set).
  Var* users(Tape& t, const Batch& b);
  // Scores (R, n_items) of user vectors U (R, C) against every item, one product for all R
  // (the evaluator's tiles); written to the host rows `out` (R x n_items, row-major).
  void score_users(Tape& t, Var* U, std::span<float> out);
  // Ranking on the model's backend (the evaluator's tiles, baselines::Model::rank_tile): the same
  // scores as score_users, ranked where they are computed (kernels/ops.def topk_merge and
  // topk_count): row r as queries[r] says; only the top k (<= 2048) ids and the targets' counts
  // come back (out[r]). item_tile > 0 and < n_items: the items are scored item_tile at a time (a
  // running top merged tile by tile, the targets' counts in a second pass over the tiles), so the
  // scores held are R x item_tile; otherwise one product, as score_users.
  void rank_users(Tape& t, Var* U, std::span<const metrics::RankQuery> queries, std::span<const uint8_t> candidate,
                  size_t k, size_t item_tile, std::span<metrics::Ranking> out);

  // Evaluation-time cache of the item table V (N+1, C): while set, logits() reads it instead of
  // recomputing V, and the item tower gets no gradient. Valid only while the "item." parameters
  // do not change (adaptation scopes head and user); clear it before training again.
  void cache_item_table();
  void clear_item_table() { vcache_ = OwnedTensor(); }
  bool item_table_cached() const { return vcache_->defined(); }

  // Training-time item table, once per outer step instead of once per loss: begin_step()
  // computes V at the current item-tower parameters; until end_step(), logits() reads it as a
  // leaf whose gradient (whenever the item tower is trainable, i.e. not frozen by the meta
  // learner's inner loop) goes into dV. Either dV accumulates over every task's backward passes
  // and end_step(1/n) takes the meta-batch mean, or dV is handed to MetaLearner::set_extra_grad,
  // which accumulates, reduces across ranks and averages it, and end_step(1). end_step(scale)
  // backpropagates scale * dV through the item tower into the item parameters' gradients and
  // leaves step mode. Exact (the item tower is linear in its
  // output's gradient) as long as nothing changes the "item." parameters inside the step: the
  // adapt scopes head and user, not all.
  void begin_step();
  void end_step(float scale);
  bool in_step() const { return in_step_; }
  // dV in step mode, for MetaLearner::set_extra_grad
  float* step_table_grad() { return dvstep_->f32(); }
  int64_t step_table_numel() const { return dvstep_->numel(); }

  // ---- for the task-batched meta-batch (engine/rec/batched.h), in step mode only
  // The user tower up to the head: pooled features (B, C) of the batch's histories, reading the
  // step table (returned in *V: its gradient goes to dV when the tape records one).
  Var* step_features(Tape& t, const Batch& b, Var** V);
  // Logits (B, N+1) = (out(u) out(V)^T + bias) / tau of head outputs u, as logits() computes them.
  Var* step_scores(Tape& t, Var* u, Var* V);
  Param& head_weight() { return *head_w_; }  // (C, C)
  Param& head_bias() { return *head_b_; }    // (C)

  // Parameter-name prefixes: "item." (item tower), "user." (transformer), "head." (user head;
  // "head.rating.*" the rating head), "loss." (the uncertainty weights: never in a scope).
  static bool in_scope(Scope scope, const std::string& name);

 private:
  void declare(int64_t D, const ItemBertSpec* top);
  // Rows `rows` (null: every row, 0..N) of the item table (R, C).
  Var* item_table(Tape& t, const std::vector<int32_t>* rows);
  bool item_tower_frozen() const;
  OwnedTensor vstep_, dvstep_;  // (N+1, C) in step mode: V and its accumulated gradient (kept between steps)
  std::unique_ptr<Arena> step_arena_;  // begin_step/end_step's tape memory (kept between steps)
  bool in_step_ = false;
  // With a trainable top and no cached table, batches use a table of only the rows they need.
  bool local_table() const { return bert_ && !vcache_->defined(); }
  // (B, C) user vectors; V's row of item i is local[i] (empty local: row i).
  Var* user_vectors(Tape& t, const Batch& b, Var* V, const std::vector<int32_t>& local);
  Var* user_features(Tape& t, const Batch& b, Var* V, const std::vector<int32_t>& local);  // before the head
  Var* sampled_loss(Tape& t, const Batch& b);
  // the scoring side of u or of item rows: themselves ("dot") or L2-normalised ("cos")
  Var* out_rows(Tape& t, Var* x) const;
  // The click and rating losses and the weighted total, given the rank loss and raw scores lg (B, M).
  Var* combine(Tape& t, const Batch& b, const Candidates& cd, Var* rank, Var* lg);

  ModelConfig cfg_;
  int64_t n_items_, D_;
  ParamStore ps_;
  void check_tape(Tape& t) const;  // t runs on this model's device in f32
  Backend be_;          // where the model lives (the CPU until to())
  OwnedTensor emb_;     // (N+1, D)
  OwnedTensor vcache_;  // (N+1, C) when cached
  struct Layer { Param *qkv_w, *qkv_b, *o_w, *o_b, *ln1_g, *ln1_b, *f1_w, *f1_b, *f2_w, *f2_b, *ln2_g, *ln2_b; };
  Param *proj_w_, *proj_b_, *id_ = nullptr, *bias_ = nullptr, *pos_, *type_, *ln0_g_, *ln0_b_, *head_w_, *head_b_;
  std::vector<Layer> layers_;
  std::unique_ptr<ItemBert> bert_;
  Param *rating_w_ = nullptr, *rating_b_ = nullptr, *log_var_ = nullptr;
  std::unique_ptr<NegativeSampler> sampler_;
  std::vector<Drawn>* record_ = nullptr;  // record_candidates

};

}  // namespace mr::rec
