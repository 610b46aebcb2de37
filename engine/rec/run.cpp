// A run's parts from its config (engine/rec/run.h).
#include "engine/rec/run.h"

#include <cstdio>

#include "base/check.h"
#include "engine/data/kg.h"
#include "engine/data/prepared.h"
#include "engine/data/readers.h"
#include "engine/rec/item_data.h"

namespace mr::rec {

data::Dataset load_data(const Config& c) {
  const std::string& path = c.data.path;
  if (path.empty()) throw Error("no data: give --data DIR or data.path");
  data::LoadOptions o;
  auto ds = data::load_dataset(path, o);
  // KG text made by metarec prepare --kg ranks titles by one split's training part: refuse a run
  // on another split (its own validation or test interactions may have chosen titles)
  if (data::PreparedDataset::is_prepared(path)) {
    const DataConfig& d = c.data;
    data::ColdUserOptions cu;
    cu.seed = uint64_t(d.seed);
    cu.min_interactions = size_t(d.min_inter);
    cu.max_interactions = size_t(d.max_inter);
    cu.test_fraction = d.test_fraction;
    cu.valid_fraction = d.valid_fraction;
    const std::string why =
        data::kg_split_mismatch(data::PreparedDataset::open(path, false).meta(), data::kg_split_desc(name(d.protocol), cu));
    if (!why.empty())
      throw Error(fmt::format("data {}: {} (data.protocol, data.seed, ...): prepare it again with this split "
                              "(metarec prepare --kg --protocol ... --seed ...)",
                              path, why));
  }
  std::string s = ds.report.summary();
  if (!s.empty()) std::fprintf(stderr, "%s: %s", path.c_str(), s.c_str());
  return ds;
}

data::Split make_split(const Config& c, const data::Dataset& ds, size_t k_shot) {
  const DataConfig& d = c.data;
  if (is_loo(d.protocol)) return data::split_loo(ds, size_t(d.max_history), d.protocol == Protocol::LooMirror);
  data::ColdUserOptions o;
  o.seed = uint64_t(d.seed);
  o.k_shot = k_shot;
  o.min_interactions = size_t(d.min_inter);
  o.max_interactions = size_t(d.max_inter);
  o.test_fraction = d.test_fraction;
  o.valid_fraction = d.valid_fraction;
  return data::split_cold_user(ds, o);
}

ModelConfig model_config(const Config& c) {
  const ModelSettings& s = c.model;
  ModelConfig m;
  m.dim = int(s.dim);
  m.heads = int(s.heads);
  m.layers = int(s.layers);
  m.ffn = int(s.ffn);
  m.max_history = int(s.max_history);
  m.pool = s.pool;
  m.tau = float(s.tau);
  m.score = s.score;
  m.dropout = float(s.dropout);
  m.item_id = s.item_id;
  m.item_bias = s.item_bias;
  m.seed = uint64_t(c.train.seed);
  m.negatives = int(c.loss.negatives);
  m.sampler = c.loss.sampler;
  m.alpha = c.loss.alpha;
  m.loss_weights.assign(c.loss.weights.begin(), c.loss.weights.end());
  m.weighting = c.loss.weighting;
  m.rating_bias = float(c.loss.rating_bias);
  return m;
}

meta::MetaConfig meta_config(const Config& c) {
  return {c.meta.algorithm, int(c.meta.inner_steps), float(c.meta.inner_lr)};
}

std::unique_ptr<RecModel> build_model(const Config& c, const data::Dataset& ds, const std::vector<float>& emb,
                                      int64_t D, const ItemBertSpec* spec) {
  std::unique_ptr<RecModel> m;
  if (c.encoder.train_layers > 0)
    m = std::make_unique<RecModel>(model_config(c), spec ? *spec : item_bert_spec(c, ds));
  else m = std::make_unique<RecModel>(model_config(c), emb, int64_t(ds.n_items()), D);
  if (c.loss.negatives > 0) m->set_item_counts(train_item_counts(c, ds));
  return m;
}

std::unique_ptr<meta::MetaLearner> make_learner(const Config& c, RecModel& m) {
  const Scope scope = c.meta.scope;
  return std::make_unique<meta::MetaLearner>(m.params(), [scope](const std::string& n) { return RecModel::in_scope(scope, n); },
                                             meta_config(c), m.backend());
}

void move_run(LoadedRun& r, const Backend& be) {
  if (be.dev == r.model->backend().dev) return;
  ParamStore* old_rates = r.ml->inner_rates();
  HostTensor rates = old_rates ? host_copy(old_rates->flat_params()) : HostTensor();
  r.ml.reset();
  r.model->to(be);
  r.ml = make_learner(r.cfg, *r.model);
  if (ParamStore* nr = r.ml->inner_rates()) copy(nr->flat_params(), *rates);
}

}  // namespace mr::rec
