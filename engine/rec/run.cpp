#include "engine/rec/run.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <thread>

#include <omp.h>

#include "engine/baselines/evaluate.h"
#include "engine/baselines/mixture.h"
#include "base/check.h"
#include "engine/comm/comm.h"
#include "engine/data/item_text.h"
#include "engine/data/prepared.h"
#include "engine/data/readers.h"
#include "engine/encoder.h"
#include "engine/optim.h"
#include "engine/progress.h"
#include "engine/rec/item_data.h"
#include "engine/rec/tasks.h"
#include "engine/io/checkpoint.h"
#include "weights/npy.h"

namespace fs = std::filesystem;

namespace mr::rec {

namespace {

uint64_t mix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void append_line(const std::string& path, const nlohmann::json& j) {
  std::ofstream f(path, std::ios::app);
  if (!f) throw Error(fmt::format("{}: cannot append", path));
  f << j.dump() << "\n";
}

void write_text(const std::string& path, const std::string& s) {
  std::ofstream f(path + ".tmp");
  if (!f) throw Error(fmt::format("{}: cannot write", path));
  f << s;
  f.close();
  fs::rename(path + ".tmp", path);
}

float lr_at(const Config& c, int64_t step) {
  const double lr = c.num("train.lr"), warm = double(c.integer("train.warmup")), total = double(c.integer("train.steps"));
  if (step < warm) return float(lr * double(step + 1) / warm);
  const double p = total > warm ? std::min(1.0, (double(step) - warm) / (total - warm)) : 1.0;
  const std::string d = c.str("train.decay");
  if (d == "cosine") return float(lr * 0.5 * (1.0 + std::cos(M_PI * p)));
  if (d == "linear") return float(lr * (1.0 - p));
  if (d == "none") return float(lr);
  throw Error(fmt::format("train.decay must be cosine, linear or none, got '{}'", d));
}

// The dropout stream of task b of a step: its own 2^24 Philox counters, so a task's masks do not
// depend on which tasks ran before it on the same tape (or on another rank).
uint64_t task_rng_offset(int64_t step, int64_t b) { return (uint64_t(step) << 40) | (uint64_t(b) << 24); }

// Multi-process start: every rank takes rank 0's parameters, AdamW state, step and seed (rank 0
// may have resumed from a checkpoint the others cannot see). One call per ParamStore.
void sync_from_root(comm::Communicator& cm, ParamStore& ps, AdamW* opt, TrainState* st) {
  if (cm.size() == 1) return;
  double head[4] = {st ? double(st->step) : 0.0, opt ? double(opt->t()) : 0.0,  // exact below 2^53
                    st ? double(st->rng_seed >> 32) : 0.0, st ? double(st->rng_seed & 0xffffffffu) : 0.0};
  cm.broadcast(head, 4, 0);
  if (st) {
    st->step = int64_t(head[0]);
    st->rng_seed = (uint64_t(head[2]) << 32) | uint64_t(head[3]);
  }
  cm.broadcast(ps.flat_params().f32(), ps.numel(), 0);
  if (opt) {
    opt->set_t(int(head[1]));
    cm.broadcast(opt->m().f32(), ps.numel(), 0);
    cm.broadcast(opt->v().f32(), ps.numel(), 0);
  }
}

std::string target_mode(const Config& c) {
  std::string t = c.str("task.target");
  if (t == "auto") t = data::is_loo(c.str("data.protocol")) ? "next" : "future";
  MR_CHECK(t == "next" || t == "future", "task.target must be auto, next or future, got '{}'", t);
  return t;
}

}  // namespace

data::Dataset load_data(const Config& c) {
  const std::string path = c.str("data.path");
  if (path.empty()) throw Error("no data: give --data DIR or data.path");
  data::LoadOptions o;
  auto ds = data::load_dataset(path, o);
  std::string s = ds.report.summary();
  if (!s.empty()) std::fprintf(stderr, "%s: %s", path.c_str(), s.c_str());
  return ds;
}

data::Split make_split(const Config& c, const data::Dataset& ds, size_t k_shot) {
  const std::string p = c.str("data.protocol");
  if (data::is_loo(p)) return data::split_loo(ds, size_t(c.integer("data.max_history")), p == "loo-mirror");
  if (p != "cold-user") throw Error(fmt::format("data.protocol must be cold-user, loo or loo-mirror, got '{}'", p));
  data::ColdUserOptions o;
  o.seed = uint64_t(c.integer("data.seed"));
  o.k_shot = k_shot;
  o.min_interactions = size_t(c.integer("data.min_inter"));
  o.max_interactions = size_t(c.integer("data.max_inter"));
  o.test_fraction = c.num("data.test_fraction");
  o.valid_fraction = c.num("data.valid_fraction");
  return data::split_cold_user(ds, o);
}

ModelConfig model_config(const Config& c) {
  ModelConfig m;
  m.dim = int(c.integer("model.dim"));
  m.heads = int(c.integer("model.heads"));
  m.layers = int(c.integer("model.layers"));
  m.ffn = int(c.integer("model.ffn"));
  m.max_history = int(c.integer("model.max_history"));
  m.pool = c.str("model.pool");
  m.tau = float(c.num("model.tau"));
  m.score = c.str("model.score");
  m.dropout = float(c.num("model.dropout"));
  m.item_id = c.flag("model.item_id");
  m.item_bias = c.flag("model.item_bias");
  m.seed = uint64_t(c.integer("train.seed"));
  m.negatives = int(c.integer("loss.negatives"));
  m.sampler = c.str("loss.sampler");
  m.alpha = c.num("loss.alpha");
  m.loss_weights = c.json().at("loss.weights").get<std::vector<float>>();
  m.weighting = c.str("loss.weighting");
  m.rating_bias = float(c.num("loss.rating_bias"));
  return m;
}

meta::MetaConfig meta_config(const Config& c) {
  meta::MetaConfig m;
  m.algorithm = c.str("meta.algorithm");
  m.inner_steps = int(c.integer("meta.inner_steps"));
  m.inner_lr = float(c.num("meta.inner_lr"));
  return m;
}

std::vector<std::string> item_texts(const data::Dataset& ds) {
  data::TextTemplate tt(data::default_template(ds));
  return data::render_items(ds, tt, {});
}

uint64_t item_text_key(const Config& c, const std::vector<std::string>& texts) {
  const std::string model = c.str("encoder.model");
  uint64_t h = data::fnv1a64(model.data(), model.size());
  std::string key = fmt::format("{}|{}|{}", c.str("encoder.pool"), c.integer("encoder.max_len"), texts.size());
  // reduced precision gives other embeddings; fp32 on either device keys as before
  if (c.str("encoder.precision") != "fp32") key += "|" + c.str("encoder.precision");
  h = data::fnv1a64(key.data(), key.size(), h);
  for (auto& t : texts) h = data::fnv1a64(t.data(), t.size() + 1, h);
  // the model's weights: size and modification time of its safetensors
  for (auto* f : {"model.safetensors", "config.json"}) {
    std::error_code ec;
    auto sz = fs::file_size(fs::path(model) / f, ec);
    if (!ec) h = data::fnv1a64(&sz, sizeof sz, h);
  }
  return h;
}

std::vector<float> item_embeddings(const Config& c, const data::Dataset& ds, int64_t* D) {
  // checked even when the embeddings come from a file or the cache, so a typo fails every time
  const Backend be = parse_backend(c.str("encoder.device"), c.str("encoder.precision"), "encoder.device/encoder.precision");
  if (const std::string pre = c.str("encoder.embeddings"); !pre.empty()) {  // e.g. `metarec embed` output
    int64_t rows = 0;
    auto v = read_npy_f32(pre, &rows, D);
    if (rows != int64_t(ds.n_items()))
      throw Error(fmt::format("{}: {} rows, the data has {} items", pre, rows, ds.n_items()));
    return v;
  }
  std::vector<std::string> texts = item_texts(ds);
  const std::string model = c.str("encoder.model");
  const uint64_t h = item_text_key(c, texts);
  const std::string cache = c.str("encoder.cache");
  const std::string file = cache.empty() ? "" : fmt::format("{}/emb-{:016x}.npy", cache, h);
  if (!file.empty() && fs::exists(file)) {
    int64_t rows = 0;
    auto v = read_npy_f32(file, &rows, D);
    MR_CHECK(rows == int64_t(ds.n_items()), "{}: {} rows for {} items", file, rows, ds.n_items());
    std::fprintf(stderr, "item embeddings: %s (cached)\n", file.c_str());
    return v;
  }
  init_backend(be);
  TextEncoder enc(model, be);
  EmbedOptions eo;
  eo.pool = c.str("encoder.pool");
  eo.normalize = 1;
  eo.max_len = int(c.integer("encoder.max_len"));
  eo.batch = int(c.integer("encoder.batch"));
  Progress bar(be.dev == Device::CPU ? "embed items" : "embed items (" + be.str() + ")", int64_t(texts.size()), "items");
  auto v = enc.embed(texts, eo, [&](size_t d) { bar.update(int64_t(d)); });
  bar.finish();
  *D = enc.config().hidden_size;
  if (!file.empty()) {
    fs::create_directories(cache);
    write_npy_f32(file, v.data(), int64_t(texts.size()), *D);
  }
  return v;
}

Batch support_batch(const std::vector<uint32_t>& h, size_t max_examples) {
  Batch b;
  const size_t n = h.size(), from = n > max_examples ? n - max_examples : 0;
  for (size_t j = from; j < n; ++j) b.add(std::vector<uint32_t>(h.begin(), h.begin() + j), int32_t(h[j]));
  return b;
}

// ------------------------------------------------------------------ scorer
AdaptedScorer::AdaptedScorer(std::string name, RecModel& m, meta::MetaLearner& ml, int adapt_steps, float lr,
                             bool item_tower_fixed)
    : name_(std::move(name)), m_(m), ml_(ml), steps_(adapt_steps), lr_(lr), tape_(std::make_unique<Tape>(arena_)) {
  tape_->set_training(false);
  // adaptation does not touch the item tower: compute the item table once
  if (item_tower_fixed || steps_ == 0) m_.cache_item_table();
}

AdaptedScorer::~AdaptedScorer() { m_.clear_item_table(); }

std::vector<float> AdaptedScorer::scores(const std::vector<uint32_t>& history) const {
  std::lock_guard<std::mutex> lk(mu_);
  std::vector<float> s;
  if (steps_ > 0 && !history.empty()) {
    ml_.snapshot();
    Batch sb = support_batch(history, size_t(m_.config().max_history));
    try {
      ml_.adapt(*tape_, [&](Tape& t) { return m_.loss(t, sb); }, steps_, lr_);
      tape_->reset();
      s = m_.score(*tape_, history);
    } catch (...) {
      ml_.restore();
      throw;
    }
    ml_.restore();
  } else {
    tape_->reset();
    s = m_.score(*tape_, history);
  }
  tape_->reset();
  return s;
}

void AdaptedScorer::score(const data::EvalCase& c, std::span<float> out) const {
  auto s = scores(c.history);
  std::copy(s.begin(), s.begin() + std::min(s.size(), out.size()), out.begin());
}

// ------------------------------------------------------------------ loading
// spec: the trainable item tower's, when the caller has it (multi-process training: rank 0
// computed the hidden states, the others received them); else made here
static std::unique_ptr<RecModel> build_model(const Config& c, const data::Dataset& ds, const std::vector<float>& emb,
                                             int64_t D, const ItemBertSpec* spec = nullptr) {
  std::unique_ptr<RecModel> m;
  if (c.integer("encoder.train_layers") > 0)
    m = std::make_unique<RecModel>(model_config(c), spec ? *spec : item_bert_spec(c, ds));
  else m = std::make_unique<RecModel>(model_config(c), emb, int64_t(ds.n_items()), D);
  if (c.integer("loss.negatives") > 0) m->set_item_counts(train_item_counts(c, ds));
  return m;
}

LoadedRun load_run(const std::string& dir, const std::string& checkpoint) {
  LoadedRun r;
  std::ifstream f(dir + "/config.json");
  if (!f) throw Error(fmt::format("{}: not a metarec run (no config.json)", dir));
  nlohmann::json j;
  try { f >> j; } catch (const std::exception& e) { throw Error(fmt::format("{}/config.json: {}", dir, e.what())); }
  r.cfg = Config::from_json(j);
  if (r.cfg.str("encoder.device") != "cpu" && std::string(cuda_backend_kind()) == "none") {
    // where to compute belongs to the machine, not the run: what the frozen encoder gives
    // (the hidden states of trainable-layer runs, when not cached) is computed here on the CPU
    std::fprintf(stderr, "%s: trained with encoder.device = %s (%s); this binary has no CUDA backend, so the encoder "
                 "runs on the CPU in fp32\n", dir.c_str(), r.cfg.str("encoder.device").c_str(),
                 r.cfg.str("encoder.precision").c_str());
    r.cfg.set("encoder.device=cpu");
    r.cfg.set("encoder.precision=fp32");
  }
  r.ds = load_data(r.cfg);
  int64_t rows = 0, D = 0;
  auto emb = read_npy_f32(dir + "/item_emb.npy", &rows, &D);
  MR_CHECK(rows == int64_t(r.ds.n_items()), "{}/item_emb.npy: {} rows, the data has {} items", dir, rows, r.ds.n_items());
  r.model = build_model(r.cfg, r.ds, emb, D);
  const std::string ck = checkpoint.empty() ? latest_checkpoint(dir) : checkpoint;
  if (ck.empty()) throw Error(fmt::format("{}: no checkpoint", dir));
  r.step = load_checkpoint(ck, r.model->params(), nullptr).step;
  const std::string scope = r.cfg.str("meta.scope");
  r.ml = std::make_unique<meta::MetaLearner>(r.model->params(), [scope](const std::string& n) { return RecModel::in_scope(scope, n); },
                                             meta_config(r.cfg));
  if (ParamStore* rates = r.ml->inner_rates()) {
    const std::string rk = latest_checkpoint(dir + "/inner_rates");
    if (rk.empty()) throw Error(fmt::format("{}: metasgd run without inner_rates/ checkpoint", dir));
    load_checkpoint(rk, *rates, nullptr);
  }
  return r;
}

// ------------------------------------------------------------------ evaluation
static const char* kMetricKeys[] = {"recall@10", "ndcg@10", "recall@50", "ndcg@50", "mrr", "auc"};

std::string results_table(const std::vector<nlohmann::json>& results, const std::vector<int>& kshots) {
  std::string s = "| protocol | K | model | R@10 | N@10 | R@50 | N@50 | MRR | AUC | cases |\n"
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";
  std::vector<nlohmann::json> rows;
  for (auto& r : results)
    for (auto& row : r["rows"]) rows.push_back(row);
  std::vector<int> ks = kshots;
  if (ks.empty()) ks = {0};
  for (int k : ks) {
    std::vector<std::string> seen;
    for (auto& row : rows) {
      if (row.value("k_shot", 0) != k) continue;
      std::string name = row["model"].get<std::string>();
      if (std::find(seen.begin(), seen.end(), name) != seen.end()) continue;  // baselines repeat across runs
      seen.push_back(name);
      s += fmt::format("| {} | {} | {} |", row.value("protocol", ""), k ? std::to_string(k) : "-", name);
      for (auto* key : kMetricKeys) s += row.contains(key) ? fmt::format(" {:.4f} |", row[key].get<double>()) : " - |";
      s += fmt::format(" {} |\n", row.value("cases", 0));
    }
  }
  return s;
}

int eval_adapt_steps(const Config& c, int requested) {
  if (requested >= 0) return requested;
  const int steps = int(c.integer("eval.adapt_steps"));
  if (steps >= 0) return steps;
  return c.str("meta.algorithm") == "none" ? 0 : int(c.integer("meta.inner_steps"));
}

nlohmann::json evaluate(LoadedRun& r, const std::string& out) {
  const Config& c = r.cfg;
  const bool cold = c.str("data.protocol") == "cold-user";
  const std::vector<int> kshots = cold ? c.ints("eval.k_shots") : std::vector<int>{0};
  const int steps = eval_adapt_steps(c);
  const std::string alg = c.str("meta.algorithm");
  const std::string name = alg == "none" ? "non-meta (multi-task)" : fmt::format("meta ({}, k={})", alg, steps);
  const bool fixed = c.str("meta.scope") != "all";
  AdaptedScorer scorer(name, *r.model, *r.ml, steps, float(c.num("meta.inner_lr")), fixed);
  baselines::EvalOptions eo;
  eo.ks = c.ints("eval.ks");
  eo.part = c.str("eval.part");
  eo.mask_known = cold;
  nlohmann::json res = {{"protocol", c.str("data.protocol")}, {"rows", nlohmann::json::array()},
                        {"data", c.str("data.path")}, {"step", r.step}};
  for (int k : kshots) {
    data::Split sp = make_split(c, r.ds, size_t(std::max(k, 1)));
    std::vector<std::unique_ptr<baselines::Model>> models;
    baselines::Options bo;
    bo.seed = uint64_t(c.integer("data.seed"));
    bo.knn_shrink = c.num("eval.knn_shrink");
    bo.knn_decay = c.num("eval.knn_decay");
    for (auto& b : c.strs("eval.baselines")) models.push_back(baselines::make_model(b, bo));
    auto run_one = [&](const baselines::Model& m, double secs) {
      auto j = baselines::evaluate(sp, m, eo);
      j["k_shot"] = k;
      j["seconds"] = std::round(secs * 100) / 100;
      res["rows"].push_back(j);
      nlohmann::json line = {{"eval", true}, {"model", j["model"]}, {"k_shot", k}};
      for (auto* key : kMetricKeys)
        if (j.contains(key)) line[key] = j[key];
      if (!out.empty()) append_line(out + "/metrics.jsonl", line);
      std::fprintf(stderr, "eval K=%d %-28s R@10 %.4f N@10 %.4f\n", k, m.name().c_str(), j.value("recall@10", 0.0),
                   j.value("ndcg@10", 0.0));
    };
    double t0 = now_s();
    // the evaluator's threads all wait on the scorer's lock; adaptation itself uses them
    run_one(scorer, 0);
    res["rows"].back()["seconds"] = std::round((now_s() - t0) * 100) / 100;
    for (auto& spec : c.strs("eval.blend")) {
      std::string bname;
      double w = 0;
      baselines::parse_blend(spec, "eval.blend", &bname, &w);
      auto mx = baselines::make_mixture(baselines::borrow(scorer), baselines::make_model(bname, bo), w);
      t0 = now_s();
      mx->fit(sp);
      run_one(*mx, 0);
      res["rows"].back()["seconds"] = std::round((now_s() - t0) * 100) / 100;
    }
    if (alg == "none" && c.integer("eval.adapt_steps") < 0 && c.integer("meta.inner_steps") > 0) {
      AdaptedScorer ft("non-meta + fine-tune", *r.model, *r.ml, int(c.integer("meta.inner_steps")),
                       float(c.num("meta.inner_lr")), fixed);
      t0 = now_s();
      run_one(ft, 0);
      res["rows"].back()["seconds"] = std::round((now_s() - t0) * 100) / 100;
    }
    for (auto& m : models) {
      t0 = now_s();
      m->fit(sp);
      run_one(*m, 0);
      res["rows"].back()["seconds"] = std::round((now_s() - t0) * 100) / 100;
    }
  }
  for (auto& row : res["rows"]) row["protocol"] = c.str("data.protocol");
  if (!out.empty()) {
    write_text(out + "/results.json", res.dump(2) + "\n");
    write_text(out + "/results.md", results_table({res}, cold ? kshots : std::vector<int>{}));
  }
  return res;
}

// ------------------------------------------------------------------ training
nlohmann::json train(const Config& c, const std::string& out, bool resume, comm::Communicator* comm) {
  std::unique_ptr<comm::Communicator> single;
  if (!comm) single = comm::make_communicator("single");
  comm::Communicator& cm = comm ? *comm : *single;
  const int rank = cm.rank(), nranks = cm.size();
  const bool root = rank == 0;  // only rank 0 writes the run folder and reports
  if (c.str("data.protocol") == "loo-mirror" && c.str("eval.part") == "test")
    throw Error("data.protocol = loo-mirror has no test part (it is for choosing settings): set eval.part = valid");
  if (root) fs::create_directories(out);
  const double t_start = now_s();
  LoadedRun r;
  r.cfg = c;
  r.ds = load_data(c);  // every rank loads the (small) dataset and draws the same tasks
  int64_t D = 0;
  std::vector<float> emb;
  if (root) emb = item_embeddings(c, r.ds, &D);  // rank 0 embeds (or reads the cache), the others receive
  if (nranks > 1) {
    comm::UnwatchedWait solo(cm);  // rank 0 may embed the catalogue for a long time
    double d = double(D);
    cm.broadcast(&d, 1, 0);
    D = int64_t(d);
    emb.resize(r.ds.n_items() * size_t(D));
    cm.broadcast(emb.data(), int64_t(emb.size()), 0);
  }
  if (root) write_npy_f32(out + "/item_emb.npy", emb.data(), int64_t(r.ds.n_items()), D);
  // the towers' matrices are small: extra threads cost more than they give (0: OpenMP's default)
  if (c.integer("train.threads") > 0) omp_set_num_threads(int(c.integer("train.threads")));
  if (root) {
    write_text(out + "/config.json", c.json().dump(2) + "\n");
    write_text(out + "/config.toml", c.to_toml());
  }
  // trainable top layers: rank 0 computes (or reads) the frozen bottom's hidden states once and
  // sends them, so N ranks neither compute them N times nor write one cache file together
  std::optional<ItemBertSpec> spec;
  if (c.integer("encoder.train_layers") > 0 && nranks > 1) {
    spec = item_bert_spec(c, r.ds, root);
    comm::UnwatchedWait solo(cm);  // rank 0 may run the encoder over the catalogue for a long time
    HiddenCache h = root ? *spec->cache : HiddenCache{};
    double dims[3] = {double(h.n), double(h.T), double(h.H)};
    cm.broadcast(dims, 3, 0);
    h.n = int64_t(dims[0]), h.T = int64_t(dims[1]), h.H = int64_t(dims[2]);
    std::vector<float> len(h.len.begin(), h.len.end());  // token counts <= 512: exact in float
    len.resize(size_t(h.n));
    h.h.resize(size_t(h.n * h.T * h.H));
    cm.broadcast(len.data(), h.n, 0);
    cm.broadcast(h.h.data(), int64_t(h.h.size()), 0);
    h.len.assign(len.begin(), len.end());
    spec->cache = std::make_shared<const HiddenCache>(std::move(h));
  }
  r.model = build_model(c, r.ds, emb, D, spec ? &*spec : nullptr);
  RecModel& m = *r.model;
  ParamStore& ps = m.params();
  const std::string scope = c.str("meta.scope");
  r.ml = std::make_unique<meta::MetaLearner>(ps, [scope](const std::string& n) { return RecModel::in_scope(scope, n); },
                                             meta_config(c));
  meta::MetaLearner& ml = *r.ml;
  AdamWConfig ac;
  ac.lr = float(c.num("train.lr"));
  ac.weight_decay = float(c.num("train.weight_decay"));
  AdamW opt(ps, ac);
  std::unique_ptr<AdamW> rate_opt;  // metasgd: the learned inner rates
  if (ml.inner_rates()) {
    AdamWConfig rc = ac;
    rc.weight_decay = 0;
    rate_opt = std::make_unique<AdamW>(*ml.inner_rates(), rc);
  }
  TrainState st;
  st.rng_seed = uint64_t(c.integer("train.seed"));
  st.config = c.json().dump();
  if (resume && root) {
    std::string ck = latest_checkpoint(out);
    if (!ck.empty()) {
      st = load_checkpoint(ck, ps, &opt);
      std::fprintf(stderr, "resumed from %s at step %lld\n", ck.c_str(), (long long)st.step);
      if (rate_opt) load_checkpoint(latest_checkpoint(out + "/inner_rates"), *ml.inner_rates(), rate_opt.get());
    }
  } else if (root) {
    std::error_code ec;
    fs::remove(out + "/metrics.jsonl", ec);
  }
  sync_from_root(cm, ps, &opt, &st);
  if (rate_opt) sync_from_root(cm, *ml.inner_rates(), rate_opt.get(), nullptr);

  // tasks: the training users' sequences
  const auto kshots = c.ints("task.k_shots");
  MR_CHECK(!kshots.empty(), "task.k_shots is empty");
  const int kmax = *std::max_element(kshots.begin(), kshots.end());
  data::Split sp = make_split(c, r.ds, size_t(std::max(kmax, 1)));
  const std::vector<UserSeq> seqs = task_sequences(sp, r.ds.n_users());
  const TaskOptions topt{kshots, target_mode(c), size_t(c.integer("task.query_size")),
                         size_t(std::max<int64_t>(1, c.integer("task.next_positions")))};
  const int64_t steps = c.integer("train.steps"), mb = c.integer("train.meta_batch");
  const int64_t log_every = std::max<int64_t>(1, c.integer("train.log_every"));
  const int64_t ckpt_every = c.integer("train.ckpt_every");
  const double clip = c.num("train.clip");
  // the item table once per outer step (its gradient accumulated over the tasks), unless the
  // inner loop adapts the item tower itself
  const bool step_table = c.flag("train.step_item_table") && scope != "all" && c.integer("encoder.train_layers") == 0;
  MR_CHECK(mb > 0 && mb < (1 << 16), "train.meta_batch must be in 1..65535, got {}", mb);
  if (root)
    std::fprintf(stderr, "train: %zu task users, %zu items, %lld params (%lld trainable), %s, scope %s\n", seqs.size(),
               r.ds.n_items(), (long long)ps.numel(), (long long)ps.trainable_numel(), c.str("meta.algorithm").c_str(),
               scope.c_str());
  if (root && nranks > 1)
    std::fprintf(stderr, "train: %d ranks (%s), tasks of a meta-batch dealt round-robin, one all-reduce of %zu values per step\n",
                 nranks, cm.name().c_str(), size_t(ps.numel()) * (ml.inner_rates() ? 2 : 1) + 2);

  Arena arena;
  Tape tape(arena, st.rng_seed);
  std::optional<Progress> bar;
  if (root) bar.emplace("train", steps, "step");
  const meta::MetaLearner::Reduce reduce = [&cm](double* x, size_t n) { cm.allreduce_sum(x, int64_t(n)); };
  double sum_q = 0;
  int64_t n_q = 0, tasks_done = 0;
  double t_log = now_s();
  for (int64_t step = st.step; step < steps; ++step) {
    comm::fault_hook(rank, step);
    // every rank draws every task of the step (the same rng stream) and runs those dealt to it
    std::mt19937_64 rng(mix64(st.rng_seed ^ mix64(uint64_t(step))));
    if (step_table) {  // dV is accumulated, reduced and averaged by the meta learner with theta's gradient
      m.begin_step();
      ml.set_extra_grad(m.step_table_grad(), size_t(m.step_table_numel()));
    }
    for (int64_t b = 0; b < mb; ++b) {
      const TaskBatches tb = sample_task(seqs, topt, rng);
      const Batch &sup = tb.support, &qry = tb.query;
      if (b % nranks != rank) continue;
      tape.set_rng(st.rng_seed, task_rng_offset(step, b));
      ml.task(tape, [&](Tape& t) { return m.loss(t, sup); }, [&](Tape& t) { return m.loss(t, qry); });
    }
    sum_q += ml.finish(nranks > 1 ? reduce : meta::MetaLearner::Reduce());  // mean query loss of the meta-batch
    n_q++;
    tasks_done += mb;
    if (step_table) m.end_step(1.0f);  // the mean dV through the item tower, into its parameters' gradients
    const double gn = clip > 0 ? clip_grad_norm(ps, clip) : 0.0;
    const float lr = lr_at(c, step);
    opt.step(lr);
    ps.zero_grad();
    if (rate_opt) {
      rate_opt->step(lr);
      ml.clamp_inner_rates();
      ml.inner_rates()->zero_grad();
    }
    st.step = step + 1;
    if (root && (st.step % log_every == 0 || st.step == steps)) {
      const double t = now_s();
      nlohmann::json line = {{"step", st.step}, {"query_loss", sum_q / double(std::max<int64_t>(n_q, 1))}, {"lr", lr},
                             {"grad_norm", gn}, {"tasks_per_s", double(tasks_done) / std::max(1e-9, t - t_log)},
                             {"elapsed_s", t - t_start}};
      append_line(out + "/metrics.jsonl", line);
      bar->update(st.step, fmt::format("loss {:.4f} lr {:.2e} {:.0f} tasks/s", line["query_loss"].get<double>(), lr,
                                      line["tasks_per_s"].get<double>()));
      sum_q = 0;
      n_q = 0;
      tasks_done = 0;
      t_log = t;
    }
    if (root && ((ckpt_every > 0 && st.step % ckpt_every == 0) || st.step == steps)) {
      st.rng_offset = task_rng_offset(st.step, 0);
      save_checkpoint(out, ps, &opt, st);
      if (rate_opt) save_checkpoint(out + "/inner_rates", *ml.inner_rates(), rate_opt.get(), st);
    }
  }
  if (!root) {  // evaluation and reports are rank 0's; wait for it so a failure there takes everyone down
    comm::UnwatchedWait solo(cm);  // however long the evaluation takes
    cm.barrier();
    return {{"rank", rank}, {"step", st.step}};
  }
  bar->finish();
  if (latest_checkpoint(out).empty()) {
    save_checkpoint(out, ps, &opt, st);
    if (rate_opt) save_checkpoint(out + "/inner_rates", *ml.inner_rates(), rate_opt.get(), st);
  }
  r.step = st.step;
  const double t_train = now_s() - t_start;
  auto res = evaluate(r, out);
  res["train_seconds"] = std::round(t_train * 10) / 10;
  res["threads"] = omp_get_max_threads();
  res["ranks"] = nranks;
  write_text(out + "/results.json", res.dump(2) + "\n");
  comm::UnwatchedWait solo(cm);
  cm.barrier();
  return res;
}

}  // namespace mr::rec
