#include "engine/rec/model.h"

#include <algorithm>

#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>

#include "base/check.h"
#include "engine/rec/multitask.h"
#include "engine/rec/row_ops.h"

namespace mr::rec {

RecModel::RecModel(const ModelConfig& cfg, const std::vector<float>& emb, int64_t n_items, int64_t D)
    : cfg_(cfg), n_items_(n_items), D_(D), emb_(Shape{n_items + 1, D}, DType::F32, Device::CPU) {
  MR_CHECK(int64_t(emb.size()) == n_items * D, "item embeddings: {} floats for {} items x {}", emb.size(), n_items, D);
  // rows L2-normalised then scaled by sqrt(D): unit-variance features for a N(0, 1/D) projection
  float* e = emb_->f32();
  for (int64_t i = 0; i < n_items; ++i) {
    double s = 0;
    for (int64_t d = 0; d < D; ++d) s += double(emb[i * D + d]) * emb[i * D + d];
    const float k = s > 0 ? float(std::sqrt(double(D) / s)) : 0.0f;
    for (int64_t d = 0; d < D; ++d) e[i * D + d] = emb[i * D + d] * k;
  }
  std::memset(e + n_items * D, 0, sizeof(float) * D);  // START row
  declare(D, nullptr);
}

RecModel::RecModel(const ModelConfig& cfg, const ItemBertSpec& top)
    : cfg_(cfg), n_items_(top.cache ? top.cache->n : 0), D_(top.bert.hidden_size) {
  MR_CHECK(top.cache && top.cache->n > 0, "trainable item tower without cached hidden states");
  declare(D_, &top);
}

void RecModel::declare(int64_t D, const ItemBertSpec* top) {
  const ModelConfig& cfg = cfg_;
  const int64_t n_items = n_items_;
  MR_CHECK(cfg.dim > 0 && cfg.heads > 0 && cfg.dim % cfg.heads == 0, "model.dim {} must be a multiple of model.heads {}",
           cfg.dim, cfg.heads);
  MR_CHECK(cfg.tau > 0, "model.tau must be > 0");
  MR_CHECK(cfg.max_history >= 1 && cfg.layers >= 0, "model.max_history >= 1 and model.layers >= 0");
  MR_CHECK(cfg.negatives >= 0, "loss.negatives must be >= 0, got {}", cfg.negatives);
  const int64_t C = cfg.dim, F = cfg.ffn, T1 = cfg.max_history + 1;
  proj_w_ = &ps_.add("item.proj.weight", Shape{C, D});
  proj_b_ = &ps_.add("item.proj.bias", Shape{C}, false);
  if (cfg.item_id) id_ = &ps_.add("item.id", Shape{n_items + 1, C}, false);
  if (cfg.item_bias) bias_ = &ps_.add("item.bias", Shape{n_items + 1}, false);
  pos_ = &ps_.add("user.position", Shape{T1, C}, false);
  type_ = &ps_.add("user.type", Shape{1, C}, false);  // zeros, frozen: the embedding op's type table
  ln0_g_ = &ps_.add("user.ln0.weight", Shape{C}, false);
  ln0_b_ = &ps_.add("user.ln0.bias", Shape{C}, false);
  for (int l = 0; l < cfg.layers; ++l) {
    const std::string p = "user.layer." + std::to_string(l) + ".";
    Layer L;
    L.qkv_w = &ps_.add(p + "qkv.weight", Shape{3 * C, C});
    L.qkv_b = &ps_.add(p + "qkv.bias", Shape{3 * C}, false);
    L.o_w = &ps_.add(p + "out.weight", Shape{C, C});
    L.o_b = &ps_.add(p + "out.bias", Shape{C}, false);
    L.ln1_g = &ps_.add(p + "ln1.weight", Shape{C}, false);
    L.ln1_b = &ps_.add(p + "ln1.bias", Shape{C}, false);
    L.f1_w = &ps_.add(p + "ffn1.weight", Shape{F, C});
    L.f1_b = &ps_.add(p + "ffn1.bias", Shape{F}, false);
    L.f2_w = &ps_.add(p + "ffn2.weight", Shape{C, F});
    L.f2_b = &ps_.add(p + "ffn2.bias", Shape{C}, false);
    L.ln2_g = &ps_.add(p + "ln2.weight", Shape{C}, false);
    L.ln2_b = &ps_.add(p + "ln2.bias", Shape{C}, false);
    layers_.push_back(L);
  }
  head_w_ = &ps_.add("head.weight", Shape{C, C});
  head_b_ = &ps_.add("head.bias", Shape{C}, false);
  if (top) bert_ = std::make_unique<ItemBert>(*top, ps_);  // last: the other parameters' layout and init are unchanged
  if (cfg.multitask()) {
    MR_CHECK(cfg.loss_weights.size() == 3, "loss.weights: 3 weights (rank, click, rating), got {}", cfg.loss_weights.size());
    MR_CHECK(cfg.negatives > 0, "loss.weights / loss.weighting: the click and rating heads need loss.negatives > 0");
    rating_w_ = &ps_.add("head.rating.weight", Shape{1, 1}, false);
    rating_b_ = &ps_.add("head.rating.bias", Shape{1}, false);
    if (cfg.weighting == Weighting::Uncertainty) log_var_ = &ps_.add("loss.log_var", Shape{3}, false);
  }
  ps_.finalize();
  type_->frozen = true;
  init(cfg.seed);
  if (bert_) bert_->load(ps_);
  if (cfg.negatives > 0 && cfg.sampler == SamplerKind::Uniform)
    sampler_ = std::make_unique<NegativeSampler>(n_items, SamplerKind::Uniform, 1.0, std::vector<double>{});
}

void RecModel::init(uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> nd(0.0f, 0.02f), np(0.0f, float(1.0 / std::sqrt(double(D_))));
  for (Param& p : ps_.all()) {
    float* w = p.w.f32();
    const int64_t n = p.w.numel();
    const std::string& s = p.name;
    if (s.rfind("item.bert.", 0) == 0) continue;  // the checkpoint's weights (loaded after init)
    if (s == "head.rating.weight" || s == "head.rating.bias" || s == "loss.log_var") {
      for (int64_t i = 0; i < n; ++i) w[i] = s == "head.rating.bias" ? cfg_.rating_bias : 0.0f;  // r = c at init
      continue;
    }
    auto ends = [&](const char* x) { size_t k = std::strlen(x); return s.size() >= k && s.compare(s.size() - k, k, x) == 0; };
    if (s == "item.proj.weight") for (int64_t i = 0; i < n; ++i) w[i] = np(rng);
    else if (s == "head.weight") {
      std::memset(w, 0, sizeof(float) * n);
      for (int c = 0; c < cfg_.dim; ++c) w[c * cfg_.dim + c] = 1.0f;
    } else if (s.find(".ln") != std::string::npos && ends(".weight")) for (int64_t i = 0; i < n; ++i) w[i] = 1.0f;
    else if (ends(".bias") || s == "item.id" || s == "user.type") std::memset(w, 0, sizeof(float) * n);
    else for (int64_t i = 0; i < n; ++i) w[i] = nd(rng);
  }
}

bool RecModel::in_scope(Scope scope, const std::string& name) {
  if (name.rfind("loss.", 0) == 0) return false;
  switch (scope) {
    case Scope::All: return true;
    case Scope::Head: return name.rfind("head.", 0) == 0;
    case Scope::User: return name.rfind("head.", 0) == 0 || name.rfind("user.", 0) == 0;
  }
  return false;
}

void RecModel::to(const Backend& be) {
  MR_CHECK(be.ready(), "RecModel::to: backend {} is not ready", be.str());
  MR_CHECK(!in_step(), "RecModel::to inside a training step");
  clear_item_table();
  vstep_ = OwnedTensor();
  dvstep_ = OwnedTensor();
  step_arena_.reset();
  ps_.to(be.dev);
  if (emb_->defined()) {
    OwnedTensor e(emb_->shape, DType::F32, be.dev);
    copy(*e, *emb_);
    emb_ = std::move(e);
  }
  if (bert_) bert_->to(be.dev, be.act_dtype());
  be_ = be;
}

void RecModel::check_tape(Tape& t) const {
  MR_CHECK(t.arena().device() == be_.dev && t.act_dtype() == DType::F32,
           "the recommender model lives on {} and runs in f32; this tape is {} with {} activations",
           device_name(be_.dev), device_name(t.arena().device()), dtype_name(t.act_dtype()));
}

Var* RecModel::item_table(Tape& t, const std::vector<int32_t>* rows) {
  check_tape(t);
  if (vcache_->defined()) return t.input(*vcache_);
  if (in_step_) {  // a parameter-like leaf: its backward writers add into dV
    MR_CHECK(!rows, "the per-step item table holds every row");
    return t.param_view(*vstep_, *dvstep_, item_tower_frozen());
  }
  if (!bert_) {  // frozen encoder: every row from the cached pooled embeddings
    Var* E = t.input(*emb_);
    Var* V = ops::linear(t, E, t.param(*proj_w_), t.param(*proj_b_));
    if (id_) V = ops::weighted_sum(t, {{V, 1.0f}, {t.param(*id_), 1.0f}});
    return V;
  }
  std::vector<int32_t> all;
  if (!rows) {
    all.resize(size_t(n_items_ + 1));
    std::iota(all.begin(), all.end(), 0);
    rows = &all;
  }
  Var* V = ops::linear(t, bert_->features(t, *rows), t.param(*proj_w_), t.param(*proj_b_));
  if (id_) V = ops::weighted_sum(t, {{V, 1.0f}, {gather_rows(t, t.param(*id_), *rows), 1.0f}});
  return V;
}

Var* RecModel::user_vectors(Tape& t, const Batch& b, Var* V, const std::vector<int32_t>& local) {
  return ops::linear(t, user_features(t, b, V, local), t.param(*head_w_), t.param(*head_b_));
}

Var* RecModel::user_features(Tape& t, const Batch& b, Var* V, const std::vector<int32_t>& local) {
  check_tape(t);
  const int B = int(b.size()), T1 = cfg_.max_history + 1;
  const int32_t START = int32_t(n_items_);
  auto row = [&](int32_t i) { return local.empty() ? i : local[size_t(i)]; };
  std::vector<int32_t> hid(size_t(B) * T1), hmask(size_t(B) * T1);  // built here, uploaded below
  for (int r = 0; r < B; ++r) {
    const auto& h = b.history[r];
    int32_t* id = hid.data() + size_t(r) * T1;
    int32_t* m = hmask.data() + size_t(r) * T1;
    id[0] = row(START);
    m[0] = 1;
    for (int j = 1; j < T1; ++j) {  // most recent first
      const bool real = size_t(j) <= h.size();
      if (real) MR_CHECK(h[h.size() - j] < uint32_t(n_items_), "history item {} out of range", h[h.size() - j]);
      id[j] = row(real ? int32_t(h[h.size() - j]) : START);
      m[j] = real;
    }
  }
  const Tensor ids = upload(t, hid, Shape{B, T1}), mask = upload(t, hmask, Shape{B, T1});
  Var* x = ops::embedding(t, ids, Tensor(), V, t.param(*pos_), t.param(*type_));
  x = ops::layernorm(t, x, nullptr, t.param(*ln0_g_), t.param(*ln0_b_), 1e-12f);
  x = ops::dropout(t, x, cfg_.dropout);
  for (auto& L : layers_) {
    Var* qkv = ops::linear(t, x, t.param(*L.qkv_w), t.param(*L.qkv_b));
    Var* a = ops::attention(t, qkv, mask, B, T1, cfg_.heads, cfg_.dropout);
    Var* o = ops::dropout(t, ops::linear(t, a, t.param(*L.o_w), t.param(*L.o_b)), cfg_.dropout);
    x = ops::layernorm(t, o, x, t.param(*L.ln1_g), t.param(*L.ln1_b), 1e-12f);
    Var* f = ops::linear(t, x, t.param(*L.f1_w), t.param(*L.f1_b), Act::Gelu);
    f = ops::dropout(t, ops::linear(t, f, t.param(*L.f2_w), t.param(*L.f2_b)), cfg_.dropout);
    x = ops::layernorm(t, f, x, t.param(*L.ln2_g), t.param(*L.ln2_b), 1e-12f);
  }
  Var* pooled;
  if (cfg_.pool == UserPool::Recent) {  // the most recent item's position (START's for an empty history)
    std::vector<int32_t> at(static_cast<size_t>(B));
    for (int r = 0; r < B; ++r) at[size_t(r)] = r * T1 + (b.history[size_t(r)].empty() ? 0 : 1);
    pooled = gather_rows(t, x, at);
  } else {
    pooled = cfg_.pool == UserPool::Cls ? ops::cls_pool(t, x, B, T1) : ops::mean_pool(t, x, mask, B, T1);
  }
  return pooled;
}

Var* RecModel::step_features(Tape& t, const Batch& b, Var** V) {
  MR_CHECK(in_step_, "step_features outside a training step (begin_step)");
  MR_CHECK(b.size() > 0, "empty batch");
  *V = item_table(t, nullptr);
  return user_features(t, b, *V, {});
}

Var* RecModel::step_scores(Tape& t, Var* u, Var* V) {
  Var* lg = ops::linear(t, out_rows(t, u), out_rows(t, V), bias_ ? t.param(*bias_) : nullptr);
  return ops::weighted_sum(t, {{lg, 1.0f / cfg_.tau}});
}

Var* RecModel::out_rows(Tape& t, Var* x) const { return cfg_.score == Score::Cos ? l2_rows(t, x, 1.0f) : x; }

Var* RecModel::logits(Tape& t, const Batch& b) {
  MR_CHECK(b.size() > 0, "empty batch");
  // item table (N+1, C); with a trainable top and no cache every item runs through it (slow)
  Var* V = item_table(t, nullptr);
  // V is an activation used as a weight twice (the embedding table of the user tower and the
  // right factor of the logits product), and both backward kernels accumulate into a weight's
  // gradient: give V a zeroed gradient buffer up front so every writer adds.
  if (V->requires_grad && !V->is_param) V->g = t.arena().zeros(V->v.shape);
  Var* u = user_vectors(t, b, V, {});
  // (B, N+1) = (u V^T + bias) / tau
  Var* lg = ops::linear(t, out_rows(t, u), out_rows(t, V), bias_ ? t.param(*bias_) : nullptr);
  return ops::weighted_sum(t, {{lg, 1.0f / cfg_.tau}});
}

bool RecModel::item_tower_frozen() const {
  return proj_w_->frozen && proj_b_->frozen && (!id_ || id_->frozen);
}

void RecModel::cache_item_table() {
  clear_item_table();
  Arena a(be_.dev);
  Tape t(a, be_);
  t.set_training(false);
  NoGrad ng(t);
  OwnedTensor c(Shape{n_items_ + 1, cfg_.dim}, DType::F32, be_.dev);
  const int64_t chunk = bert_ ? 256 : n_items_ + 1;  // the top layers' activations stay small
  for (int64_t s = 0; s <= n_items_; s += chunk) {
    std::vector<int32_t> rows(size_t(std::min(chunk, n_items_ + 1 - s)));
    std::iota(rows.begin(), rows.end(), int32_t(s));
    Var* V = item_table(t, &rows);
    copy(c->rows(s, s + int64_t(rows.size())), V->v);
    t.reset();
  }
  vcache_ = std::move(c);
}

// The step table's buffers and its tape's arena are kept from step to step: after the first
// step, begin_step/end_step allocate nothing (on a device: no cudaMalloc inside a step).
void RecModel::begin_step() {
  MR_CHECK(!vcache_->defined(), "begin_step with an evaluation item table cached");
  MR_CHECK(!bert_, "the per-step item table is for the cached-embedding item tower (encoder.train_layers = 0)");
  MR_CHECK(!in_step_, "begin_step twice");
  if (!step_arena_ || step_arena_->device() != be_.dev) step_arena_ = std::make_unique<Arena>(be_.dev);
  Tape t(*step_arena_, be_);
  NoGrad ng(t);
  Var* V = item_table(t, nullptr);
  if (!vstep_->defined() || !(vstep_->shape == V->v.shape) || vstep_->device != be_.dev) {
    vstep_ = OwnedTensor(V->v.shape, DType::F32, be_.dev);
    dvstep_ = OwnedTensor(V->v.shape, DType::F32, be_.dev);
  }
  copy(*vstep_, V->v);
  fill_zero(*dvstep_);
  t.reset();
  in_step_ = true;
}

void RecModel::end_step(float scale) {
  MR_CHECK(in_step_, "end_step without begin_step");
  in_step_ = false;
  if (item_tower_frozen()) return;
  if (scale != 1.0f) be_.kernels->scale(dvstep_->f32(), dvstep_->numel(), scale);
  Tape t(*step_arena_, be_);
  Var* V = item_table(t, nullptr);
  t.backward(V, *dvstep_);  // adds into the item parameters' gradients
  t.reset();
}

void RecModel::set_item_counts(const std::vector<double>& counts) {
  if (cfg_.negatives > 0) sampler_ = std::make_unique<NegativeSampler>(n_items_, cfg_.sampler, cfg_.alpha, counts);
}

Var* RecModel::sampled_loss(Tape& t, const Batch& b) {
  MR_CHECK(sampler_, "loss.sampler = popularity needs item counts (RecModel::set_item_counts)");
  const uint64_t off = t.take_counters(1), seed = t.seed();
  std::seed_seq sq{uint32_t(seed), uint32_t(seed >> 32), uint32_t(off), uint32_t(off >> 32), 0x5a3du};
  std::mt19937_64 rng(sq);
  const Candidates cd = make_candidates(b.target, *sampler_, cfg_.negatives, rng);
  if (record_) {
    Drawn d{cd.items, {}};
    for (int32_t i : cd.items) d.log_q.push_back(sampler_->log_expected_count(i, cfg_.negatives));
    record_->push_back(std::move(d));
  }
  return loss(t, b, cd);
}

Var* RecModel::loss(Tape& t, const Batch& b, const Candidates& cd) {
  MR_CHECK(cd.label.size() == b.size() && cd.shift.size() == b.size() * cd.items.size(), "candidates for another batch");
  const int64_t B = int64_t(b.size()), M = int64_t(cd.items.size());
  MR_CHECK(M > 0, "sampled softmax: no candidates");
  // the table rows this batch needs: START, the histories' last max_history items, the candidates
  std::vector<int32_t> rows, local;
  if (local_table()) {
    local.assign(size_t(n_items_ + 1), -1);
    local[size_t(n_items_)] = 0;
    for (auto& h : b.history)
      for (size_t j = h.size() > size_t(cfg_.max_history) ? h.size() - size_t(cfg_.max_history) : 0; j < h.size(); ++j)
        if (h[j] < uint32_t(n_items_)) local[h[j]] = 0;
    for (int32_t i : cd.items) local[size_t(i)] = 0;
    for (size_t i = 0; i < local.size(); ++i)
      if (local[i] == 0) {
        local[i] = int32_t(rows.size());
        rows.push_back(int32_t(i));
      }
  }
  Var* V = item_table(t, local.empty() ? nullptr : &rows);
  if (V->requires_grad && !V->is_param) V->g = t.arena().zeros(V->v.shape);
  Var* u = user_vectors(t, b, V, local);
  std::vector<int32_t> cols = cd.items;
  if (!local.empty())
    for (auto& c : cols) c = local[size_t(c)];
  Var* lg = ops::linear(t, out_rows(t, u), out_rows(t, gather_rows(t, V, cols)),
                        bias_ ? gather_rows(t, t.param(*bias_), cd.items) : nullptr);
  const Tensor shift = upload(t, cd.shift, Shape{B, M}), tg = upload(t, cd.label, Shape{B});
  Var* z = ops::weighted_sum(t, {{lg, 1.0f / cfg_.tau}, {t.input(shift), 1.0f}});
  Var* rank = ops::cross_entropy(t, z, tg);
  return cfg_.multitask() ? combine(t, b, cd, rank, lg) : rank;
}

Var* RecModel::combine(Tape& t, const Batch& b, const Candidates& cd, Var* rank, Var* lg) {
  const int64_t B = int64_t(b.size()), M = int64_t(cd.items.size());
  const bool unc = log_var_ != nullptr;
  std::vector<std::pair<Var*, float>> terms;
  std::vector<int> slot;
  auto add = [&](Var* l, int k) {
    if (unc || cfg_.loss_weights[size_t(k)] != 0.0f) {
      terms.push_back({l, cfg_.loss_weights[size_t(k)]});
      slot.push_back(k);
    }
  };
  add(rank, 0);
  if (unc || cfg_.loss_weights[1] != 0.0f) {  // click: label column 1, other columns 0, accidental hits out
    std::vector<float> hm(size_t(B * M)), hy(size_t(B * M));
    for (int64_t r = 0; r < B; ++r)
      for (int64_t m = 0; m < M; ++m) {
        hm[size_t(r * M + m)] = cd.shift[size_t(r * M + m)] <= -1e8f ? -1e9f : 0.0f;
        hy[size_t(r * M + m)] = cd.label[size_t(r)] == int32_t(m) ? 1.0f : 0.0f;
      }
    const Tensor mask = upload(t, hm, Shape{B, M}), y = upload(t, hy, Shape{B, M});
    add(ops::bce_with_logits(t, ops::weighted_sum(t, {{lg, 1.0f / cfg_.tau}, {t.input(mask), 1.0f}}), y), 1);
  }
  std::vector<int32_t> rows, cols;
  for (int64_t r = 0; r < B; ++r)
    if (cd.label[size_t(r)] >= 0 && size_t(r) < b.signal.size() && std::isfinite(b.signal[size_t(r)])) {
      rows.push_back(int32_t(r));
      cols.push_back(cd.label[size_t(r)]);
    }
  if (!rows.empty() && (unc || cfg_.loss_weights[2] != 0.0f)) {  // rating: r = a s + c on the label's raw score
    std::vector<float> hy(rows.size());
    for (size_t k = 0; k < rows.size(); ++k) hy[k] = b.signal[size_t(rows[k])];
    const Tensor y = upload(t, hy, Shape{int64_t(rows.size())});
    Var* r = ops::linear(t, pick(t, lg, rows, cols), t.param(*rating_w_), t.param(*rating_b_));
    add(ops::mse(t, r, y), 2);
  }
  MR_CHECK(!terms.empty(), "loss.weights are all zero");
  if (unc) return uncertainty_sum(t, [&] { std::vector<Var*> v; for (auto& x : terms) v.push_back(x.first); return v; }(), t.param(*log_var_), slot);
  return ops::weighted_sum(t, terms);
}

Var* RecModel::loss(Tape& t, const Batch& b) {
  for (size_t r = 0; r < b.size(); ++r)
    MR_CHECK(b.target[r] == -100 || (b.target[r] >= 0 && b.target[r] < n_items_), "target {} out of range", b.target[r]);
  if (cfg_.negatives > 0) return sampled_loss(t, b);
  return ops::cross_entropy(t, logits(t, b), upload(t, b.target, Shape{int64_t(b.size())}));
}

Var* RecModel::users(Tape& t, const Batch& b) {
  MR_CHECK(b.size() > 0, "empty batch");
  NoGrad ng(t);
  const bool tr = t.training();
  t.set_training(false);
  Var* u = user_vectors(t, b, item_table(t, nullptr), {});
  t.set_training(tr);
  return u;
}

void RecModel::score_users(Tape& t, Var* U, std::span<float> out) {
  check_tape(t);
  NoGrad ng(t);
  const int64_t R = U->v.shape[0];
  MR_CHECK(int64_t(out.size()) == R * n_items_, "score_users: {} outputs for {} users x {} items", out.size(), R, n_items_);
  Var* V = item_table(t, nullptr);
  // (R, N+1) = (u V^T + bias) / tau, as logits(); the START column is dropped on the host
  Var* lg = ops::weighted_sum(t, {{ops::linear(t, out_rows(t, U), out_rows(t, V), bias_ ? t.param(*bias_) : nullptr), 1.0f / cfg_.tau}});
  const HostTensor h = host_copy(lg->v);
  for (int64_t r = 0; r < R; ++r) std::copy_n(h->f32() + r * (n_items_ + 1), n_items_, out.data() + r * n_items_);
}

void RecModel::rank_users(Tape& t, Var* U, std::span<const metrics::RankQuery> queries, std::span<const uint8_t> candidate,
                          size_t k, size_t item_tile, std::span<metrics::Ranking> out) {
  check_tape(t);
  NoGrad ng(t);
  const int64_t R = U->v.shape[0], N = n_items_;
  MR_CHECK(int64_t(queries.size()) == R && int64_t(out.size()) == R, "rank_users: {} queries, {} results for {} users",
           queries.size(), out.size(), R);
  MR_CHECK(k >= 1 && k <= 2048, "rank_users: top {} outside 1..2048", k);
  MR_CHECK(candidate.empty() || int64_t(candidate.size()) == N, "rank_users: {} candidate flags for {} items",
           candidate.size(), N);
  MR_CHECK(N < (int64_t(1) << 31) - 1, "rank_users: {} items do not fit the ranking ops' int32 ids", N);
  if (R == 0) return;
  const int K = int(k);
  // the index tensors: removed items and targets per row (CSR, sorted), the candidate flags
  std::vector<int32_t> rm_off{0}, rm, t_off{0}, tg;
  for (const auto& q : queries) {
    for (auto i : q.removed) rm.push_back(int32_t(i));
    rm_off.push_back(int32_t(rm.size()));
    for (auto i : q.targets) tg.push_back(int32_t(i));
    t_off.push_back(int32_t(tg.size()));
  }
  const int64_t T = int64_t(tg.size());
  if (rm.empty()) rm.push_back(0);  // never read: every row's range is empty
  if (tg.empty()) tg.push_back(0);
  std::vector<int32_t> cand_i(candidate.begin(), candidate.end());
  const Tensor d_rm_off = upload(t, rm_off, Shape{R + 1}), d_rm = upload(t, rm, Shape{int64_t(rm.size())});
  const Tensor d_t_off = upload(t, t_off, Shape{R + 1}), d_tg = upload(t, tg, Shape{int64_t(tg.size())});
  const Tensor d_cand = cand_i.empty() ? Tensor{} : upload(t, cand_i, Shape{N});
  const Tensor top_id = t.arena().alloc(Shape{R, int64_t(K)}, DType::I32);
  const Tensor top_score = t.arena().alloc(Shape{R, int64_t(K)}, DType::F32);
  const Tensor top_n = upload(t, std::vector<int32_t>(size_t(R), 0), Shape{R});
  const Tensor nan_item = upload(t, std::vector<int32_t>(size_t(R), std::numeric_limits<int32_t>::max()), Shape{R});
  const Tensor tscore = t.arena().alloc(Shape{std::max<int64_t>(T, 1)}, DType::F32);
  const Tensor counts = upload(t, std::vector<int32_t>(size_t(2 * std::max<int64_t>(T, 1)), 0), Shape{2 * std::max<int64_t>(T, 1)});
  int32_t* above = counts.i32();
  int32_t* ties = above + std::max<int64_t>(T, 1);
  const int32_t* cand = d_cand.defined() ? d_cand.i32() : nullptr;
  const KernelTable& kt = t.k();
  Var* V = item_table(t, nullptr);
  Var* Uo = out_rows(t, U);
  Var* Vo = out_rows(t, V);
  Var* b = bias_ ? t.param(*bias_) : nullptr;
  auto merge = [&](const Tensor& s, int64_t ld, int64_t c0, int64_t w) {
    kt.topk_merge(top_id.i32(), top_score.f32(), top_n.i32(), nan_item.i32(), tscore.f32(), s.f32(), ld, int(R), int(w),
                  int(c0), d_rm_off.i32(), d_rm.i32(), cand, d_t_off.i32(), d_tg.i32(), K);
  };
  auto count = [&](const Tensor& s, int64_t ld, int64_t c0, int64_t w) {
    kt.topk_count(above, ties, s.f32(), ld, int(R), int(w), int(c0), d_rm_off.i32(), d_rm.i32(), cand, d_t_off.i32(),
                  d_tg.i32(), tscore.f32());
  };
  if (item_tile == 0 || int64_t(item_tile) >= N) {
    // (R, N+1) = (u V^T + bias) / tau, exactly score_users' product; the START column is not ranked
    Var* lg = ops::weighted_sum(t, {{ops::linear(t, Uo, Vo, b), 1.0f / cfg_.tau}});
    merge(lg->v, N + 1, 0, N);
    count(lg->v, N + 1, 0, N);
  } else {
    // the same product by item tiles: the running top in the first pass, which also collects
    // the targets' scores; their counts in a second pass (each tile's product computed again)
    const int64_t W = int64_t(item_tile);
    for (int pass = 0; pass < 2; ++pass)
      for (int64_t c0 = 0; c0 < N; c0 += W) {
        const int64_t w = std::min(W, N - c0);
        const Arena::Mark mk = t.arena().mark();
        Var* Vt = t.input(Vo->v.rows(c0, c0 + w));
        Var* bt = b ? t.input(b->v.rows(c0, c0 + w)) : nullptr;
        Var* lg = ops::weighted_sum(t, {{ops::linear(t, Uo, Vt, bt), 1.0f / cfg_.tau}});
        if (pass == 0) merge(lg->v, w, c0, w);
        else count(lg->v, w, c0, w);
        t.arena().rewind(mk);
      }
  }
  // back to the host: K ids, the counts, the NaN items
  const HostTensor h_id = host_copy(top_id), h_n = host_copy(top_n), h_nan = host_copy(nan_item), h_cnt = host_copy(counts);
  const int32_t* hc = h_cnt->i32();
  const int64_t Tm = std::max<int64_t>(T, 1);
  for (int64_t r = 0; r < R; ++r) {
    const int32_t n = h_n->i32()[r];
    MR_CHECK(n >= 0 && n <= K, "rank_users: row {} has {} top items (K = {})", r, n, K);
    std::vector<uint32_t> best(static_cast<size_t>(n));
    for (int32_t j = 0; j < n; ++j) best[size_t(j)] = uint32_t(h_id->i32()[r * K + j]);
    const int32_t a = t_off[size_t(r)], e = t_off[size_t(r) + 1];
    out[size_t(r)] = metrics::ranking_from_counts(queries[size_t(r)], size_t(N), std::span(hc + a, size_t(e - a)),
                                                  std::span(hc + Tm + a, size_t(e - a)), h_nan->i32()[r], std::move(best));
  }
}

std::vector<float> RecModel::score(Tape& t, const std::vector<uint32_t>& history) {
  Batch b;
  b.add(history, -100);
  std::vector<float> out(static_cast<size_t>(n_items_));
  score_users(t, users(t, b), out);
  return out;
}

}  // namespace mr::rec
