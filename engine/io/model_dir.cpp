#include "engine/io/model_dir.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "engine/bert.h"
#include "engine/io/hf_bert.h"
#include "weights/safetensors.h"
#include "weights/sha256.h"

namespace mr {

namespace fs = std::filesystem;
using json = nlohmann::json;

static const char* kTokenizerFiles[] = {"vocab.txt", "tokenizer.json", "tokenizer_config.json",
                                        "special_tokens_map.json"};

static json read_json(const fs::path& p) {
  std::ifstream f(p);
  if (!f) FAIL_INPUT(p.string(), "open", "cannot read");
  try {
    return json::parse(f);
  } catch (const json::parse_error& e) {
    FAIL_INPUT(p.string(), fmt::format("byte {}", e.byte), "invalid JSON: {}", e.what());
  } catch (const json::exception& e) {
    FAIL_INPUT(p.string(), "JSON", "invalid JSON: {}", e.what());
  }
}

static void write_text_atomic(const fs::path& p, const std::string& text) {
  const fs::path tmp = p.string() + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary);
    f << text;
    if (!f.flush()) FAIL_INPUT(tmp.string(), "write", "cannot write");
  }
  fs::rename(tmp, p);
}

static void write_meta(const fs::path& d, const std::string& source, const std::string& family,
                       const std::string& pooling, bool normalize, bool pooler);

// The tokenizer files a folder of this family keeps: roberta/xlm-roberta/mpnet read tokenizer.json
// only, so a stray vocab.txt beside it is not copied (it would describe another tokenizer).
static void copy_tokenizer_files(const fs::path& s, const fs::path& d, const Family& fam) {
  if (fs::absolute(s) == fs::absolute(d)) return;
  for (const char* f : kTokenizerFiles)
    if (fs::exists(s / f) && !(fam.tokenizer_json && std::string(f) == "vocab.txt"))
      fs::copy_file(s / f, d / f, fs::copy_options::overwrite_existing);
}

// The parameters of `model` (names without model.prefix()) under the family's HF names.
static void write_weights(const fs::path& file, const BertModel& model, ParamStore& ps,
                          const std::map<std::string, std::string>& meta) {
  const Family& fam = model.config().family();
  std::vector<StEntry> entries;
  for (Param& p : ps.all())
    if (p.name.rfind(model.prefix(), 0) == 0) entries.push_back({fam.hf_name(p.name.substr(model.prefix().size())), p.w});
  write_safetensors(file.string(), entries, meta);
}

// sentence-transformers' modules.json / 1_Pooling/config.json, when present.
static void read_sentence_transformers(const fs::path& dir, ConvertReport* r) {
  r->pooling = "mean";
  r->normalize = false;
  const fs::path pool = dir / "1_Pooling" / "config.json";
  if (fs::exists(pool)) {
    json j = read_json(pool);
    if (j.value("pooling_mode_cls_token", false)) r->pooling = "cls";
    else if (j.value("pooling_mode_mean_tokens", false)) r->pooling = "mean";
  }
  const fs::path mods = dir / "modules.json";
  if (fs::exists(mods)) {
    json j = read_json(mods);
    if (j.is_array())
      for (auto& m : j)
        if (m.is_object() && m.value("type", "").find("Normalize") != std::string::npos) r->normalize = true;
  }
}

ConvertReport convert_from_hf(const std::string& src, const std::string& dst) {
  const fs::path s(src), d(dst);
  // Everything is checked before anything is written: the family (an unsupported model_type
  // is refused here), the weights, the tokenizer.
  const BertConfig cfg = BertConfig::from_json_file((s / "config.json").string());
  const Family& fam = cfg.family();
  const std::string wfile = hf_weights_file(src);
  SafeTensors st(wfile);
  ConvertReport rep;
  rep.family = cfg.model_type;
  rep.pooler = hf_has_pooler(st, fam);
  ParamStore ps;
  BertModel model(cfg, ps, "", rep.pooler);
  ps.finalize();
  HfLoadReport lr = load_hf_bert(st, model, ps);
  rep.unexpected = lr.unexpected;
  if (fam.tokenizer_json && !fs::exists(s / "tokenizer.json"))
    FAIL_INPUT(src, "directory",
               "no tokenizer.json: a {} tokenizer is read from tokenizer.json only. Write one with:\n"
               "  python -c \"from transformers import AutoTokenizer; "
               "AutoTokenizer.from_pretrained('{}').save_pretrained('{}')\"",
               fam.model_type, src, src);
  if (!fs::exists(s / "vocab.txt") && !fs::exists(s / "tokenizer.json"))
    FAIL_INPUT(src, "directory", "no vocab.txt or tokenizer.json: the tokenizer is part of a model");
  read_sentence_transformers(s, &rep);

  fs::create_directories(d);
  write_weights(d / "model.safetensors", model, ps, {{"format", "pt"}, {"producer", "metarec"}});
  json cj = read_json(s / "config.json");
  cj["model_type"] = cfg.model_type;  // a config that named its family by architectures only
  write_text_atomic(d / "config.json", cj.dump(2) + "\n");
  copy_tokenizer_files(s, d, fam);
  write_meta(d, fs::absolute(s).string(), cfg.model_type, rep.pooling, rep.normalize, rep.pooler);
  return rep;
}

static void write_meta(const fs::path& d, const std::string& source, const std::string& family,
                       const std::string& pooling, bool normalize, bool pooler) {
  json meta = {{"format", "metarec-model"}, {"version", 1}, {"source", source}, {"family", family},
               {"pooling", pooling}, {"normalize", normalize}, {"pooler", pooler}};
  json sums = json::object();
  for (const char* f : {"model.safetensors", "config.json", "vocab.txt", "tokenizer.json", "tokenizer_config.json",
                        "special_tokens_map.json"})
    if (fs::exists(d / f)) sums[f] = sha256_file((d / f).string());
  meta["sha256"] = sums;
  write_text_atomic(d / "metarec.json", meta.dump(2) + "\n");
}

void save_model_dir(const std::string& dst, const BertModel& model, ParamStore& ps, const std::string& config_json,
                    const std::string& tokenizer_dir, const ModelInfo& info, const std::string& source) {
  const BertConfig file_cfg = BertConfig::from_json_file(config_json);
  const BertConfig& c = model.config();
  if (file_cfg.hidden_size != c.hidden_size || file_cfg.num_hidden_layers != c.num_hidden_layers ||
      file_cfg.vocab_size != c.vocab_size || file_cfg.intermediate_size != c.intermediate_size)
    FAIL_INPUT(config_json, "config", "does not describe the model being saved");
  if (file_cfg.model_type != c.model_type)
    FAIL_INPUT(config_json, "key model_type", "is {}, the model being saved is {}", file_cfg.model_type, c.model_type);
  const fs::path d(dst);
  fs::create_directories(d);
  write_weights(d / "model.safetensors", model, ps, {{"format", "pt"}, {"producer", "metarec"}});
  json cj = read_json(config_json);
  cj["model_type"] = c.model_type;
  write_text_atomic(d / "config.json", cj.dump(2) + "\n");
  copy_tokenizer_files(tokenizer_dir, d, c.family());
  write_meta(d, source, c.model_type, info.pooling, info.normalize, model.has_pooler());
}

void verify_model_dir(const std::string& dir) {
  const fs::path m = fs::path(dir) / "metarec.json";
  if (!fs::exists(m)) return;
  json j = read_json(m);
  if (j.value("format", "") != "metarec-model") FAIL_INPUT(m.string(), "key format", "not a metarec model folder");
  if (!j.contains("sha256") || !j["sha256"].is_object()) FAIL_INPUT(m.string(), "key sha256", "missing checksums");
  for (auto& [file, want] : j["sha256"].items()) {
    const fs::path p = fs::path(dir) / file;
    if (!fs::exists(p)) FAIL_INPUT(p.string(), "file", "listed in metarec.json but missing");
    const std::string got = sha256_file(p.string());
    if (got != want.get<std::string>())
      FAIL_INPUT(p.string(), "checksum", "sha256 {} does not match metarec.json ({}): the file is corrupt or was edited",
                 got, want.get<std::string>());
  }
}

ModelInfo read_model_info(const std::string& dir) {
  ModelInfo info;
  const fs::path m = fs::path(dir) / "metarec.json";
  if (fs::exists(m)) {
    json j = read_json(m);
    info.pooling = j.value("pooling", "mean");
    info.normalize = j.value("normalize", false);
  } else {
    ConvertReport r;
    read_sentence_transformers(dir, &r);
    info.pooling = r.pooling;
    info.normalize = r.normalize;
  }
  return info;
}

void export_hf(const std::string& src, const std::string& dst) {
  verify_model_dir(src);
  const fs::path s(src), d(dst);
  const BertConfig cfg = BertConfig::from_json_file((s / "config.json").string());
  const Family& fam = cfg.family();
  SafeTensors st(hf_weights_file(src));
  ParamStore ps;
  BertModel model(cfg, ps, "", hf_has_pooler(st, fam));
  ps.finalize();
  load_hf_bert(st, model, ps);
  fs::create_directories(d);
  // the family's own layout: its tensor names (no prefix: its *Model), its config keys as read
  write_weights(d / "model.safetensors", model, ps, {{"format", "pt"}});
  json cj = read_json(s / "config.json");
  cj["architectures"] = {fam.architecture};
  cj["model_type"] = fam.model_type;
  // what transformers' config class of the family reads, whatever the source wrote: no key the
  // family lacks (MPNet: type_vocab_size), the pad that places its positions, MPNet's buckets
  for (auto& [bert_key, theirs] : fam.keys)
    if (theirs.empty()) cj.erase(bert_key);
  if (fam.positions_after_pad) cj["pad_token_id"] = cfg.pad_token_id;
  if (cfg.relative_attention_num_buckets > 0) cj["relative_attention_num_buckets"] = cfg.relative_attention_num_buckets;
  write_text_atomic(d / "config.json", cj.dump(2) + "\n");
  copy_tokenizer_files(s, d, fam);
  if (!fs::exists(d / "tokenizer_config.json")) {
    json tc = {{"tokenizer_class", fam.tokenizer_class}, {"model_max_length", cfg.max_positions()}};
    if (!fam.tokenizer_json) tc["do_lower_case"] = true;
    // the class's default unk token may not be the file's (MPNetTokenizer says "[UNK]", and
    // rebuilds its WordPiece with it): name the one tokenizer.json's model uses
    if (fs::exists(d / "tokenizer.json")) {
      const json tj = read_json(d / "tokenizer.json");
      if (tj.contains("model") && tj["model"].is_object() && tj["model"].contains("unk_token") &&
          tj["model"]["unk_token"].is_string())
        tc["unk_token"] = tj["model"]["unk_token"];
    }
    write_text_atomic(d / "tokenizer_config.json", tc.dump(2) + "\n");
  }
}

}  // namespace mr
