#include "engine/rec/config.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "base/check.h"

namespace mr::rec {

Config::Config() {
  j_ = {
      // data and protocol (cold-user | loo | loo-mirror: docs/data.md)
      {"data.path", ""}, {"data.protocol", "cold-user"}, {"data.seed", 0}, {"data.min_inter", 13},
      {"data.max_inter", 100}, {"data.test_fraction", 0.2}, {"data.valid_fraction", 0.1}, {"data.max_history", 50},
      // text encoder (frozen; its pooled item embeddings are computed once and cached)
      {"encoder.model", "models/all-MiniLM-L6-v2"}, {"encoder.pool", "mean"}, {"encoder.max_len", 32},
      {"encoder.batch", 64}, {"encoder.cache", "build/cache"}, {"encoder.embeddings", ""},
      // where the item embeddings are computed: device cpu | cuda (build/metarec-cuda),
      // precision fp32 | bf16 | tf32 (the last two on cuda only)
      {"encoder.device", "cpu"}, {"encoder.precision", "fp32"},
      // the top train_layers layers train (0: all frozen, the pooled embeddings are cached); the
      // frozen bottom's hidden states are then cached instead
      {"encoder.train_layers", 0},
      // model
      {"model.dim", 64}, {"model.heads", 2}, {"model.layers", 1}, {"model.ffn", 128}, {"model.max_history", 10},
      {"model.pool", "cls"}, {"model.tau", 8.0}, {"model.dropout", 0.1}, {"model.item_id", true},
      {"model.item_bias", true},
      // score: "dot" (<u, v> + b) / tau, or "cos" (<u, v> / (|u| |v|) + b) / tau (tau ~ 0.05-0.1)
      {"model.score", "dot"},
      // loss: full softmax over every item (negatives = 0) or sampled softmax with `negatives`
      // sampled items per batch (uniform, or popularity^alpha) plus the in-batch targets
      {"loss.negatives", 0}, {"loss.sampler", "uniform"}, {"loss.alpha", 1.0},
      // task families (need negatives > 0): rank, click BCE, rating MSE weights, fixed or learned
      // (uncertainty: sum exp(-s_i) L_i + s_i); the rating head r = a s + c starts at a = 0, c = rating_bias
      {"loss.weights", {1.0, 0.0, 0.0}}, {"loss.weighting", "fixed"}, {"loss.rating_bias", 3.5},
      // tasks: a task is a user; support = K interactions, query = up to query_size later items
      {"task.k_shots", {1, 3, 5, 10}}, {"task.query_size", 16}, {"task.target", "auto"},
      // target "next": the query predicts this many consecutive items after the cut point
      {"task.next_positions", 1},
      // meta-learning
      {"meta.algorithm", "fomaml"}, {"meta.inner_steps", 1}, {"meta.inner_lr", 0.5}, {"meta.scope", "head"},
      // outer optimisation
      {"train.steps", 1500}, {"train.meta_batch", 16}, {"train.lr", 3e-3}, {"train.weight_decay", 0.01},
      {"train.warmup", 100}, {"train.decay", "cosine"}, {"train.clip", 1.0}, {"train.seed", 0},
      {"train.log_every", 25}, {"train.ckpt_every", 500}, {"train.threads", 1},
      // the item table computed once per outer step, its gradient accumulated (scope head/user)
      {"train.step_item_table", true},
      // evaluation
      {"eval.k_shots", {1, 3, 5, 10}}, {"eval.ks", {10, 50}}, {"eval.baselines", {"pop", "itemknn", "bpr"}},
      {"eval.adapt_steps", -1}, {"eval.part", "test"},
      // hybrids: extra rows ranking by the mixture log((1-W) softmax(model) + W p_NAME), "NAME:W"
      // (engine/baselines/mixture.h); knn_shrink / knn_decay: ItemKNN's shrinkage and recency
      // weight (baseline and blends)
      {"eval.blend", nlohmann::json::array()}, {"eval.knn_shrink", 0.0}, {"eval.knn_decay", 1.0},
  };
}

static std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\r"), b = s.find_last_not_of(" \t\r");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

nlohmann::json parse_toml_value(const std::string& raw) {
  std::string s = trim(raw);
  if (s.empty()) throw std::invalid_argument("empty value");
  if (s.front() == '"' || s.front() == '\'') {
    if (s.size() < 2 || s.back() != s.front()) throw std::invalid_argument("unterminated string");
    std::string out;
    for (size_t i = 1; i + 1 < s.size(); ++i) {
      if (s.front() == '"' && s[i] == '\\' && i + 2 < s.size()) {
        char c = s[++i];
        out += c == 'n' ? '\n' : c == 't' ? '\t' : c;
      } else {
        out += s[i];
      }
    }
    return out;
  }
  if (s == "true") return true;
  if (s == "false") return false;
  if (s.front() == '[') {
    if (s.back() != ']') throw std::invalid_argument("unterminated array");
    nlohmann::json a = nlohmann::json::array();
    std::string inner = trim(s.substr(1, s.size() - 2)), cur;
    bool q = false;
    for (char c : inner) {
      if (c == '"') q = !q;
      if (c == ',' && !q) { if (!trim(cur).empty()) a.push_back(parse_toml_value(cur)); cur.clear(); }
      else cur += c;
    }
    if (!trim(cur).empty()) a.push_back(parse_toml_value(cur));
    return a;
  }
  std::string t;
  for (char c : s) if (c != '_') t += c;
  size_t pos = 0;
  if (t.find_first_of(".eE") == std::string::npos || t.rfind("0x", 0) == 0) {
    long long v = std::stoll(t, &pos, 0);
    if (pos == t.size()) return v;
  } else {
    double v = std::stod(t, &pos);
    if (pos == t.size()) return v;
  }
  throw std::invalid_argument("not a TOML value: " + s);
}

void Config::set_json(const std::string& key, const nlohmann::json& v, const std::string& where) {
  auto it = j_.find(key);
  if (it == j_.end()) throw Error(fmt::format("{}: unknown config key '{}'", where, key));
  const auto& d = *it;
  nlohmann::json val = v;
  auto kind = [](const nlohmann::json& x) { return x.is_number() ? 1 : x.is_boolean() ? 2 : x.is_string() ? 3 : x.is_array() ? 4 : 0; };
  if (d.is_number_integer() && val.is_number_float()) throw Error(fmt::format("{}: {} must be an integer", where, key));
  if (d.is_array() && val.is_string()) {  // "1,3,5" for an array
    nlohmann::json a = nlohmann::json::array();
    std::stringstream ss(val.get<std::string>());
    std::string part;
    while (std::getline(ss, part, ',')) {
      part = trim(part);
      if (part.empty()) continue;
      if (!d.empty() && d[0].is_number()) {
        try { a.push_back(parse_toml_value(part)); } catch (const std::exception&) {
          throw Error(fmt::format("{}: {}: '{}' is not a number", where, key, part));
        }
      } else {
        a.push_back(part);
      }
    }
    val = a;
  }
  if (d.is_array() && !val.is_array()) val = nlohmann::json::array({val});
  if (d.is_string() && !val.is_string()) val = val.dump();
  if (kind(d) != kind(val))
    throw Error(fmt::format("{}: {} expects a value like {}, got {}", where, key, d.dump(), v.dump()));
  j_[key] = val;
}

void Config::load_toml_text(const std::string& text, const std::string& origin) {
  std::stringstream in(text);
  std::string line, section;
  int ln = 0;
  while (std::getline(in, line)) {
    ++ln;
    const std::string where = fmt::format("{}:{}", origin, ln);
    // strip a comment outside quotes
    bool q = false;
    for (size_t i = 0; i < line.size(); ++i) {
      if (line[i] == '"') q = !q;
      if (line[i] == '#' && !q) { line.resize(i); break; }
    }
    line = trim(line);
    if (line.empty()) continue;
    if (line.front() == '[') {
      if (line.back() != ']') FAIL_INPUT(origin, fmt::format("line {}", ln), "unterminated section header");
      section = trim(line.substr(1, line.size() - 2));
      continue;
    }
    size_t eq = line.find('=');
    if (eq == std::string::npos) FAIL_INPUT(origin, fmt::format("line {}", ln), "expected key = value");
    std::string key = trim(line.substr(0, eq));
    if (!section.empty()) key = section + "." + key;
    nlohmann::json v;
    try { v = parse_toml_value(line.substr(eq + 1)); } catch (const std::exception& e) {
      FAIL_INPUT(origin, fmt::format("line {}", ln), "{}", e.what());
    }
    set_json(key, v, where);
  }
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
  nlohmann::json v;
  try { v = parse_toml_value(raw); } catch (const std::exception&) { v = raw; }  // bare string
  set_json(key, v, fmt::format("--set {}", kv));
}

Config Config::from_json(const nlohmann::json& j) {
  Config c;
  for (auto it = j.begin(); it != j.end(); ++it) c.set_json(it.key(), it.value(), "config.json");
  return c;
}

const nlohmann::json& Config::at(const std::string& key) const {
  auto it = j_.find(key);
  MR_CHECK(it != j_.end(), "no config key '{}'", key);
  return *it;
}
std::string Config::str(const std::string& key) const { return at(key).get<std::string>(); }
double Config::num(const std::string& key) const { return at(key).get<double>(); }
int64_t Config::integer(const std::string& key) const { return at(key).get<int64_t>(); }
bool Config::flag(const std::string& key) const { return at(key).get<bool>(); }
std::vector<int> Config::ints(const std::string& key) const { return at(key).get<std::vector<int>>(); }
std::vector<std::string> Config::strs(const std::string& key) const { return at(key).get<std::vector<std::string>>(); }

std::string Config::to_toml() const {
  std::string out, section;
  for (auto it = j_.begin(); it != j_.end(); ++it) {
    const std::string& k = it.key();
    size_t dot = k.find('.');
    std::string s = k.substr(0, dot), name = k.substr(dot + 1);
    if (s != section) { out += (out.empty() ? "" : "\n") + ("[" + s + "]\n"); section = s; }
    out += name + " = " + it.value().dump() + "\n";
  }
  return out;
}

}  // namespace mr::rec
