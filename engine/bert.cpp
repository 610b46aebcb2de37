#include "engine/bert.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

namespace mr {

BertConfig BertConfig::from_json_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) FAIL_INPUT(path, "open", "cannot read the model config");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(f);
  } catch (const nlohmann::json::parse_error& e) {
    FAIL_INPUT(path, fmt::format("byte {}", e.byte), "invalid JSON: {}", e.what());
  } catch (const nlohmann::json::exception& e) {  // e.g. a number too large for any C++ type
    FAIL_INPUT(path, "JSON", "invalid JSON: {}", e.what());
  }
  if (!j.is_object()) FAIL_INPUT(path, "byte 0", "the config is not a JSON object");
  // The family: model_type, else the first architecture, else (old BERT configs) bert.
  const Family* fam = &bert_family();
  if (j.contains("model_type")) {
    if (!j["model_type"].is_string()) FAIL_INPUT(path, "key model_type", "expected a string, got {}", j["model_type"].dump());
    const std::string mt = j["model_type"].get<std::string>();
    fam = find_family(mt);
    if (!fam)
      FAIL_INPUT(path, "key model_type", "model_type \"{}\" is not supported; metarec reads: {}", mt, supported_families());
  } else if (j.contains("architectures") && j["architectures"].is_array() && !j["architectures"].empty() &&
             j["architectures"][0].is_string()) {
    const std::string arch = j["architectures"][0].get<std::string>();
    fam = family_of_architecture(arch);
    if (!fam)
      FAIL_INPUT(path, "key architectures", "architecture \"{}\" is not supported; metarec reads: {}", arch,
                 supported_families());
  }
  if (fam->refused)
    FAIL_INPUT(path, "key model_type", "model_type \"{}\" is not supported yet ({}); metarec reads: {}", fam->model_type,
               fam->refused, supported_families());
  BertConfig c;
  c.model_type = fam->model_type;
  c.layer_norm_eps = fam->layer_norm_eps;
  if (!fam->token_types) c.type_vocab_size = 1;  // unused: no token type table
  auto key = [&](const char* k, bool* has) {
    const std::string n = fam->key(k);
    *has = !n.empty() && j.contains(n);
    return n;
  };
  auto get_int = [&](const char* bert_key, int& dst) {
    bool has;
    const std::string k = key(bert_key, &has);
    if (!has) return;
    if (!j[k].is_number_integer()) FAIL_INPUT(path, "key " + k, "expected an integer, got {}", j[k].dump());
    const int64_t v = j[k].is_number_unsigned() && j[k].get<uint64_t>() > uint64_t(INT32_MAX) ? INT64_MAX : j[k].get<int64_t>();
    if (v < INT32_MIN || v > INT32_MAX) FAIL_INPUT(path, "key " + k, "{} is out of range", j[k].dump());
    dst = int(v);
  };
  auto get_float = [&](const char* bert_key, float& dst) {
    bool has;
    const std::string k = key(bert_key, &has);
    if (!has) return;
    if (!j[k].is_number()) FAIL_INPUT(path, "key " + k, "expected a number, got {}", j[k].dump());
    dst = j[k].get<float>();
  };
  get_int("vocab_size", c.vocab_size);
  get_int("hidden_size", c.hidden_size);
  get_int("num_hidden_layers", c.num_hidden_layers);
  get_int("num_attention_heads", c.num_attention_heads);
  get_int("intermediate_size", c.intermediate_size);
  get_int("max_position_embeddings", c.max_position_embeddings);
  get_int("type_vocab_size", c.type_vocab_size);
  if (std::string(fam->model_type) == "mpnet") {  // MPNetConfig's default when the key is absent
    c.relative_attention_num_buckets = 32;
    get_int("relative_attention_num_buckets", c.relative_attention_num_buckets);
  }
  get_float("layer_norm_eps", c.layer_norm_eps);
  get_float("hidden_dropout_prob", c.hidden_dropout_prob);
  get_float("attention_probs_dropout_prob", c.attention_probs_dropout_prob);
  // RobertaConfig, XLMRobertaConfig and MPNetConfig default pad_token_id to 1
  if (fam->positions_after_pad) c.pad_token_id = 1;
  if (fam->positions_after_pad && j.contains("pad_token_id") && !j["pad_token_id"].is_null()) get_int("pad_token_id", c.pad_token_id);
  if (fam->embedding_size) get_int("embedding_size", c.embedding_size);
  {
    bool has;
    const std::string k = key("hidden_act", &has);
    if (has) {
      if (!j[k].is_string()) FAIL_INPUT(path, "key " + k, "expected a string");
      c.hidden_act = j[k].get<std::string>();
    }
  }
  if (j.contains("position_embedding_type") && j["position_embedding_type"] != "absolute")
    FAIL_INPUT(path, "key position_embedding_type", "only \"absolute\" is supported, got {}",
               j["position_embedding_type"].dump());
  if (j.contains("sinusoidal_pos_embds") && j["sinusoidal_pos_embds"] != false)
    FAIL_INPUT(path, "key sinusoidal_pos_embds", "only learned position embeddings (false) are supported, got {}",
               j["sinusoidal_pos_embds"].dump());
  c.validate(path);
  return c;
}

const Family& BertConfig::family() const {
  const Family* f = find_family(model_type);
  MR_CHECK(f && !f->refused, "BertConfig: model_type '{}' is not supported", model_type);
  return *f;
}

void BertConfig::validate(const std::string& where) const {
  auto pos = [&](const char* key, int v) {
    if (v <= 0) FAIL_INPUT(where, std::string("key ") + key, "must be positive, got {}", v);
  };
  pos("vocab_size", vocab_size);
  pos("hidden_size", hidden_size);
  pos("num_hidden_layers", num_hidden_layers);
  pos("num_attention_heads", num_attention_heads);
  pos("intermediate_size", intermediate_size);
  pos("max_position_embeddings", max_position_embeddings);
  pos("type_vocab_size", type_vocab_size);
  if (relative_attention_num_buckets != 0 && relative_attention_num_buckets < 32)
    FAIL_INPUT(where, "key relative_attention_num_buckets",
               "must be 0 (none) or at least 32 (MPNet buckets relative positions into 32), got {}",
               relative_attention_num_buckets);
  if (hidden_size % num_attention_heads)
    FAIL_INPUT(where, "key num_attention_heads", "hidden_size {} is not divisible by {} heads", hidden_size,
               num_attention_heads);
  if (hidden_act != "gelu")
    FAIL_INPUT(where, "key hidden_act", "only \"gelu\" (the erf form) is supported, got \"{}\"", hidden_act);
  if (!(layer_norm_eps > 0)) FAIL_INPUT(where, "key layer_norm_eps", "must be positive");
  if (embedding_size < 0) FAIL_INPUT(where, "key embedding_size", "must be positive, got {}", embedding_size);
  if (pad_token_id < 0) FAIL_INPUT(where, "key pad_token_id", "must not be negative, got {}", pad_token_id);
  if (max_positions() < 2)
    FAIL_INPUT(where, "key max_position_embeddings", "{} positions from {} on leave fewer than 2 tokens",
               max_position_embeddings, position_offset());
  for (auto [k, p] : {std::pair{"hidden_dropout_prob", hidden_dropout_prob},
                      std::pair{"attention_probs_dropout_prob", attention_probs_dropout_prob}})
    if (!(p >= 0 && p < 1)) FAIL_INPUT(where, std::string("key ") + k, "must be in [0, 1), got {}", p);
}

BertModel::BertModel(const BertConfig& cfg, ParamStore& ps, const std::string& prefix, bool pooler)
    : cfg_(cfg), ps_(ps), prefix_(prefix), pooler_(pooler) {
  cfg.validate("BertConfig");
  const int64_t C = cfg.hidden_size, E = cfg.embed_width();
  auto add = [&](const std::string& n, Shape s, bool decay) { return &ps.add(prefix + n, s, decay); };
  wte_ = add("embeddings.word_embeddings.weight", Shape{cfg.vocab_size, E}, true);
  wpe_ = add("embeddings.position_embeddings.weight", Shape{cfg.max_position_embeddings, E}, true);
  if (cfg.token_types()) wtt_ = add("embeddings.token_type_embeddings.weight", Shape{cfg.type_vocab_size, E}, true);
  eln_g_ = add("embeddings.LayerNorm.weight", Shape{E}, false);
  eln_b_ = add("embeddings.LayerNorm.bias", Shape{E}, false);
  if (E != C) {
    proj_w_ = add("embeddings_project.weight", Shape{C, E}, true);
    proj_b_ = add("embeddings_project.bias", Shape{C}, false);
  }
  for (int l = 0; l < cfg.num_hidden_layers; ++l) add_layer(l);
  if (cfg.relative_attention_num_buckets > 0)
    rel_ = add("encoder.relative_attention_bias.weight", Shape{cfg.relative_attention_num_buckets, cfg.num_attention_heads},
               true);
  if (pooler) {
    pool_w_ = add("pooler.dense.weight", Shape{C, C}, true);
    pool_b_ = add("pooler.dense.bias", Shape{C}, false);
  }
}

BertModel::BertModel(const BertConfig& cfg, ParamStore& ps, const std::string& prefix, int first_layer, int n_layers)
    : cfg_(cfg), ps_(ps), prefix_(prefix), pooler_(false), first_layer_(first_layer) {
  cfg.validate("BertConfig");
  MR_CHECK(first_layer >= 0 && n_layers >= 1 && first_layer + n_layers <= cfg.num_hidden_layers,
           "layers [{}, {}) outside the model's {} layers", first_layer, first_layer + n_layers, cfg.num_hidden_layers);
  for (int l = first_layer; l < first_layer + n_layers; ++l) add_layer(l);
  if (cfg.relative_attention_num_buckets > 0)  // the layers share it
    rel_ = &ps.add(prefix + "encoder.relative_attention_bias.weight",
                   Shape{cfg.relative_attention_num_buckets, cfg.num_attention_heads}, true);
}

BertModel BertModel::top_layers(const BertConfig& cfg, ParamStore& ps, const std::string& prefix, int first_layer,
                                int n_layers) {
  return BertModel(cfg, ps, prefix, first_layer, n_layers);
}

void BertModel::add_layer(int l) {
  const int64_t C = cfg_.hidden_size, F = cfg_.intermediate_size;
  auto add = [&](const std::string& n, Shape s, bool decay) { return &ps_.add(prefix_ + n, s, decay); };
  const std::string p = "encoder.layer." + std::to_string(l) + ".";
  Layer L;
  // q, k, v weights adjacent -> one (3C, C) matrix; biases adjacent -> one (3C) vector
  L.q_w = add(p + "attention.self.query.weight", Shape{C, C}, true);
  L.k_w = add(p + "attention.self.key.weight", Shape{C, C}, true);
  L.v_w = add(p + "attention.self.value.weight", Shape{C, C}, true);
  L.q_b = add(p + "attention.self.query.bias", Shape{C}, false);
  L.k_b = add(p + "attention.self.key.bias", Shape{C}, false);
  L.v_b = add(p + "attention.self.value.bias", Shape{C}, false);
  L.ao_w = add(p + "attention.output.dense.weight", Shape{C, C}, true);
  L.ao_b = add(p + "attention.output.dense.bias", Shape{C}, false);
  L.ln1_g = add(p + "attention.output.LayerNorm.weight", Shape{C}, false);
  L.ln1_b = add(p + "attention.output.LayerNorm.bias", Shape{C}, false);
  L.i_w = add(p + "intermediate.dense.weight", Shape{F, C}, true);
  L.i_b = add(p + "intermediate.dense.bias", Shape{F}, false);
  L.o_w = add(p + "output.dense.weight", Shape{C, F}, true);
  L.o_b = add(p + "output.dense.bias", Shape{C}, false);
  L.ln2_g = add(p + "output.LayerNorm.weight", Shape{C}, false);
  L.ln2_b = add(p + "output.LayerNorm.bias", Shape{C}, false);
  layers_.push_back(L);
}

// A view over n parameters declared adjacently (same frozen state), as one tensor.
static Var* fused(Tape& t, std::initializer_list<Param*> ps, Shape s) {
  Param* first = *ps.begin();
  int64_t n = 0;
  for (Param* p : ps) {
    MR_CHECK(p->offset == first->offset + n, "{} is not adjacent to {}", p->name, first->name);
    MR_CHECK(p->frozen == first->frozen, "{} and {} must be frozen together", p->name, first->name);
    n += p->w.numel();
  }
  Tensor w = first->w, g = first->g;
  w.shape = s;
  g.shape = s;
  MR_CHECK(s.numel() == n, "fused shape {} for {} elements", s.str(), n);
  return t.param_view(w, g, first->frozen);
}

BertModel::Output BertModel::forward(Tape& t, const Tensor& ids, const Tensor& types, const Tensor& mask) {
  const int B = int(ids.size(0)), T = int(ids.size(1));
  Var* x = embed(t, ids, types);
  x = forward_layers(t, x, mask, B, T, 0, cfg_.num_hidden_layers);
  Output out;
  out.hidden = x;
  if (pooler_) {
    Var* cls = ops::cls_pool(t, x, B, T);
    out.pooled = ops::linear(t, cls, t.param(*pool_w_), t.param(*pool_b_), Act::Tanh);
  }
  return out;
}

Var* BertModel::embed(Tape& t, const Tensor& ids, const Tensor& types) {
  MR_CHECK(ps_.finalized(), "BertModel::forward before ParamStore::finalize");
  MR_CHECK(wte_, "this BertModel holds encoder layers only (no embeddings)");
  const int64_t E = cfg_.embed_width();
  // Positions from position_offset on: the table seen from that row (gradients land there too).
  Var* wpe = t.param(*wpe_);
  if (const int off = cfg_.position_offset()) {
    Tensor w = wpe_->w, g = wpe_->g;
    w.data = w.f32() + off * E;
    w.shape = Shape{cfg_.max_position_embeddings - off, E};
    if (g.defined()) {
      g.data = g.f32() + off * E;
      g.shape = w.shape;
    }
    wpe = t.param_view(w, g, wpe_->frozen);
  }
  // No token types (DistilBERT): a constant zero row adds nothing (x + 0 = x exactly).
  Var* wtt = nullptr;
  if (wtt_) {
    wtt = t.param(*wtt_);
  } else {
    wtt = t.alloc(Shape{1, E}, false);
    fill_zero(wtt->v);
  }
  Var* x = ops::embedding(t, ids, wtt_ ? types : Tensor(), t.param(*wte_), wpe, wtt);
  x = ops::layernorm(t, x, nullptr, t.param(*eln_g_), t.param(*eln_b_), cfg_.layer_norm_eps);
  x = ops::dropout(t, x, cfg_.hidden_dropout_prob);
  if (proj_w_) x = ops::linear(t, x, t.param(*proj_w_), t.param(*proj_b_));  // ELECTRA: (B*T, E) -> (B*T, H)
  return x;
}

Var* BertModel::forward_layers(Tape& t, Var* x, const Tensor& mask, int B, int T, int first, int n) {
  MR_CHECK(ps_.finalized(), "BertModel::forward before ParamStore::finalize");
  MR_CHECK(first >= first_layer_ && n >= 0 && first + n <= first_layer_ + int(layers_.size()),
           "layers [{}, {}) are not all declared (this model holds [{}, {}))", first, first + n, first_layer_,
           first_layer_ + int(layers_.size()));
  const int C = cfg_.hidden_size, H = cfg_.num_attention_heads;
  const float p_hidden = cfg_.hidden_dropout_prob, p_attn = cfg_.attention_probs_dropout_prob;
  const float eps = cfg_.layer_norm_eps;
  x = ops::cast(t, x, t.act_dtype());  // bf16 storage: the layers run on bf16 activations
  // Inference (NoGrad: nothing is recorded, so no backward will read a layer's activations):
  // each layer's output is copied into one hidden-state buffer and the arena is rewound to
  // where the layer started, so the activation memory is the input, that buffer and one
  // layer's temporaries, whatever the depth. The kernels and their inputs are the same as with
  // the tape, so the result is bit for bit the same; only where the temporaries live changes.
  const bool infer = !t.grad_enabled();
  Var* pb = n > 0 ? position_bias(t, T) : nullptr;  // before the layers' marks: every layer reads it
  Tensor hid;  // inference: (B*T, C) the hidden state between layers
  if (infer && n > 0) hid = t.arena().alloc(x->v.shape, x->v.dtype);
  for (int l = first; l < first + n; ++l) {
    Layer& L = layers_[size_t(l - first_layer_)];
    const Arena::Mark layer_start = t.arena().mark();
    Var* wqkv = fused(t, {L.q_w, L.k_w, L.v_w}, Shape{3 * C, C});
    Var* bqkv = fused(t, {L.q_b, L.k_b, L.v_b}, Shape{3 * C});
    Var* qkv = ops::linear(t, x, wqkv, bqkv);
    Var* a = ops::attention(t, qkv, mask, B, T, H, p_attn, pb);
    Var* ao = ops::dropout(t, ops::linear(t, a, t.param(*L.ao_w), t.param(*L.ao_b)), p_hidden);
    Var* x1 = ops::layernorm(t, ao, x, t.param(*L.ln1_g), t.param(*L.ln1_b), eps);
    Var* h = ops::linear(t, x1, t.param(*L.i_w), t.param(*L.i_b), Act::Gelu);
    Var* o = ops::dropout(t, ops::linear(t, h, t.param(*L.o_w), t.param(*L.o_b)), p_hidden);
    x = ops::layernorm(t, o, x1, t.param(*L.ln2_g), t.param(*L.ln2_b), eps);
    if (infer) {  // every read of the layer's input (hid from the second layer on) is done
      copy(hid, x->v);
      t.arena().rewind(layer_start);
      x = t.input(hid);
    }
  }
  return ops::cast(t, x, DType::F32);  // heads, pools and losses take f32
}

int mpnet_relative_position_bucket(int relative_position, int num_buckets, int max_distance) {
  int ret = 0, n = -relative_position;
  num_buckets /= 2;
  if (n < 0) ret += num_buckets;
  n = std::abs(n);
  const int max_exact = num_buckets / 2;
  if (n < max_exact) return ret + n;
  // torch: max_exact + (log(n.float() / max_exact) / math.log(max_distance / max_exact)
  //                     * (num_buckets - max_exact)).to(long), in float32, truncated
  const float v = std::log(float(n) / float(max_exact)) / float(std::log(double(max_distance) / max_exact)) *
                  float(num_buckets - max_exact);
  return ret + std::min(max_exact + int(v), num_buckets - 1);
}

namespace {
// The bias gather: out(H*T*T) = table viewed as (buckets*H, 1), rows idx; backward scatters
// into the table's gradient (+=, in the order of the elements: deterministic on every backend).
struct BiasGatherSaved {
  Var* table;
  Tensor idx;  // (H*T*T) i32 on the tape's device
  int64_t M;
};
void bias_gather_bwd(Tape& t, Var* out, const BiasGatherSaved& s) {
  float* d = t.grad_zeroed_for(s.table);
  if (d) t.k().gather_rows_bwd(d, out->g.f32(), s.idx.i32(), s.M, 1);
}
}  // namespace

Var* BertModel::position_bias(Tape& t, int T) {
  if (!rel_) return nullptr;
  const int H = cfg_.num_attention_heads;
  const int64_t M = int64_t(H) * T * T;
  if (bucket_T_ != T) {  // host, once per sequence length
    bucket_idx_.assign(size_t(M), 0);
    for (int i = 0; i < T; ++i)
      for (int j = 0; j < T; ++j) {
        const int b = mpnet_relative_position_bucket(j - i);
        for (int h = 0; h < H; ++h) bucket_idx_[(size_t(h) * T + i) * T + j] = b * H + h;
      }
    bucket_T_ = T;
  }
  const Tensor idx = t.arena().alloc(Shape{M}, DType::I32);  // the tape's own copy (the cache may change)
  copy(idx, Tensor{bucket_idx_.data(), Shape{M}, DType::I32, Device::CPU});
  Var* table = t.param(*rel_);
  Var* out = t.alloc(Shape{H, T, T}, t.any_requires_grad({table}));
  t.k().gather_rows_fwd(out->v.f32(), table->v.f32(), idx.i32(), M, 1);
  t.record<bias_gather_bwd>("relative_position_bias", out, BiasGatherSaved{table, idx, M});
  return out;
}

void BertModel::init_random(uint64_t seed, float std) {
  MR_CHECK(ps_.finalized(), "init_random before finalize");
  MR_CHECK(ps_.device() == Device::CPU, "init_random runs on CPU parameters");
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> nd(0.0f, std);
  for (Param& p : ps_.all()) {
    if (p.name.rfind(prefix_, 0) != 0) continue;
    float* w = p.w.f32();
    const bool ln = p.name.find("LayerNorm") != std::string::npos;
    const bool bias = p.name.size() >= 5 && p.name.compare(p.name.size() - 5, 5, ".bias") == 0;
    for (int64_t i = 0; i < p.w.numel(); ++i) w[i] = bias ? 0.0f : ln ? 1.0f : nd(rng);
  }
}

void BertModel::freeze_bottom(int n) {
  ps_.set_frozen(prefix_ + "embeddings.", n > 0);
  if (proj_w_) ps_.set_frozen(prefix_ + "embeddings_project.", n > 0);
  // MPNet's relative attention bias feeds every layer, the frozen bottom too (whose outputs may
  // be cached): frozen with it, as the embeddings are.
  if (rel_) ps_.set_frozen(prefix_ + "encoder.relative_attention_bias.", n > 0);
  for (int l = 0; l < cfg_.num_hidden_layers; ++l)
    ps_.set_frozen(prefix_ + "encoder.layer." + std::to_string(l) + ".", l < n);
}

}  // namespace mr
