// The run config's keys (each_key: the one place a key's name meets its field), the spelling of
// its enum values, and how a JSON value (from TOML, --set or config.json) is checked and stored.
#include "engine/rec/config.h"

#include <fstream>
#include <sstream>
#include <type_traits>
#include <utility>

#include "base/check.h"
#include "engine/rec/toml.h"

namespace mr::rec {

namespace {

template <class C, class F>  // C: Config or const Config
void each_key(C& c, F&& f) {
  f("data.path", c.data.path), f("data.protocol", c.data.protocol), f("data.seed", c.data.seed);
  f("data.min_inter", c.data.min_inter), f("data.max_inter", c.data.max_inter);
  f("data.test_fraction", c.data.test_fraction), f("data.valid_fraction", c.data.valid_fraction);
  f("data.max_history", c.data.max_history);
  f("encoder.model", c.encoder.model), f("encoder.pool", c.encoder.pool), f("encoder.max_len", c.encoder.max_len);
  f("encoder.batch", c.encoder.batch), f("encoder.cache", c.encoder.cache), f("encoder.embeddings", c.encoder.embeddings);
  f("encoder.device", c.encoder.device), f("encoder.precision", c.encoder.precision);
  f("encoder.train_layers", c.encoder.train_layers);
  f("model.dim", c.model.dim), f("model.heads", c.model.heads), f("model.layers", c.model.layers);
  f("model.ffn", c.model.ffn), f("model.max_history", c.model.max_history), f("model.pool", c.model.pool);
  f("model.tau", c.model.tau), f("model.dropout", c.model.dropout), f("model.item_id", c.model.item_id);
  f("model.item_bias", c.model.item_bias), f("model.score", c.model.score);
  f("loss.negatives", c.loss.negatives), f("loss.sampler", c.loss.sampler), f("loss.alpha", c.loss.alpha);
  f("loss.weights", c.loss.weights), f("loss.weighting", c.loss.weighting), f("loss.rating_bias", c.loss.rating_bias);
  f("task.k_shots", c.task.k_shots), f("task.query_size", c.task.query_size), f("task.target", c.task.target);
  f("task.next_positions", c.task.next_positions);
  f("meta.algorithm", c.meta.algorithm), f("meta.inner_steps", c.meta.inner_steps);
  f("meta.inner_lr", c.meta.inner_lr), f("meta.scope", c.meta.scope);
  f("train.steps", c.train.steps), f("train.meta_batch", c.train.meta_batch), f("train.lr", c.train.lr);
  f("train.weight_decay", c.train.weight_decay), f("train.adam_eps", c.train.adam_eps);
  f("train.warmup", c.train.warmup), f("train.decay", c.train.decay);
  f("train.clip", c.train.clip), f("train.seed", c.train.seed), f("train.log_every", c.train.log_every);
  f("train.ckpt_every", c.train.ckpt_every), f("train.threads", c.train.threads);
  f("train.step_item_table", c.train.step_item_table), f("train.batch_tasks", c.train.batch_tasks);
  f("train.device", c.train.device), f("train.precision", c.train.precision), f("train.gpus", c.train.gpus);
  f("eval.k_shots", c.eval.k_shots), f("eval.ks", c.eval.ks), f("eval.baselines", c.eval.baselines);
  f("eval.adapt_steps", c.eval.adapt_steps), f("eval.part", c.eval.part), f("eval.blend", c.eval.blend);
  f("eval.knn_shrink", c.eval.knn_shrink), f("eval.knn_decay", c.eval.knn_decay), f("eval.tile", c.eval.tile);
  f("eval.per_case", c.eval.per_case), f("eval.finetune", c.eval.finetune);
}

template <class E>
struct Names;
#define MR_ENUM_NAMES(E, ...) \
  template <>                 \
  struct Names<E> {           \
    static constexpr std::pair<E, const char*> list[] = {__VA_ARGS__}; \
  };
MR_ENUM_NAMES(Protocol, {Protocol::ColdUser, "cold-user"}, {Protocol::Loo, "loo"}, {Protocol::LooMirror, "loo-mirror"})
MR_ENUM_NAMES(ItemPool, {ItemPool::Mean, "mean"}, {ItemPool::Cls, "cls"})
MR_ENUM_NAMES(EncoderDevice, {EncoderDevice::Cpu, "cpu"}, {EncoderDevice::Cuda, "cuda"})
MR_ENUM_NAMES(Precision, {Precision::Fp32, "fp32"}, {Precision::Bf16, "bf16"}, {Precision::Tf32, "tf32"})
MR_ENUM_NAMES(UserPool, {UserPool::Cls, "cls"}, {UserPool::Mean, "mean"}, {UserPool::Recent, "recent"})
MR_ENUM_NAMES(Score, {Score::Dot, "dot"}, {Score::Cos, "cos"})
MR_ENUM_NAMES(SamplerKind, {SamplerKind::Uniform, "uniform"}, {SamplerKind::Popularity, "popularity"})
MR_ENUM_NAMES(Weighting, {Weighting::Fixed, "fixed"}, {Weighting::Uncertainty, "uncertainty"})
MR_ENUM_NAMES(TaskTarget, {TaskTarget::Auto, "auto"}, {TaskTarget::Future, "future"}, {TaskTarget::Next, "next"})
MR_ENUM_NAMES(meta::Algorithm, {meta::Algorithm::FOMAML, "fomaml"}, {meta::Algorithm::Reptile, "reptile"},
              {meta::Algorithm::MetaSGD, "metasgd"}, {meta::Algorithm::None, "none"})
MR_ENUM_NAMES(Scope, {Scope::Head, "head"}, {Scope::User, "user"}, {Scope::All, "all"})
MR_ENUM_NAMES(Decay, {Decay::Cosine, "cosine"}, {Decay::Linear, "linear"}, {Decay::None, "none"})
MR_ENUM_NAMES(Part, {Part::Test, "test"}, {Part::Valid, "valid"})
#undef MR_ENUM_NAMES

using Json = nlohmann::json;

// One key's value: checked against the field's type and stored; errors name where and key.
struct Reader {
  const std::string &key, &where;

  [[noreturn]] void bad(const std::string& what, const Json& v) const {
    throw Error(fmt::format("{}: {} must be {}, got {}", where, key, what, v.dump()));
  }
  void operator()(std::string& f, const Json& v) const { f = v.is_string() ? v.get<std::string>() : v.dump(); }
  void operator()(bool& f, const Json& v) const {
    if (!v.is_boolean()) bad("true or false", v);
    f = v.get<bool>();
  }
  void operator()(double& f, const Json& v) const {
    if (!v.is_number()) bad("a number", v);
    f = v.get<double>();
  }
  template <class I>
    requires std::is_integral_v<I>
  void operator()(I& f, const Json& v) const {
    if (!v.is_number_integer()) bad("an integer", v);
    f = v.get<I>();
  }
  template <class E>
    requires std::is_enum_v<E>
  void operator()(E& f, const Json& v) const {
    f = parse_enum<E>(v.is_string() ? v.get<std::string>() : v.dump(), where + ": " + key);
  }
  // a list: a JSON array, a string "a,b" (the --set form) or one value
  template <class T>
  void operator()(std::vector<T>& f, const Json& v) const {
    Json a = Json::array();
    if (v.is_array()) a = v;
    else if (!v.is_string()) a.push_back(v);
    else {
      std::stringstream ss(v.get<std::string>());
      for (std::string part; std::getline(ss, part, ',');) {
        part = trim(part);
        if (part.empty()) continue;
        if constexpr (std::is_same_v<T, std::string>) a.push_back(part);
        else try { a.push_back(parse_toml_value(part)); } catch (const std::exception&) {
          throw Error(fmt::format("{}: {}: '{}' is not a number", where, key, part));
        }
      }
    }
    std::vector<T> out(a.size());
    for (size_t i = 0; i < a.size(); ++i) (*this)(out[i], a[i]);
    f = std::move(out);
  }
};

template <class T>
Json to_value(const T& f) {
  if constexpr (std::is_enum_v<T>) return name(f);
  else return f;
}

}  // namespace

template <class E>
const char* name(E e) {
  for (auto& [v, n] : Names<E>::list)
    if (v == e) return n;
  return "?";
}

template <class E>
E parse_enum(const std::string& s, const std::string& what) {
  std::string allowed;
  for (auto& [e, n] : Names<E>::list) {
    if (s == n) return e;
    allowed += fmt::format("{}{}", allowed.empty() ? "" : ", ", n);
  }
  throw Error(fmt::format("{} must be one of {}; got '{}'", what, allowed, s));
}

#define MR_ENUM_INSTANCES(E) \
  template const char* name(E); \
  template E parse_enum(const std::string&, const std::string&);
MR_ENUM_INSTANCES(Protocol)
MR_ENUM_INSTANCES(ItemPool)
MR_ENUM_INSTANCES(EncoderDevice)
MR_ENUM_INSTANCES(Precision)
MR_ENUM_INSTANCES(UserPool)
MR_ENUM_INSTANCES(Score)
MR_ENUM_INSTANCES(SamplerKind)
MR_ENUM_INSTANCES(Weighting)
MR_ENUM_INSTANCES(TaskTarget)
MR_ENUM_INSTANCES(meta::Algorithm)
MR_ENUM_INSTANCES(Scope)
MR_ENUM_INSTANCES(Decay)
MR_ENUM_INSTANCES(Part)
#undef MR_ENUM_INSTANCES

void Config::set_json(const std::string& key, const Json& v, const std::string& where) {
  bool found = false;
  each_key(*this, [&](const char* k, auto& field) {
    if (k != key) return;
    Reader{key, where}(field, v);
    found = true;
  });
  if (found) return;
  const std::string section = key.substr(0, key.find('.'));
  std::string known;
  each_key(*this, [&](const char* k, auto&) {
    if (std::string(k).rfind(section + ".", 0) == 0) known += fmt::format("{}{}", known.empty() ? "" : ", ", k + section.size() + 1);
  });
  throw Error(fmt::format("{}: unknown config key '{}' ({})", where, key,
                          known.empty() ? "sections: data, encoder, model, loss, task, meta, train, eval"
                                        : "keys of [" + section + "]: " + known));
}

void Config::load_toml_text(const std::string& text, const std::string& origin) {
  read_toml(text, origin, [&](const std::string& key, const Json& v, const std::string& where) { set_json(key, v, where); });
}

void Config::load_toml(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw Error(fmt::format("{}: cannot open config", path));
  std::stringstream ss;
  ss << f.rdbuf();
  load_toml_text(ss.str(), path);
}

void Config::set(const std::string& kv) {
  size_t eq = kv.find('=');
  if (eq == std::string::npos) throw Error(fmt::format("--set '{}': expected key=value", kv));
  std::string key = trim(kv.substr(0, eq)), raw = trim(kv.substr(eq + 1));
  Json v;
  try { v = parse_toml_value(raw); } catch (const std::exception&) { v = raw; }  // bare string
  set_json(key, v, fmt::format("--set {}", kv));
}

Config Config::from_json(const Json& j, const std::string& origin) {
  Config c;
  for (auto it = j.begin(); it != j.end(); ++it) c.set_json(it.key(), it.value(), origin);
  return c;
}

Json Config::to_json() const {
  Json j = Json::object();
  each_key(*this, [&](const char* k, const auto& field) {
    using T = std::decay_t<decltype(field)>;
    if constexpr (requires { field.begin(); } && !std::is_same_v<T, std::string>) {
      Json a = Json::array();
      for (auto& x : field) a.push_back(to_value(x));
      j[k] = a;
    } else {
      j[k] = to_value(field);
    }
  });
  return j;
}

std::string Config::to_toml() const {
  const Json j = to_json();
  std::string out, section;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    size_t dot = k.find('.');
    std::string s = k.substr(0, dot), name = k.substr(dot + 1);
    if (s != section) { out += (out.empty() ? "" : "\n") + ("[" + s + "]\n"); section = s; }
    out += name + " = " + it.value().dump() + "\n";
  }
  return out;
}

}  // namespace mr::rec
