// Run configuration: every key a run reads, as a typed field with its default (below), set by a
// TOML file (engine/rec/toml.h), then --data/--model, then `--set section.key=value` arguments.
// Each value is checked and parsed once, here: an unknown key, a wrongly typed value or an enum
// value outside its list is an error that names the file and line (or the --set option, or
// config.json) and, for an enum, the allowed values. Nothing outside config.cpp looks a key up
// by its name. config.json / config.toml in a run folder are to_json() / to_toml().
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/meta/meta.h"
#include "engine/rec/item_tower.h"
#include "engine/rec/model.h"
#include "engine/rec/sampled.h"

namespace mr::rec {

enum class Protocol { ColdUser, Loo, LooMirror };  // docs/data.md
enum class EncoderDevice { Cpu, Cuda };            // where the frozen encoder (encoder.device) or training (train.device) runs
enum class Precision { Fp32, Bf16, Tf32 };         // bf16, tf32: on cuda only
enum class TaskTarget { Auto, Future, Next };      // auto: next for loo, future for cold-user
enum class Decay { Cosine, Linear, None };
enum class Part { Test, Valid };

struct DataConfig {
  std::string path;
  Protocol protocol = Protocol::ColdUser;
  int64_t seed = 0;
  int64_t min_inter = 13, max_inter = 100;  // cold-user: the users kept
  double test_fraction = 0.2, valid_fraction = 0.1;
  int64_t max_history = 50;  // loo
};

// the text encoder (frozen; its pooled item embeddings are computed once and cached)
struct EncoderSettings {
  std::string model = "models/all-MiniLM-L6-v2";
  ItemPool pool = ItemPool::Mean;
  int64_t max_len = 32, batch = 64;
  std::string cache = "build/cache";
  std::string embeddings;  // an .npy of pooled item embeddings instead (`metarec embed`)
  EncoderDevice device = EncoderDevice::Cpu;  // cuda: build/metarec-cuda
  Precision precision = Precision::Fp32;
  // the top train_layers layers train (0: all frozen, the pooled embeddings are cached); the
  // frozen bottom's hidden states are then cached instead
  int64_t train_layers = 0;
};

struct ModelSettings {
  int64_t dim = 64, heads = 2, layers = 1, ffn = 128, max_history = 10;
  UserPool pool = UserPool::Cls;
  double tau = 8.0, dropout = 0.1;
  bool item_id = true, item_bias = true;
  // dot: (<u, v> + b) / tau; cos: (<u, v> / (|u| |v|) + b) / tau (tau ~ 0.05-0.1)
  Score score = Score::Dot;
};

// full softmax over every item (negatives = 0) or sampled softmax with `negatives` sampled items
// per batch (uniform, or popularity^alpha) plus the in-batch targets
struct LossSettings {
  int64_t negatives = 0;
  SamplerKind sampler = SamplerKind::Uniform;
  double alpha = 1.0;
  // task families (need negatives > 0): rank, click BCE, rating MSE weights, fixed or learned
  // (uncertainty: sum exp(-s_i) L_i + s_i); the rating head r = a s + c starts at a = 0, c = rating_bias
  std::vector<double> weights = {1.0, 0.0, 0.0};
  Weighting weighting = Weighting::Fixed;
  double rating_bias = 3.5;
};

// a task is a user; support = K interactions, query = up to query_size later items
struct TaskSettings {
  std::vector<int> k_shots = {1, 3, 5, 10};
  int64_t query_size = 16;
  TaskTarget target = TaskTarget::Auto;
  int64_t next_positions = 1;  // target next: the query predicts this many items after the cut
};

struct MetaSettings {
  meta::Algorithm algorithm = meta::Algorithm::FOMAML;
  int64_t inner_steps = 1;
  double inner_lr = 0.5;
  Scope scope = Scope::Head;
};

// outer optimisation
struct TrainSettings {
  int64_t steps = 1500, meta_batch = 16;
  double lr = 3e-3, weight_decay = 0.01;
  // AdamW's epsilon (PyTorch's default). A gradient far below it moves a weight by about
  // lr |g| / eps, so at |g| ~ 1e-9 (rounding noise of a cancelling sum) a step still moves it
  // by up to lr/10: two backends that differ only in rounding then differ visibly there.
  double adam_eps = 1e-8;
  int64_t warmup = 100;
  Decay decay = Decay::Cosine;
  double clip = 1.0;
  int64_t seed = 0, log_every = 25, ckpt_every = 500, threads = 1;
  // the item table computed once per outer step, its gradient accumulated (scope head/user)
  bool step_item_table = true;
  // the meta-batch's tasks adapted together (engine/rec/batched.h): scope head, the per-step
  // item table and the full softmax; off: one task after another (MetaLearner::task)
  bool batch_tasks = false;
  // where the meta-training steps and the run's evaluation run (cuda: build/metarec-cuda;
  // fp32, tf32 or bf16)
  EncoderDevice device = EncoderDevice::Cpu;
  Precision precision = Precision::Fp32;
  // the GPU of each process on a node, indexed by its local rank (empty: GPU = local rank)
  std::vector<int> gpus;
};

struct EvalSettings {
  std::vector<int> k_shots = {1, 3, 5, 10}, ks = {10, 50};
  std::vector<std::string> baselines = {"pop", "itemknn", "bpr"};
  int64_t adapt_steps = -1;  // < 0: meta.inner_steps (0 for meta.algorithm = none)
  Part part = Part::Test;
  // hybrids: extra rows ranking by the mixture log((1-W) softmax(model) + W p_NAME), "NAME:W"
  // (engine/baselines/mixture.h); knn_shrink / knn_decay: ItemKNN's shrinkage and recency
  // weight (baseline and blends)
  std::vector<std::string> blend;
  double knn_shrink = 0.0, knn_decay = 1.0;
  // cases scored at once (their scores, tile x items floats, are what evaluation holds);
  // 0: as many as 64 MiB of scores hold, within [16, 1024] (engine/baselines/evaluate.h)
  int64_t tile = 0;
  // write OUT/cases.jsonl: one line per row x K x case (model, k_shot, part, case, user,
  // recall@K / ndcg@K for eval.ks, mrr, auc), for paired statistics (tools/experiment.py)
  bool per_case = false;
  // non-meta runs: the "non-meta + fine-tune" rows, one per "STEPS:LR" (SGD steps on the support
  // set at rate LR, meta.scope); empty: one row with meta.inner_steps at meta.inner_lr (when
  // eval.adapt_steps < 0)
  std::vector<std::string> finetune;
};

struct Config {
  DataConfig data;
  EncoderSettings encoder;
  ModelSettings model;
  LossSettings loss;
  TaskSettings task;
  MetaSettings meta;
  TrainSettings train;
  EvalSettings eval;

  void load_toml(const std::string& path);
  void load_toml_text(const std::string& text, const std::string& origin);
  void set(const std::string& key_eq_value);  // --set "section.key=value" (value in TOML syntax, or a bare string)
  // One key from a JSON value; errors name `where`. A string "a,b" sets a list.
  void set_json(const std::string& key, const nlohmann::json& v, const std::string& where);
  static Config from_json(const nlohmann::json& j, const std::string& origin = "config.json");  // a resolved config.json
  nlohmann::json to_json() const;  // flat: {"model.dim": 64, ...}
  std::string to_toml() const;
};

// The config's spelling of an enum value ("cold-user", "fomaml", ...), and the value spelled s;
// an unknown s is an error "WHAT must be one of A, B, C; got 's'".
template <class E>
const char* name(E e);
template <class E>
E parse_enum(const std::string& s, const std::string& what);

inline bool is_loo(Protocol p) { return p != Protocol::ColdUser; }  // loo or loo-mirror

}  // namespace mr::rec
