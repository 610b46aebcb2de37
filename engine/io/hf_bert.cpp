#include "engine/io/hf_bert.h"

#include <filesystem>
#include <set>

namespace mr {

namespace fs = std::filesystem;

std::string hf_weights_file(const std::string& dir) {
  if (!fs::is_directory(dir)) FAIL_INPUT(dir, "directory", "not a directory");
  const fs::path st = fs::path(dir) / "model.safetensors";
  if (fs::exists(st)) return st.string();
  std::vector<fs::path> any;
  for (auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".safetensors") any.push_back(e.path());
  if (any.size() == 1) return any[0].string();
  if (any.size() > 1)
    FAIL_INPUT(dir, "directory", "{} .safetensors files and no model.safetensors: sharded checkpoints are not supported",
               any.size());
  for (const char* bin : {"pytorch_model.bin", "tf_model.h5", "flax_model.msgpack"})
    if (fs::exists(fs::path(dir) / bin))
      FAIL_INPUT((fs::path(dir) / bin).string(), "file",
                 "metarec reads safetensors only (a .bin is a Python pickle). Convert it once with:\n"
                 "  python -c \"from transformers import AutoModel; "
                 "AutoModel.from_pretrained('{}').save_pretrained('OUT', safe_serialization=True)\"",
                 dir);
  FAIL_INPUT(dir, "directory", "no model.safetensors here");
}

std::string hf_prefix(const SafeTensors& st, const Family& f) {
  const std::string p = f.prefix;
  for (const std::string& n : st.names())
    if (n.rfind(p + "embeddings.", 0) == 0) return p;
  return "";
}

bool hf_has_pooler(const SafeTensors& st, const Family& f) {
  if (!f.pooler) return false;
  const std::string p = hf_prefix(st, f);
  return st.has(p + "pooler.dense.weight") && st.has(p + "pooler.dense.bias");
}

// The file's name for a parameter: prefix swapped, and LayerNorm.gamma/beta for old files.
static std::string file_name_for(const SafeTensors& st, const Family& f, const std::string& param,
                                 const std::string& model_prefix, const std::string& file_prefix) {
  std::string base = f.hf_name(param.substr(model_prefix.size()));
  std::string n = file_prefix + base;
  if (st.has(n)) return n;
  for (auto [from, to] : {std::pair{"LayerNorm.weight", "LayerNorm.gamma"}, {"LayerNorm.bias", "LayerNorm.beta"}}) {
    const size_t at = n.rfind(from);
    if (at != std::string::npos && at + std::string(from).size() == n.size()) {
      std::string legacy = n.substr(0, at) + to;
      if (st.has(legacy)) return legacy;
    }
  }
  return n;
}

HfLoadReport load_hf_bert(const SafeTensors& st, const BertModel& model, ParamStore& ps, bool allow_missing) {
  HfLoadReport rep;
  const Family& fam = model.config().family();
  rep.prefix = hf_prefix(st, fam);
  std::set<std::string> used;
  for (Param& p : ps.all()) {
    if (p.name.rfind(model.prefix(), 0) != 0) continue;
    const std::string fname = file_name_for(st, fam, p.name, model.prefix(), rep.prefix);
    if (!st.has(fname)) {
      rep.missing.push_back(fname);
      continue;
    }
    const StTensor& t = st.get(fname);
    Shape want = p.w.shape;
    bool same = int(t.shape.size()) == want.ndim;
    for (int i = 0; same && i < want.ndim; ++i) same = t.shape[size_t(i)] == want.d[i];
    if (!same) {
      std::string got = "[";
      for (size_t i = 0; i < t.shape.size(); ++i) got += (i ? "," : "") + std::to_string(t.shape[i]);
      FAIL_INPUT(st.path(), "tensor '" + fname + "'", "has shape {}, the config needs {}", got + "]", want.str());
    }
    if (p.w.device == Device::CPU) {
      st.read_into(fname, p.w);
    } else {  // parameters on a device: through a host copy
      HostTensor h(p.w.shape, p.w.dtype);
      st.read_into(fname, *h);
      copy(p.w, *h);
    }
    used.insert(fname);
  }
  for (const std::string& n : st.names()) {
    if (used.count(n)) continue;
    const bool buffer = n.find("position_ids") != std::string::npos ||
                        n.find("embeddings.token_type_ids") != std::string::npos;
    if (!buffer) rep.unexpected.push_back(n);
  }
  if (!rep.missing.empty() && !allow_missing) {
    std::string list;
    for (size_t i = 0; i < rep.missing.size() && i < 12; ++i) list += "\n  " + rep.missing[i];
    if (rep.missing.size() > 12) list += fmt::format("\n  ... and {} more", rep.missing.size() - 12);
    FAIL_INPUT(st.path(), "tensors", "{} parameters missing:{}", rep.missing.size(), list);
  }
  return rep;
}

}  // namespace mr
