#include "engine/io/hf_mpnet.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

namespace mr {

namespace {
nlohmann::json read_json(const std::string& path) {
  std::ifstream f(path);
  if (!f) FAIL_INPUT(path, "open", "cannot read the model config");
  try {
    return nlohmann::json::parse(f);
  } catch (const nlohmann::json::exception& e) {
    FAIL_INPUT(path, "JSON", "invalid JSON: {}", e.what());
  }
}
}  // namespace

bool hf_config_is_mpnet(const std::string& config_json) {
  const nlohmann::json j = read_json(config_json);
  return j.is_object() && j.contains("model_type") && j["model_type"] == "mpnet";
}

BertConfig mpnet_config_from_json_file(const std::string& path) {
  BertConfig c = BertConfig::from_json_file(path);  // the shared keys, relative_attention_num_buckets too
  const nlohmann::json j = read_json(path);
  int pad = 1;  // MPNetEmbeddings.padding_idx
  if (j.contains("pad_token_id") && !j["pad_token_id"].is_null()) {
    if (!j["pad_token_id"].is_number_integer()) FAIL_INPUT(path, "key pad_token_id", "expected an integer");
    pad = j["pad_token_id"].get<int>();
  }
  c.position_offset = pad + 1;
  c.type_vocab_size = 0;
  if (!j.contains("relative_attention_num_buckets")) c.relative_attention_num_buckets = 32;  // MPNetConfig's default
  c.validate(path);
  return c;
}

std::string mpnet_hf_name(const std::string& n) {
  static const std::pair<const char*, const char*> kMap[] = {
      {"attention.self.query.", "attention.attn.q."},      {"attention.self.key.", "attention.attn.k."},
      {"attention.self.value.", "attention.attn.v."},      {"attention.output.dense.", "attention.attn.o."},
      {"attention.output.LayerNorm.", "attention.LayerNorm."}};
  for (auto [ours, theirs] : kMap) {
    const size_t at = n.find(ours);
    if (at != std::string::npos) return n.substr(0, at) + theirs + n.substr(at + std::string(ours).size());
  }
  return n;
}

std::string mpnet_file_prefix(const SafeTensors& st) {
  for (const std::string& n : st.names())
    if (n.rfind("mpnet.embeddings.", 0) == 0) return "mpnet.";
  return "";
}

HfLoadReport load_hf_mpnet(const SafeTensors& st, const BertModel& model, ParamStore& ps, bool allow_missing) {
  HfLoadReport rep;
  rep.prefix = mpnet_file_prefix(st);
  std::set<std::string> used;
  for (Param& p : ps.all()) {
    if (p.name.rfind(model.prefix(), 0) != 0) continue;
    const std::string fname = rep.prefix + mpnet_hf_name(p.name.substr(model.prefix().size()));
    if (!st.has(fname)) {
      rep.missing.push_back(fname);
      continue;
    }
    const StTensor& t = st.get(fname);
    bool same = int(t.shape.size()) == p.w.shape.ndim;
    for (int i = 0; same && i < p.w.shape.ndim; ++i) same = t.shape[size_t(i)] == p.w.shape.d[i];
    if (!same) FAIL_INPUT(st.path(), "tensor '" + fname + "'", "has another shape than the config's {}", p.w.shape.str());
    if (p.w.device == Device::CPU) {
      st.read_into(fname, p.w);
    } else {
      HostTensor h(p.w.shape, p.w.dtype);
      st.read_into(fname, *h);
      copy(p.w, *h);
    }
    used.insert(fname);
  }
  for (const std::string& n : st.names())
    if (!used.count(n) && n.find("position_ids") == std::string::npos) rep.unexpected.push_back(n);
  if (!rep.missing.empty() && !allow_missing) {
    std::string list;
    for (size_t i = 0; i < rep.missing.size() && i < 12; ++i) list += "\n  " + rep.missing[i];
    if (rep.missing.size() > 12) list += fmt::format("\n  ... and {} more", rep.missing.size() - 12);
    FAIL_INPUT(st.path(), "tensors", "{} parameters missing:{}", rep.missing.size(), list);
  }
  return rep;
}

}  // namespace mr
